"""PPOBRCallback: PPO-BR's ε for SB3's PPO, RecurrentPPO and MaskablePPO, once per rollout."""

from __future__ import annotations

import math
import time
from typing import Any, List, Optional

import numpy as np
from stable_baselines3.common.callbacks import BaseCallback

import ppobr_core
from ppobr_sb3._clip_range import ControllerClipRange, find_clip_range, require_controller
from ppobr_sb3._rollout_entropy import rollout_entropies


def _invalid(argument: str, what: str) -> ppobr_core.InvalidArgumentError:
    err = ppobr_core.InvalidArgumentError(f"{argument}: {what}")
    err.argument = argument
    return err


class PPOBRCallback(BaseCallback):
    """Updates a clip-range controller once per rollout and makes SB3's ``train()`` use its ε.

    Each iteration of SB3's on-policy loop is: collect a rollout (``on_rollout_start``,
    ``on_step`` per vector step, ``on_rollout_end``), then ``train()``. This callback

    - ``on_step``: keeps the return ``info["episode"]["r"]`` of every episode that finished in
      the rollout (SB3's ``Monitor`` wrapper, which ``make_vec_env`` adds, puts it there), in
      step order and, within a step, in env order;
    - ``on_rollout_end`` (after the last step, before ``train()``): ε_t = controller.update(H, R),
      where H are the per-step policy entropies of the rollout (``rollout_entropies``: the
      policy evaluated on the rollout buffer, whose mean is H_t of docs/SPEC.md §1) and R the
      returns above; it logs ``ppobr/eps``, ``ppobr/phi``, ``ppobr/psi`` through SB3's logger;
    - at the start of ``learn`` puts a :class:`ControllerClipRange` holding the controller in
      ``model.clip_range``: SB3's ``train()`` reads ε from it, clips with it and logs it as
      ``train/clip_range``.

    ``controller``: any ``ppobr_core`` controller (``PPOBRController``, ``ConstantController``,
    ``LinearDecayController``, ``KLAdaptiveController``). ``None``: continue with the controller
    a loaded model carries (``model.save`` pickles it inside ``model.clip_range``; ``PPO.load``
    restores it bit-identically), so training resumes where it stopped::

        model.learn(100_000, callback=PPOBRCallback(ppobr_core.PPOBRController(...)))
        model.save("agent")
        model = PPO.load("agent", env=env)
        model.learn(100_000, callback=PPOBRCallback(), reset_num_timesteps=False)

    Where the model is not saved, ``state_dict()`` / ``load_state_dict()`` of the controller
    (or of this callback, the same bytes) restore it.

    KL-adaptive controllers read the KL of the previous ``train()`` (SB3's ``train/approx_kl``:
    the k3 estimator averaged over the minibatches of its last epoch); before the first update
    there is none and ε stays ε0.

    In one logged row (one ``dump``), ``ppobr/eps`` is the ε of the ``train()`` that follows it,
    while SB3's ``train/clip_range`` in the same row is the previous ``train()``'s: SB3 dumps
    between the rollout and ``train()``.
    """

    def __init__(self, controller: Optional[ppobr_core.Controller] = None, verbose: int = 0):
        super().__init__(verbose)
        if controller is not None:
            require_controller(controller)
        self._given = controller
        self.controller: Optional[ppobr_core.Controller] = controller
        self.episode_returns: List[float] = []  # of the last rollout
        self.rollout_entropy = math.nan  # mean per-step entropy of the last rollout
        self.update_seconds = 0.0  # time of the last on_rollout_end: entropy pass + update

    # -- set-up ---------------------------------------------------------------------------------

    def _init_callback(self) -> None:
        model = self.model
        if not hasattr(model, "clip_range") or not hasattr(model, "rollout_buffer"):
            raise TypeError(
                "model: expected an SB3 PPO, sb3-contrib RecurrentPPO or MaskablePPO, got "
                f"{type(model).__name__}"
            )
        if self._given is None:
            carried = find_clip_range(model.clip_range)
            if carried is None:
                raise _invalid(
                    "controller",
                    "is required: the model carries no PPO-BR controller (pass one, e.g. "
                    "PPOBRCallback(ppobr_core.PPOBRController()))",
                )
            self.controller = carried.controller
        else:
            self.controller = self._given
            model.clip_range = ControllerClipRange(self._given)

    # -- the rollout ----------------------------------------------------------------------------

    def _on_rollout_start(self) -> None:
        self.episode_returns = []

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            episode = info.get("episode")
            if episode is not None:
                self.episode_returns.append(float(episode["r"]))
        return True

    def _on_rollout_end(self) -> None:
        start = time.perf_counter()
        entropies = rollout_entropies(self.model)
        self.rollout_entropy = float(np.mean(entropies))
        controller = self.controller
        if controller.name == "kl_adaptive":
            kl = self.model.logger.name_to_value.get("train/approx_kl")
            if kl is not None:  # none before the first train(): keep ε0
                controller.update(entropies, self.episode_returns, kl=float(kl))
        else:
            controller.update(entropies, self.episode_returns)
        diagnostics = controller.diagnostics
        logger = self.model.logger
        logger.record("ppobr/eps", float(controller.epsilon))
        logger.record("ppobr/phi", float(diagnostics.get("phi", math.nan)))
        logger.record("ppobr/psi", float(diagnostics.get("psi", math.nan)))
        self.update_seconds = time.perf_counter() - start

    # -- state ----------------------------------------------------------------------------------

    @property
    def epsilon(self) -> float:
        """The ε the next ``train()`` uses."""
        return float(self.controller.epsilon)

    def state_dict(self) -> Any:
        """The controller's state (versioned, checksummed bytes: docs/SPEC.md §1.2)."""
        return self.controller.state_dict()

    def load_state_dict(self, state: Any) -> None:
        """Restores the controller's state; training continues bit-identically."""
        self.controller.load_state_dict(state)
