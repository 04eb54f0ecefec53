"""Every check ppobr_jax makes on a config or an input, and every message it raises, in one place.

The same bad input gives the same exception type, ``.argument`` and message text in the NumPy
API (ppobr_core), ppobr_torch and ppobr_jax (docs/SPEC.md, "Input rules"). The texts here are the
core's, character for character: the controller configs are checked as in
cpp/src/controllers.cpp (``validate``) and the Python arguments as in
python/binding_arguments.cpp, the loss's inputs as in python/surrogate_binding.cpp and the
core's surrogate checks (cpp/src/), in the same order, so that an input with several faults
names the same one first.

Two number formats appear in the core's messages and are reproduced here:

- :func:`num`: ``snprintf("%.17g")`` (controllers.cpp's ``num``), e.g. 0.2 -> "0.20000000000000001";
- :func:`fixed`: ``std::to_string(double)`` = ``"%f"`` (the loss's options), e.g. 1.5 -> "1.500000".

Python's format specs and C's ``snprintf`` both round correctly, so the digits are equal.

What JAX cannot check: values of traced arrays (under ``jit``, ``vmap``, ``scan``) are unknown
while tracing, and a check of array values would need a device sync. So the loss never scans
its arrays for NaN / Inf, negative or all-zero mask weights (the NumPy API does; docs/SPEC.md,
rule R8), and a traced ε or dual-clip constant is not range-checked. Shapes, dtypes and static
options are always checked. (Segment ids given as a NumPy array are read on the host anyway, to
count the sequences, so a negative id raises there as in the NumPy API.)
"""

from __future__ import annotations

import math
import operator
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from ppobr_jax._errors import InvalidArgumentError

AGGREGATIONS = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum")

# The core bounds the PPO-BR window so that its state (and serialization) stays bounded.
MAX_WINDOW = 1_000_000
# The JAX states count updates in int32 (a fixed-shape pytree); the core counts in int64.
MAX_TOTAL_UPDATES = 2**31 - 1


# ---------------------------------------------------------------------------------------------
# Errors and number formats


def invalid(argument: str, what: str) -> Exception:
    """InvalidArgumentError "<argument>: <what>" with ``.argument`` set (raise the result)."""
    return InvalidArgumentError(f"{argument}: {what}", argument)


def wrong_type(argument: str, what: str) -> TypeError:
    """TypeError "<argument>: <what>" (a wrong type or dtype; raise the result)."""
    return TypeError(f"{argument}: {what}")


def num(x: float) -> str:
    """A float as the core's controller messages print it: C's ``%.17g``."""
    return f"{x:.17g}"


def fixed(x: float) -> str:
    """A float as the core's loss-option messages print it: ``std::to_string`` = C's ``%f``."""
    return f"{x:f}"


def type_name(value: Any) -> str:
    return type(value).__name__


# ---------------------------------------------------------------------------------------------
# Python values of configs


def real(value: Any, argument: str) -> float:
    """A real number (Python, NumPy or 0-d array scalar) as a float; strings and None refused.

    Like the core's binding, a string is not parsed (``float("1.5")`` would accept it).
    """
    if value is None or isinstance(value, (str, bytes)):
        raise wrong_type(argument, f"expected a real number, got {type_name(value)}")
    try:
        return float(value)
    except (TypeError, ValueError):
        raise wrong_type(argument, f"expected a real number, got {type_name(value)}") from None


def optional_real(value: Any, argument: str) -> float | None:
    return None if value is None else real(value, argument)


def integer(value: Any, argument: str) -> int:
    """An integer (Python or NumPy); floats (even 10.0), bools and strings refused."""
    if isinstance(value, (bool, np.bool_)) or value is None:
        raise wrong_type(argument, f"expected an integer, got {type_name(value)}")
    try:
        return operator.index(value)
    except TypeError:
        raise wrong_type(argument, f"expected an integer, got {type_name(value)}") from None


