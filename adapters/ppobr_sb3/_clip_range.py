"""ControllerClipRange: an SB3 clip-range schedule whose value is a controller's current ε."""

from __future__ import annotations

from typing import Any, Optional

import ppobr_core


def require_controller(controller: Any) -> None:
    """A ppobr_core controller, never a silent default: which rule sets ε is the caller's choice."""
    if not isinstance(controller, ppobr_core.Controller):
        raise TypeError(
            "controller: expected a ppobr_core controller (e.g. "
            f"ppobr_core.PPOBRController()), got {type(controller).__name__}"
        )


class ControllerClipRange:
    """SB3 calls ``model.clip_range(progress_remaining)`` once at the start of every
    ``train()`` and clips the ratio to [1 − ε, 1 + ε] with the value; this schedule ignores the
    progress and answers ``controller.epsilon``, so whatever last updated the controller (the
    :class:`~ppobr_sb3.PPOBRCallback`, once per rollout) decides the ε of the next update.

    It holds the controller itself, so ``model.save`` pickles the controller's state with the
    model and ``PPO.load`` restores it (the core's controllers pickle bit-identically).
    """

    def __init__(self, controller: ppobr_core.Controller):
        require_controller(controller)
        self.controller = controller

    def __call__(self, progress_remaining: float) -> float:
        return float(self.controller.epsilon)

    def __repr__(self) -> str:
        return f"ControllerClipRange({self.controller.name}, epsilon={self.controller.epsilon!r})"


def find_clip_range(schedule: Any) -> Optional[ControllerClipRange]:
    """The ControllerClipRange inside a model's ``clip_range`` (SB3 wraps any schedule it is
    given, at construction and again in ``load``, in a ``FloatSchedule``), or None."""
    seen = 0
    while schedule is not None and seen < 8:  # a few wrappers at most; never loop forever
        if isinstance(schedule, ControllerClipRange):
            return schedule
        schedule = getattr(schedule, "value_schedule", None)
        seen += 1
    return None
