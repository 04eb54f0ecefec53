"""The trainers ``ppobr compare`` can run its comparison with (``--trainer``, alias ``--engine``):
one registry, so the command line, the run folder and the tables name a trainer alike.

=======  =====================================================================================
name     what runs
=======  =====================================================================================
torch    ``ppobr_study.train.train``: CleanRL's PPO in PyTorch, one run per worker process
         (any gymnasium task, ``module:Env-vN`` ids included)
jax      ``ppobr_study.jax``: the same PPO jitted, every controller and seed of a task in one
         compiled program (gymnax classic control: CartPole-v1, Acrobot-v1, MountainCar-v0;
         Brax: hopper, halfcheetah, walker2d, humanoid); needs the ``jaxstudy`` extra
jax      also answers to ``--engine jax``
sb3      ``ppobr_study.sb3_trainer.train(config)``: Stable-Baselines3's PPO with the preset's
         controller, one run per worker process, the same result format as train.py's
=======  =====================================================================================

A per-run trainer (torch, sb3) is a function ``train(config, progress=None) -> result`` called
by ``runner``; the jax trainer runs whole tasks (``ppobr_study.jax.engine``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Callable, Dict


@dataclass(frozen=True)
class Trainer:
    name: str
    module: str  # imported lazily: each trainer needs its own extra
    per_run: bool  # True: one ``module.train(config)`` call per run; False: whole tasks
    default_out: str  # a run folder holds the runs of one trainer
    description: str


TRAINERS: Dict[str, Trainer] = {
    "torch": Trainer(
        "torch",
        "ppobr_study.train",
        True,
        "runs/compare",
        "CleanRL's PPO in PyTorch, one run per worker process (any gymnasium task)",
    ),
    "jax": Trainer(
        "jax",
        "ppobr_study.jax.engine",
        False,
        "runs/compare-jax",
        "the same PPO jitted: all seeds and controllers of a task in one compiled program "
        "(gymnax classic control, Brax)",
    ),
    "sb3": Trainer(
        "sb3",
        "ppobr_study.sb3_trainer",
        True,
        "runs/compare-sb3",
        "Stable-Baselines3's PPO with the preset's controller, one run per worker process",
    ),
}
DEFAULT_TRAINER = "torch"


def get(name: str) -> Trainer:
    try:
        return TRAINERS[name]
    except KeyError:
        raise SystemExit(
            f"--trainer: unknown {name!r}; choose from {', '.join(TRAINERS)}"
        ) from None


def run_function(name: str) -> Callable:
    """The ``train(config, progress=None)`` function of a per-run trainer, imported now."""
    trainer = get(name)
    if not trainer.per_run:
        raise ValueError(f"trainer: {name!r} runs whole tasks, not single runs")
    return importlib.import_module(trainer.module).train


def recorded_trainer(meta: dict) -> str:
    """The trainer that wrote a run, from its run.json: the ``trainer`` entry, else ``jax``
    for the JAX study's runs (their ``engine`` entry) and ``torch`` for runs written before
    the entry existed."""
    if meta.get("trainer"):
        return str(meta["trainer"])
    return "jax" if "jax" in str(meta.get("engine", "")) else "torch"
