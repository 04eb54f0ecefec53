"""Comparisons of the bindings' results with tests/reference.py: tolerances, bit patterns."""

from __future__ import annotations

import math
from typing import Dict

import numpy as np
from golden_io import load_tolerances
from reference import STAT_NAMES


def float_bits(x: float) -> int:
    return int(np.array(x, dtype=np.float64).view(np.int64))


def ulp_distance32(a, b) -> int:
    """Distance in float32 units in the last place (0 for equal values; both finite)."""
    ia = int(np.array(a, dtype=np.float32).view(np.int32))
    ib = int(np.array(b, dtype=np.float32).view(np.int32))
    ia = ia if ia >= 0 else -(ia & 0x7FFFFFFF)
    ib = ib if ib >= 0 else -(ib & 0x7FFFFFFF)
    return abs(ia - ib)


def tolerance(dtype, quantity: str = "value") -> float:
    """The core's relative tolerance against the oracle for `dtype` (tests/golden/tolerances.txt,
    the one place that states it)."""
    return load_tolerances()[("core", np.dtype(dtype).name, quantity)]


def assert_close(got: float, want: float, tol: float, scale: float, what: str):
    if math.isnan(want):
        assert math.isnan(got), f"{what}: got {got!r}, want NaN"
        return
    bound = tol * max(scale, abs(want)) + 1e-300
    assert abs(got - want) <= bound, (
        f"{what}: got {got!r}, want {want!r} (|diff| {abs(got - want):.3g} > {bound:.3g})"
    )


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
    np.testing.assert_allclose(
        g.astype(np.float64),
        want,
        rtol=4 * tol,
        atol=tol * gmax * 1e-3 + 1e-300,
        err_msg=f"{what} grad",
    )
    sums, counts, stats = res.sums, res.counts, res.stats
    assert list(sums) == list(STAT_NAMES)
    assert list(counts) == list(STAT_NAMES)
    assert list(stats) == list(STAT_NAMES)
    W = ref["counts"]["ratio_mean"]
    for k in STAT_NAMES:
        tol = tolerance(dtype, "kl_k3" if k == "kl_k3" else "value")
        assert_close(sums[k], ref["sums"][k], tol, ref["scale"][k], f"{what} sums[{k}]")
        assert_close(counts[k], ref["counts"][k], tol, W, f"{what} counts[{k}]")
        c = ref["counts"][k]
        assert_close(
            stats[k], ref["stats"][k], tol, ref["scale"][k] / c if c else 0.0, f"{what} stats[{k}]"
        )
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
