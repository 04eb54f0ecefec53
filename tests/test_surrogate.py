"""clipped_surrogate against the float64 NumPy reference (tests/reference.py).

Every output is checked: loss, grad (values and zero pattern), and every key of stats, sums
and counts, for float32 and float64, 1-D and 2-D, the sizes 1, 7, 1000, 4097 and 100003,
symmetric and asymmetric eps, dual-clip on and off, entropy and mask (float and bool) present
and absent, all three aggregations, and non-contiguous inputs.
"""

import math
import threading

import numpy as np
import pytest
from assertions import assert_matches_reference, result_bits, tolerance
from batches import assert_unmodified, eps_kwargs, make_batch, relayout, shape_for, snapshot
from reference import AGGREGATIONS, STAT_NAMES, ref_surrogate

import ppobr_core as pc

SIZES = [1, 7, 1000, 4097, 100003]
DTYPES = [np.float32, np.float64]

# (eps_low, eps_high, dual_clip, entropy, mask)
OPTION_SETS = [
    (0.2, 0.2, None, False, None),
    (0.2, 0.28, 3.0, True, "float"),
    (0.1, 0.1, 1.5, False, "bool"),
    (0.3, 0.1, None, True, None),
    (0.25, 0.25, 2.0, True, "float"),
]


def run_both(kw, eps_low, eps_high, dual_clip, aggregation, **extra):
    res = pc.clipped_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        **eps_kwargs(eps_low, eps_high),
        dual_clip=dual_clip,
        entropy=kw.get("entropy"),
        mask=kw.get("mask"),
        segment_ids=kw.get("segment_ids"),
        aggregation=aggregation,
        **extra,
    )
    ref = ref_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        eps_low=eps_low,
        eps_high=eps_high,
        dual_clip=dual_clip,
        entropy=kw.get("entropy"),
        mask=kw.get("mask"),
        segment_ids=kw.get("segment_ids"),
        aggregation=aggregation,
    )
    return res, ref


def test_stat_names():
    assert tuple(pc.STAT_NAMES) == STAT_NAMES


