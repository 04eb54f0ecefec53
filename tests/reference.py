"""Float64 reference implementations for the tests of ppobr_core's NumPy API.

Everything here follows the documented semantics in cpp/include/ppobr/*.hpp and SPEC.md,
written as plainly as possible (NumPy in float64 for the kernels, pure Python scalars for the
controllers) so that it can be read next to the header comments.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np

from fdlibm import fdlibm_tanh

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

AGGREGATIONS = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum")


# ---------------------------------------------------------------------------------------------
# The fused surrogate


def sequence_index(shape, segment_ids=None) -> np.ndarray:
    """Per-sample sequence index, flattened row-major: the rows of 2-D input, the given
    segment ids of 1-D input, else a single sequence."""
    if len(shape) == 2:
        return np.repeat(np.arange(shape[0], dtype=np.int64), shape[1])
    n = shape[0]
    if segment_ids is None:
        return np.zeros(n, dtype=np.int64)
    return np.asarray(segment_ids, dtype=np.int64).reshape(-1)


def surrogate_scale(w: np.ndarray, seq: np.ndarray, aggregation: str) -> np.ndarray:
    """The per-sample scale s_i of surrogate.hpp (w flat, float64)."""
    if aggregation == "token-mean":
        return w / w.sum()
    nseg = int(seq.max()) + 1
    wseq = np.bincount(seq, weights=w, minlength=nseg)
    S = float(np.count_nonzero(wseq > 0))
    if aggregation == "seq-mean-token-mean":
        denom = wseq[seq] * S
        return np.where(w > 0, w / np.where(denom > 0, denom, 1.0), 0.0)
    if aggregation == "seq-mean-token-sum":
        return w / S
    raise ValueError(aggregation)


def ref_surrogate(
    logp_new,
    logp_old,
    advantages,
    *,
    eps_low: float,
    eps_high: float,
    dual_clip: Optional[float] = None,
    entropy=None,
    mask=None,
    segment_ids=None,
    aggregation: str = "token-mean",
) -> Dict[str, object]:
    """Loss, grad, sums, counts, stats of clipped_surrogate, in float64.

    Also returns 'scale': sums of absolute values of the terms, for tolerances."""
    shape = np.shape(logp_new)
    lpn = np.asarray(logp_new, dtype=np.float64).reshape(-1)
    lpo = np.asarray(logp_old, dtype=np.float64).reshape(-1)
    A = np.asarray(advantages, dtype=np.float64).reshape(-1)
    n = lpn.size
    if mask is None:
        w = np.ones(n)
    else:
        w = np.asarray(mask).astype(np.float64).reshape(-1)
    seq = sequence_index(shape, segment_ids)

    d = lpn - lpo
    r = np.exp(d)
    clip = np.clip(r, 1.0 - eps_low, 1.0 + eps_high)
    unclipped = r * A
    clipped = clip * A
    obj = np.minimum(unclipped, clipped)
    selected_unclipped = unclipped <= clipped  # ties count as unclipped
    dual_binds = np.zeros(n, dtype=bool)
    if dual_clip is not None:
        dual_binds = (A < 0) & (dual_clip * A > obj)
        obj = np.where(dual_binds, dual_clip * A, obj)

    s = surrogate_scale(w, seq, aggregation)
    loss = -np.sum(s * obj)
    grad = np.where(selected_unclipped & ~dual_binds, -s * A * r, 0.0)

    W = w.sum()
    pos = w > 0
    sums: Dict[str, float] = {}
    counts: Dict[str, float] = {}
    scale: Dict[str, float] = {}

    def put(name, values, count):
        sums[name] = float(np.sum(w * values))
        counts[name] = float(count)
        scale[name] = float(np.sum(np.abs(w * values)))

    if entropy is None:
        sums["entropy"], counts["entropy"], scale["entropy"] = 0.0, 0.0, 0.0
    else:
        put("entropy", np.asarray(entropy, dtype=np.float64).reshape(-1), W)
    put("ratio_mean", r, W)
    sums["ratio_min"], counts["ratio_min"] = float(r[pos].min()), W
    sums["ratio_max"], counts["ratio_max"] = float(r[pos].max()), W
    scale["ratio_min"], scale["ratio_max"] = abs(sums["ratio_min"]), abs(sums["ratio_max"])
    put("clip_fraction", ((r < 1.0 - eps_low) | (r > 1.0 + eps_high)).astype(np.float64), W)
    put("clip_fraction_low", ((A < 0) & (r < 1.0 - eps_low)).astype(np.float64), W)
    put("clip_fraction_high", ((A > 0) & (r > 1.0 + eps_high)).astype(np.float64), W)
    put("dual_clip_fraction", dual_binds.astype(np.float64), W)
    put("kl_k1", -d, W)
    put("kl_k2", 0.5 * d * d, W)
    put("kl_k3", np.expm1(d) - d, W)
    # k3 = (r - 1) - log r cancels: its rounding error scales with |r - 1| + |log r|
    scale["kl_k3"] = float(np.sum(np.abs(w * np.expm1(d))) + np.sum(np.abs(w * d)))

    stats = {}
    for k in STAT_NAMES:
        if k in ("ratio_min", "ratio_max"):
            stats[k] = sums[k]
        else:
            stats[k] = sums[k] / counts[k] if counts[k] != 0 else float("nan")
    return {
        "loss": float(loss),
        "loss_scale": float(np.sum(np.abs(s * obj))),
        "grad": grad.reshape(shape),
        "sums": sums,
        "counts": counts,
        "stats": stats,
        "scale": scale,
        "ratio": r.reshape(shape),
    }


def safe_log_ratios(rng: np.random.Generator, n: int, eps_low: float, eps_high: float,
                    dual_clip: Optional[float] = None, spread: float = 0.4,
                    margin: float = 2e-3) -> np.ndarray:
    """Random log-ratios d whose ratio exp(d) stays at least `margin` (in log space) away from
    every clip boundary, so that float32 and float64 take the same branches."""
    d = rng.normal(0.0, spread, size=n)
    bounds = [math.log1p(-eps_low), math.log1p(eps_high)]
    if dual_clip is not None:
        bounds.append(math.log(dual_clip))
    for b in bounds:
        near = np.abs(d - b) < margin
        d[near] = b + np.where(d[near] >= b, margin, -margin) * 2.0
    return d


# ---------------------------------------------------------------------------------------------
# Distributions


def ref_categorical(logits, actions):
    """logp_i = x[i, a_i] - logsumexp(x_i); entropy_i = logsumexp(x_i) - sum_j p_ij x_ij,
    evaluated on max-shifted logits (the same quantities, without overflow)."""
    x = np.asarray(logits, dtype=np.float64)
    m = x.max(axis=1, keepdims=True)
    y = x - m
    z = np.exp(y)
    s = z.sum(axis=1, keepdims=True)
    log_s = np.log(s)[:, 0]
    p = z / s
    a = np.asarray(actions, dtype=np.int64)
    logp = y[np.arange(x.shape[0]), a] - log_s
    ent = log_s - np.sum(np.where(p > 0, p * y, 0.0), axis=1)
    return logp, ent


def ref_gaussian_entropy(log_std):
    x = np.asarray(log_std, dtype=np.float64)
    D = x.shape[-1]
    return x.sum(axis=-1) + D * (1.0 + math.log(2.0 * math.pi)) / 2.0


# ---------------------------------------------------------------------------------------------
# Controllers (pure Python floats; follows controllers.hpp's order of operations)


def _clamp01(x: float) -> float:
    """clamp to [0, 1]; NaN (only from float64 overflow) -> 0."""
    if not x > 0.0:
        return 0.0
    return 1.0 if x > 1.0 else x


def _finite(x) -> bool:
    return x is not None and math.isfinite(x)


class RefPPOBR:
    """PPO-BR with SPEC.md's default signals, step by step as in controllers.hpp."""

    def __init__(self, eps0=0.2, lambda1=0.5, lambda2=0.3, window=10, psi_mode="plateau",
                 entropy_ref=None, entropy_floor=0.0, eps_min=None, eps_max=None):
        self.eps0 = float(eps0)
        self.lambda1 = float(lambda1)
        self.lambda2 = float(lambda2)
        self.window = int(window)
        self.psi_mode = psi_mode
        self.entropy_floor = float(entropy_floor)
        self.eps_min = self.eps0 * (1.0 - self.lambda2) if eps_min is None else float(eps_min)
        self.eps_max = self.eps0 * (1.0 + self.lambda1) if eps_max is None else float(eps_max)
        # state
        self.epsilon = self.eps0
        self.entropy_ref = None if entropy_ref is None else float(entropy_ref)
        self.returns = [0.0] * self.window
        self.head = 0
        self.count = 0
        self.updates = 0
        self.rejected_entropy = 0
        self.dropped_returns = 0
        self.last_phi = 0.0
        self.last_psi = 0.0
        self.last_entropy = 0.0
        self.last_z = 0.0

    def window_returns(self) -> List[float]:
        """The held returns, oldest first."""
        k = self.window
        if self.count < k:
            return [self.returns[i] for i in range(self.count)]
        return [self.returns[(self.head + j) % k] for j in range(k)]

    @staticmethod
    def z_of(xs: Sequence[float]) -> float:
        k = len(xs)
        half = k // 2
        older = xs[:half]
        newer = xs[k - half:]
        s_old = 0.0
        for x in older:
            s_old += x
        s_new = 0.0
        for x in newer:
            s_new += x
        total = 0.0
        for x in xs:
            total += x
        mean = total / k
        ss = 0.0
        for x in xs:
            ss += (x - mean) * (x - mean)
        std = math.sqrt(ss / k)
        return (s_new / half - s_old / half) / (std + 1e-8 * (1.0 + abs(mean)))

    def update(self, entropy=None, episode_returns=None) -> float:
        if not _finite(entropy):
            self.rejected_entropy += 1
            return self.epsilon
        H = float(entropy)
        href = H if self.entropy_ref is None else self.entropy_ref
        if not href > self.entropy_floor:
            # documented: InvalidArgument("entropy_ref"), checked before anything is written
            raise ValueError("entropy_ref")
        self.entropy_ref = href
        for x in list(episode_returns) if episode_returns is not None else []:
            x = float(x)
            if not math.isfinite(x):
                self.dropped_returns += 1
                continue
            self.returns[self.head] = x
            self.head = (self.head + 1) % self.window
            self.count = min(self.count + 1, self.window)
        phi = _clamp01((H - self.entropy_floor) / (self.entropy_ref - self.entropy_floor))
        z = 0.0
        psi = 0.0
        if self.count == self.window:
            zz = self.z_of(self.window_returns())
            if math.isfinite(zz):  # overflowing window statistics: reward signal unavailable
                z = zz
                psi = 1.0 - fdlibm_tanh(abs(z)) if self.psi_mode == "plateau" else _clamp01(z)
        eps = self.eps0 * (1.0 + self.lambda1 * fdlibm_tanh(phi) - self.lambda2 * fdlibm_tanh(psi))
        eps = min(max(eps, self.eps_min), self.eps_max)
        self.epsilon = eps
        self.updates += 1
        self.last_phi, self.last_psi, self.last_entropy, self.last_z = phi, psi, H, z
        return eps

    def diagnostics(self) -> Dict[str, float]:
        """The PPO-BR diagnostics, in the binding's key order."""
        return {
            "epsilon": self.epsilon,
            "phi": self.last_phi,
            "psi": self.last_psi,
            "entropy": self.last_entropy,
            "z": self.last_z,
            "entropy_ref": float("nan") if self.entropy_ref is None else self.entropy_ref,
            "num_returns": float(self.count),
            "updates": float(self.updates),
            "rejected_entropy": float(self.rejected_entropy),
            "dropped_returns": float(self.dropped_returns),
        }


