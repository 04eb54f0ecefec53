"""The kernel's (sum, count) statistics of optimization micro-steps (docs/SPEC.md §2.2).

Only the statistics are wanted (TRL computes the loss). A micro-step only keeps references to
the tensors its loss already has; the statistics of all the micro-steps since the last log
(or, for KL-adaptive, generation batch) are computed on the host in one call of the core on
one thread (a GRPO micro-batch is far too small to pay for the thread pool), and folded into
running totals. The padding positions are zeroed only when the core refuses a non-finite value
there, which TRL's fused log-prob head never produces (it writes 0 at every masked position).
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
import torch

import ppobr_core
from ppobr_torch import STAT_NAMES
from ppobr_torch._stats import all_reduce_stats

RATIO_MIN = STAT_NAMES.index("ratio_min")
RATIO_MAX = STAT_NAMES.index("ratio_max")
KL_K3 = STAT_NAMES.index("kl_k3")
# above this many samples the core's thread pool pays for itself
_THREADED_FROM = 1 << 20


class RatioInputs(NamedTuple):
    """What a loss's ratio r = exp(new − old) is formed from, as contiguous host arrays of one
    shape and one float dtype (as ``ppobr_trl._ratio_inputs`` builds them); mask weights the
    samples. No entropy: TRL logs the loss-time entropy itself, so the kernel's entropy
    statistic is not asked for."""

    new: np.ndarray
    old: np.ndarray
    advantages: np.ndarray
    mask: np.ndarray


def empty_stats() -> tuple[list[float], list[float]]:
    """(sums, counts) of no samples: ratio_min / ratio_max hold +inf / -inf, neutral for
    min / max."""
    sums, counts = [0.0] * len(STAT_NAMES), [0.0] * len(STAT_NAMES)
    sums[RATIO_MIN], sums[RATIO_MAX] = math.inf, -math.inf
    return sums, counts


def statistics_of(ratio: RatioInputs, eps_low: float, eps_high: float):
    """(sums, counts), lists of floats in STAT_NAMES order, from one call of the core."""
    arrays = [ratio.new, ratio.old, ratio.advantages]
    try:
        res = _core_call(arrays, ratio.mask, eps_low, eps_high)
    except ppobr_core.InvalidArgumentError:
        # Checked here, not before every call: the core refuses an all-zero mask, and a batch
        # with nothing to count is still neutral to every total.
        keep = ratio.mask > 0
        if not keep.any():
            return empty_stats()
        # A non-finite value at a padding position: zero the padding and ask again (a non-finite
        # value at a counted position is refused again, naming its argument).
        arrays = [np.where(keep, a, 0).astype(a.dtype) for a in arrays]
        res = _core_call(arrays, ratio.mask, eps_low, eps_high)
    return res.sums_array.tolist(), res.counts_array.tolist()


def _core_call(arrays, mask, eps_low: float, eps_high: float):
    new, old, adv = arrays
    return ppobr_core.clipped_surrogate(
        new,
        old,
        adv,
        eps_low=eps_low,
        eps_high=eps_high,
        mask=mask,
        num_threads=0 if new.size >= _THREADED_FROM else 1,
    )


class RunningStats:
    """Σ over micro-steps of (sums, counts), folded as they arrive (ratio_min / ratio_max: the
    min / max). Eleven numbers per fold: Python floats, as NumPy's per-call cost (cold in the
    CPU's caches between training steps) far exceeds the arithmetic."""

    def __init__(self) -> None:
        self.sums: list[float] | None = None
        self.counts: list[float] | None = None

    def add(self, sums: list[float], counts: list[float]) -> None:
        if self.sums is None:
            self.sums, self.counts = list(sums), list(counts)
            return
        low = min(self.sums[RATIO_MIN], sums[RATIO_MIN])
        high = max(self.sums[RATIO_MAX], sums[RATIO_MAX])
        self.sums = [a + b for a, b in zip(self.sums, sums)]
        self.counts = [a + b for a, b in zip(self.counts, counts)]
        self.sums[RATIO_MIN], self.sums[RATIO_MAX] = low, high

    def take_means(self, distributed: bool) -> dict[str, float] | None:
        """The means by name over every process (NaN where nothing was counted; None when
        nothing was added), and a fresh start. ``distributed``: all-reduce first (a collective:
        every process must call it)."""
        if self.sums is None:
            return None
        sums, counts = self.sums, self.counts
        self.sums = self.counts = None
        if distributed:
            s, c = all_reduce_stats(
                torch.tensor(sums, dtype=torch.float64), torch.tensor(counts, dtype=torch.float64)
            )
            sums, counts = s.tolist(), c.tolist()
        means = [s / c if c > 0 else math.nan for s, c in zip(sums, counts)]
        for i in (RATIO_MIN, RATIO_MAX):
            means[i] = sums[i] if counts[i] > 0 else math.nan
        return dict(zip(STAT_NAMES, means))
