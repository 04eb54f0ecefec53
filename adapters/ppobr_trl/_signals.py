"""The signals a generation batch gives the controller, reduced the same way on every process.

- entropy: the masked mean token entropy of the batch's completions under π_old, the policy that
  generated them, H = Σ_i m_i·H_i / Σ_i m_i over all processes' tokens;
- episode returns: each completion's total reward (TRL's weighted sum over reward functions),
  in TRL's global (already gathered) order; NaN rewards are dropped by the controller;
- kl: the mean k3 estimate (r − 1) − log r of KL(π_old ‖ π_θ) over the previous batch's
  optimization steps (KL-adaptive adapts to the KL its last update produced).
"""

from __future__ import annotations

import torch


def masked_entropy_sums(entropies: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """[Σ m·H, Σ m] in float64 on the entropies' device, for an all-reduce before dividing."""
    m = mask.to(torch.float64)
    return torch.stack([(entropies.detach().to(torch.float64) * m).sum(), m.sum()])


def completion_returns(
    rewards_per_func: torch.Tensor, reward_weights: torch.Tensor
) -> torch.Tensor:
    """Each completion's total reward, NaN where every reward function returned None."""
    w = reward_weights.to(rewards_per_func.device, rewards_per_func.dtype)
    total = (rewards_per_func * w.unsqueeze(0)).nansum(dim=1)
    unscorable = torch.isnan(rewards_per_func).all(dim=1)
    return torch.where(unscorable, torch.full_like(total, float("nan")), total)