@pytest.mark.parametrize("ndim", [1, 2])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("size", SIZES)
def test_matches_reference(size, dtype, ndim, rng):
    shape = shape_for(size, ndim)
    for eps_low, eps_high, dual_clip, entropy, mask in OPTION_SETS:
        for aggregation in AGGREGATIONS:
            segs = None
            if ndim == 1 and aggregation != "token-mean":
                segs = max(1, min(size // 3, 500))
            kw = make_batch(
                rng,
                shape,
                dtype,
                eps_low=eps_low,
                eps_high=eps_high,
                dual_clip=dual_clip,
                entropy=entropy,
                mask=mask,
                num_segments=segs,
            )
            snap = snapshot(kw)
            res, ref = run_both(kw, eps_low, eps_high, dual_clip, aggregation)
            what = f"[{shape} {np.dtype(dtype)} eps=({eps_low},{eps_high}) c={dual_clip} ent={entropy} mask={mask} {aggregation}]"
            assert_matches_reference(res, ref, dtype, shape, what)
            assert res.aggregation == aggregation
            assert_unmodified(kw, snap)


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_1d_seq_aggregations_need_segment_ids(aggregation, dtype, rng):
    """seq-mean-* on a 1-D batch: without segment_ids an error (R6); with every id 0 (one
    sequence) seq-mean-token-mean is token-mean and seq-mean-token-sum the weighted sum."""
    kw = make_batch(rng, (513,), dtype, entropy=True, mask="float")
    if aggregation != "token-mean":
        with pytest.raises(pc.InvalidArgumentError) as e:
            run_both(kw, 0.2, 0.2, None, aggregation)
        assert e.value.argument == "segment_ids"
        assert str(e.value) == (
            f"segment_ids: is required for aggregation '{aggregation}' on a 1-D batch (pass "
            "segment_ids, or a 2-D [batch, tokens] batch whose rows are the sequences)"
        )
        kw["segment_ids"] = np.zeros(513, np.int64)
    res, ref = run_both(kw, 0.2, 0.2, None, aggregation)
    assert_matches_reference(res, ref, dtype, (513,))
    tm, _ = run_both(kw, 0.2, 0.2, None, "token-mean")
    W = float(np.sum(kw["mask"].astype(np.float64)))
    if aggregation == "seq-mean-token-mean":  # one sequence: the same as token-mean
        assert res.loss == pytest.approx(tm.loss, rel=tolerance(dtype), abs=1e-12)
    if aggregation == "seq-mean-token-sum":  # one sequence: the weighted sum
        assert res.loss == pytest.approx(tm.loss * W, rel=4 * tolerance(dtype), abs=1e-12)


@pytest.mark.parametrize("aggregation", AGGREGATIONS)
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_2d_rows_equal_1d_segment_ids(aggregation, dtype, rng):
    """A [B, T] batch and its flattening with segment_ids = row index are the same problem."""
    B, T = 37, 29
    kw = make_batch(
        rng, (B, T), dtype, eps_low=0.15, eps_high=0.3, dual_clip=2.5, entropy=True, mask="float"
    )
    kw["mask"][3, :] = 0  # an empty sequence
    res2 = pc.clipped_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        eps_low=0.15,
        eps_high=0.3,
        dual_clip=2.5,
        entropy=kw["entropy"],
        mask=kw["mask"],
        aggregation=aggregation,
    )
    seg = np.repeat(np.arange(B), T)
    res1 = pc.clipped_surrogate(
        kw["logp_new"].ravel(),
        kw["logp_old"].ravel(),
        kw["advantages"].ravel(),
        eps_low=0.15,
        eps_high=0.3,
        dual_clip=2.5,
        entropy=kw["entropy"].ravel(),
        mask=kw["mask"].ravel(),
        segment_ids=seg,
        aggregation=aggregation,
    )
    tol = tolerance(dtype)
    assert res1.loss == pytest.approx(res2.loss, rel=4 * tol, abs=1e-300)
    np.testing.assert_allclose(res1.grad, res2.grad.ravel(), rtol=4 * tol, atol=0)
    for k in STAT_NAMES:
        assert res1.sums[k] == pytest.approx(res2.sums[k], rel=4 * tol, abs=1e-12), k
        assert res1.counts[k] == pytest.approx(res2.counts[k], rel=4 * tol, abs=1e-12), k
    ref = ref_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        eps_low=0.15,
        eps_high=0.3,
        dual_clip=2.5,
        entropy=kw["entropy"],
        mask=kw["mask"],
        aggregation=aggregation,
    )
    assert_matches_reference(res2, ref, dtype, (B, T))


def test_empty_sequences_do_not_count(rng):
    """S counts only sequences with positive weight: an all-masked row changes nothing."""
    B, T = 6, 11
    kw = make_batch(rng, (B, T), np.float64, mask="float")
    kw["mask"][2, :] = 0.0
    kw["mask"][2, 0] = 1.0
    full = {k: v for k, v in kw.items()}
    for aggregation in ("seq-mean-token-mean", "seq-mean-token-sum"):
        with_row = pc.clipped_surrogate(
            full["logp_new"],
            full["logp_old"],
            full["advantages"],
            eps=0.2,
            mask=full["mask"],
            aggregation=aggregation,
        )
        m = full["mask"].copy()
        m[2, :] = 0.0
        without = pc.clipped_surrogate(
            full["logp_new"],
            full["logp_old"],
            full["advantages"],
            eps=0.2,
            mask=m,
            aggregation=aggregation,
        )
        drop = np.delete(np.arange(B), 2)
        ref = ref_surrogate(
            full["logp_new"][drop],
            full["logp_old"][drop],
            full["advantages"][drop],
            eps_low=0.2,
            eps_high=0.2,
            mask=full["mask"][drop],
            aggregation=aggregation,
        )
        assert without.loss == pytest.approx(ref["loss"], rel=1e-12)
        assert with_row.loss != pytest.approx(without.loss, rel=1e-6)
        assert np.all(without.grad[2] == 0)