class RefLinearDecay:
    def __init__(self, eps_start=0.2, eps_end=0.0, total_updates=1):
        self.eps_start, self.eps_end, self.total = float(eps_start), float(eps_end), int(total_updates)
        self.updates = 0
        self.epsilon = self.eps_start

    def update(self) -> float:
        t = min(self.updates, self.total)
        frac = float(t) / float(self.total)
        self.epsilon = self.eps_start + (self.eps_end - self.eps_start) * frac
        self.updates += 1
        return self.epsilon


class RefKLAdaptive:
    def __init__(self, eps0=0.2, kl_target=0.01, tolerance=1.5, rate=1.5, eps_min=0.02, eps_max=0.5):
        self.eps0, self.kl_target, self.tolerance, self.rate = eps0, kl_target, tolerance, rate
        self.eps_min, self.eps_max = eps_min, eps_max
        self.epsilon = eps0
        self.rejected_kl = 0
        self.updates = 0
        self.last_kl = 0.0

    def update(self, kl: float) -> float:
        if not math.isfinite(kl):
            self.rejected_kl += 1
            return self.epsilon
        eps = self.epsilon
        if kl > self.kl_target * self.tolerance:
            eps = eps / self.rate
        elif kl < self.kl_target / self.tolerance:
            eps = eps * self.rate
        self.epsilon = min(max(eps, self.eps_min), self.eps_max)
        self.last_kl = kl
        self.updates += 1
        return self.epsilon

    def diagnostics(self) -> Dict[str, float]:
        return {"epsilon": self.epsilon, "updates": float(self.updates), "kl": self.last_kl,
                "rejected_kl": float(self.rejected_kl)}


