"""The signals a generation batch gives the controller, reduced the same way on every process.

- entropy: the masked mean token entropy of the batch's completions under π_old, the policy that
  generated them, H = Σ_i m_i·H_i / Σ_i m_i over all processes' tokens;
- episode returns: each completion's total reward (TRL's weighted sum over reward functions),
  in TRL's global (already gathered) order; NaN rewards are dropped by the controller;
- kl: the mean k3 estimate (r − 1) − log r of KL(π_old ‖ π_θ) over the previous batch's
  optimization steps (KL-adaptive adapts to the KL its last update produced).

The entropy's (sum, count) and the KL's (sum, count) travel as one vector, so a distributed
run pays one collective per generation batch for both.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ppobr_trl._host import host

# The reductions run as torch ops on the tensors where TRL left them, not as NumPy ops on host
# copies: right after a training step torch's code is hot in the CPU's caches and NumPy's is
# cold, and on a small model that made the same few reductions several times slower in NumPy.


def masked_entropy_sums(entropies: torch.Tensor, mask: torch.Tensor) -> tuple[float, float]:
    """(Σ m·H, Σ m), accumulated in float64."""
    return torch.sum(entropies * mask, dtype=torch.float64).item(), float(mask.sum())


def completion_returns(
    rewards_per_func: torch.Tensor, reward_weights: torch.Tensor
) -> tuple[np.ndarray, float]:
    """Each completion's total reward Σ_f w_f·r_f over the reward functions that scored it (NaN
    where every reward function returned None), float64 on the host, and the mean over the
    scored completions (NaN if none was scored)."""
    r = rewards_per_func.double()
    w = reward_weights.to(r.device, torch.float64)
    total = (r * w).sum(dim=1)  # elementwise ops, hot after a step, where a matmul is not
    total_sum = total.sum().item()
    if math.isnan(total_sum):  # some reward function returned None (or a reward is infinite)
        unscored = torch.isnan(r)
        total = (torch.where(unscored, 0.0, r) * w).sum(dim=1)
        total[unscored.all(dim=1)] = math.nan
        scored = total[~torch.isnan(total)]
        total_sum = scored.sum().item() if scored.numel() else math.nan
        count = scored.numel()
    else:
        count = total.numel()
    returns = host(total)
    return returns, (total_sum / count if count else math.nan)
