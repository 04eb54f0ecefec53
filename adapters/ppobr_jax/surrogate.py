"""PPO's clipped surrogate as a jnp function with the core's semantics and statistics.

With d = logp_new - logp_old, r = exp(d), weights w (the mask; 1 if absent) and
clip(r) = clamp(r, 1 - eps_low, 1 + eps_high)   (cpp/include/ppobr/surrogate.hpp):

    obj_i = min(r_i A_i, clip(r_i) A_i)           dual-clip c: obj_i = max(obj_i, min(c A_i, 0))
    loss  = -sum_i s_i obj_i                       s_i from the aggregation:
        "token-mean"           s_i = w_i / sum_j w_j
        "seq-mean-token-mean"  s_i = w_i / (W_seq(i) S)
        "seq-mean-token-sum"   s_i = w_i / S       (S: sequences with positive weight)
    d loss / d logp_new_i = -s_i A_i r_i where the unclipped term is selected (ties: unclipped)
                            and dual-clip does not bind; else 0.

Sequences are the rows of 2-D [batch, tokens] input, or given by 1-D ``segment_ids``.
Samples with w = 0 contribute nothing (not even NaN from an extreme log-ratio).

Statistics come back as (sum, count) vectors in ``STAT_NAMES`` order (float64 when x64 is
enabled, else float32): weighted sums, and the total weight behind each (ratio_min / ratio_max
hold the min / max over samples with w > 0 in ``sums``). With ``axis_name`` the sums and counts
are added over that axis (all_gather + a sum in axis order: bit-identical on every device) and
the min / max reduced with pmin / pmax, so controller inputs taken from them (e.g. kl for the
KL-adaptive controller) are the same on every device. The loss stays the device's own.

ε (``eps`` or ``eps_low`` / ``eps_high``) may be a traced value: a new ε never retraces.
"""

from __future__ import annotations

from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ppobr_jax import _input_rules as rules
from ppobr_jax.collectives import Mean, allreduce_max, allreduce_min, allreduce_sum

Array = Any

STAT_NAMES = (
    "entropy",
    "ratio_mean",
    "ratio_min",
    "ratio_max",
    "clip_fraction",
    "clip_fraction_low",
    "clip_fraction_high",
    "dual_clip_fraction",
    "kl_k1",
    "kl_k2",
    "kl_k3",
)
NUM_STATS = len(STAT_NAMES)
_INDEX = {k: i for i, k in enumerate(STAT_NAMES)}
RATIO_MIN, RATIO_MAX = _INDEX["ratio_min"], _INDEX["ratio_max"]
AGGREGATIONS = rules.AGGREGATIONS


class SurrogateStats(NamedTuple):
    """Statistics as (sum, count) vectors in STAT_NAMES order (a pytree: jit / vmap friendly)."""

    sums: Array
    counts: Array

    def means(self) -> Array:
        """[11] weighted means (ratio_min / max: the value); NaN where the count is 0."""
        m = self.sums / self.counts
        m = m.at[..., RATIO_MIN].set(self.sums[..., RATIO_MIN])
        m = m.at[..., RATIO_MAX].set(self.sums[..., RATIO_MAX])
        return jnp.where(self.counts > 0, m, jnp.nan)

    def mean(self, name: str) -> Array:
        """One statistic's mean, by name (e.g. ``stats.mean("kl_k3")``)."""
        return self.means()[..., _INDEX[name]]

    def pair(self, name: str) -> Mean:
        """One statistic as a Mean(sum, count): feed it to a controller (e.g. kl=...)."""
        i = _INDEX[name]
        return Mean(self.sums[..., i], self.counts[..., i])

    def as_dict(self) -> dict:
        """{name: mean} (arrays; call jax.device_get on it once per iteration)."""
        m = self.means()
        return {k: m[..., i] for i, k in enumerate(STAT_NAMES)}


class SurrogateOutput(NamedTuple):
    """(loss, stats): usable directly as ``jax.value_and_grad(f, has_aux=True)``'s output."""

    loss: Array
    stats: SurrogateStats


def segment_count(segment_ids, num_segments) -> int:
    """num_segments as given, or max id + 1 from concrete ids (traced ids need it given)."""
    if num_segments is not None:
        return num_segments
    if isinstance(segment_ids, jax.core.Tracer):
        raise rules.invalid(
            "num_segments",
            "needed when segment_ids is traced (under jit); pass num_segments = max id + 1",
        )
    return int(np.max(np.asarray(segment_ids))) + 1