def string(value: Any, argument: str) -> str:
    if not isinstance(value, str):
        raise wrong_type(argument, f"expected a string, got {type_name(value)}")
    return value


class _Missing:
    """The default of a required argument: left out, it raises "<argument>: is required"."""

    def __repr__(self) -> str:
        return "<required>"


MISSING = _Missing()


def required(value: Any, argument: str) -> Any:
    """A required argument left out (None or MISSING) raises TypeError "<argument>: is required"."""
    if value is None or value is MISSING:
        raise wrong_type(argument, "is required")
    return value


# ---------------------------------------------------------------------------------------------
# Controller configs (cpp/src/controllers.cpp, validate(); docs/SPEC.md rule R3 for ε = 0)


def ppobr_eps_bounds(eps0, lambda1, lambda2, eps_min, eps_max) -> tuple[float, float]:
    """The effective [eps_min, eps_max]: eps0 (1 - lambda2), eps0 (1 + lambda1) unless given."""
    lo = eps0 * (1.0 - lambda2) if eps_min is None else eps_min
    hi = eps0 * (1.0 + lambda1) if eps_max is None else eps_max
    return lo, hi


def ppobr_values(
    eps0, lambda1, lambda2, window, psi_mode, entropy_ref, entropy_floor, eps_min, eps_max
) -> tuple:
    """PPO-BR's config values, converted and checked in the core's order (argument order for
    types, then validate()'s order for values). ε scales multiplicatively, so eps0 > 0."""
    eps0 = real(eps0, "eps0")
    lambda1 = real(lambda1, "lambda1")
    lambda2 = real(lambda2, "lambda2")
    window = integer(window, "window")
    psi_mode = string(psi_mode, "psi_mode")
    entropy_ref = optional_real(entropy_ref, "entropy_ref")
    entropy_floor = real(entropy_floor, "entropy_floor")
    eps_min = optional_real(eps_min, "eps_min")
    eps_max = optional_real(eps_max, "eps_max")

    # eps = eps0 * (...): from 0 it could never move (a fixed 0 is constant(eps=0))
    if not math.isfinite(eps0) or eps0 <= 0.0:
        raise invalid(
            "eps0",
            "must be finite and > 0 (PPO-BR scales eps0, and a product with 0 stays 0; use "
            f"ConstantController(eps=0) for a fixed clip range of 0), got {num(eps0)}",
        )
    if not math.isfinite(lambda1) or lambda1 < 0.0:
        raise invalid("lambda1", f"must be finite and >= 0, got {num(lambda1)}")
    if not math.isfinite(lambda2) or lambda2 < 0.0:
        raise invalid("lambda2", f"must be finite and >= 0, got {num(lambda2)}")
    if window < 2:
        raise invalid("window", f"the reward window must hold at least 2 returns, got {window}")
    if window > MAX_WINDOW:
        raise invalid(
            "window", f"the reward window may hold at most {MAX_WINDOW} returns, got {window}"
        )
    if psi_mode not in ("plateau", "progress"):
        raise invalid(
            "psi_mode",
            f"unknown psi_mode '{psi_mode}'; expected 'plateau' (psi = 1 - tanh|z|, contract when "
            "returns stop moving) or 'progress' (psi = clip(z, 0, 1), contract while returns rise)",
        )
    if entropy_ref is not None and not math.isfinite(entropy_ref):
        raise invalid("entropy_ref", f"must be finite, got {num(entropy_ref)}")
    if not math.isfinite(entropy_floor):
        raise invalid("entropy_floor", f"must be finite, got {num(entropy_floor)}")
    if entropy_ref is not None and not entropy_ref > entropy_floor:
        raise invalid(
            "entropy_ref",
            f"entropy_ref ({num(entropy_ref)}) must be greater than entropy_floor "
            f"({num(entropy_floor)})",
        )
    if eps_min is not None and (not math.isfinite(eps_min) or eps_min < 0.0):
        raise invalid("eps_min", f"must be finite and >= 0, got {num(eps_min)}")
    if eps_max is not None and (not math.isfinite(eps_max) or eps_max <= 0.0):
        raise invalid("eps_max", f"must be finite and > 0, got {num(eps_max)}")
    lo, hi = ppobr_eps_bounds(eps0, lambda1, lambda2, eps_min, eps_max)
    if not lo >= 0.0:
        raise invalid(
            "eps_min",
            f"the default eps_min = eps0 * (1 - lambda2) = {num(lo)} is negative (lambda2 > 1); "
            "set eps_min explicitly (>= 0)",
        )
    if not math.isfinite(hi):
        raise invalid(
            "eps_max",
            "the default eps_max = eps0 * (1 + lambda1) overflows; set eps_max explicitly",
        )
    if lo > hi:
        raise invalid("eps_min", f"eps_min ({num(lo)}) must be <= eps_max ({num(hi)})")
    # epsilon starts at eps0 and keeps it until the first accepted update
    if eps0 < lo or eps0 > hi:
        raise invalid(
            "eps0", f"eps0 ({num(eps0)}) must lie in [eps_min, eps_max] = [{num(lo)}, {num(hi)}]"
        )
    return (eps0, lambda1, lambda2, window, psi_mode, entropy_ref, entropy_floor, eps_min, eps_max)


