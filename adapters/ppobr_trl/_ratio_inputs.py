"""The ratio each TRL loss clips, rebuilt on the host from the tensors that loss call had.

- GRPOTrainer, ``importance_sampling_level="token"``: one ratio per completion token,
  r_it = exp(log π_θ − log π_old), weighted by the completion mask (times the tool mask);
- GRPOTrainer, ``"sequence"``: one ratio per completion,
  r_i = exp(Σ_t m_it·(log π_θ − log π_old) / Σ_t m_it), counted when the completion has tokens;
- RLOOTrainer: one ratio per completion, r_i = exp(Σ_t m_it·log π_θ − old_logps_i) (the
  summed, not averaged, log ratio), every completion counted, as its loss and clip metrics do.

Where TRL keeps no π_old (GRPO's on-policy case) π_old is the current policy: r ≡ 1.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch

from ppobr_trl._clip_stats import RatioInputs
from ppobr_trl._host import host

# the loss inputs a ratio is built from (the others are not read)
_RATIO_KEYS = ("completion_mask", "tool_mask", "advantages", "old_per_token_logps", "old_logps")


def joined(
    steps: list[tuple[dict[str, Any], torch.Tensor]],
) -> tuple[dict[str, np.ndarray], np.ndarray]:
    """Several micro-steps' (loss inputs, log-probs), of one completion length, as one batch of
    host arrays: the ratio of the whole is then built with one op per array, not per step."""
    first = steps[0][0]
    keys = [k for k in _RATIO_KEYS if first.get(k) is not None]
    inputs = {k: np.concatenate([host(s[0][k]) for s in steps]) for k in keys}
    return inputs, np.concatenate([host(s[1]) for s in steps])


def loss_mask(inputs: dict[str, Any]):
    """The completion mask, times the tool mask if any (tensors or arrays alike)."""
    mask = inputs["completion_mask"]
    if "tool_mask" in inputs:
        mask = mask * inputs["tool_mask"]
    return mask


def _per_sequence(advantages: np.ndarray) -> np.ndarray:
    return advantages if advantages.ndim == 1 else advantages[:, 0]


def grpo_token_level(inputs: dict[str, np.ndarray], logps: np.ndarray) -> RatioInputs:
    old = inputs.get("old_per_token_logps")
    adv = inputs["advantages"]
    if adv.ndim == 1:
        adv = adv[:, None]
    return RatioInputs(
        logps,
        logps if old is None else old,
        np.broadcast_to(adv, logps.shape),
        loss_mask(inputs),
    )


def grpo_sequence_level(inputs: dict[str, np.ndarray], logps: np.ndarray) -> RatioInputs:
    old = inputs.get("old_per_token_logps")
    mask = loss_mask(inputs).astype(logps.dtype)
    tokens = mask.sum(-1)
    log_ratio = ((logps - (logps if old is None else old)) * mask).sum(-1) / np.maximum(tokens, 1)
    return RatioInputs(
        log_ratio, np.zeros_like(log_ratio), _per_sequence(inputs["advantages"]), tokens > 0
    )


def rloo_sequence_sum(inputs: dict[str, np.ndarray], logps: np.ndarray) -> RatioInputs:
    new = (logps * inputs["completion_mask"]).sum(1).astype(logps.dtype)
    return RatioInputs(
        new, inputs["old_logps"], _per_sequence(inputs["advantages"]), np.ones_like(new)
    )
