"""Set-up of the JAX study tests: the repository root on sys.path (``benchmarks.jax_study``),
and the study's cpu_small configuration run once per session, in a subprocess (so that its XLA
flags apply whatever this process has already started), shared by the tests."""

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
CPU_SMALL = ROOT / "benchmarks" / "jax_study" / "configs" / "cpu_small.toml"
# One XLA thread (a 2-core CI machine; the study's programs are small) for the subprocess.
STUDY_XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false"


def run_pinned(code: str, *args: str) -> subprocess.CompletedProcess:
    """Runs Python source ``code`` (with ``args`` as sys.argv[1:]) in a child process with the
    study's XLA flags and the repository on its path, pinned to one CPU, with a timeout.

    One CPU: with jaxlib 0.10.2 on this 2-core machine, executing these programs with XLA's
    thread pool over two cores sometimes never returned (every thread idle, the caller waiting
    on the result); pinned to one core it did not happen. See README.md. The child pins itself
    before it imports jax (a preexec_fn would run Python between fork and exec of this
    multithreaded process, which can deadlock)."""
    env = dict(os.environ, XLA_FLAGS=STUDY_XLA_FLAGS, PYTHONPATH=os.pathsep.join(
        [str(ROOT)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p]))
    one_cpu = min(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
    pin = f"import os\nif {one_cpu!r} is not None: os.sched_setaffinity(0, {{{one_cpu!r}}})\n"
    return subprocess.run([sys.executable, "-c", pin + code, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=600)  # fmt: skip


@pytest.fixture(scope="session")
def pinned_python():
    """:func:`run_pinned`, for tests that run a JAX program in a child process."""
    return run_pinned


@pytest.fixture(scope="session")
def cpu_small_run(tmp_path_factory):
    """(run folder, stdout, wall seconds) of ``python -m benchmarks.jax_study`` on cpu_small."""
    out = tmp_path_factory.mktemp("jax_study") / "run"
    t0 = time.perf_counter()
    proc = run_pinned("import runpy\n"
                      "runpy.run_module('benchmarks.jax_study', run_name='__main__', alter_sys=True)\n",
                      "--config", str(CPU_SMALL), "--out", str(out))  # fmt: skip
    wall = time.perf_counter() - t0
    assert proc.returncode == 0, f"the study failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
    return out, proc.stdout, wall
