"""The fused C++ kernel inside jitted JAX code, through the XLA FFI (CPU).

``ppobr_core._jax_ffi`` (built from cpp/ffi/jax_ffi.cpp when jax's FFI headers were found at
build time) exports the handler; here it is registered with jax and wrapped in a custom_vjp:

- forward: one ``jax.ffi.ffi_call`` computes the loss, d loss / d logp_new and the statistics in
  one pass over the batch (the kernel's threads, its own exp);
- backward: the kernel's gradient scaled by the loss cotangent (no second pass); logp_old gets
  its negation; advantages get the jnp implementation's VJP (only computed when some caller
  differentiates in the advantages: XLA drops it otherwise); eps, entropy, mask get none.

vmap runs the kernel once per batch member (``vmap_method="sequential"``). Bad values (NaN,
negative or all-zero masks) raise when the computation runs, naming the argument, as the
NumPy API does.

For development without an installed wheel, ``PPOBR_JAX_FFI_MODULE=/path/to/_jax_ffi*.so``
loads the module from a file.
"""

from __future__ import annotations

import importlib.util
import os
from functools import partial

import jax
import jax.numpy as jnp
import numpy as np

from ppobr_jax.collectives import allreduce_max, allreduce_min, allreduce_sum
from ppobr_jax.surrogate import (
    AGGREGATIONS,
    NUM_STATS,
    RATIO_MAX,
    RATIO_MIN,
    SurrogateOutput,
    SurrogateStats,
    jnp_surrogate,
    segment_count,
    stats_dtype,
)

_TARGET = "ppobr_clipped_surrogate"
_state = {"loaded": False, "error": None}


def _load_module():
    path = os.environ.get("PPOBR_JAX_FFI_MODULE")
    if path:
        spec = importlib.util.spec_from_file_location("_jax_ffi", path)
        mod = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(mod)
        return mod
    from ppobr_core import _jax_ffi  # noqa: PLC0415

    return _jax_ffi


def _ensure_registered() -> bool:
    if _state["loaded"]:
        return True
    if _state["error"] is not None:
        return False
    try:
        mod = _load_module()
        for name, capsule in mod.registrations().items():
            jax.ffi.register_ffi_target(name, capsule, platform="cpu")
        _state["loaded"] = True
    except Exception as e:  # not built, or jax without jax.ffi
        _state["error"] = f"{type(e).__name__}: {e}"
    return _state["loaded"]


def available() -> bool:
    return _ensure_registered()


def _on_cpu(x) -> bool:
    try:
        devs = x.devices() if hasattr(x, "devices") else None
        if devs:
            return all(d.platform == "cpu" for d in devs)
    except Exception:  # a tracer: judged by the default backend
        pass
    return jax.default_backend() == "cpu"


def _ids_ok(segment_ids) -> bool:
    """The kernel reads int64 segment ids, which jax only holds with jax_enable_x64."""
    return segment_ids is None or bool(jax.config.jax_enable_x64)


def usable(x, segment_ids=None) -> bool:
    return (
        available()
        and x.dtype in (jnp.float32, jnp.float64)
        and _on_cpu(x)
        and _ids_ok(segment_ids)
    )


def unavailable_reason(x, segment_ids=None) -> str:
    if not available():
        return (
            "ppobr_core._jax_ffi is not available (" + str(_state["error"]) + "); it is built "
            "when jax's FFI headers are found at build time (see cpp/ffi/CMakeLists.txt)"
        )
    if x.dtype not in (jnp.float32, jnp.float64):
        return f"the kernel takes float32 or float64, got {x.dtype}"
    if not _ids_ok(segment_ids):
        return (
            "the kernel takes int64 segment ids, which need jax_enable_x64 (float32 arrays stay "
            "float32 under x64), or use impl='jnp'"
        )
    return "the FFI kernel runs on the CPU only"


def _kernel(
    lpn,
    lpo,
    adv,
    ent,
    mask,
    seg,
    lo,
    hi,
    dual,
    *,
    aggregation,
    has_entropy,
    has_mask,
    has_segments,
    num_segments,
    num_threads,
):
    T = lpn.dtype
    S = stats_dtype()
    out_types = (
        jax.ShapeDtypeStruct((), T),
        jax.ShapeDtypeStruct(lpn.shape, T),
        jax.ShapeDtypeStruct((NUM_STATS,), S),
        jax.ShapeDtypeStruct((NUM_STATS,), S),
    )
    call = jax.ffi.ffi_call(_TARGET, out_types, vmap_method="sequential")
    return call(
        lpn,
        lpo,
        adv,
        ent,
        mask,
        seg,
        lo,
        hi,
        dual,
        aggregation=np.int32(aggregation),
        has_entropy=np.int32(has_entropy),
        has_mask=np.int32(has_mask),
        has_segments=np.int32(has_segments),
        num_segments=np.int64(num_segments),
        num_threads=np.int32(num_threads),
    )


