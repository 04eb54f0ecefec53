"""The one reference (oracle) of ppobr's semantics, for every test in tests/ and cpp/tests/.

Written as plainly as possible from docs/SPEC.md and the header comments in
cpp/include/ppobr/*.hpp, to be read next to them:

- :func:`ref_surrogate`: the fused clipped surrogate (loss, gradient, statistic sums and
  counts) in float64 NumPy, modelling the rounding of the kernel's element type where it
  decides a branch: the log-ratio d, the ratio r = exp(d) and the clip bounds are rounded to
  the input dtype first (so r = inf where exp(d) overflows float32, as in the kernel).
- :func:`ref_categorical`, :func:`ref_gaussian_entropy`: the distribution helpers.
- :class:`RefPPOBR`, :class:`RefConstant`, :class:`RefLinearDecay`, :class:`RefKLAdaptive`: the
  controllers, operation by operation in the order of cpp/src/controllers.cpp, in a chosen
  float type (``dtype=float`` = binary64, the core's; ``dtype=np.float32`` for the JAX
  controllers run in float32) with the portable tanh of that type (tests/fdlibm.py).
- :func:`mean_entropy`: the per-step entropy rule of the controllers' update (a number, or the
  float64 arithmetic mean of a 1-D sequence).

The golden vectors in tests/golden/ are generated from this module (tests/golden/generate.py)
and are what the C++, torch and JAX tests read; the NumPy tests also call it directly.
Test data generators live in tests/batches.py and comparisons in tests/assertions.py.
"""

from __future__ import annotations

import math
from typing import Dict, List, Optional, Sequence

import numpy as np
from fdlibm import fdlibm_tanh, freebsd_tanhf

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
    """The per-sample scale s_i of surrogate.hpp (w flat, float64):

        token-mean           s_i = w_i / sum_j w_j
        seq-mean-token-mean  s_i = w_i / (W_seq(i) * S)
        seq-mean-token-sum   s_i = w_i / S
    with W_seq the weight of i's sequence and S the number of sequences with W_seq > 0."""
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


