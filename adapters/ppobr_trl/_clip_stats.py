"""The kernel's (sum, count) statistics of optimization micro-steps (docs/SPEC.md §2.2).

Only the statistics are wanted (TRL computes the loss). A micro-step only keeps references to
the tensors its loss already has; the statistics of all the micro-steps since the last log
(or, for KL-adaptive, generation batch) are computed in one call, and folded into running
totals:

- CPU tensors go to the core as NumPy arrays on one thread (a GRPO micro-batch is far
  too small to pay for the thread pool or for ppobr_torch's autograd wrapper); the padding
  positions are zeroed only when the core refuses a non-finite value there, which TRL's fused
  log-prob head never produces (it writes 0 at every masked position);
- other devices use ppobr_torch's torch expression and keep the totals on the device (no host
  transfer beyond the expression's check that some sample is counted).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

import ppobr_core
from ppobr_torch import STAT_NAMES, clipped_surrogate_loss

RATIO_MIN = STAT_NAMES.index("ratio_min")
RATIO_MAX = STAT_NAMES.index("ratio_max")
KL_K3 = STAT_NAMES.index("kl_k3")


class RatioInputs(NamedTuple):
    """What one loss call's ratio r = exp(new − old) is formed from, detached, same shape each
    (the advantages may be a broadcast view); mask weights the samples. No entropy: TRL logs
    the loss-time entropy itself, so the kernel's entropy statistic is not asked for."""

    new: torch.Tensor
    old: torch.Tensor
    advantages: torch.Tensor
    mask: torch.Tensor


def empty_stats(like) -> tuple:
    """(sums, counts) of no samples, as NumPy arrays or as tensors on ``like``'s device:
    ratio_min / ratio_max hold +inf / -inf, neutral for min / max."""
    if isinstance(like, np.ndarray):
        sums, counts = np.zeros(len(STAT_NAMES)), np.zeros(len(STAT_NAMES))
    else:
        sums = torch.zeros(len(STAT_NAMES), dtype=torch.float64, device=like.device)
        counts = torch.zeros_like(sums)
    sums[RATIO_MIN], sums[RATIO_MAX] = math.inf, -math.inf
    return sums, counts


def statistics_of(ratio: RatioInputs, eps_low: float, eps_high: float) -> tuple:
    """(sums, counts), float64 [len(STAT_NAMES)], in one kernel call: NumPy arrays for CPU
    inputs, else tensors on the inputs' device."""
    if ratio.new.is_cpu:
        return _core_statistics(ratio, eps_low, eps_high)
    return _torch_statistics(ratio, eps_low, eps_high)


def _core_statistics(ratio: RatioInputs, eps_low: float, eps_high: float):
    new = ratio.new.numpy()
    dtype = new.dtype
    mask = ratio.mask.numpy().astype(dtype, copy=False)
    if not mask.any():
        # Nothing to count (the core refuses an all-zero mask); still neutral to every total.
        return empty_stats(new)
    # contiguous: broadcast advantages are copied once, which the core then reads fastest
    arrays = [
        np.ascontiguousarray(x.numpy(), dtype) for x in (ratio.new, ratio.old, ratio.advantages)
    ]
    try:
        res = _core_call(arrays, mask, eps_low, eps_high)
    except ppobr_core.InvalidArgumentError:
        # A non-finite value at a padding position: zero the padding and ask again (a non-finite
        # value at a counted position is refused again, naming its argument).
        keep = mask > 0
        arrays = [np.where(keep, a, 0).astype(dtype) for a in arrays]
        res = _core_call(arrays, mask, eps_low, eps_high)
    return res.sums_array, res.counts_array


def _core_call(arrays, mask, eps_low: float, eps_high: float):
    new, old, adv = arrays
    return ppobr_core.clipped_surrogate(
        new, old, adv, eps_low=eps_low, eps_high=eps_high, mask=mask, num_threads=1
    )


@torch.no_grad()
def _torch_statistics(ratio: RatioInputs, eps_low: float, eps_high: float):
    new = ratio.new
    mask = ratio.mask.to(new.dtype)
    keep = mask > 0
    if not bool(keep.any()):
        return empty_stats(new)

    def counted(x):
        # padding positions may hold anything; the expression refuses non-finite values
        return torch.where(keep, x.to(new.dtype), 0.0).contiguous()

    out = clipped_surrogate_loss(
        counted(new),
        counted(ratio.old),
        counted(ratio.advantages),
        eps_low=eps_low,
        eps_high=eps_high,
        mask=mask.contiguous(),
    )
    return out.sums, out.counts


class RunningStats:
    """Σ over micro-steps of (sums, counts), folded as they arrive (ratio_min / ratio_max: the
    min / max), as NumPy arrays or device tensors, whichever the steps give."""

    def __init__(self) -> None:
        self.sums = None
        self.counts = None

    def add(self, sums, counts) -> None:
        if self.sums is None:
            self.sums, self.counts = sums, counts
            return
        if isinstance(sums, np.ndarray):
            low = min(self.sums[RATIO_MIN], sums[RATIO_MIN])
            high = max(self.sums[RATIO_MAX], sums[RATIO_MAX])
        else:
            low = torch.minimum(self.sums[RATIO_MIN], sums[RATIO_MIN])
            high = torch.maximum(self.sums[RATIO_MAX], sums[RATIO_MAX])
        self.sums = self.sums + sums
        self.counts = self.counts + counts
        self.sums[RATIO_MIN], self.sums[RATIO_MAX] = low, high

    def take(self) -> tuple[torch.Tensor, torch.Tensor] | None:
        """The totals as float64 tensors (None when nothing was added), and a fresh start."""
        if self.sums is None:
            return None
        sums, counts = self.sums, self.counts
        self.sums = self.counts = None
        if isinstance(sums, np.ndarray):
            return torch.from_numpy(sums), torch.from_numpy(counts)
        return sums.to(torch.float64), counts.to(torch.float64)