def constant_values(eps) -> tuple:
    """A fixed clip range: eps >= 0 (ε = 0 is a valid clip range)."""
    eps = real(eps, "eps")
    if not math.isfinite(eps) or eps < 0.0:
        raise invalid("eps", f"must be finite and >= 0, got {num(eps)}")
    return (eps,)


def linear_decay_values(eps_start, eps_end, total_updates) -> tuple:
    """eps_start >= 0, eps_end >= 0 (ε = 0 is valid), total_updates >= 1 (required)."""
    eps_start = real(eps_start, "eps_start")
    eps_end = real(eps_end, "eps_end")
    total_updates = integer(required(total_updates, "total_updates"), "total_updates")
    if not math.isfinite(eps_start) or eps_start < 0.0:
        raise invalid("eps_start", f"must be finite and >= 0, got {num(eps_start)}")
    if not math.isfinite(eps_end) or eps_end < 0.0:
        raise invalid("eps_end", f"must be finite and >= 0, got {num(eps_end)}")
    if total_updates < 1:
        raise invalid("total_updates", f"must be >= 1, got {total_updates}")
    if total_updates > MAX_TOTAL_UPDATES:
        raise invalid(
            "total_updates",
            f"must be <= {MAX_TOTAL_UPDATES} (the JAX state counts updates in int32), "
            f"got {total_updates}",
        )
    return (eps_start, eps_end, total_updates)


KL_SCALES = "the KL-adaptive rule scales eps by rate, and a product with 0 stays 0"