def _float_type(logp_new, dtype):
    if dtype is not None:
        return np.dtype(dtype)
    dt = getattr(logp_new, "dtype", None)
    return (
        np.dtype(np.float32)
        if dt is not None and np.dtype(dt) == np.float32
        else np.dtype(np.float64)
    )


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
    dtype=None,
) -> Dict[str, object]:
    """Loss, grad, sums, counts, stats of clipped_surrogate, in float64.

    For samples with weight w_i > 0 (mask; 1 if absent), in the element type T (``dtype``,
    default: float32 for float32 logp_new, else float64):

        d_i = T(logp_new_i - logp_old_i),   r_i = T(exp(d_i)),   lo = T(1 - eps_low),
        hi = T(1 + eps_high),   c = T(dual_clip)
        obj_i = min(r_i A_i, clamp(r_i, lo, hi) A_i);  dual-clip: A_i < 0 and c A_i > obj_i
                -> obj_i = c A_i;  A_i = 0 -> obj_i = 0 (also for r_i = inf)
        loss = -sum_i s_i obj_i
        grad_i = -s_i A_i r_i where the unclipped term is selected (r A <= clamp(r) A, ties
                 count as unclipped; not when A_i = 0 or the dual-clip binds), else 0
    Samples with w_i = 0 contribute nothing (not even inf * 0). Statistics: weighted sums of
    the entropy, r, the clip indicators, k1 = -d, k2 = d^2 / 2, k3 = expm1(d) - d (inf where r
    is inf), with count W = sum w (entropy: 0 when absent); ratio_min / ratio_max over w > 0.

    Also returns 'scale': sums of absolute values of the terms, for tolerances."""
    T = _float_type(logp_new, dtype)
    shape = np.shape(logp_new)
    lpn = np.asarray(logp_new, dtype=np.float64).reshape(-1)
    lpo = np.asarray(logp_old, dtype=np.float64).reshape(-1)
    A = np.asarray(advantages, dtype=np.float64).reshape(-1)
    n = lpn.size
    w = np.ones(n) if mask is None else np.asarray(mask).astype(np.float64).reshape(-1)
    seq = sequence_index(shape, segment_ids)
    pos = w > 0

    def in_T(x):
        with np.errstate(over="ignore"):
            return np.asarray(x, dtype=np.float64).astype(T).astype(np.float64)

    d = np.where(pos, in_T(lpn - lpo), 0.0)
    with np.errstate(over="ignore"):
        r = in_T(np.exp(d))
    lo = float(in_T(1.0 - eps_low))
    hi = float(in_T(1.0 + eps_high))
    unclipped = np.where(A == 0, 0.0, r * np.where(A == 0, 1.0, A))
    clipped = np.clip(r, lo, hi) * A
    obj = np.where(A == 0, 0.0, np.minimum(unclipped, clipped))
    selected_unclipped = (A != 0) & (unclipped <= clipped)  # ties count as unclipped
    dual_binds = np.zeros(n, dtype=bool)
    if dual_clip is not None:
        c = float(in_T(dual_clip))
        dual_binds = (A < 0) & (c * A > obj)
        obj = np.where(dual_binds, c * A, obj)
    obj = np.where(pos, obj, 0.0)
    selected = selected_unclipped & ~dual_binds & pos

    s = surrogate_scale(w, seq, aggregation)
    loss = -np.sum(s * obj)
    grad = np.where(selected, -s * A * np.where(selected, r, 0.0), 0.0)

    W = w.sum()
    sums: Dict[str, float] = {}
    counts: Dict[str, float] = {}
    scale: Dict[str, float] = {}

    def put(name, values, count):
        terms = np.where(pos, w * np.where(pos, values, 0.0), 0.0)
        sums[name] = float(np.sum(terms))
        counts[name] = float(count)
        scale[name] = float(np.sum(np.abs(terms)))

    if entropy is None:
        sums["entropy"], counts["entropy"], scale["entropy"] = 0.0, 0.0, 0.0
    else:
        put("entropy", np.asarray(entropy, dtype=np.float64).reshape(-1), W)
    put("ratio_mean", r, W)
    sums["ratio_min"], counts["ratio_min"] = float(r[pos].min()), W
    sums["ratio_max"], counts["ratio_max"] = float(r[pos].max()), W
    scale["ratio_min"], scale["ratio_max"] = abs(sums["ratio_min"]), abs(sums["ratio_max"])
    put("clip_fraction", ((r < lo) | (r > hi)).astype(np.float64), W)
    put("clip_fraction_low", ((A < 0) & (r < lo)).astype(np.float64), W)
    put("clip_fraction_high", ((A > 0) & (r > hi)).astype(np.float64), W)
    put("dual_clip_fraction", dual_binds.astype(np.float64), W)
    put("kl_k1", -d, W)
    put("kl_k2", 0.5 * d * d, W)
    with np.errstate(over="ignore", invalid="ignore"):
        k3 = np.where(np.isinf(r), r, np.expm1(d) - d)
        put("kl_k3", k3, W)
        # k3 = (r - 1) - log r cancels: its rounding error scales with |r - 1| + |log r|
        scale["kl_k3"] = float(
            np.sum(np.where(pos, np.abs(w * np.where(np.isinf(r), r, np.expm1(d))), 0.0))
            + np.sum(np.abs(w * d))
        )

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
    """H = sum_d log_std_d + D (1 + log 2 pi) / 2."""
    x = np.asarray(log_std, dtype=np.float64)
    D = x.shape[-1]
    return x.sum(axis=-1) + D * (1.0 + math.log(2.0 * math.pi)) / 2.0


# ---------------------------------------------------------------------------------------------
# Controllers (scalars of type T; the order of operations of controllers.cpp)


def mean_entropy(entropy) -> Optional[float]:
    """The entropy an update uses: a number as given, or the arithmetic mean in float64 of a 1-D
    sequence of per-step entropies: their float64 sum as NumPy adds it (numpy.add.reduce,
    pairwise), divided by their count; every binding sums on the host this way, so the same
    per-step entropies give the same bits everywhere. None stays None; an empty sequence is an
    error (InvalidArgumentError 'entropy' in the bindings)."""
    if entropy is None:
        return None
    if np.ndim(entropy) == 0:
        return float(entropy)
    xs = np.asarray(entropy, dtype=np.float64).reshape(-1)
    if xs.size == 0:
        raise ValueError("entropy: empty array (pass a number or at least one per-step entropy)")
    return float(np.add.reduce(xs)) / float(xs.size)