@pytest.mark.parametrize("layout", ["strided", "reversed", "transposed", "fortran"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_non_contiguous_2d(layout, dtype, aggregation, rng):
    shape = (23, 47)
    kw = make_batch(
        rng, shape, dtype, eps_low=0.2, eps_high=0.3, dual_clip=3.0, entropy=True, mask="float"
    )
    contiguous = pc.clipped_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        eps_low=0.2,
        eps_high=0.3,
        dual_clip=3.0,
        entropy=kw["entropy"],
        mask=kw["mask"],
        aggregation=aggregation,
    )
    strided = {k: relayout(v, layout) for k, v in kw.items()}
    for k, v in strided.items():
        assert np.array_equal(v, kw[k])
        if layout != "contiguous" and v.size > 1:
            assert not v.flags.c_contiguous
    snap = snapshot(strided)
    res, ref = run_both(strided, 0.2, 0.3, 3.0, aggregation)
    assert_matches_reference(res, ref, dtype, shape, f"[{layout}]")
    assert res.grad.flags.c_contiguous
    assert_matches_reference(contiguous, ref, dtype, shape, "[contiguous]")
    assert_unmodified(strided, snap)


@pytest.mark.parametrize("layout", ["strided", "reversed"])
@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("aggregation", AGGREGATIONS)
def test_non_contiguous_1d(layout, dtype, aggregation, rng):
    n = 4097
    segs = 40 if aggregation != "token-mean" else None
    kw = make_batch(rng, (n,), dtype, entropy=True, mask="bool", num_segments=segs)
    strided = {k: relayout(v, layout) for k, v in kw.items()}
    snap = snapshot(strided)
    res, ref = run_both(strided, 0.2, 0.2, None, aggregation)
    assert_matches_reference(res, ref, dtype, (n,), f"[{layout}]")
    assert_unmodified(strided, snap)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_mixed_layouts_and_zero_strides(dtype, rng):
    """Each input in its own layout, advantages and mask broadcast along tokens (stride 0)."""
    B, T = 31, 17
    kw = make_batch(rng, (B, T), dtype, entropy=True)
    adv_rows = rng.normal(size=(B, 1)).astype(dtype)
    w_rows = rng.uniform(0.0, 2.0, size=(B, 1)).astype(dtype)
    w_rows[4] = 0
    args = {
        "logp_new": relayout(kw["logp_new"], "fortran"),
        "logp_old": relayout(kw["logp_old"], "strided"),
        "advantages": np.broadcast_to(adv_rows, (B, T)),
        "entropy": relayout(kw["entropy"], "reversed"),
        "mask": np.broadcast_to(w_rows, (B, T)),
    }
    assert args["advantages"].strides[1] == 0 and args["mask"].strides[1] == 0
    for aggregation in AGGREGATIONS:
        res, ref = run_both(args, 0.2, 0.2, 2.0, aggregation)
        assert_matches_reference(res, ref, dtype, (B, T), aggregation)
    # a whole input broadcast from a single value (both strides 0)
    lpo = np.broadcast_to(np.asarray(-1.0, dtype=dtype), (B, T))
    args["logp_old"] = lpo
    res, ref = run_both(args, 0.2, 0.2, None, "token-mean")
    assert_matches_reference(res, ref, dtype, (B, T), "scalar broadcast")


@pytest.mark.parametrize("ids_dtype", [np.int64, np.int32, np.uint8, np.uint64])
def test_segment_ids_dtypes_and_strides(ids_dtype, rng):
    n = 301
    kw = make_batch(rng, (n,), np.float64, mask="float", num_segments=9)
    ids = kw["segment_ids"]
    base = pc.clipped_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        eps=0.2,
        mask=kw["mask"],
        segment_ids=ids,
        aggregation="seq-mean-token-mean",
    )
    ref = ref_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        eps_low=0.2,
        eps_high=0.2,
        mask=kw["mask"],
        segment_ids=ids,
        aggregation="seq-mean-token-mean",
    )
    assert_matches_reference(base, ref, np.float64, (n,))
    other = ids.astype(ids_dtype)
    strided = relayout(other, "strided")
    snap = strided.copy()
    for seg in (other, strided, list(map(int, ids))):
        res = pc.clipped_surrogate(
            kw["logp_new"],
            kw["logp_old"],
            kw["advantages"],
            eps=0.2,
            mask=kw["mask"],
            segment_ids=seg,
            aggregation="seq-mean-token-mean",
        )
        assert result_bits(res) == result_bits(base)
    assert np.array_equal(strided, snap)