def kl_adaptive_values(eps0, kl_target, tolerance, rate, eps_min, eps_max) -> tuple:
    """KL-adaptive: ε is multiplied and divided by rate, so eps0 > 0 and eps_min > 0."""
    eps0 = real(eps0, "eps0")
    kl_target = real(kl_target, "kl_target")
    tolerance = real(tolerance, "tolerance")
    rate = real(rate, "rate")
    eps_min = real(eps_min, "eps_min")
    eps_max = real(eps_max, "eps_max")
    # the rule multiplies and divides eps by rate: from 0 it could never move
    if not math.isfinite(eps0) or eps0 <= 0.0:
        raise invalid("eps0", f"must be finite and > 0 ({KL_SCALES}), got {num(eps0)}")
    if not math.isfinite(kl_target) or kl_target <= 0.0:
        raise invalid("kl_target", f"must be finite and > 0, got {num(kl_target)}")
    if not math.isfinite(tolerance) or tolerance <= 1.0:
        raise invalid("tolerance", f"must be finite and > 1, got {num(tolerance)}")
    if not math.isfinite(rate) or rate <= 1.0:
        raise invalid("rate", f"must be finite and > 1, got {num(rate)}")
    if not math.isfinite(eps_min) or eps_min <= 0.0:
        raise invalid("eps_min", f"must be finite and > 0 ({KL_SCALES}), got {num(eps_min)}")
    if not math.isfinite(eps_max) or eps_max <= 0.0:
        raise invalid("eps_max", f"must be finite and > 0, got {num(eps_max)}")
    if eps_min > eps_max:
        raise invalid("eps_min", f"eps_min ({num(eps_min)}) must be <= eps_max ({num(eps_max)})")
    if eps0 < eps_min or eps0 > eps_max:
        raise invalid(
            "eps0",
            f"eps0 ({num(eps0)}) must lie in [eps_min, eps_max] = [{num(eps_min)}, {num(eps_max)}]",
        )
    return (eps0, kl_target, tolerance, rate, eps_min, eps_max)


# ---------------------------------------------------------------------------------------------
# Controller update inputs (docs/SPEC.md rule R4)

ENTROPY_EMPTY = "empty array (pass a number or at least one per-step entropy)"


def _array_like(value) -> bool:
    """What the core reads as an array (python/binding_arguments.cpp): lists, tuples and
    objects with __array__ other than NumPy scalars; anything else must be one number."""
    if isinstance(value, (list, tuple, np.ndarray, jax.Array)):
        return True
    return hasattr(value, "__array__") and not isinstance(value, np.generic)


def entropy_signal(value: Any):
    """The entropy given to a controller update: a number or a 1-D array of per-step entropies.

    Returns None (absent), a 0-d array (a number) or a 1-D array of at least one entropy, whose
    arithmetic mean the controller uses (rule R4). Only shapes and types are checked here: the
    values may be traced; a non-finite mean rejects the update (the core's NaN policy).
    """
    if value is None:
        return None
    wrong = "expected a real number or a 1-D array of them, got "
    if isinstance(value, (str, bytes)):
        raise wrong_type("entropy", wrong + type_name(value))
    if not _array_like(value):
        return jnp.asarray(real(value, "entropy"))
    try:
        v = value if isinstance(value, jax.Array) else np.asarray(value)
    except (TypeError, ValueError):
        raise wrong_type("entropy", wrong + type_name(value)) from None
    if v.dtype.kind in "bc":
        raise wrong_type("entropy", f"expected real numbers, got a {v.dtype} array")
    if v.dtype.kind not in "fiu":
        raise wrong_type("entropy", wrong + type_name(value))
    if v.ndim > 1:
        raise invalid(
            "entropy",
            f"expected a number or a 1-D array of per-step values, got {v.ndim} dimensions",
        )
    if v.ndim == 1 and v.shape[0] == 0:
        raise invalid("entropy", ENTROPY_EMPTY)
    return jnp.asarray(v)


def scalar_signal(value: Any, argument: str):
    """A controller input that is one number (the KL): None, a number, or a 0-d jax array
    (possibly traced)."""
    if value is None:
        return None
    if isinstance(value, jax.Array):
        if value.ndim != 0 or value.dtype.kind not in "fiub":
            raise wrong_type(argument, f"expected a real number, got {type_name(value)}")
        return value
    return jnp.asarray(real(value, argument))


def returns_signal(value: Any):
    """The episode returns given to a controller update: any shape of real numbers (ints are
    converted), or None."""
    if value is None:
        return None
    v = _array(value)
    if np.dtype(v.dtype).kind not in "fiu":
        raise wrong_type("episode_returns", f"expected real numbers, got {v.dtype}")
    return v


# ---------------------------------------------------------------------------------------------
# The loss's inputs (python/surrogate_binding.cpp, then the core's checks in cpp/src/)

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))
_RANK = "expected a 1-D [batch] or 2-D [batch, tokens] array, got {} dimensions"


