"""Shared test configuration: hypothesis profiles, and the import path of tests/reference.py
(the oracle), tests/batches.py, tests/assertions.py and tests/golden/golden_io.py.

Profiles (select with HYPOTHESIS_PROFILE=...; "ci" is the default):
  ci    derandomized (the same examples on every run), no deadline, modest example counts
  dev   randomized, more examples, for local bug hunting
"""

import os
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, _HERE)
sys.path.insert(0, os.path.join(_HERE, "golden"))

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    max_examples=60,
    database=None,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.register_profile(
    "dev",
    deadline=None,
    max_examples=500,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture
def rng(request):
    """A NumPy generator seeded from the test's node id: deterministic, distinct per test."""
    import zlib

    return np.random.default_rng(zlib.crc32(request.node.nodeid.encode()))
