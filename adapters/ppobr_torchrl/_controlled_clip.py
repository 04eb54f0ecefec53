"""ControlledClipEpsilon: a controller driving a ClipPPOLoss's ε, once per collector batch."""

from __future__ import annotations

from typing import Any, Optional

import torch
from tensordict import TensorDictBase

import ppobr_core
from ppobr_torchrl._clip_epsilon import set_clip_epsilon
from ppobr_torchrl._rollout_signals import rollout_signals


def _require_controller(controller: Any) -> None:
    if isinstance(controller, ppobr_core.Controller):
        return
    try:
        import ppobr_torch
    except ImportError:  # pragma: no cover - torch is here, so is the adapter
        ppobr_torch = None
    if ppobr_torch is not None and isinstance(controller, ppobr_torch.EpsilonController):
        return
    raise TypeError(
        "controller: expected a ppobr_core controller (e.g. ppobr_core.PPOBRController()) or a "
        f"ppobr_torch.EpsilonController, got {type(controller).__name__}"
    )


class ControlledClipEpsilon:
    """Keeps ``loss``'s clip range equal to ``controller``'s ε.

    Call :meth:`step` once per iteration, with the collector's batch, before the update epochs:
    it reads the batch's per-step entropies and finished episodes' returns
    (:func:`rollout_signals`), updates the controller and writes the new ε into the loss in
    place (:func:`set_clip_epsilon`). At construction the loss gets the controller's current ε
    (ε0), so a loss never clips with a value the controller did not give.

    ``controller``: any ``ppobr_core`` controller or a ``ppobr_torch.EpsilonController``
    (which makes every rank of a ``torch.distributed`` run compute the same ε).
    """

    def __init__(
        self, loss: torch.nn.Module, controller: Any, actor: Optional[torch.nn.Module] = None
    ):
        _require_controller(controller)
        self.loss = loss
        self.controller = controller
        self.actor = actor
        set_clip_epsilon(loss, float(controller.epsilon))

    @property
    def epsilon(self) -> float:
        return float(self.controller.epsilon)

    def step(self, batch: TensorDictBase, *, kl: Optional[float] = None, **signal_keys) -> float:
        """ε for the update of ``batch``; ``kl`` (KL-adaptive controllers): the last update's
        KL. ``signal_keys``: :func:`rollout_signals`'s key options."""
        entropies, returns = rollout_signals(batch, self.actor, **signal_keys)
        eps = float(self.controller.update(entropies, returns, kl=kl))
        set_clip_epsilon(self.loss, eps)
        return eps

    def state_dict(self) -> Any:
        return self.controller.state_dict()

    def load_state_dict(self, state: Any) -> None:
        self.controller.load_state_dict(state)
        set_clip_epsilon(self.loss, float(self.controller.epsilon))
