"""Shared set-up of the JAX adapter tests.

- Skips the whole folder when jax is not installed.
- Makes the in-tree adapter importable when the installed package does not carry it.
- ``x64`` / ``x32`` context managers: float64 or float32 default dtypes for one block (thread
  local; no global switch, so other test folders are unaffected).
"""

import contextlib
import os
import sys

import pytest

jax = pytest.importorskip("jax")

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)  # conftest helpers
sys.path.insert(0, os.path.join(_HERE, ".."))  # tests/reference.py
try:  # the installed wheel may ship ppobr_jax
    import ppobr_jax  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(_HERE, "..", "..", "adapters"))


def _x64_context(on: bool):
    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(on)
    from jax import experimental  # jax < 0.5

    return experimental.enable_x64() if on else experimental.disable_x64()


@contextlib.contextmanager
def x64():
    with _x64_context(True):
        yield


@contextlib.contextmanager
def x32():
    with _x64_context(False):
        yield


def core_or_none():
    """ppobr_core if it imports (the native module is built), else None."""
    try:
        import ppobr_core

        ppobr_core.ConstantController(0.2)
        return ppobr_core
    except Exception:
        return None


@pytest.fixture
def core():
    c = core_or_none()
    if c is None:
        pytest.skip("ppobr_core (the native module) is not importable")
    return c
