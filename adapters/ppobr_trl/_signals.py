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

import numpy as np
import torch

from ppobr_trl._host import host


def masked_entropy_sums(entropies: torch.Tensor, mask: torch.Tensor) -> np.ndarray:
    """[Σ m·H, Σ m] in float64, summed on the host."""
    e = host(entropies).reshape(-1).astype(np.float64)
    m = host(mask).reshape(-1).astype(np.float64)
    return np.array([e @ m, m.sum()])


def completion_returns(rewards_per_func: torch.Tensor, reward_weights: torch.Tensor) -> np.ndarray:
    """Each completion's total reward Σ_f w_f·r_f over the reward functions that scored it, in
    float64 on the host; NaN where every reward function returned None."""
    r = host(rewards_per_func).astype(np.float64)
    w = host(reward_weights).astype(np.float64)
    unscored = np.isnan(r)
    if not unscored.any():
        return r @ w
    total = np.where(unscored, 0.0, r) @ w
    total[unscored.all(axis=1)] = np.nan
    return total
