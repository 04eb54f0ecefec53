"""The ratio each TRL loss clips, rebuilt from the tensors that loss call had, handed to the host
as arrays the core reads as they are.

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
from ppobr_trl._host import host

# the loss inputs a ratio is built from (the others are not read)
_RATIO_KEYS = ("completion_mask", "tool_mask", "advantages", "old_per_token_logps", "old_logps")

# The arithmetic runs as torch ops, copied to the host once at the end: right after a training
# step torch's code is hot in the CPU's caches and NumPy's is cold, which on a small model made
# the same few ops several times slower in NumPy.


@torch.no_grad()
def joined(
    steps: list[tuple[dict[str, Any], torch.Tensor]],
) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Several micro-steps' (loss inputs, log-probs), of one completion length, as one batch:
    the ratio of the whole is then built with one op per array, not per step."""
    first = steps[0][0]
    keys = [k for k in _RATIO_KEYS if first.get(k) is not None]
    inputs = {k: torch.cat([s[0][k] for s in steps]) for k in keys}
    return inputs, torch.cat([s[1] for s in steps])


def loss_mask(inputs: dict[str, Any]) -> torch.Tensor:
    """The completion mask, times the tool mask if any."""
    mask = inputs["completion_mask"]
    if "tool_mask" in inputs:
        mask = mask * inputs["tool_mask"]
    return mask


def _on_host(new, old, advantages, mask) -> RatioInputs:
    """Contiguous host arrays of one dtype the core reads without a copy of its own: float64
    for float64 log-probs, float32 for any other (bfloat16 and float16 included)."""
    dtype = torch.float64 if new.dtype == torch.float64 else torch.float32
    return RatioInputs(*(host(x.to(dtype).contiguous()) for x in (new, old, advantages, mask)))


def _per_sequence(advantages: torch.Tensor) -> torch.Tensor:
    return advantages if advantages.dim() == 1 else advantages[:, 0]


@torch.no_grad()
def grpo_token_level(inputs: dict[str, torch.Tensor], logps: torch.Tensor) -> RatioInputs:
    old = inputs.get("old_per_token_logps")
    adv = inputs["advantages"]
    if adv.dim() == 1:
        adv = adv[:, None]
    return _on_host(logps, logps if old is None else old, adv.expand_as(logps), loss_mask(inputs))


@torch.no_grad()
def grpo_sequence_level(inputs: dict[str, torch.Tensor], logps: torch.Tensor) -> RatioInputs:
    old = inputs.get("old_per_token_logps")
    mask = loss_mask(inputs).to(logps.dtype)
    tokens = mask.sum(-1)
    log_ratio = ((logps - (logps if old is None else old)) * mask).sum(-1) / tokens.clamp(min=1)
    return _on_host(
        log_ratio, torch.zeros_like(log_ratio), _per_sequence(inputs["advantages"]), tokens > 0
    )


@torch.no_grad()
def rloo_sequence_sum(inputs: dict[str, torch.Tensor], logps: torch.Tensor) -> RatioInputs:
    new = (logps * inputs["completion_mask"]).sum(1).to(logps.dtype)
    return _on_host(
        new, inputs["old_logps"], _per_sequence(inputs["advantages"]), torch.ones_like(new)
    )
