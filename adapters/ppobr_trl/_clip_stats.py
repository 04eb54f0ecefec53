"""The kernel's (sum, count) statistics of one optimization micro-step (docs/SPEC.md §2.2).

Only the statistics are wanted (TRL computes the loss): CPU tensors go straight to the core as
NumPy views on one thread, since a GRPO micro-batch is far too small to pay for the thread pool
or for ppobr_torch's autograd wrapper; other devices use ppobr_torch's torch expression.
"""

from __future__ import annotations

import torch

import ppobr_core
from ppobr_torch import clipped_surrogate_loss


def clip_statistics(
    logp_new: torch.Tensor,
    logp_old: torch.Tensor,
    advantages: torch.Tensor,
    mask: torch.Tensor,
    entropy: torch.Tensor | None,
    eps_low: float,
    eps_high: float,
) -> tuple[torch.Tensor, torch.Tensor]:
    """(sums, counts), float64 [len(STAT_NAMES)], for contiguous same-shape, same-dtype inputs."""
    if logp_new.is_cpu:
        res = ppobr_core.clipped_surrogate(
            logp_new.numpy(),
            logp_old.numpy(),
            advantages.numpy(),
            eps_low=eps_low,
            eps_high=eps_high,
            mask=mask.numpy(),
            entropy=None if entropy is None else entropy.numpy(),
            num_threads=1,
        )
        return torch.from_numpy(res.sums_array), torch.from_numpy(res.counts_array)
    out = clipped_surrogate_loss(
        logp_new,
        logp_old,
        advantages,
        eps_low=eps_low,
        eps_high=eps_high,
        mask=mask,
        entropy=entropy,
    )
    return out.sums, out.counts
