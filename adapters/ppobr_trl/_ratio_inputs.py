"""The ratio each TRL loss clips, rebuilt from the tensors that loss call already has.

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

import torch

from ppobr_trl._clip_stats import RatioInputs

# the loss inputs a ratio is built from (the others are not read)
_RATIO_KEYS = ("completion_mask", "tool_mask", "advantages", "old_per_token_logps", "old_logps")


def joined(steps: list[tuple[dict[str, Any], torch.Tensor]]) -> tuple[dict[str, Any], torch.Tensor]:
    """Several micro-steps' (loss inputs, log-probs), of one completion length, as one batch:
    the ratio of the whole is then built with one op per tensor instead of one per step."""
    first = steps[0][0]
    keys = [k for k in _RATIO_KEYS if first.get(k) is not None]
    inputs = {k: torch.cat([s[0][k] for s in steps]) for k in keys}
    return inputs, torch.cat([s[1] for s in steps])


def loss_mask(inputs: dict[str, Any]) -> torch.Tensor:
    mask = inputs["completion_mask"]
    if "tool_mask" in inputs:
        mask = mask * inputs["tool_mask"]
    return mask


def _per_sequence(advantages: torch.Tensor) -> torch.Tensor:
    return advantages if advantages.dim() == 1 else advantages[:, 0]


def grpo_token_level(inputs: dict[str, Any], logps) -> RatioInputs:
    old = inputs.get("old_per_token_logps")
    adv = inputs["advantages"]
    if adv.dim() == 1:
        adv = adv.unsqueeze(1)
    return RatioInputs(
        logps,
        logps if old is None else old,
        adv.expand_as(logps),
        loss_mask(inputs),
    )


def grpo_sequence_level(inputs: dict[str, Any], logps) -> RatioInputs:
    old = inputs.get("old_per_token_logps")
    mask = loss_mask(inputs).to(logps.dtype)
    tokens = mask.sum(-1)
    log_ratio = ((logps - (logps if old is None else old)) * mask).sum(-1) / tokens.clamp(min=1.0)
    return RatioInputs(
        log_ratio,
        torch.zeros_like(log_ratio),
        _per_sequence(inputs["advantages"]),
        tokens > 0,
    )


def rloo_sequence_sum(inputs: dict[str, Any], logps) -> RatioInputs:
    mask = inputs["completion_mask"]
    new = (logps * mask).sum(1)
    return RatioInputs(
        new,
        inputs["old_logps"].to(new.dtype),
        _per_sequence(inputs["advantages"]),
        torch.ones_like(new),
    )
