"""What the trainer refuses, and the configuration in which ε cannot act (docs/SPEC.md §4)."""

from __future__ import annotations

import math
import warnings

from ppobr_torch._input_rules import invalid

# The loss types whose objective is min(r·A, clip(r, 1 − ε_low, 1 + ε_high)·A): only there is
# (ε_low, ε_high) a trust region. cispo reads epsilon_high as an absolute cap on the ratio, sapo
# and vespo do not read ε at all.
SUPPORTED_LOSS_TYPES = ("grpo", "bnpo", "dr_grpo", "dapo", "luspo")


class OnPolicyWarning(UserWarning):
    """The configuration makes the ratio π/π_old identically 1, so no clip range can bind."""


def refuse_unsupported(args, loss_types: tuple[str, ...] | None) -> None:
    """Raises for a configuration where setting epsilon_low / epsilon_high would not reach the loss.

    ``loss_types``: the trainer's loss types that clip the ratio (GRPO's ``SUPPORTED_LOSS_TYPES``),
    or None for a trainer with a single, clipped loss (RLOO).
    """
    if getattr(args, "use_liger_loss", False):
        raise invalid(
            "args.use_liger_loss",
            "the Liger GRPO loss captures epsilon once when the trainer is built, so an adaptive "
            "clip range would never reach it; set use_liger_loss=False",
        )
    if loss_types is not None and args.loss_type not in loss_types:
        raise invalid(
            "args.loss_type",
            f"{args.loss_type!r} does not clip the ratio to [1 - eps_low, 1 + eps_high]; "
            f"use one of {', '.join(loss_types)}",
        )


def ratio_is_always_one(args) -> bool:
    """TRL keeps no π_old when a generation batch is consumed within one optimizer step.

    It computes old log-probs only when gradient_accumulation_steps is not a multiple of
    steps_per_generation · num_iterations; otherwise π_old is the current policy, detached, and
    r ≡ 1 (with num_iterations == 1 and steps_per_generation <= gradient_accumulation_steps in
    the usual multiples).
    """
    generate_every = args.steps_per_generation * args.num_iterations
    return args.gradient_accumulation_steps % generate_every == 0


def warn_if_on_policy(args) -> None:
    if ratio_is_always_one(args):
        warnings.warn(
            "PPO-BR: the ratio pi/pi_old is always 1 with num_iterations="
            f"{args.num_iterations}, steps_per_generation={args.steps_per_generation}, "
            f"gradient_accumulation_steps={args.gradient_accumulation_steps}, so no clip range "
            "(constant or adaptive) can act. Set num_iterations > 1, or steps_per_generation "
            "to more than (and not a divisor of) gradient_accumulation_steps.",
            OnPolicyWarning,
            stacklevel=3,
        )


def require_matching_start(controller_eps: float, epsilon: float) -> None:
    """The controller's first ε must be the config's epsilon: both describe ε before training."""
    if not math.isclose(controller_eps, epsilon, rel_tol=0.0, abs_tol=1e-12):
        raise invalid(
            "args.epsilon",
            f"is {epsilon} but the controller starts at eps={controller_eps}; set "
            "GRPOConfig(epsilon=...) to the controller's initial eps (epsilon_high / epsilon sets "
            "the clip-higher ratio)",
        )