def _clamp01(x, T):
    """clamp to [0, 1]; NaN (only from overflow) -> 0."""
    if not x > T(0.0):
        return T(0.0)
    return T(1.0) if x > T(1.0) else x


def _finite(x) -> bool:
    return x is not None and math.isfinite(float(x))


def _portable_tanh(T):
    return fdlibm_tanh if T is float else freebsd_tanhf


class RefPPOBR:
    """PPO-BR (controllers.cpp, steps 1-7) in float type ``dtype`` (float: binary64, the core's;
    np.float32) with ``tanh`` (default: the portable tanh of that type, as the core and
    ppobr_jax use). The effective bounds are computed in float64 from the config, then held in T:

        phi = clamp((H - floor) / (H_ref - floor), 0, 1)
        z   = (mean_new - mean_old) / (std + 1e-8 (1 + |mean|))   over a full return window
        psi = 1 - tanh|z| (plateau) or clamp(z, 0, 1) (progress);  0 in warm-up or for inf z
        eps = clip(eps0 ((1 + lambda1 tanh phi) - lambda2 tanh psi), eps_min, eps_max)"""

    def __init__(
        self,
        eps0=0.2,
        lambda1=0.5,
        lambda2=0.3,
        window=10,
        psi_mode="plateau",
        entropy_ref=None,
        entropy_floor=0.0,
        eps_min=None,
        eps_max=None,
        *,
        dtype=float,
        tanh=None,
    ):
        T = dtype
        self.T = T
        self.tanh = _portable_tanh(T) if tanh is None else tanh
        lo = eps0 * (1.0 - lambda2) if eps_min is None else eps_min
        hi = eps0 * (1.0 + lambda1) if eps_max is None else eps_max
        self.eps0, self.lambda1, self.lambda2 = T(eps0), T(lambda1), T(lambda2)
        self.eps_min, self.eps_max = T(lo), T(hi)
        self.window, self.psi_mode = int(window), psi_mode
        self.cfg_ref = None if entropy_ref is None else T(entropy_ref)
        self.entropy_floor = T(entropy_floor)
        # state
        self.epsilon = T(eps0)
        self.entropy_ref = self.cfg_ref
        self.returns = [T(0.0)] * self.window
        self.head = self.count = self.updates = 0
        self.rejected_entropy = self.dropped_returns = self.rejected_entropy_ref = 0
        self.last_phi = self.last_psi = self.last_entropy = self.last_z = T(0.0)

    def window_returns(self) -> List:
        """The held returns, oldest first."""
        k = self.window
        if self.count < k:
            return [self.returns[i] for i in range(self.count)]
        return [self.returns[(self.head + j) % k] for j in range(k)]

    def _z(self, xs):
        T, k = self.T, self.window
        h = k // 2
        s_old = T(0.0)
        for j in range(h):
            s_old = s_old + xs[j]
        s_new = T(0.0)
        for j in range(k - h, k):
            s_new = s_new + xs[j]
        s_all = T(0.0)
        for j in range(k):
            s_all = s_all + xs[j]
        mean_old, mean_new, mean = s_old / T(h), s_new / T(h), s_all / T(k)
        ss = T(0.0)
        for j in range(k):
            d = xs[j] - mean
            ss = ss + d * d
        with np.errstate(all="ignore"):
            sd = T(math.sqrt(ss / T(k))) if T is float else np.sqrt(ss / T(k))
            if T is float:
                try:
                    return (mean_new - mean_old) / (sd + 1e-8 * (1.0 + abs(mean)))
                except (OverflowError, ZeroDivisionError):
                    return math.nan
            return (mean_new - mean_old) / (sd + T(1e-8) * (T(1.0) + abs(mean)))

    def update(self, entropy=None, episode_returns: Optional[Sequence[float]] = None):
        T, tanh, k = self.T, self.tanh, self.window
        entropy = mean_entropy(entropy)
        if not _finite(entropy):
            self.rejected_entropy += 1
            return self.epsilon
        H = T(entropy)
        href = (
            self.cfg_ref
            if self.cfg_ref is not None
            else (self.entropy_ref if self.entropy_ref is not None else H)
        )
        if not href > self.entropy_floor:  # InvalidArgument("entropy_ref"), state untouched
            self.rejected_entropy_ref += 1
            raise ValueError("entropy_ref")
        for x in (
            []
            if episode_returns is None
            else list(np.asarray(episode_returns, dtype=np.float64).reshape(-1))
        ):
            if not _finite(x):
                self.dropped_returns += 1
                continue
            self.returns[self.head] = T(x)
            self.head = (self.head + 1) % k
            self.count = min(self.count + 1, k)
        with np.errstate(all="ignore"):
            phi = _clamp01((H - self.entropy_floor) / (href - self.entropy_floor), T)
        z, psi = T(0.0), T(0.0)
        if self.count == k:
            zz = self._z(self.window_returns())
            if _finite(zz):  # overflowing window statistics: reward signal unavailable
                z = zz
                psi = T(1.0) - T(tanh(abs(z))) if self.psi_mode == "plateau" else _clamp01(z, T)
        expand = T(1.0) + self.lambda1 * T(tanh(phi))
        contract = self.lambda2 * T(tanh(psi))
        eps = self.eps0 * (expand - contract)
        eps = min(max(eps, self.eps_min), self.eps_max)
        self.epsilon, self.entropy_ref = eps, href
        self.last_phi, self.last_psi, self.last_entropy, self.last_z = phi, psi, H, z
        self.updates += 1
        return eps

    def diagnostics(self) -> Dict[str, float]:
        """The PPO-BR diagnostics, in the bindings' key order."""
        return {
            "epsilon": float(self.epsilon),
            "phi": float(self.last_phi),
            "psi": float(self.last_psi),
            "entropy": float(self.last_entropy),
            "z": float(self.last_z),
            "entropy_ref": float("nan") if self.entropy_ref is None else float(self.entropy_ref),
            "num_returns": float(self.count),
            "updates": float(self.updates),
            "rejected_entropy": float(self.rejected_entropy),
            "dropped_returns": float(self.dropped_returns),
        }


