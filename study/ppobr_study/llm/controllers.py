"""The four clip-range rules the GRPO study compares, each as (controller, GRPOConfig bounds).

constant 0.2 is the baseline; clip-higher is DAPO's 0.2 / 0.28; PPO-BR and KL-adaptive start at
ε0 = 0.2 with the project's defaults (docs/SPEC.md §1.2) and keep ρ = 1.
"""

from __future__ import annotations

from typing import Callable, NamedTuple, Optional

import ppobr_core


class ClipRule(NamedTuple):
    make: Callable[[], ppobr_core.Controller]
    epsilon: float
    epsilon_high: Optional[float]


BASELINE = "constant"

RULES = {
    "constant": ClipRule(lambda: ppobr_core.ConstantController(0.2), 0.2, None),
    "clip_higher": ClipRule(lambda: ppobr_core.ConstantController(0.2), 0.2, 0.28),
    "ppobr": ClipRule(lambda: ppobr_core.PPOBRController(eps0=0.2), 0.2, None),
    "kl_adaptive": ClipRule(lambda: ppobr_core.KLAdaptiveController(eps0=0.2), 0.2, None),
}