def float_bits(x: float) -> int:
    return int(np.array(x, dtype=np.float64).view(np.int64))


# ---------------------------------------------------------------------------------------------
# Test helpers: batches, layouts, comparisons


def shape_for(size: int, ndim: int):
    """A 1-D or 2-D shape holding `size` elements."""
    if ndim == 1:
        return (size,)
    two_d = {1: (1, 1), 7: (7, 1), 1000: (40, 25), 4097: (17, 241), 100003: (1, 100003)}
    if size in two_d:
        return two_d[size]
    for rows in range(int(math.isqrt(size)), 0, -1):
        if size % rows == 0:
            return (rows, size // rows)
    return (1, size)


def make_batch(rng: np.random.Generator, shape, dtype=np.float64, *, eps_low=0.2, eps_high=0.2,
               dual_clip=None, entropy=False, mask=None, num_segments=None, spread=0.4):
    """Random inputs of clipped_surrogate (a dict of keyword arguments, arrays in `dtype`).

    mask: None, "float" (weights in [0, 2) with ~20% zeros) or "bool".
    num_segments: for 1-D input, add random (unsorted, with gaps) segment_ids."""
    n = int(np.prod(shape))
    lpo = rng.uniform(-4.0, -0.05, size=n)
    d = safe_log_ratios(rng, n, eps_low, eps_high, dual_clip, spread=spread)
    lpn = lpo + d
    adv = rng.normal(0.0, 1.0, size=n)
    kw = {
        "logp_new": lpn.reshape(shape).astype(dtype),
        "logp_old": lpo.reshape(shape).astype(dtype),
        "advantages": adv.reshape(shape).astype(dtype),
    }
    if entropy:
        kw["entropy"] = rng.uniform(0.0, 3.0, size=n).reshape(shape).astype(dtype)
    if mask == "float":
        w = rng.uniform(0.0, 2.0, size=n)
        w[rng.random(n) < 0.2] = 0.0
        if not (w > 0).any():
            w[0] = 1.0
        kw["mask"] = w.reshape(shape).astype(dtype)
    elif mask == "bool":
        b = rng.random(n) >= 0.25
        if not b.any():
            b[0] = True
        kw["mask"] = b.reshape(shape)
    elif mask is not None:
        raise ValueError(mask)
    if num_segments is not None:
        assert len(shape) == 1
        ids = rng.integers(0, num_segments, size=n)
        # leave a gap: an id that no sample uses (an empty sequence)
        ids[ids == num_segments // 2] = 0
        kw["segment_ids"] = ids.astype(np.int64)
    return kw


def eps_kwargs(eps_low, eps_high):
    if eps_low == eps_high:
        return {"eps": eps_low}
    return {"eps_low": eps_low, "eps_high": eps_high}


def relayout(x: np.ndarray, layout: str) -> np.ndarray:
    """The same values as x, in a non-contiguous memory layout."""
    if layout == "contiguous":
        return np.ascontiguousarray(x)
    if layout == "strided":  # slices with a step
        steps = (3,) if x.ndim == 1 else (2, 3)
        fill = np.nan if x.dtype.kind == "f" else 0
        buf = np.full(tuple(s * k for s, k in zip(x.shape, steps)), fill, dtype=x.dtype)
        view = buf[tuple(slice(None, None, k) for k in steps)]
        view[...] = x
        return view
    if layout == "reversed":  # negative strides
        return np.ascontiguousarray(x[(slice(None, None, -1),) * x.ndim])[(slice(None, None, -1),) * x.ndim]
    if layout == "transposed":
        assert x.ndim == 2
        return np.ascontiguousarray(x.T).T
    if layout == "fortran":
        return np.asfortranarray(x)
    raise ValueError(layout)


def tolerance(dtype) -> float:
    return 1e-12 if np.dtype(dtype) == np.float64 else 2e-6


def assert_close(got: float, want: float, tol: float, scale: float, what: str):
    if math.isnan(want):
        assert math.isnan(got), f"{what}: got {got!r}, want NaN"
        return
    bound = tol * max(scale, abs(want)) + 1e-300
    assert abs(got - want) <= bound, f"{what}: got {got!r}, want {want!r} (|diff| {abs(got - want):.3g} > {bound:.3g})"


def assert_matches_reference(res, ref, dtype, in_shape, what=""):
    """Every output of a SurrogateResult against ref_surrogate()."""
    tol = tolerance(dtype)
    assert_close(res.loss, ref["loss"], tol, ref["loss_scale"], f"{what} loss")
    g = res.grad
    assert isinstance(g, np.ndarray)
    assert g.dtype == np.dtype(dtype), f"{what} grad dtype {g.dtype}"
    assert g.shape == tuple(in_shape), f"{what} grad shape {g.shape}"
    want = ref["grad"]
    np.testing.assert_array_equal(g == 0, want == 0, err_msg=f"{what} grad zero pattern")
    gmax = float(np.max(np.abs(want))) if want.size else 0.0
    np.testing.assert_allclose(g.astype(np.float64), want, rtol=4 * tol, atol=tol * gmax * 1e-3 + 1e-300,
                               err_msg=f"{what} grad")
    sums, counts, stats = res.sums, res.counts, res.stats
    assert list(sums) == list(STAT_NAMES)
    assert list(counts) == list(STAT_NAMES)
    assert list(stats) == list(STAT_NAMES)
    W = ref["counts"]["ratio_mean"]
    for k in STAT_NAMES:
        assert_close(sums[k], ref["sums"][k], tol, ref["scale"][k], f"{what} sums[{k}]")
        assert_close(counts[k], ref["counts"][k], tol, W, f"{what} counts[{k}]")
        c = ref["counts"][k]
        assert_close(stats[k], ref["stats"][k], tol,
                     ref["scale"][k] / c if c else 0.0, f"{what} stats[{k}]")
        # the means are sum / count (ratio_min / max: the value itself)
        if k in ("ratio_min", "ratio_max"):
            assert stats[k] == sums[k] or (math.isnan(stats[k]) and math.isnan(sums[k]))
        elif counts[k] == 0:
            assert math.isnan(stats[k]), f"{what} stats[{k}] with zero count"
        else:
            assert stats[k] == sums[k] / counts[k], f"{what} stats[{k}] != sums / counts"


def result_bits(res):
    """Everything a SurrogateResult holds, as exact bit patterns (for bitwise comparisons)."""
    return (
        float_bits(res.loss),
        res.grad.dtype.str,
        res.grad.shape,
        res.grad.tobytes(),
        tuple(float_bits(v) for v in res.sums.values()),
        tuple(float_bits(v) for v in res.counts.values()),
        tuple(float_bits(v) for v in res.stats.values()),
    )


def dict_bits(d: Dict[str, float]):
    return tuple((k, float_bits(v)) for k, v in d.items())


def snapshot(kw: Dict[str, object]):
    """Deep copies of the array arguments, to check that a call leaves them unmodified."""
    return {k: np.array(v, copy=True) for k, v in kw.items() if isinstance(v, np.ndarray)}


def assert_unmodified(kw, snap):
    for k, v in snap.items():
        a = kw[k]
        assert a.dtype == v.dtype and a.shape == v.shape, k
        assert a.tobytes() == v.tobytes() or np.array_equal(a, v, equal_nan=True), f"{k} was modified"