def test_segment_ids_relabelling_is_irrelevant(rng):
    """Only which samples share an id matters, not the id values or their order."""
    n = 500
    kw = make_batch(rng, (n,), np.float64, mask="float", num_segments=20)
    ids = kw["segment_ids"]
    perm = rng.permutation(60)[:20]  # a relabelling into a sparser id space
    for aggregation in ("seq-mean-token-mean", "seq-mean-token-sum"):
        a = pc.clipped_surrogate(
            kw["logp_new"],
            kw["logp_old"],
            kw["advantages"],
            eps=0.2,
            mask=kw["mask"],
            segment_ids=ids,
            aggregation=aggregation,
        )
        b = pc.clipped_surrogate(
            kw["logp_new"],
            kw["logp_old"],
            kw["advantages"],
            eps=0.2,
            mask=kw["mask"],
            segment_ids=perm[ids],
            aggregation=aggregation,
        )
        assert b.loss == pytest.approx(a.loss, rel=1e-12)
        np.testing.assert_allclose(b.grad, a.grad, rtol=1e-12, atol=0)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_bool_mask_equals_float_mask(dtype, rng):
    kw = make_batch(rng, (40, 25), dtype, entropy=True, mask="bool")
    fmask = kw["mask"].astype(dtype)
    for aggregation in AGGREGATIONS:
        a = pc.clipped_surrogate(
            kw["logp_new"],
            kw["logp_old"],
            kw["advantages"],
            eps=0.2,
            dual_clip=3.0,
            entropy=kw["entropy"],
            mask=kw["mask"],
            aggregation=aggregation,
        )
        b = pc.clipped_surrogate(
            kw["logp_new"],
            kw["logp_old"],
            kw["advantages"],
            eps=0.2,
            dual_clip=3.0,
            entropy=kw["entropy"],
            mask=fmask,
            aggregation=aggregation,
        )
        assert result_bits(a) == result_bits(b)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_masked_out_samples_are_ignored(dtype, rng):
    """Changing the (finite) values of weight-0 samples changes nothing; their grad is 0."""
    kw = make_batch(rng, (1000,), dtype, entropy=True, mask="float", num_segments=30)
    off = kw["mask"] == 0
    assert off.any()
    other = {k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in kw.items()}
    for k in ("logp_new", "logp_old", "advantages", "entropy"):
        other[k][off] = rng.normal(size=int(off.sum())).astype(dtype) * 3
    for aggregation in AGGREGATIONS:
        seg = kw["segment_ids"] if aggregation != "token-mean" else None
        a = pc.clipped_surrogate(
            kw["logp_new"],
            kw["logp_old"],
            kw["advantages"],
            eps=0.2,
            dual_clip=2.0,
            entropy=kw["entropy"],
            mask=kw["mask"],
            segment_ids=seg,
            aggregation=aggregation,
        )
        b = pc.clipped_surrogate(
            other["logp_new"],
            other["logp_old"],
            other["advantages"],
            eps=0.2,
            dual_clip=2.0,
            entropy=other["entropy"],
            mask=kw["mask"],
            segment_ids=seg,
            aggregation=aggregation,
        )
        assert np.all(a.grad[off] == 0) and np.all(b.grad[off] == 0)
        tol = tolerance(dtype)
        assert b.loss == pytest.approx(a.loss, rel=tol, abs=1e-300)
        np.testing.assert_allclose(b.grad[~off], a.grad[~off], rtol=tol, atol=0)
        for k in STAT_NAMES:
            assert b.sums[k] == pytest.approx(a.sums[k], rel=tol, abs=1e-300), k
            assert b.counts[k] == a.counts[k], k


def test_entropy_absent_has_zero_count(rng):
    kw = make_batch(rng, (100,), np.float64)
    res = pc.clipped_surrogate(kw["logp_new"], kw["logp_old"], kw["advantages"], eps=0.2)
    assert res.counts["entropy"] == 0
    assert res.sums["entropy"] == 0
    assert math.isnan(res.stats["entropy"])
    assert res.counts["ratio_mean"] == 100


