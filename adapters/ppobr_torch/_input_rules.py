"""The input rules of ppobr_torch (docs/SPEC.md §3): the loss's, checked the same way on both
paths, and EpsilonController's.

Every check here reads only what a tensor knows without touching its data (type, dtype,
shape), or a host value (a number, a CPU clip range), so it never costs a host-device
synchronisation and runs unchanged under torch.compile. The messages are the core's
(``ppobr_core.clipped_surrogate`` gives the same exception type, argument and text for the same
input); they are built here and nowhere else in the adapter:

- bad values and shapes: ``ppobr_core.InvalidArgumentError`` (a ValueError) with ``.argument``;
- a wrong type or dtype: ``TypeError``; messages read "<argument>: <what is wrong>".

Value checks that need the data (NaN / Inf, negative or all-zero mask weights, segment id range)
are the core's job on the C++ path; the torch-expression path skips them (docs/SPEC.md §3.8).
"""

from __future__ import annotations

import math
from typing import Optional, Union

import numpy as np
import torch
from torch import Tensor

import ppobr_core

AGGREGATIONS = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum")
Eps = Union[float, Tensor]
_FLOAT_DTYPES = (torch.float32, torch.float64)


class _Required:
    """The default of a required argument, so that leaving it out gets the spec's message
    ("<argument>: is required") rather than Python's own."""

    def __repr__(self) -> str:
        return "<required>"


REQUIRED = _Required()


def invalid(argument: str, what: str) -> ppobr_core.InvalidArgumentError:
    """The core's error for a bad value or shape: "<argument>: <what>", ``.argument`` set."""
    err = ppobr_core.InvalidArgumentError(f"{argument}: {what}")
    err.argument = argument
    return err


def qualified_type_name(x) -> str:
    """The type as a user would write it: "numpy.ndarray", "list", "NoneType"."""
    cls = type(x)
    return (
        cls.__qualname__ if cls.__module__ == "builtins" else f"{cls.__module__}.{cls.__qualname__}"
    )


def dtype_name(dtype: torch.dtype) -> str:
    """torch.int64 -> "int64": the name NumPy gives the same dtype, as the core prints it."""
    return str(dtype).removeprefix("torch.")


def number_text(v: float) -> str:
    """A float as the core prints it (C++ std::to_string: six decimals, "nan", "inf")."""
    return f"{v:f}"


# ---------------------------------------------------------------------------------------------
# Scalars


def real_number(argument: str, x) -> float:
    """A Python / NumPy real number (bool included, a string never), as float.

    Raises TypeError "<argument>: expected a real number, got <type>" otherwise."""
    ok = not isinstance(x, (str, bytes)) and not (isinstance(x, np.ndarray) and x.ndim != 0)
    if ok:
        try:
            return float(x)
        except (TypeError, ValueError):
            pass
    raise TypeError(f"{argument}: expected a real number, got {type(x).__name__}")


def check_aggregation_type(aggregation) -> None:
    if not isinstance(aggregation, str):
        raise TypeError(f"aggregation: expected a string, got {type(aggregation).__name__}")


def check_aggregation_name(aggregation: str) -> None:
    if aggregation not in AGGREGATIONS:
        raise invalid(
            "aggregation",
            f"unknown aggregation {aggregation!r}; expected 'token-mean', "
            "'seq-mean-token-mean' or 'seq-mean-token-sum'",
        )


def check_dual_clip(dual_clip) -> Optional[float]:
    """None (off) or a float c > 1 (NaN and values <= 1 are refused)."""
    if dual_clip is None:
        return None
    c = real_number("dual_clip", dual_clip)
    if not c > 1.0:
        raise invalid("dual_clip", f"must be > 1 (or None to disable), got {number_text(c)}")
    return c


def check_num_threads(num_threads) -> None:
    """None (follow torch's thread count) or a Python int in [0, 4096] (0: the core chooses)."""
    if num_threads is None:
        return
    if not isinstance(num_threads, int) or isinstance(num_threads, bool):
        raise TypeError(f"num_threads: expected an integer, got {type(num_threads).__name__}")
    if not 0 <= num_threads <= 4096:
        raise invalid("num_threads", "must be in [0, 4096] (0: automatic)")


# ---------------------------------------------------------------------------------------------
# The clip range


try:  # torch >= 2.3
    _is_compiling = torch.compiler.is_compiling
except AttributeError:  # pragma: no cover - older torch
    import torch._dynamo

    _is_compiling = torch._dynamo.is_compiling


def tracing() -> bool:
    """True under torch.compile, torch.jit tracing or scripting (tensor values are unknown)."""
    return _is_compiling() or torch.jit.is_tracing() or torch.jit.is_scripting()


