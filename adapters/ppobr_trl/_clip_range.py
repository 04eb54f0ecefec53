"""One controller ε to TRL's two clip bounds (docs/SPEC.md §4).

TRL's GRPO loss clips the ratio to [1 − ε_low, 1 + ε_high]. A controller produces one ε_t. The
mapping keeps the configured clip-higher ratio ρ = ε_high0 / ε_low0 (ρ = 1 when
``epsilon_high`` is unset):

    ε_low_t  = ε_t
    ε_high_t = ρ · ε_t

so a symmetric configuration stays symmetric, and DAPO's 0.2 / 0.28 stays at ρ = 1.4 while ε_t
moves.
"""

from __future__ import annotations

import math
from typing import NamedTuple

from ppobr_torch._input_rules import invalid


class ClipBounds(NamedTuple):
    """The bounds TRL's loss reads: ratio clipped to [1 − low, 1 + high]."""

    low: float
    high: float


def clip_higher_ratio(epsilon: float, epsilon_high: float | None) -> float:
    """ρ = epsilon_high / epsilon from a GRPOConfig (1 when epsilon_high is None)."""
    if not (math.isfinite(epsilon) and epsilon > 0.0):
        raise invalid(
            "args.epsilon", f"must be finite and > 0 to scale with the controller, got {epsilon}"
        )
    if epsilon_high is None:
        return 1.0
    if not (math.isfinite(epsilon_high) and epsilon_high >= 0.0):
        raise invalid("args.epsilon_high", f"must be finite and >= 0, got {epsilon_high}")
    return float(epsilon_high) / float(epsilon)


def clip_bounds(eps: float, ratio: float) -> ClipBounds:
    """(ε_low, ε_high) = (ε, ρ·ε)."""
    return ClipBounds(float(eps), float(ratio) * float(eps))
