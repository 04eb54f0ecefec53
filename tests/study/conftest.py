"""Test set-up for ppobr_study (`ppobr compare`).

The tests need the ``compare`` extra (gymnasium, scipy, matplotlib, tqdm, torch): without it
they fail at collection, naming what is missing (CI installs everything; nothing skips). When the package is not installed, the in-tree ppobr_study (study/) and
ppobr_torch (adapters/) are made importable without shadowing the installed ppobr_core
(python/ppobr_core has no compiled module): symlinks in a temporary directory, which also goes
on PYTHONPATH for the subprocesses (the `ppobr` command, worker processes, Ray workers).
"""

import importlib.util
import os
import sys
import tempfile

import pytest

_MISSING = [
    m
    for m in ("gymnasium", "scipy", "matplotlib", "tqdm", "torch")
    if importlib.util.find_spec(m) is None
]
if _MISSING:
    raise ImportError(
        f"ppobr_study tests need {', '.join(_MISSING)} (pip install 'ppobr-core[compare]')"
    )

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
_SHIM = None


def _shim_dir():
    """A directory holding symlinks to the in-tree packages that are not installed."""
    global _SHIM
    if _SHIM is None:
        _SHIM = tempfile.mkdtemp(prefix="ppobr_study_path_")
        for name, src in (
            ("ppobr_study", os.path.join(ROOT, "study", "ppobr_study")),
            ("ppobr_torch", os.path.join(ROOT, "adapters", "ppobr_torch")),
        ):
            if importlib.util.find_spec(name) is None:
                os.symlink(src, os.path.join(_SHIM, name))
    return _SHIM


if (
    importlib.util.find_spec("ppobr_study") is None
    or importlib.util.find_spec("ppobr_torch") is None
):
    sys.path.append(_shim_dir())


@pytest.fixture(scope="session")
def subprocess_env():
    """The environment for running `ppobr` in a subprocess: the shim directory on PYTHONPATH
    (after anything already there, so an installed or dev ppobr_core keeps precedence)."""
    env = dict(os.environ)
    parts = [p for p in env.get("PYTHONPATH", "").split(os.pathsep) if p]
    if _SHIM is not None:
        parts.append(_SHIM)
    env["PYTHONPATH"] = os.pathsep.join(parts)
    env.setdefault("OMP_NUM_THREADS", "1")
    return env