def stats_dtype():
    return jnp.float64 if jax.config.jax_enable_x64 else jnp.float32


def jnp_surrogate(
    logp_new,
    logp_old,
    advantages,
    eps_low,
    eps_high,
    dual_clip=None,
    entropy=None,
    mask=None,
    segment_ids=None,
    num_segments=None,
    aggregation="token-mean",
    axis_name=None,
) -> SurrogateOutput:
    """The loss and statistics in jnp, on inputs :func:`clipped_surrogate` has checked."""
    T = logp_new.dtype
    acc = stats_dtype()
    lo = 1.0 - jnp.asarray(eps_low, T)
    hi = 1.0 + jnp.asarray(eps_high, T)
    A = advantages
    if mask is None:
        w = None
        wpos = None
        d = logp_new - logp_old
    else:
        w = jnp.asarray(mask).astype(T)
        wpos = w > 0
        d = jnp.where(wpos, logp_new - logp_old, jnp.zeros((), T))  # masked-out: r = 1
    # branch selection on values (no gradient): the core's rules
    dd = lax.stop_gradient(d)
    rs = jnp.exp(dd)
    As = lax.stop_gradient(A)
    zero = jnp.zeros((), T)
    rA_v = jnp.where(As == 0, zero, rs * As)  # A == 0: objective 0 even if r = inf
    rc = jnp.clip(rs, lo, hi)
    sel = rA_v <= rc * As  # ties count as unclipped
    if dual_clip is not None:
        c = jnp.asarray(dual_clip, T)
        obj_v = jnp.minimum(rA_v, rc * As)
        dual = obj_v < jnp.minimum(c * As, zero)
    else:
        c = None
        dual = jnp.zeros(rs.shape, bool)
    unclipped = sel & ~dual & (As != 0)
    # the differentiable objective: r A where the unclipped term is selected (its exp taken of a
    # log-ratio set to 0 elsewhere, so an overflowing ratio never turns a zero gradient into NaN),
    # clip(r) A (constant in logp) or min(c A, 0) elsewhere
    r_g = jnp.exp(jnp.where(unclipped, d, zero))
    other = rc * A
    if c is not None:
        other = jnp.where(dual, jnp.minimum(c * A, zero), other)
    obj = jnp.where(unclipped, r_g * A, other)
    wobj = obj if w is None else w * obj
    if w is not None:
        wobj = jnp.where(wpos, wobj, jnp.zeros((), T))

    # loss
    if w is None:
        W = jnp.asarray(float(logp_new.size), T)
        wsum_acc = jnp.asarray(float(logp_new.size), acc)
    else:
        W = jnp.sum(w)
        wsum_acc = jnp.sum(w.astype(acc))
    if aggregation == "token-mean":
        loss = -(jnp.sum(wobj) / W)
    else:
        wv = jnp.ones(obj.shape, T) if w is None else w
        if logp_new.ndim == 2:
            per_seq = jnp.sum(wobj, axis=1)
            wseq = jnp.sum(wv, axis=1)
        elif segment_ids is not None:
            num_segments = segment_count(segment_ids, num_segments)
            seg = jnp.asarray(segment_ids)
            per_seq = jax.ops.segment_sum(wobj, seg, num_segments=num_segments)
            wseq = jax.ops.segment_sum(wv, seg, num_segments=num_segments)
        else:
            raise rules.segments_required(aggregation)
        nonempty = wseq > 0
        S = jnp.sum(nonempty).astype(T)
        if aggregation == "seq-mean-token-mean":
            per_seq = per_seq / jnp.where(nonempty, wseq, jnp.ones((), T))
        per_seq = jnp.where(nonempty, per_seq, jnp.zeros((), T))
        loss = -(jnp.sum(per_seq) / S)

    # statistics (no gradient), weighted sums in `acc`
    below = rs < lo
    above = rs > hi
    rows = [
        lax.stop_gradient(entropy) if entropy is not None else jnp.zeros(rs.shape, T),
        rs,
        below | above,
        below & (As < 0),
        above & (As > 0),
        dual,
        -dd,
        0.5 * dd * dd,
        jnp.expm1(dd) - dd,
    ]
    if w is not None:
        wa = jnp.where(wpos, w, jnp.zeros((), T)).astype(acc)
        s9 = jnp.stack([jnp.sum(wa * x.astype(acc)) for x in rows])
    else:
        s9 = jnp.stack([jnp.sum(x.astype(acc)) for x in rows])
    if w is not None:
        inf = jnp.asarray(np.inf, T)
        rmin = jnp.min(jnp.where(wpos, rs, inf))
        rmax = jnp.max(jnp.where(wpos, rs, -inf))
    else:
        rmin, rmax = jnp.min(rs), jnp.max(rs)
    sums = jnp.concatenate([s9[0:2], jnp.stack([rmin, rmax]).astype(acc), s9[2:]])
    present = np.ones(NUM_STATS)
    if entropy is None:
        present[_INDEX["entropy"]] = 0.0
    counts = wsum_acc * jnp.asarray(present, acc)
    if axis_name is not None:
        mn = allreduce_min(sums[RATIO_MIN], axis_name)
        mx = allreduce_max(sums[RATIO_MAX], axis_name)
        sums = allreduce_sum(sums, axis_name).at[RATIO_MIN].set(mn).at[RATIO_MAX].set(mx)
        counts = allreduce_sum(counts, axis_name)
    return SurrogateOutput(loss, SurrogateStats(lax.stop_gradient(sums), lax.stop_gradient(counts)))


