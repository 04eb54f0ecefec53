"""Tensors to NumPy on the host, for what the core reads (the ratio inputs, the returns).

A CPU tensor that needs no gradient is read through a NumPy view (no copy, no torch op); any
other tensor is detached and copied once. On an accelerator that is one copy per array per
flush or generation batch, next to the host transfers TRL's own logging makes every step.
"""

from __future__ import annotations

import numpy as np
import torch


def host(t: torch.Tensor) -> np.ndarray:
    if t.is_cpu and not t.requires_grad:
        return t.numpy()
    return t.detach().cpu().numpy()