def _array(value):
    """A jax array (or tracer) as it is; anything else through np.asarray, as the NumPy API."""
    if isinstance(value, jax.Array):
        return value
    return np.asarray(value)


def _check_float_kind(a, argument: str) -> None:
    dt = np.dtype(a.dtype)
    if dt.byteorder == ">":
        raise wrong_type(argument, "non-native byte order is not supported")
    if dt not in _FLOATS:
        raise wrong_type(argument, f"expected a float32 or float64 array, got {dt}")


def _float_arg(value, argument: str, like, like_dtype):
    """One float input checked against logp_new: rank, shape, float dtype, logp_new's dtype."""
    if value is None:
        return None
    a = _array(value)
    if a.ndim not in (1, 2):
        raise invalid(argument, _RANK.format(a.ndim))
    if tuple(a.shape) != tuple(like.shape):
        raise invalid(
            argument, f"shape {tuple(a.shape)} does not match logp_new's {tuple(like.shape)}"
        )
    _check_float_kind(a, argument)
    # compared as jax will hold them: with x64 off, float64 NumPy input becomes float32
    dt = jax.dtypes.canonicalize_dtype(a.dtype)
    if dt != like_dtype:
        raise wrong_type(
            argument,
            f"dtype {dt} differs from logp_new's; pass all float inputs in one dtype "
            "(float32 or float64)",
        )
    return jnp.asarray(a)


def concrete(x) -> float | None:
    """x as a float if it is a concrete (non-traced) number, else None."""
    if isinstance(x, jax.core.Tracer):
        return None
    try:
        return float(x)
    except Exception:  # noqa: BLE001 - anything not convertible is checked elsewhere or traced
        return None


def _option(value, argument: str):
    """A loss option (eps, eps_low, eps_high, dual_clip): None, a jax array (may be traced) or a
    real number (as the NumPy API binds it: a string or a list is a TypeError)."""
    if value is None or isinstance(value, jax.Array):
        return value
    return real(value, argument)


def _choose_eps(eps, eps_low, eps_high):
    """(eps_low, eps_high) from the symmetric or asymmetric arguments (the binding's rules)."""
    if eps is not None:
        if eps_low is not None or eps_high is not None:
            raise invalid("eps", "give either eps (symmetric) or eps_low and eps_high, not both")
        c = concrete(eps)
        if c is not None and not (math.isfinite(c) and 0.0 <= c < 1.0):
            raise invalid("eps", f"must be finite and in [0, 1), got {fixed(c)}")
        return eps, eps
    if eps_low is not None and eps_high is not None:
        return eps_low, eps_high
    if eps_low is not None:
        raise invalid("eps_high", "eps_low was given without eps_high")
    if eps_high is not None:
        raise invalid("eps_low", "eps_high was given without eps_low")
    raise invalid("eps", "the clip range is required: pass eps, or eps_low and eps_high")


def segments_required(aggregation: str) -> Exception:
    """Rule R6: a seq-mean-* aggregation on a 1-D batch needs the sequences' ids."""
    return invalid(
        "segment_ids",
        f"is required for aggregation '{aggregation}' on a 1-D batch (pass segment_ids, or a "
        "2-D [batch, tokens] batch whose rows are the sequences)",
    )