def test_dual_clip_off_gives_zero_fraction(rng):
    kw = make_batch(rng, (1000,), np.float64)
    kw["logp_new"] = kw["logp_old"] + 3.0  # r = e^3 ~ 20: far beyond any c
    off = pc.clipped_surrogate(kw["logp_new"], kw["logp_old"], kw["advantages"], eps=0.2)
    on = pc.clipped_surrogate(
        kw["logp_new"], kw["logp_old"], kw["advantages"], eps=0.2, dual_clip=3.0
    )
    assert off.sums["dual_clip_fraction"] == 0
    assert off.stats["dual_clip_fraction"] == 0 or math.isnan(off.stats["dual_clip_fraction"])
    neg = kw["advantages"] < 0
    assert on.stats["dual_clip_fraction"] == pytest.approx(neg.mean(), rel=1e-12)
    # dual-clip bounds the objective of negative advantages by c * A: loss <= -mean(min(..., c A))
    assert on.loss < off.loss


def test_hand_computed_example():
    """Four samples worked out by hand, token-mean, eps = 0.2, dual-clip c = 3."""
    r = np.array([1.1, 1.5, 0.5, 4.0])
    A = np.array([1.0, 2.0, -1.0, -1.0])
    lpo = np.array([-1.0, -2.0, -0.5, -3.0])
    lpn = lpo + np.log(r)
    res = pc.clipped_surrogate(lpn, lpo, A, eps=0.2, dual_clip=3.0)
    # obj: 1.1 (unclipped), min(3.0, 2.4) = 2.4 (clipped high), min(-0.5, -0.8) = -0.8 (clipped low),
    #      min(-4, -1.2) = -4 -> dual-clip max(-4, -3) = -3
    obj = np.array([1.1, 2.4, -0.8, -3.0])
    assert res.loss == pytest.approx(-obj.mean(), rel=1e-14)
    np.testing.assert_allclose(res.grad, [-0.25 * 1.0 * 1.1, 0.0, 0.0, 0.0], rtol=1e-14)
    s = res.stats
    assert s["clip_fraction"] == pytest.approx(0.75)
    assert s["clip_fraction_high"] == pytest.approx(0.25)
    assert s["clip_fraction_low"] == pytest.approx(0.25)
    assert s["dual_clip_fraction"] == pytest.approx(0.25)
    assert s["ratio_min"] == pytest.approx(0.5, rel=1e-14)
    assert s["ratio_max"] == pytest.approx(4.0, rel=1e-14)
    assert s["ratio_mean"] == pytest.approx(r.mean(), rel=1e-14)
    assert s["kl_k1"] == pytest.approx(np.mean(-np.log(r)), rel=1e-12)
    assert s["kl_k2"] == pytest.approx(np.mean(0.5 * np.log(r) ** 2), rel=1e-12)
    assert s["kl_k3"] == pytest.approx(np.mean(r - 1 - np.log(r)), rel=1e-12)


def test_ties_count_as_unclipped():
    """eps = 0 and r = 1 exactly: r sits on both bounds, the unclipped term is selected (the
    gradient flows) and nothing counts as clipped (the bounds are strict)."""
    lp = np.array([-1.0, -0.5, -2.0, -3.0])
    A = np.array([1.0, -1.0, 2.0, 0.5])
    res = pc.clipped_surrogate(lp, lp.copy(), A, eps_low=0.0, eps_high=0.0)
    np.testing.assert_array_equal(res.grad, -A / 4)
    assert res.stats["clip_fraction"] == 0
    assert res.stats["ratio_mean"] == 1.0
    assert res.loss == -A.mean()
    for k in ("kl_k1", "kl_k2", "kl_k3"):
        assert res.stats[k] == 0


def test_zero_advantages():
    lpo = np.array([-1.0, -2.0, -0.3])
    lpn = lpo + np.array([0.5, -0.5, 0.0])
    res = pc.clipped_surrogate(lpn, lpo, np.zeros(3), eps=0.2, dual_clip=2.0)
    assert res.loss == 0
    assert np.all(res.grad == 0)
    assert res.stats["clip_fraction_low"] == 0 and res.stats["clip_fraction_high"] == 0
    assert res.stats["dual_clip_fraction"] == 0


def loss_of(lpn, kw, opts):
    return pc.clipped_surrogate(
        lpn,
        kw["logp_old"],
        kw["advantages"],
        mask=kw.get("mask"),
        segment_ids=kw.get("segment_ids"),
        **opts,
    ).loss


