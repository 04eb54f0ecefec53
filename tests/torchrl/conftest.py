"""TorchRL tests: single-threaded torch; the tree's adapter where the installed wheel lacks it."""

import os
import sys

import pytest
import torch

try:
    import ppobr_torchrl  # noqa: F401
except ImportError:
    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "adapters"))


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)