def surrogate_inputs(
    logp_new,
    logp_old,
    advantages,
    eps,
    eps_low,
    eps_high,
    dual_clip,
    entropy,
    mask,
    segment_ids,
    num_segments,
    aggregation,
) -> tuple:
    """The loss's inputs checked in the NumPy API's order, as jax arrays.

    Returns (logp_new, logp_old, advantages, entropy, mask, segment_ids, eps_low, eps_high);
    entropy, mask, segment_ids may be None; segment_ids is None for "token-mean" (unused).
    """
    for name, value in (
        ("logp_new", logp_new),
        ("logp_old", logp_old),
        ("advantages", advantages),
    ):
        if value is MISSING:
            raise wrong_type(name, "is required")
    eps = _option(eps, "eps")
    eps_low = _option(eps_low, "eps_low")
    eps_high = _option(eps_high, "eps_high")
    dual_clip = _option(dual_clip, "dual_clip")
    if logp_new is None:
        raise invalid("logp_new", "is required")
    ref = _array(logp_new)
    if ref.ndim not in (1, 2):
        raise invalid("logp_new", _RANK.format(ref.ndim))
    _check_float_kind(ref, "logp_new")
    ref = jnp.asarray(ref)
    T = ref.dtype
    if logp_old is None:
        raise invalid("logp_old", "is required")
    if advantages is None:
        raise invalid("advantages", "is required")
    logp_old = _float_arg(logp_old, "logp_old", ref, T)
    advantages = _float_arg(advantages, "advantages", ref, T)
    entropy = _float_arg(entropy, "entropy", ref, T)
    if mask is not None:
        m = _array(mask)
        if m.dtype == np.bool_:  # boolean masks are common: weights 0 / 1
            m = m.astype(T)
        mask = _float_arg(m, "mask", ref, T)

    lo, hi = _choose_eps(eps, eps_low, eps_high)
    c = concrete(dual_clip) if dual_clip is not None else None
    if c is not None and not c > 1.0:
        raise invalid("dual_clip", f"must be > 1 (or None to disable), got {fixed(c)}")
    if not isinstance(aggregation, str):
        raise wrong_type("aggregation", f"expected a string, got {type_name(aggregation)}")
    if aggregation not in AGGREGATIONS:
        raise invalid(
            "aggregation",
            f"unknown aggregation '{aggregation}'; expected 'token-mean', 'seq-mean-token-mean' "
            "or 'seq-mean-token-sum'",
        )

    if segment_ids is not None:
        s = _array(segment_ids)
        if np.dtype(s.dtype).kind not in "iu":
            raise wrong_type("segment_ids", f"expected an integer array, got {s.dtype}")
        if s.ndim != 1 or ref.ndim != 1 or s.shape[0] != ref.shape[0]:
            raise invalid(
                "segment_ids",
                "expected a 1-D integer array as long as a 1-D logp_new (for 2-D [batch, tokens] "
                "input the rows are the sequences)",
            )
        if isinstance(s, np.ndarray) and s.size > 0 and s.min() < 0:
            raise invalid("segment_ids", f"ids must be in [0, 2^63), got {int(s.min())}")
        segment_ids = jnp.asarray(s)
    if aggregation != "token-mean" and ref.ndim == 1 and segment_ids is None:
        raise segments_required(aggregation)
    if aggregation == "token-mean":
        segment_ids = None
    if num_segments is not None and segment_ids is not None:
        n = integer(num_segments, "num_segments")
        if n < 1:
            raise invalid("segment_ids", f"num_segments must be >= 1, got {n}")

    # the core's kernel checks, in its order
    rows, cols = (1, ref.shape[0]) if ref.ndim == 1 else ref.shape
    if rows == 0 or cols == 0:
        raise invalid("logp_new", f"empty batch [{rows}, {cols}]")
    c_lo, c_hi = concrete(lo), concrete(hi)
    if c_lo is not None and not (math.isfinite(c_lo) and 0.0 <= c_lo < 1.0):
        raise invalid("eps_low", f"must be finite and in [0, 1), got {fixed(c_lo)}")
    if c_hi is not None and not (math.isfinite(c_hi) and c_hi >= 0.0):
        raise invalid("eps_high", f"must be finite and >= 0, got {fixed(c_hi)}")
    if c is not None and not math.isfinite(c):
        raise invalid("dual_clip", f"must be 0 (off) or a finite constant > 1, got {fixed(c)}")
    return ref, logp_old, advantages, entropy, mask, segment_ids, lo, hi