def clipped_surrogate(
    logp_new=rules.MISSING,
    logp_old=rules.MISSING,
    advantages=rules.MISSING,
    eps=None,
    *,
    eps_low=None,
    eps_high=None,
    dual_clip=None,
    entropy=None,
    mask=None,
    segment_ids=None,
    num_segments=None,
    aggregation="token-mean",
    axis_name=None,
    impl="jnp",
) -> SurrogateOutput:
    """PPO's clipped surrogate loss and statistics (ppobr_core.clipped_surrogate's semantics).

    Returns :class:`SurrogateOutput` ``(loss, stats)``: ``jax.value_and_grad(loss_fn,
    has_aux=True)`` works on a function returning it. ``eps`` / ``eps_low`` / ``eps_high`` may be
    traced scalars (no retrace when they change); ``dual_clip`` c > 1 or None; ``entropy``
    (statistics only), ``mask`` (bool or float weights >= 0), ``segment_ids`` (+
    ``num_segments``, static, required under jit) for the seq-mean-* aggregations of 1-D input,
    where they are required (2-D [batch, tokens] input: the rows are the sequences).

    ``axis_name``: reduce the statistics over that mapped axis (see the module docstring).
    ``impl``: "jnp" (pure jnp; differentiable in every float input), "ffi" (the fused C++
    kernel through the XLA FFI, CPU only; segment ids need jax_enable_x64, as the kernel reads
    int64; see ppobr_jax.ffi_available()) or "auto" (the FFI kernel where it can run, else jnp).

    Input rules (docs/SPEC.md): arrays are jax or NumPy arrays; float inputs are float32 or
    float64, all in logp_new's dtype (TypeError otherwise); eps and eps_low in [0, 1), eps_high
    >= 0. Bad shapes, dtypes and options raise exactly what the NumPy API raises (type,
    ``.argument``, message). Values are not checked (R8): a NaN / Inf input, a negative or
    all-zero mask, an out-of-range segment id raise in the NumPy API but not here, because
    under jit the values are unknown while tracing and a check would need a device sync; a
    traced eps or dual_clip is not range-checked either. (The "ffi" kernel does check values,
    when it runs.) Finite inputs never give a NaN gradient: where exp(logp_new - logp_old)
    overflows, the loss and gradient equal the core's.
    """
    logp_new, logp_old, advantages, entropy, mask, segment_ids, lo, hi = rules.surrogate_inputs(
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
    )
    if impl not in ("jnp", "ffi", "auto"):
        raise rules.invalid("impl", f"expected 'jnp', 'ffi' or 'auto', got {impl!r}")
    if impl != "jnp":
        from ppobr_jax import _ffi

        use = _ffi.usable(logp_new, segment_ids)
        if impl == "ffi" and not use:
            raise RuntimeError("impl='ffi': " + _ffi.unavailable_reason(logp_new, segment_ids))
        if use:
            return _ffi.ffi_surrogate(
                logp_new,
                logp_old,
                advantages,
                lo,
                hi,
                dual_clip,
                entropy,
                mask,
                segment_ids,
                num_segments,
                aggregation,
                axis_name,
            )
    return jnp_surrogate(
        logp_new,
        logp_old,
        advantages,
        lo,
        hi,
        dual_clip,
        entropy,
        mask,
        segment_ids,
        num_segments,
        aggregation,
        axis_name,
    )
