"""Test data: random inputs of clipped_surrogate, shapes, memory layouts, and snapshots that
check a call leaves its inputs unmodified. (The expected outputs come from tests/reference.py.)"""

from __future__ import annotations

import math
from typing import Dict, Optional

import numpy as np


def safe_log_ratios(
    rng: np.random.Generator,
    n: int,
    eps_low: float,
    eps_high: float,
    dual_clip: Optional[float] = None,
    spread: float = 0.4,
    margin: float = 2e-3,
) -> np.ndarray:
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


def make_batch(
    rng: np.random.Generator,
    shape,
    dtype=np.float64,
    *,
    eps_low=0.2,
    eps_high=0.2,
    dual_clip=None,
    entropy=False,
    mask=None,
    num_segments=None,
    spread=0.4,
):
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
        return np.ascontiguousarray(x[(slice(None, None, -1),) * x.ndim])[
            (slice(None, None, -1),) * x.ndim
        ]
    if layout == "transposed":
        assert x.ndim == 2
        return np.ascontiguousarray(x.T).T
    if layout == "fortran":
        return np.asfortranarray(x)
    raise ValueError(layout)


def snapshot(kw: Dict[str, object]):
    """Deep copies of the array arguments, to check that a call leaves them unmodified."""
    return {k: np.array(v, copy=True) for k, v in kw.items() if isinstance(v, np.ndarray)}


def assert_unmodified(kw, snap):
    for k, v in snap.items():
        a = kw[k]
        assert a.dtype == v.dtype and a.shape == v.shape, k
        assert a.tobytes() == v.tobytes() or np.array_equal(a, v, equal_nan=True), (
            f"{k} was modified"
        )


# 20 per-step entropies whose pairwise float64 sum (NumPy's) differs from the sum taken left
# to right: a binding that adds them in another order gives another mean, so another ε.
PAIRWISE_SUM_ENTROPIES = (
    0.165626,
    0.369694,
    1.131721,
    0.835919,
    0.177074,
    0.634721,
    0.696719,
    0.265648,
    1.041679,
    0.203457,
    0.578158,
    0.747599,
    0.631348,
    0.842178,
    1.046081,
    1.340961,
    0.433672,
    0.925539,
    0.989892,
    0.445173,
)
