"""Makes the in-tree TRL adapter and the GRPO study importable when the installed package does
not carry them, and keeps torch to one thread (the tiny model gains nothing from more)."""

import os
import sys

import torch

_ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..")
for name, folder in (("ppobr_trl", "adapters"), ("ppobr_study", "study")):
    try:
        __import__(name)
    except ImportError:
        sys.path.insert(0, os.path.join(_ROOT, folder))
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

torch.set_num_threads(1)
