"""Set-up of the JAX trainer's tests (``ppobr_study.jax``): the shipped cpu_small configuration
run once per session, in a subprocess (so that its XLA flags apply whatever this process has
already started) started outside the repository (the command must run from any folder), shared
by the tests."""

import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

import ppobr_core
import ppobr_jax
import ppobr_study
from ppobr_study.jax import config as K

CPU_SMALL = K.resolve("cpu_small")
# One XLA thread (a 2-core CI machine; the study's programs are small) for the subprocess.
STUDY_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false"


def _child_pythonpath() -> str:
    """PYTHONPATH for the child: what this process's PYTHONPATH holds, then the folders this
    process imported ppobr_core, ppobr_jax and ppobr_study from (so the child imports the same
    ones, installed or not)."""
    parts = [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]
    for module in (ppobr_core, ppobr_jax, ppobr_study):
        folder = str(Path(module.__file__).resolve().parents[1])
        if folder not in parts:
            parts.append(folder)
    return os.pathsep.join(parts)


def run_pinned(code: str, *args: str, cwd=None) -> subprocess.CompletedProcess:
    """Runs Python source ``code`` (with ``args`` as sys.argv[1:]) in a child process with the
    study's XLA flags and this process's packages on its path, pinned to one CPU, with a timeout,
    in ``cwd`` (default: a folder outside the repository).

    One CPU: these tests share a 2-core CI machine with other processes, and one XLA thread on
    one core is the engine's own layout (``ppobr_study.jax.engine``). (The XLA hang that first
    made the tests pin themselves is fixed; test_no_lapack_hang.py runs a program unpinned.)
    The child pins itself before it imports jax (a preexec_fn would run Python between fork
    and exec of this multithreaded process, which can deadlock)."""
    env = dict(os.environ, XLA_FLAGS=STUDY_XLA_FLAGS, PYTHONPATH=_child_pythonpath())
    one_cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    pin = f"import os\nif {one_cpu!r} is not None: os.sched_setaffinity(0, {{{one_cpu!r}}})\n"
    return subprocess.run(
        [sys.executable, "-c", pin + code, *args],
        cwd=cwd or tempfile.gettempdir(),
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )


@pytest.fixture(scope="session")
def pinned_python():
    """:func:`run_pinned`, for tests that run a JAX program in a child process."""
    return run_pinned


@pytest.fixture(scope="session")
def cpu_small_run(tmp_path_factory):
    """(run folder, stdout, wall seconds) of ``python -m ppobr_study.jax --config cpu_small``
    (the shipped config, by name), run in a fresh folder."""
    work = tmp_path_factory.mktemp("jax_study")
    out = work / "run"
    t0 = time.perf_counter()
    proc = run_pinned(
        "import runpy\nrunpy.run_module('ppobr_study.jax', run_name='__main__', alter_sys=True)\n",
        "--config",
        "cpu_small",
        "--out",
        str(out),
        cwd=work,
    )
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, f"the study failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return out, proc.stdout, wall