def check_clip_bound(argument: str, x: Eps, upper: Optional[float]) -> None:
    """A clip bound: 0 <= x < upper (upper None: x >= 0), finite; 0 is a valid clip range.

    A number, or a tensor of one element. A tensor is read only where that is free: on the CPU
    outside tracing; on a device or under torch.compile its value is trusted (reading it would
    be a host-device synchronisation, or a graph break)."""
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise invalid(
                argument, f"expected a number or a 0-d tensor, got shape {tuple(x.shape)}"
            )
        if not x.is_cpu or tracing():
            return
        v = float(x)
    else:
        v = real_number(argument, x)
    if upper is not None and not (math.isfinite(v) and 0.0 <= v < upper):
        raise invalid(argument, f"must be finite and in [0, 1), got {number_text(v)}")
    if upper is None and not (math.isfinite(v) and v >= 0.0):
        raise invalid(argument, f"must be finite and >= 0, got {number_text(v)}")


def clip_range(eps, eps_low, eps_high, default: Optional[float] = None) -> tuple[Eps, Eps]:
    """(eps_low, eps_high) from ``eps`` (symmetric) or both ``eps_low`` and ``eps_high``;
    ``default`` stands in for eps when nothing is given (None: the clip range is required).

    eps and eps_low lie in [0, 1), eps_high >= 0 (docs/SPEC.md §2)."""
    if eps is not None and (eps_low is not None or eps_high is not None):
        raise invalid("eps", "give either eps (symmetric) or eps_low and eps_high, not both")
    if eps is None and eps_low is None and eps_high is None:
        if default is None:
            raise invalid("eps", "the clip range is required: pass eps, or eps_low and eps_high")
        eps = default
    if eps is not None:
        check_clip_bound("eps", eps, upper=1.0)
        return eps, eps
    if eps_high is None:
        raise invalid("eps_high", "eps_low was given without eps_high")
    if eps_low is None:
        raise invalid("eps_low", "eps_high was given without eps_low")
    check_clip_bound("eps_low", eps_low, upper=1.0)
    check_clip_bound("eps_high", eps_high, upper=None)
    return eps_low, eps_high


# ---------------------------------------------------------------------------------------------
# The arrays


