"""SB3 runs in these tests are tiny and single-threaded (the CI machine has two cores)."""

import pytest
import torch


@pytest.fixture(autouse=True)
def one_torch_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


try:  # the installed wheel may not carry the SB3 adapter yet: use the tree's
    import ppobr_sb3  # noqa: F401
except ImportError:
    import os
    import sys

    sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "..", "adapters"))
