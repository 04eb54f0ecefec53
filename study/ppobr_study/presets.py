"""Named clip-range controller presets for `ppobr compare` and the trainer.

Every preset is a function of the task (its action space and the number of PPO iterations)
that returns a fresh ``ppobr_core`` controller. The names are what ``--controllers`` takes:

=================  ===========================================================================
name               controller
=================  ===========================================================================
ppo                plain PPO: constant ε = 0.2 (CleanRL's clip_coef)
ppobr              PPO-BR with the paper's defaults: ε0 0.2, λ1 0.5, λ2 0.3, window 10,
                   ψ mode "plateau", bounds ε0(1-λ2) .. ε0(1+λ1)
ppobr-entropy      ablation: entropy-driven expansion only (λ2 = 0)
ppobr-reward       ablation: reward-guided contraction only (λ1 = 0)
linear-decay       ε decays linearly from 0.2 to 0 over the run (one step per iteration)
kl-adaptive        ε shrinks (÷1.5) when the measured KL (k3) is above 1.5×0.01 and grows
                   (×1.5) when below 0.01/1.5, within [0.02, 0.5] (ppobr_core defaults)
ppo-wide           constant ε equal to PPO-BR's *starting* value: what ``ppobr`` returns at
                   full entropy before its reward window fills, ε0·(1 + λ1·tanh(1)) = 0.276
                   with the defaults. It is computed by running the ppobr preset, not typed
                   in, so it follows any change of the preset. It separates "adaptive" from
                   "simply a larger ε".
=================  ===========================================================================

The entropy reference of PPO-BR's φ: log(n) for a categorical policy over n actions (the
largest possible entropy); for a Gaussian policy it is left unset, so the core takes the
entropy measured at the first update (the spec's rule: a Gaussian's entropy has no maximum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Dict, Optional

import ppobr_core

EPS0 = 0.2  # CleanRL's clip_coef and the paper's ε0
LAMBDA1 = 0.5
LAMBDA2 = 0.3
WINDOW = 10


@dataclass(frozen=True)
class TaskInfo:
    """What a preset may depend on."""

    discrete: bool
    num_actions: Optional[int]  # categorical policies only
    num_iterations: int  # PPO iterations in the run (= ε updates)

    @property
    def entropy_ref(self) -> Optional[float]:
        return math.log(self.num_actions) if self.discrete and self.num_actions else None


def _ppobr(task: TaskInfo, lambda1: float = LAMBDA1, lambda2: float = LAMBDA2) -> ppobr_core.Controller:
    return ppobr_core.PPOBRController(
        eps0=EPS0, lambda1=lambda1, lambda2=lambda2, window=WINDOW, entropy_ref=task.entropy_ref
    )


def ppobr_starting_epsilon(task: TaskInfo) -> float:
    """The ε a fresh ``ppobr`` controller gives at its first update with full entropy
    (φ = 1) and no finished episode (ψ = 0, warm-up): ε0·(1 + λ1·tanh(1))."""
    probe = _ppobr(task)
    # At H = H_ref, φ = 1; for a Gaussian (H_ref unset) the first entropy becomes H_ref.
    h = task.entropy_ref if task.entropy_ref is not None else 1.0
    eps = float(probe.update(h, None))
    cfg = probe.config
    expected = cfg["eps0"] * (1.0 + cfg["lambda1"] * math.tanh(1.0))
    if not math.isclose(eps, expected, rel_tol=1e-12):  # pragma: no cover - a core change
        raise RuntimeError(f"ppo-wide: PPO-BR's starting ε is {eps}, expected {expected}")
    return eps


PRESETS: Dict[str, Callable[[TaskInfo], ppobr_core.Controller]] = {
    "ppo": lambda task: ppobr_core.ConstantController(EPS0),
    "ppobr": _ppobr,
    "ppobr-entropy": lambda task: _ppobr(task, lambda2=0.0),
    "ppobr-reward": lambda task: _ppobr(task, lambda1=0.0),
    "linear-decay": lambda task: ppobr_core.LinearDecayController(
        EPS0, 0.0, total_updates=max(1, task.num_iterations)
    ),
    "kl-adaptive": lambda task: ppobr_core.KLAdaptiveController(eps0=EPS0),
    "ppo-wide": lambda task: ppobr_core.ConstantController(ppobr_starting_epsilon(task)),
}

DESCRIPTIONS: Dict[str, str] = {
    "ppo": "constant ε = 0.2",
    "ppobr": "PPO-BR (ε0 0.2, λ1 0.5, λ2 0.3, k 10)",
    "ppobr-entropy": "PPO-BR, entropy term only (λ2 = 0)",
    "ppobr-reward": "PPO-BR, reward term only (λ1 = 0)",
    "linear-decay": "ε linear 0.2 → 0",
    "kl-adaptive": "KL-adaptive ε (target 0.01)",
    "ppo-wide": "constant ε = PPO-BR's start, 0.2·(1+0.5·tanh 1)",
}


def names() -> list:
    return list(PRESETS)


def make_controller(name: str, task: TaskInfo) -> ppobr_core.Controller:
    """A fresh controller for preset ``name`` (see the module docstring)."""
    try:
        factory = PRESETS[name]
    except KeyError:
        raise ValueError(
            f"controller: unknown preset {name!r}; choose from {', '.join(PRESETS)}"
        ) from None
    return factory(task)