@pytest.mark.parametrize(
    "opts,shape,mask,segs",
    [
        ({"eps": 0.2}, (50,), None, None),
        ({"eps_low": 0.1, "eps_high": 0.3, "dual_clip": 2.0}, (50,), "float", None),
        ({"eps": 0.2, "aggregation": "seq-mean-token-mean"}, (6, 9), "float", None),
        ({"eps": 0.2, "dual_clip": 1.5, "aggregation": "seq-mean-token-sum"}, (60,), "float", 7),
        (
            {"eps_low": 0.2, "eps_high": 0.28, "aggregation": "seq-mean-token-sum"},
            (5, 8),
            None,
            None,
        ),
    ],
)
def test_grad_matches_finite_difference(opts, shape, mask, segs, rng):
    eps_low = opts.get("eps", opts.get("eps_low"))
    eps_high = opts.get("eps", opts.get("eps_high"))
    kw = make_batch(
        rng,
        shape,
        np.float64,
        eps_low=eps_low,
        eps_high=eps_high,
        dual_clip=opts.get("dual_clip"),
        mask=mask,
        num_segments=segs,
        spread=0.3,
    )
    res = pc.clipped_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        mask=kw.get("mask"),
        segment_ids=kw.get("segment_ids"),
        **opts,
    )
    h = 1e-6  # far smaller than the 2e-3 margin (in log-ratio) kept from every clip boundary
    lpn = kw["logp_new"]
    fd = np.zeros(lpn.shape)
    for idx in np.ndindex(lpn.shape):
        plus, minus = lpn.copy(), lpn.copy()
        plus[idx] += h
        minus[idx] -= h
        fd[idx] = (loss_of(plus, kw, opts) - loss_of(minus, kw, opts)) / (2 * h)
    scale = np.max(np.abs(res.grad))
    np.testing.assert_allclose(res.grad, fd, rtol=1e-6, atol=1e-8 * scale)
    assert np.any(res.grad != 0) and np.any(res.grad == 0)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("n", [100003, 300001])
def test_thread_count_is_bitwise_irrelevant(n, dtype, rng):
    kw = make_batch(
        rng,
        (n,),
        dtype,
        eps_low=0.2,
        eps_high=0.3,
        dual_clip=3.0,
        entropy=True,
        mask="float",
        num_segments=1000,
    )
    for aggregation in AGGREGATIONS:
        seg = kw["segment_ids"] if aggregation != "token-mean" else None
        results = [
            result_bits(
                pc.clipped_surrogate(
                    kw["logp_new"],
                    kw["logp_old"],
                    kw["advantages"],
                    eps_low=0.2,
                    eps_high=0.3,
                    dual_clip=3.0,
                    entropy=kw["entropy"],
                    mask=kw["mask"],
                    segment_ids=seg,
                    aggregation=aggregation,
                    num_threads=t,
                )
            )
            for t in (1, 2, 3, 8, 0)
        ]
        assert all(r == results[0] for r in results[1:]), aggregation


def test_concurrent_calls_from_python_threads(rng):
    """The GIL is released around the kernel: concurrent calls give the serial results."""
    batches = [make_batch(rng, (50000,), np.float64, entropy=True, mask="float") for _ in range(4)]

    def call(kw):
        return result_bits(
            pc.clipped_surrogate(
                kw["logp_new"],
                kw["logp_old"],
                kw["advantages"],
                eps=0.2,
                entropy=kw["entropy"],
                mask=kw["mask"],
                num_threads=2,
            )
        )

    serial = [call(kw) for kw in batches]
    out = [None] * 8
    errors = []

    def worker(i):
        try:
            for _ in range(3):
                out[i] = call(batches[i % 4])
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors
    for i in range(8):
        assert out[i] == serial[i % 4]


def test_python_sequences_are_accepted():
    lpn = [-1.0, -0.9, -2.5]
    lpo = [-1.1, -1.0, -2.0]
    adv = [0.5, -1.0, 2.0]
    res = pc.clipped_surrogate(
        lpn,
        lpo,
        adv,
        eps=0.2,
        mask=[True, False, True],
        segment_ids=[0, 0, 1],
        aggregation="seq-mean-token-mean",
    )
    ref = ref_surrogate(
        np.array(lpn),
        np.array(lpo),
        np.array(adv),
        eps_low=0.2,
        eps_high=0.2,
        mask=np.array([1.0, 0.0, 1.0]),
        segment_ids=[0, 0, 1],
        aggregation="seq-mean-token-mean",
    )
    assert_matches_reference(res, ref, np.float64, (3,))
    assert res.grad.dtype == np.float64


