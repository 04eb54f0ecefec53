"""The named clip-range controller presets: one table, from which both trainers build controllers.

Every preset is a controller *kind* and a function of the task (its action space and the number
of PPO iterations) that gives the kind's parameters. :func:`make_controller` builds the
``ppobr_core`` controller (the PyTorch trainer, ``ppobr compare``); ``ppobr_study.jax.controllers``
builds the ``ppobr_jax`` controller from the same entry (the JAX trainer). A kind is a controller
name that ``ppobr_core`` and ``ppobr_jax`` share, and both take the same keyword parameters, so
each engine needs one factory per kind (:data:`CORE_FACTORIES`) and nothing per preset.

The names are what ``--controllers`` takes:

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
largest possible entropy); for a Gaussian policy it is left unset, so the controller takes the
entropy measured at the first update (docs/SPEC.md: a Gaussian's entropy has no maximum).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Dict, Mapping, Optional, Tuple

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
        """H_ref of PPO-BR's φ: the largest entropy, log(n), of a categorical policy over n
        actions; None (the first measured entropy) for a Gaussian policy."""
        return math.log(self.num_actions) if self.discrete and self.num_actions else None


@dataclass(frozen=True)
class Preset:
    """A controller kind (``ppobr_core`` and ``ppobr_jax`` name it alike) and its parameters."""

    kind: str  # "constant", "ppobr", "linear_decay" or "kl_adaptive"
    parameters: Callable[[TaskInfo], Dict[str, Any]]  # keyword arguments of the kind's factory
    description: str  # one line for `ppobr controllers`


def _ppobr_parameters(task: TaskInfo, lambda1: float = LAMBDA1, lambda2: float = LAMBDA2) -> dict:
    return {
        "eps0": EPS0,
        "lambda1": lambda1,
        "lambda2": lambda2,
        "window": WINDOW,
        "entropy_ref": task.entropy_ref,
    }


def ppobr_starting_epsilon(task: TaskInfo) -> float:
    """The ε a fresh ``ppobr`` controller gives at its first update with full entropy
    (φ = 1) and no finished episode (ψ = 0, warm-up): ε0·(1 + λ1·tanh(1))."""
    probe = make_controller("ppobr", task)
    # At H = H_ref, φ = 1; for a Gaussian (H_ref unset) the first entropy becomes H_ref.
    h = task.entropy_ref if task.entropy_ref is not None else 1.0
    eps = float(probe.update(h, None))
    cfg = probe.config
    expected = cfg["eps0"] * (1.0 + cfg["lambda1"] * math.tanh(1.0))
    if not math.isclose(eps, expected, rel_tol=1e-12):  # pragma: no cover - a core change
        raise RuntimeError(f"ppo-wide: PPO-BR's starting ε is {eps}, expected {expected}")
    return eps


PRESETS: Dict[str, Preset] = {
    "ppo": Preset("constant", lambda task: {"eps": EPS0}, "constant ε = 0.2"),
    "ppobr": Preset("ppobr", _ppobr_parameters, "PPO-BR (ε0 0.2, λ1 0.5, λ2 0.3, k 10)"),
    "ppobr-entropy": Preset(
        "ppobr",
        lambda task: _ppobr_parameters(task, lambda2=0.0),
        "PPO-BR, entropy term only (λ2 = 0)",
    ),
    "ppobr-reward": Preset(
        "ppobr",
        lambda task: _ppobr_parameters(task, lambda1=0.0),
        "PPO-BR, reward term only (λ1 = 0)",
    ),
    "linear-decay": Preset(
        "linear_decay",
        lambda task: {
            "eps_start": EPS0,
            "eps_end": 0.0,
            "total_updates": max(1, task.num_iterations),
        },
        "ε linear 0.2 → 0",
    ),
    "kl-adaptive": Preset(
        "kl_adaptive", lambda task: {"eps0": EPS0}, "KL-adaptive ε (target 0.01)"
    ),
    "ppo-wide": Preset(
        "constant",
        lambda task: {"eps": ppobr_starting_epsilon(task)},
        "constant ε = PPO-BR's start, 0.2·(1+0.5·tanh 1)",
    ),
}

DESCRIPTIONS: Dict[str, str] = {name: preset.description for name, preset in PRESETS.items()}

# The ppobr_core controller of each kind (the PyTorch trainer's).
CORE_FACTORIES: Mapping[str, Callable[..., ppobr_core.Controller]] = {
    "constant": ppobr_core.ConstantController,
    "ppobr": ppobr_core.PPOBRController,
    "linear_decay": ppobr_core.LinearDecayController,
    "kl_adaptive": ppobr_core.KLAdaptiveController,
}


def names() -> list:
    return list(PRESETS)


def parameters(name: str, task: TaskInfo) -> Tuple[str, Dict[str, Any]]:
    """(kind, keyword parameters) of preset ``name`` for ``task``."""
    try:
        preset = PRESETS[name]
    except KeyError:
        raise ValueError(
            f"controller: unknown preset {name!r}; choose from {', '.join(PRESETS)}"
        ) from None
    return preset.kind, preset.parameters(task)


def build(name: str, task: TaskInfo, factories: Mapping[str, Callable[..., Any]]) -> Any:
    """Preset ``name`` built by the factory of its kind in ``factories`` (one engine's table)."""
    kind, params = parameters(name, task)
    return factories[kind](**params)


def make_controller(name: str, task: TaskInfo) -> ppobr_core.Controller:
    """A fresh ``ppobr_core`` controller for preset ``name`` (see the module docstring)."""
    return build(name, task, CORE_FACTORIES)