def require_tensor(argument: str, x) -> Tensor:
    """Array arguments are torch.Tensors: converting anything else silently would detach the
    autograd graph and lose the gradient."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{argument}: expected a torch.Tensor, got {qualified_type_name(x)}")
    return x


def _check_rank(argument: str, t: Tensor) -> None:
    if t.dim() not in (1, 2):
        raise invalid(
            argument,
            f"expected a 1-D [batch] or 2-D [batch, tokens] array, got {t.dim()} dimensions",
        )


def _check_float_dtype(argument: str, t: Tensor, like: Optional[Tensor]) -> None:
    if t.dtype not in _FLOAT_DTYPES:
        raise TypeError(
            f"{argument}: expected a float32 or float64 array, got {dtype_name(t.dtype)}"
        )
    if like is not None and t.dtype != like.dtype:
        raise TypeError(
            f"{argument}: dtype {dtype_name(t.dtype)} differs from logp_new's; pass all float "
            "inputs in one dtype (float32 or float64)"
        )


def _check_like(argument: str, t: Tensor, like: Tensor) -> None:
    _check_rank(argument, t)
    if t.shape != like.shape:
        raise invalid(
            argument, f"shape {tuple(t.shape)} does not match logp_new's {tuple(like.shape)}"
        )


def _shape_text(t: Tensor) -> str:
    # the core sees a 1-D batch as one row: [1, n]
    rows, cols = (1, t.shape[0]) if t.dim() == 1 else tuple(t.shape)
    return f"[{rows}, {cols}]"


def _plainly_valid(logp_new, logp_old, advantages, entropy, mask, segment_ids, aggregation):
    """True for the common, valid call (tensors of one float dtype and one non-empty shape,
    no segment ids, token-mean or a 2-D batch), decided with the fewest attribute reads: a
    small minibatch's call is a few tens of microseconds, and the full checks below would add
    a visible share. False sends the call through the full checks, which find the message."""
    if not (
        isinstance(logp_new, Tensor)
        and isinstance(logp_old, Tensor)
        and isinstance(advantages, Tensor)
        and segment_ids is None
    ):
        return False
    dtype = logp_new.dtype
    shape = logp_new.shape
    if (dtype is not torch.float32 and dtype is not torch.float64) or 0 in shape:
        return False
    if len(shape) != 2 and (len(shape) != 1 or aggregation != "token-mean"):
        return False
    for t in (logp_old, advantages, entropy):
        if t is not None and not (isinstance(t, Tensor) and t.dtype is dtype and t.shape == shape):
            return False
    if mask is not None:
        if not (isinstance(mask, Tensor) and mask.shape == shape):
            return False
        if mask.dtype is not dtype and mask.dtype is not torch.bool:
            return False
    return True


def check_surrogate_inputs(
    logp_new,
    logp_old,
    advantages,
    entropy,
    mask,
    segment_ids,
    aggregation: str,
) -> None:
    """The static rules for the loss's arrays (docs/SPEC.md §3.1-3.3, §3.7), in the core's
    order: types (torch.Tensor), ranks, shapes, dtypes (float32 / float64, all logp_new's; a
    mask may be bool; segment ids integer), a non-empty batch, and segment ids where a
    ``seq-mean-*`` aggregation of a 1-D batch needs them. Reads no tensor data."""
    if _plainly_valid(logp_new, logp_old, advantages, entropy, mask, segment_ids, aggregation):
        return
    for argument, x in (("logp_new", logp_new), ("logp_old", logp_old), ("advantages", advantages)):
        if x is REQUIRED:
            raise TypeError(f"{argument}: is required")
    if logp_new is None:
        raise invalid("logp_new", "is required")
    require_tensor("logp_new", logp_new)
    _check_rank("logp_new", logp_new)
    _check_float_dtype("logp_new", logp_new, None)
    if logp_old is None:
        raise invalid("logp_old", "is required")
    if advantages is None:
        raise invalid("advantages", "is required")
    for argument, t in (("logp_old", logp_old), ("advantages", advantages), ("entropy", entropy)):
        if t is not None:
            require_tensor(argument, t)
            _check_like(argument, t, logp_new)
            _check_float_dtype(argument, t, logp_new)
    if mask is not None:
        require_tensor("mask", mask)
        _check_like("mask", mask, logp_new)
        if mask.dtype != torch.bool:  # a boolean mask means weights 0 / 1
            _check_float_dtype("mask", mask, logp_new)
    if segment_ids is not None:
        require_tensor("segment_ids", segment_ids)
        if (
            segment_ids.dtype.is_floating_point
            or segment_ids.dtype.is_complex
            or (segment_ids.dtype == torch.bool)
        ):
            raise TypeError(
                f"segment_ids: expected an integer array, got {dtype_name(segment_ids.dtype)}"
            )
        if segment_ids.dim() != 1 or logp_new.dim() != 1 or segment_ids.shape != logp_new.shape:
            raise invalid(
                "segment_ids",
                "expected a 1-D integer array as long as a 1-D logp_new (for 2-D "
                "[batch, tokens] input the rows are the sequences)",
            )
    if logp_new.numel() == 0:
        raise invalid("logp_new", f"empty batch {_shape_text(logp_new)}")
    if aggregation in AGGREGATIONS[1:] and logp_new.dim() == 1 and segment_ids is None:
        raise invalid(
            "segment_ids",
            f"is required for aggregation '{aggregation}' on a 1-D batch (pass segment_ids, "
            "or a 2-D [batch, tokens] batch whose rows are the sequences)",
        )


# ---------------------------------------------------------------------------------------------
# The controller (EpsilonController)


def require_controller(controller) -> None:
    """A ppobr_core controller, never a silent default: which rule sets ε is the caller's choice."""
    if not isinstance(controller, ppobr_core.Controller):
        raise TypeError(
            "controller: expected a ppobr_core controller (e.g. "
            f"ppobr_core.PPOBRController()), got {type(controller).__name__}"
        )


def require_real_dtype(argument: str, dtype: torch.dtype) -> None:
    """Per-step values (entropies, KLs) are real numbers: bool and complex tensors are refused."""
    if dtype == torch.bool or dtype.is_complex:
        raise TypeError(f"{argument}: expected real numbers, got a {dtype_name(dtype)} tensor")


def per_step_type_error(argument: str, x) -> TypeError:
    return TypeError(
        f"{argument}: expected a real number or a 1-D array of them, got {type(x).__name__}"
    )


def check_per_step_values(argument: str, ndim: int, size: int) -> None:
    """A controller signal is a number (ndim 0) or a non-empty 1-D array of per-step values,
    whose mean is used (docs/SPEC.md §3.5)."""
    if ndim > 1:
        raise invalid(
            argument, f"expected a number or a 1-D array of per-step values, got {ndim} dimensions"
        )
    if ndim == 1 and size == 0:
        what = "entropy" if argument == "entropy" else "value"
        raise invalid(argument, f"empty array (pass a number or at least one per-step {what})")