@partial(jax.custom_vjp, nondiff_argnums=(9,))
def _fused(lpn, lpo, adv, ent, mask, seg, lo, hi, dual, static):
    loss, _, sums, counts = _kernel(lpn, lpo, adv, ent, mask, seg, lo, hi, dual, **static._asdict())
    return loss, sums, counts


def _fused_fwd(lpn, lpo, adv, ent, mask, seg, lo, hi, dual, static):
    loss, grad, sums, counts = _kernel(
        lpn, lpo, adv, ent, mask, seg, lo, hi, dual, **static._asdict()
    )
    return (loss, sums, counts), (grad, lpn, lpo, adv, ent, mask, seg, lo, hi, dual)


def _fused_bwd(static, res, cts):
    grad, lpn, lpo, adv, ent, mask, seg, lo, hi, dual = res
    ct = cts[0]
    g = grad * ct.astype(grad.dtype)

    def loss_in_adv(a):
        return jnp_surrogate(
            lpn,
            lpo,
            a,
            lo,
            hi,
            None if not static.has_dual else dual,
            None,
            mask if static.has_mask else None,
            seg if static.has_segments else None,
            static.num_segments or None,
            AGGREGATIONS[static.aggregation],
        ).loss

    _, vjp_a = jax.vjp(loss_in_adv, adv)
    (ga,) = vjp_a(ct)
    zeros = lambda x: jnp.zeros_like(x) if jnp.issubdtype(x.dtype, jnp.floating) else None  # noqa: E731
    return (
        g,
        -g,
        ga,
        zeros(ent),
        zeros(mask),
        None,
        jnp.zeros_like(lo),
        jnp.zeros_like(hi),
        jnp.zeros_like(dual),
    )


_fused.defvjp(_fused_fwd, _fused_bwd)


class _Static(tuple):
    """Hashable static options (a NamedTuple-like tuple with _asdict for the kernel call)."""

    _fields = (
        "aggregation",
        "has_entropy",
        "has_mask",
        "has_segments",
        "num_segments",
        "num_threads",
        "has_dual",
    )

    def __new__(cls, *vals):
        return tuple.__new__(cls, vals)

    def __getattr__(self, name):
        try:
            return self[self._fields.index(name)]
        except ValueError as e:
            raise AttributeError(name) from e

    def _asdict(self):
        d = dict(zip(self._fields, self))
        d.pop("has_dual")
        return d


def ffi_surrogate(
    logp_new,
    logp_old,
    advantages,
    eps_low,
    eps_high,
    dual_clip,
    entropy,
    mask,
    segment_ids,
    num_segments,
    aggregation,
    axis_name,
    num_threads=0,
) -> SurrogateOutput:
    T = logp_new.dtype
    dummy = jnp.zeros((1,), T)
    has_entropy = entropy is not None
    has_mask = mask is not None
    has_segments = segment_ids is not None
    if has_segments:
        num_segments = segment_count(segment_ids, num_segments)
        seg = jnp.asarray(segment_ids).astype(jnp.int64 if jax.config.jax_enable_x64 else jnp.int32)
        if seg.dtype != jnp.int64:
            raise TypeError(
                "segment_ids: impl='ffi' needs int64 ids (enable jax_enable_x64) or use impl='jnp'"
            )
    else:
        seg = jnp.zeros((1,), jnp.int64 if jax.config.jax_enable_x64 else jnp.int32)
    ent = entropy.astype(T) if has_entropy else dummy
    msk = mask.astype(T) if has_mask else dummy
    lo = jnp.asarray(eps_low, T)
    hi = jnp.asarray(eps_high, T)
    dual = jnp.asarray(0.0 if dual_clip is None else dual_clip, T)
    static = _Static(
        AGGREGATIONS.index(aggregation),
        int(has_entropy),
        int(has_mask),
        int(has_segments),
        int(num_segments or 0),
        int(num_threads),
        dual_clip is not None,
    )
    loss, sums, counts = _fused(logp_new, logp_old, advantages, ent, msk, seg, lo, hi, dual, static)
    sums = jax.lax.stop_gradient(sums)
    counts = jax.lax.stop_gradient(counts)
    if axis_name is not None:
        mn = allreduce_min(sums[RATIO_MIN], axis_name)
        mx = allreduce_max(sums[RATIO_MAX], axis_name)
        sums = allreduce_sum(sums, axis_name).at[RATIO_MIN].set(mn).at[RATIO_MAX].set(mx)
        counts = allreduce_sum(counts, axis_name)
    return SurrogateOutput(loss, SurrogateStats(sums, counts))
