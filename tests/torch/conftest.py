"""Makes the in-tree adapter importable when the installed package does not carry it yet."""

import os
import sys

try:  # the installed wheel ships ppobr_torch (pyproject wheel.packages)
    import ppobr_torch  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "adapters"))
