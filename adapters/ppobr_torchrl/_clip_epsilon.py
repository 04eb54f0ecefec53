"""set_clip_epsilon: a new ε for TorchRL's ClipPPOLoss, written into its buffer in place."""

from __future__ import annotations

from typing import Optional

import torch

import ppobr_core


def _invalid(argument: str, what: str) -> ppobr_core.InvalidArgumentError:
    err = ppobr_core.InvalidArgumentError(f"{argument}: {what}")
    err.argument = argument
    return err


def _check_eps(argument: str, value: float) -> float:
    value = float(value)
    if not (0.0 <= value < float("inf")):
        raise _invalid(argument, f"must be finite and >= 0, got {value!r}")
    return value


def set_clip_epsilon(loss: torch.nn.Module, eps: float, eps_high: Optional[float] = None) -> None:
    """Sets the clip range of ``loss`` (TorchRL's ``ClipPPOLoss``, or any loss keeping ε in the
    same buffers) without rebuilding it.

    ``ClipPPOLoss`` keeps ε as a 0-d buffer — ``clip_epsilon``, or ``clip_epsilon_low`` and
    ``clip_epsilon_high`` when built with a ``(low, high)`` tuple — and reads it at every
    ``forward`` (its log-ratio bounds are log1p(−ε_low), log1p(ε_high)). Writing the new value
    into that buffer (``fill_``, under ``no_grad``) keeps its tensor, dtype and device: an
    optimizer, a ``torch.compile``d loss or a CUDA graph holding it sees the new ε, and the loss
    computes exactly what a ``ClipPPOLoss`` constructed with ``clip_epsilon=eps`` computes.

    ``eps_high``: the upper ε of a loss built with a tuple (default: ``eps``); refused for a
    symmetric loss. Only the policy's clip changes; the value clip (``clip_value``) is fixed.
    """
    if not isinstance(loss, torch.nn.Module):
        raise TypeError(f"loss: expected a torchrl ClipPPOLoss, got {type(loss).__name__}")
    buffers = dict(loss.named_buffers(recurse=False))
    eps = _check_eps("eps", eps)
    with torch.no_grad():
        if "clip_epsilon" in buffers:
            if eps_high is not None:
                raise _invalid(
                    "eps_high", "this loss has one symmetric clip_epsilon (built with a float)"
                )
            buffers["clip_epsilon"].fill_(eps)
        elif "clip_epsilon_low" in buffers and "clip_epsilon_high" in buffers:
            high = eps if eps_high is None else _check_eps("eps_high", eps_high)
            buffers["clip_epsilon_low"].fill_(eps)
            buffers["clip_epsilon_high"].fill_(high)
        else:
            raise TypeError(
                "loss: expected a torchrl ClipPPOLoss (a clip_epsilon buffer), got "
                f"{type(loss).__name__}"
            )