def test_grad_is_a_fresh_writable_array(rng):
    kw = make_batch(rng, (10, 10), np.float32)
    a = pc.clipped_surrogate(kw["logp_new"], kw["logp_old"], kw["advantages"], eps=0.2)
    b = pc.clipped_surrogate(kw["logp_new"], kw["logp_old"], kw["advantages"], eps=0.2)
    assert a.grad is not b.grad
    assert not np.shares_memory(a.grad, kw["logp_new"])
    g = a.grad
    g[...] = 0  # a fresh array the caller owns
    assert np.any(b.grad != 0)


def test_result_repr_and_aggregation(rng):
    kw = make_batch(rng, (8,), np.float64)
    res = pc.clipped_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        eps=0.2,
        segment_ids=np.zeros(8, np.int64),
        aggregation="seq-mean-token-sum",
    )
    assert res.aggregation == "seq-mean-token-sum"
    assert repr(res).startswith("SurrogateResult(")
    assert isinstance(res.loss, float)
    assert (
        isinstance(res.stats, dict) and isinstance(res.sums, dict) and isinstance(res.counts, dict)
    )


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_masked_out_extreme_log_ratio_contributes_nothing(dtype, rng):
    """A weight-0 sample whose ratio overflows (r = inf) must not leak 0 * inf = NaN into the
    loss, the gradient or the statistics."""
    kw = make_batch(rng, (64,), dtype, entropy=True)
    mask = np.ones(64, dtype=dtype)
    mask[[5, 40]] = 0
    lpn = kw["logp_new"].copy()
    lpn[5] = dtype(0.0)
    lpo = kw["logp_old"].copy()
    lpo[5] = dtype(-1000.0)  # r = exp(1000) = inf
    lpn[40], lpo[40] = dtype(-1000.0), dtype(0.0)  # r = exp(-1000) = 0
    keep = np.ones(64, dtype=bool)
    keep[[5, 40]] = False
    seg = np.arange(64, dtype=np.int64) % 3  # three sequences (seq-mean-* on 1-D need ids)
    for aggregation in AGGREGATIONS:
        for c in (None, 3.0):
            res = pc.clipped_surrogate(
                lpn,
                lpo,
                kw["advantages"],
                eps=0.2,
                dual_clip=c,
                entropy=kw["entropy"],
                mask=mask,
                segment_ids=seg,
                aggregation=aggregation,
            )
            ref = ref_surrogate(
                lpn[keep],
                lpo[keep],
                kw["advantages"][keep],
                eps_low=0.2,
                eps_high=0.2,
                dual_clip=c,
                entropy=kw["entropy"][keep],
                segment_ids=seg[keep],
                aggregation=aggregation,
            )
            assert math.isfinite(res.loss)
            assert np.all(np.isfinite(res.grad)) and res.grad[5] == 0 and res.grad[40] == 0
            for k in STAT_NAMES:
                assert math.isfinite(res.sums[k]), k
            tol = tolerance(dtype)
            assert res.loss == pytest.approx(ref["loss"], rel=tol, abs=tol * ref["loss_scale"])
            np.testing.assert_allclose(res.grad[keep], ref["grad"], rtol=4 * tol, atol=0)
            for k in STAT_NAMES:
                assert res.sums[k] == pytest.approx(
                    ref["sums"][k], rel=tol, abs=tol * ref["scale"][k] + 1e-300
                ), k
                assert res.counts[k] == ref["counts"][k], k


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_overflowing_ratio_with_positive_weight(dtype):
    """r = exp(d) overflows to inf: for A > 0 the clipped term is selected (finite objective,
    grad 0); dual-clip bounds A < 0 to c * A. No NaN anywhere."""
    lpo = np.array([-1000.0, -1000.0, -1.0], dtype=dtype)
    lpn = np.array([0.0, 0.0, -1.0], dtype=dtype)
    A = np.array([1.0, -2.0, 0.5], dtype=dtype)
    res = pc.clipped_surrogate(lpn, lpo, A, eps=0.2, dual_clip=3.0)
    # obj: 1.2 * 1, max(-inf, 3 * -2) = -6, 1 * 0.5
    assert res.loss == pytest.approx(-(1.2 - 6.0 + 0.5) / 3, rel=1e-6)
    np.testing.assert_allclose(res.grad, [0.0, 0.0, -0.5 / 3], rtol=1e-6)
    assert not np.any(np.isnan(res.grad))
    assert res.stats["dual_clip_fraction"] == pytest.approx(1 / 3)
    assert res.stats["clip_fraction_high"] == pytest.approx(1 / 3)
    assert res.stats["ratio_max"] == math.inf
    assert not any(math.isnan(v) for k, v in res.stats.items() if k != "entropy")