class RefConstant:
    """eps, every update."""

    def __init__(self, eps=0.2, *, dtype=float):
        self.epsilon, self.updates = dtype(eps), 0

    def update(self, *args, **kw):
        self.updates += 1
        return self.epsilon

    def diagnostics(self) -> Dict[str, float]:
        return {"epsilon": float(self.epsilon), "updates": float(self.updates)}


class RefLinearDecay:
    """The t-th update (t from 0) returns eps_start + (eps_end - eps_start) * (min(t, T) / T)."""

    def __init__(self, eps_start=0.2, eps_end=0.0, total_updates=1, *, dtype=float):
        self.T = dtype
        self.eps_start, self.eps_end, self.total = (
            dtype(eps_start),
            dtype(eps_end),
            int(total_updates),
        )
        self.epsilon, self.updates = dtype(eps_start), 0

    def update(self, *args, **kw):
        T = self.T
        t = min(self.updates, self.total)
        frac = T(t) / T(self.total)
        self.epsilon = self.eps_start + (self.eps_end - self.eps_start) * frac
        self.updates += 1
        return self.epsilon

    def diagnostics(self) -> Dict[str, float]:
        return {"epsilon": float(self.epsilon), "updates": float(self.updates)}


class RefKLAdaptive:
    """kl > target * tolerance: eps / rate; kl < target / tolerance: eps * rate; clipped to
    [eps_min, eps_max]. A non-finite kl is rejected (counted, eps unchanged)."""

    def __init__(
        self,
        eps0=0.2,
        kl_target=0.01,
        tolerance=1.5,
        rate=1.5,
        eps_min=0.02,
        eps_max=0.5,
        *,
        dtype=float,
    ):
        T = dtype
        self.T = T
        self.kl_target, self.tolerance, self.rate = T(kl_target), T(tolerance), T(rate)
        self.eps_min, self.eps_max = T(eps_min), T(eps_max)
        self.epsilon, self.updates, self.rejected_kl, self.last_kl = T(eps0), 0, 0, T(0.0)

    def update(self, kl=None):
        T = self.T
        if kl is None:  # the core: InvalidArgument("kl")
            raise ValueError("kl")
        if not _finite(kl):
            self.rejected_kl += 1
            return self.epsilon
        kl = T(kl)
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
        return {
            "epsilon": float(self.epsilon),
            "updates": float(self.updates),
            "kl": float(self.last_kl),
            "rejected_kl": float(self.rejected_kl),
        }