BOUNDARY_SIZES = [
    2,
    3,
    4,
    5,
    8,
    9,
    15,
    16,
    17,
    31,
    32,
    33,
    63,
    64,
    65,
    127,
    128,
    129,
    255,
    256,
    257,
    511,
    512,
    513,
    1023,
    1024,
    1025,
    2047,
    2048,
    2049,
    4095,
    4096,
    8191,
    8193,
    16385,
    65537,
]


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_sizes_around_vector_and_block_boundaries(dtype, rng):
    """Tails of SIMD loops and of the fixed-size blocks, and unaligned starts (offset views)."""
    for n in BOUNDARY_SIZES:
        kw = make_batch(
            rng,
            (n + 1,),
            dtype,
            eps_low=0.2,
            eps_high=0.3,
            dual_clip=2.0,
            entropy=True,
            mask="float",
            num_segments=7,
        )
        view = {k: v[1:] for k, v in kw.items()}  # starts one element in: unaligned for SIMD
        if not (view["mask"] > 0).any():
            view["mask"][0] = 1
        for aggregation in AGGREGATIONS:
            res, ref = run_both(view, 0.2, 0.3, 2.0, aggregation, num_threads=2)
            assert_matches_reference(res, ref, dtype, (n,), f"[n={n} {aggregation}]")


def test_sums_and_counts_arrays_match_the_dicts(rng):
    kw = make_batch(rng, (257,), np.float32, entropy=True)
    r = pc.clipped_surrogate(**kw, eps=0.2)
    assert r.sums_array.dtype == np.float64 and r.counts_array.shape == (len(pc.STAT_NAMES),)
    np.testing.assert_array_equal(r.sums_array, [r.sums[k] for k in pc.STAT_NAMES])
    np.testing.assert_array_equal(r.counts_array, [r.counts[k] for k in pc.STAT_NAMES])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_out_receives_the_gradient(rng, dtype):
    kw = make_batch(rng, (6, 33), dtype, entropy=True)
    want = pc.clipped_surrogate(**kw, eps=0.2)
    buf = np.full((6, 33), np.nan, dtype)
    got = pc.clipped_surrogate(**kw, eps=0.2, out=buf)
    assert got.grad is buf or np.shares_memory(got.grad, buf)
    np.testing.assert_array_equal(buf, want.grad)
    assert got.loss == want.loss


def test_out_is_checked(rng):
    kw = make_batch(rng, (50,), np.float32)
    snap = {k: v.copy() for k, v in kw.items()}
    bad = [
        (np.zeros(50, np.float64), TypeError),  # wrong dtype
        (np.zeros(49, np.float32), pc.InvalidArgumentError),  # wrong shape
        (np.zeros(100, np.float32)[::2], pc.InvalidArgumentError),  # not contiguous
        (kw["logp_new"], pc.InvalidArgumentError),  # aliases an input
        (kw["advantages"], pc.InvalidArgumentError),
        ([0.0] * 50, TypeError),  # not an array
    ]
    ro = np.zeros(50, np.float32)
    ro.flags.writeable = False
    bad.append((ro, pc.InvalidArgumentError))
    for out, exc in bad:
        with pytest.raises(exc, match="out"):
            pc.clipped_surrogate(**kw, eps=0.2, out=out)
    for k, v in kw.items():
        np.testing.assert_array_equal(v, snap[k])
