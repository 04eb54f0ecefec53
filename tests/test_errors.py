"""Bad input (docs/SPEC.md "Bad input"): every rejected call raises a clear exception naming the
argument (InvalidArgumentError, a ValueError with .argument; TypeError for dtypes), never
crashes, never modifies its inputs, and never changes a controller's state."""

import math
import subprocess
import sys
import textwrap

import numpy as np
import pytest
from batches import assert_unmodified, make_batch, snapshot

import ppobr_core as pc


def test_invalid_argument_error_is_a_value_error():
    assert issubclass(pc.InvalidArgumentError, ValueError)
    with pytest.raises(ValueError):
        pc.PPOBRController(eps0=-1.0)


def raises_invalid(argument, fn, *args, **kwargs):
    """fn(*args, **kwargs) raises InvalidArgumentError whose .argument is `argument` (or one of
    a tuple of acceptable names) and whose message names it."""
    with pytest.raises(pc.InvalidArgumentError) as e:
        fn(*args, **kwargs)
    names = argument if isinstance(argument, tuple) else (argument,)
    assert e.value.argument in names, f"argument {e.value.argument!r}, expected {names}: {e.value}"
    assert e.value.argument in str(e.value)
    return e.value


def raises_type(argument, fn, *args, **kwargs):
    with pytest.raises(TypeError) as e:
        fn(*args, **kwargs)
    assert argument in str(e.value), f"{argument!r} not named in: {e.value}"
    return e.value


# ---------------------------------------------------------------------------------------------
# clipped_surrogate


@pytest.fixture
def batch(rng):
    kw = make_batch(rng, (6, 5), np.float64, entropy=True, mask="float")
    return kw


def surrogate(kw, **opts):
    args = dict(eps=0.2)
    args.update(opts)
    return pc.clipped_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        entropy=kw.get("entropy"),
        mask=kw.get("mask"),
        **args,
    )


def check_rejected(argument, kw, exc=pc.InvalidArgumentError, **opts):
    snap = snapshot(kw)
    if exc is TypeError:
        raises_type(argument, surrogate, kw, **opts)
    else:
        raises_invalid(argument, surrogate, kw, **opts)
    assert_unmodified(kw, snap)


@pytest.mark.parametrize("name", ["logp_old", "advantages", "entropy", "mask"])
@pytest.mark.parametrize("bad_shape", [(6, 4), (5, 5), (30,), (6, 5, 1), (1, 6, 5), (5, 6)])
def test_shape_mismatch(name, bad_shape, batch, rng):
    kw = dict(batch)
    kw[name] = rng.uniform(0.1, 1.0, size=bad_shape).astype(np.float64)
    check_rejected(name, kw)


def test_shape_mismatch_1d(rng):
    kw = make_batch(rng, (10,), np.float64, entropy=True, mask="float")
    for name in ("logp_old", "advantages", "entropy", "mask"):
        bad = dict(kw)
        bad[name] = kw[name][:9]
        check_rejected(name, bad)
        bad[name] = kw[name].reshape(1, 10)
        check_rejected(name, bad)


@pytest.mark.parametrize("shape", [(2, 3, 4), (1, 1, 1)])
def test_rank_of_logp_new(shape):
    x = np.zeros(shape)
    raises_invalid("logp_new", pc.clipped_surrogate, x, x, x, eps=0.2)


def test_scalar_input():
    raises_invalid(
        "logp_new", pc.clipped_surrogate, np.float64(1.0), np.float64(1.0), np.float64(1.0), eps=0.2
    )


@pytest.mark.parametrize("shape", [(0,), (0, 5), (5, 0), (0, 0)])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_empty_batch(shape, dtype):
    x = np.zeros(shape, dtype=dtype)
    e = raises_invalid(("logp_new",), pc.clipped_surrogate, x, x, x, eps=0.2)
    assert isinstance(e, ValueError)


@pytest.mark.parametrize(
    "bad_dtype", [np.int64, np.int32, np.float16, np.complex128, np.bool_, object]
)
@pytest.mark.parametrize("name", ["logp_new", "logp_old", "advantages", "entropy"])
def test_wrong_dtype(name, bad_dtype, batch):
    kw = dict(batch)
    kw[name] = np.zeros((6, 5), dtype=bad_dtype)
    check_rejected(name, kw, exc=TypeError)


@pytest.mark.parametrize("bad_dtype", [np.int64, np.float16, np.complex64])
def test_wrong_mask_dtype(bad_dtype, batch):
    kw = dict(batch)
    kw["mask"] = np.ones((6, 5), dtype=bad_dtype)
    check_rejected("mask", kw, exc=TypeError)


@pytest.mark.parametrize("name", ["logp_old", "advantages", "entropy", "mask"])
@pytest.mark.parametrize("first", [np.float32, np.float64])
def test_mixed_float_dtypes(name, first, rng):
    kw = make_batch(rng, (6, 5), first, entropy=True, mask="float")
    other = np.float64 if first == np.float32 else np.float32
    kw[name] = kw[name].astype(other)
    check_rejected(name, kw, exc=TypeError)


def test_string_and_big_endian_inputs(batch):
    kw = dict(batch)
    kw["logp_new"] = np.array(["a"] * 30).reshape(6, 5)
    check_rejected("logp_new", kw, exc=TypeError)
    kw = dict(batch)
    kw["advantages"] = batch["advantages"].astype(">f8")
    snap = snapshot(kw)
    with pytest.raises((TypeError, ValueError)) as e:
        surrogate(kw)
    assert "advantages" in str(e.value)
    assert_unmodified(kw, snap)


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
@pytest.mark.parametrize("name", ["logp_new", "logp_old", "advantages", "entropy", "mask"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("where", [0, 17, -1])
def test_non_finite_inputs(name, bad, dtype, where, rng):
    kw = make_batch(rng, (6, 5), dtype, entropy=True, mask="float")
    kw[name].reshape(-1)[where] = bad
    check_rejected(name, kw)


@pytest.mark.parametrize("name", ["logp_new", "logp_old", "advantages", "entropy"])
def test_non_finite_in_masked_out_sample(name, rng):
    """The mask does not hide a NaN: non-finite values anywhere are rejected."""
    kw = make_batch(rng, (50,), np.float64, entropy=True, mask="float")
    i = int(np.flatnonzero(kw["mask"] == 0)[0])
    kw[name][i] = math.nan
    check_rejected(name, kw)


def test_non_finite_in_large_strided_batch(rng):
    """A NaN deep inside a large, strided, multi-threaded batch is found."""
    kw = make_batch(rng, (300_001,), np.float32)
    buf = np.zeros(2 * 300_001, dtype=np.float32)
    buf[::2] = kw["advantages"]
    buf[2 * 250_000] = math.nan
    kw["advantages"] = buf[::2]
    for t in (1, 3, 8):
        check_rejected("advantages", kw, num_threads=t)


def test_negative_and_all_zero_mask(batch):
    kw = dict(batch)
    m = np.ones((6, 5))
    m[2, 3] = -0.5
    kw["mask"] = m
    check_rejected("mask", kw)
    kw["mask"] = np.zeros((6, 5))
    check_rejected("mask", kw)
    kw["mask"] = np.zeros((6, 5), dtype=bool)
    check_rejected("mask", kw)
    for agg in ("seq-mean-token-mean", "seq-mean-token-sum"):
        kw["mask"] = np.zeros((6, 5))
        check_rejected("mask", kw, aggregation=agg)


@pytest.mark.parametrize("dtype, tiny", [(np.float64, 1e-320), (np.float32, 1e-40)])
def test_weights_too_small_to_average_over(rng, dtype, tiny):
    """Positive (subnormal) weights whose sum cannot be inverted in the dtype gave a NaN loss
    (1/sum = inf, times the weights' 0-ish products; a fuzzer finding): now rejected, naming
    the mask, for a row (seq-mean-token-mean), a segment, and the whole batch (token-mean)."""
    kw = make_batch(rng, (2, 2), dtype, entropy=False)
    m = np.ones((2, 2), dtype)
    m[1] = [tiny, 0.0]
    kw["mask"] = m
    check_rejected("mask", kw, aggregation="seq-mean-token-mean")
    surrogate(kw, aggregation="token-mean")  # fine: the batch's sum is ~2
    flat = {k: v.reshape(-1) for k, v in kw.items()}
    check_rejected(
        "mask", flat, aggregation="seq-mean-token-mean", segment_ids=np.array([0, 0, 1, 1])
    )
    kw["mask"] = np.full((2, 2), tiny, dtype)
    check_rejected("mask", kw, aggregation="token-mean")


def test_tiny_row_weight_next_to_a_zero_weight_is_finite():
    """A row whose only positive weight is tiny (1.8e-308) has a huge factor 1/(S sum w); the
    kernel multiplied factor * objective before the zero weight of the row's other sample:
    inf * 0 = NaN (a fuzz finding). Weight first: the loss equals the one with weight 1."""
    lpn = np.array([[-2.7, -0.7], [-2.3, -3.1]])
    lpo = np.array([[1.0, -5.6], [-1.7, -5.4]])
    adv = np.full((2, 2), -4.0)
    tiny = np.array([[0.0, 0.0], [1.80787251e-308, 0.0]])
    one = np.array([[0.0, 0.0], [1.0, 0.0]])
    a = pc.clipped_surrogate(lpn, lpo, adv, eps=0.2, mask=tiny, aggregation="seq-mean-token-mean")
    b = pc.clipped_surrogate(lpn, lpo, adv, eps=0.2, mask=one, aggregation="seq-mean-token-mean")
    assert math.isfinite(a.loss) and a.loss == pytest.approx(b.loss, rel=1e-9)
    assert np.all(np.isfinite(a.grad))


@pytest.mark.parametrize("aggregation", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"])
def test_float32_weights_that_would_overflow(rng, aggregation):
    """float32 weights summing past 1e30 would overflow the kernel's float partial sums
    (inf/NaN statistics): rejected, naming the mask; the same weights in float64, and float32
    weights scaled down, give the unweighted result (times the weight for seq-mean-token-sum,
    the one aggregation where the weights' scale matters)."""
    kw = make_batch(rng, (6, 5), np.float32, entropy=True)
    plain = surrogate(kw, aggregation=aggregation)
    for w in (3e38, 1e36):
        kw["mask"] = np.full((6, 5), w, np.float32)
        check_rejected("mask", kw, aggregation=aggregation)
        kw64 = {k: v.astype(np.float64) for k, v in kw.items()}
        big = surrogate(kw64, aggregation=aggregation)
        scale = float(np.float32(w)) if aggregation == "seq-mean-token-sum" else 1.0
        assert big.loss == pytest.approx(scale * plain.loss, rel=1e-5, abs=1e-7)
        assert big.stats["clip_fraction"] == pytest.approx(plain.stats["clip_fraction"], abs=1e-12)
    kw["mask"] = np.full((6, 5), 1e27, np.float32)  # sum 3e28: accepted
    ok = surrogate(kw, aggregation=aggregation)
    scale = float(np.float32(1e27)) if aggregation == "seq-mean-token-sum" else 1.0
    assert ok.loss == pytest.approx(scale * plain.loss, rel=1e-5, abs=1e-7)
    assert all(math.isfinite(v) for v in ok.stats.values())


@pytest.mark.parametrize(
    "opts,argument",
    [
        ({}, "eps"),
        ({"eps": 0.2, "eps_low": 0.2}, "eps"),
        ({"eps": 0.2, "eps_high": 0.3}, "eps"),
        ({"eps": 0.2, "eps_low": 0.1, "eps_high": 0.3}, "eps"),
        ({"eps_low": 0.2}, "eps_high"),
        ({"eps_high": 0.2}, "eps_low"),
        ({"eps": -0.1}, ("eps", "eps_low")),
        ({"eps": 1.0}, ("eps", "eps_low")),
        ({"eps": math.nan}, ("eps", "eps_low")),
        ({"eps": math.inf}, ("eps", "eps_low", "eps_high")),
        ({"eps_low": -0.1, "eps_high": 0.2}, "eps_low"),
        ({"eps_low": 1.0, "eps_high": 0.2}, "eps_low"),
        ({"eps_low": 1.5, "eps_high": 0.2}, "eps_low"),
        ({"eps_low": math.nan, "eps_high": 0.2}, "eps_low"),
        ({"eps_low": 0.2, "eps_high": -0.01}, "eps_high"),
        ({"eps_low": 0.2, "eps_high": math.inf}, "eps_high"),
        ({"eps_low": 0.2, "eps_high": math.nan}, "eps_high"),
        ({"eps": 0.2, "dual_clip": 1.0}, "dual_clip"),
        ({"eps": 0.2, "dual_clip": 0.5}, "dual_clip"),
        ({"eps": 0.2, "dual_clip": 0.0}, "dual_clip"),
        ({"eps": 0.2, "dual_clip": -3.0}, "dual_clip"),
        ({"eps": 0.2, "dual_clip": math.nan}, "dual_clip"),
        ({"eps": 0.2, "aggregation": "mean"}, "aggregation"),
        ({"eps": 0.2, "aggregation": ""}, "aggregation"),
        ({"eps": 0.2, "aggregation": "token_mean"}, "aggregation"),
        ({"eps": 0.2, "aggregation": "TOKEN-MEAN"}, "aggregation"),
        ({"eps": 0.2, "num_threads": -1}, "num_threads"),
    ],
)
def test_bad_options(opts, argument, batch):
    kw = dict(batch)
    snap = snapshot(kw)
    e = raises_invalid(
        argument,
        pc.clipped_surrogate,
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        entropy=kw["entropy"],
        mask=kw["mask"],
        **opts,
    )
    assert isinstance(e, ValueError)
    assert_unmodified(kw, snap)


def test_keyword_only_and_unknown_arguments(batch):
    with pytest.raises(TypeError):
        pc.clipped_surrogate(batch["logp_new"], batch["logp_old"], batch["advantages"], 0.2)
    with pytest.raises(TypeError):
        pc.clipped_surrogate(
            batch["logp_new"], batch["logp_old"], batch["advantages"], eps=0.2, epsilon=0.2
        )
    with pytest.raises(TypeError):
        pc.clipped_surrogate(batch["logp_new"], batch["logp_old"], eps=0.2)


@pytest.mark.parametrize("missing", ["logp_old", "advantages"])
def test_none_for_required_inputs(missing, batch):
    args = [batch["logp_new"], batch["logp_old"], batch["advantages"]]
    args[["logp_new", "logp_old", "advantages"].index(missing)] = None
    raises_invalid(missing, pc.clipped_surrogate, *args, eps=0.2)
    args = [None, batch["logp_old"], batch["advantages"]]
    raises_invalid("logp_new", pc.clipped_surrogate, *args, eps=0.2)


def seg_call(kw, seg, aggregation="seq-mean-token-mean"):
    return pc.clipped_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        eps=0.2,
        segment_ids=seg,
        aggregation=aggregation,
    )


@pytest.mark.parametrize("aggregation", ["seq-mean-token-mean", "seq-mean-token-sum"])
def test_bad_segment_ids(aggregation, rng):
    kw = make_batch(rng, (20,), np.float64)
    good = np.arange(20) // 4
    bad_values = [
        good - 1,  # negative ids
        np.full(20, -5),  # all negative
        good[:19],  # too short
        np.concatenate([good, [0]]),  # too long
        good.reshape(4, 5),  # not 1-D
    ]
    for seg in bad_values:
        snap = np.array(seg, copy=True)
        raises_invalid("segment_ids", seg_call, kw, seg, aggregation)
        assert np.array_equal(seg, snap)
    raises_type("segment_ids", seg_call, kw, good.astype(np.float64), aggregation)
    raises_type("segment_ids", seg_call, kw, np.array(["a"] * 20), aggregation)
    # 2-D input: the rows are the sequences, segment_ids make no sense
    kw2 = make_batch(rng, (4, 5), np.float64)
    raises_invalid("segment_ids", seg_call, kw2, good, aggregation)
    raises_invalid("segment_ids", seg_call, kw2, good.reshape(4, 5), aggregation)


def test_huge_segment_ids():
    """Segment ids are labels: a batch of 3 samples with a large id must give the same result
    as with compact ids, or be rejected as InvalidArgumentError naming segment_ids -- never a
    crash, a MemoryError or an anonymous error. Run in a subprocess with a 6 GiB address-space
    limit, so that an implementation that allocates per possible id cannot hurt the machine."""
    code = textwrap.dedent(
        """
        import resource
        resource.setrlimit(resource.RLIMIT_AS, (6 << 30, 6 << 30))
        import numpy as np, ppobr_core as pc
        x = np.array([-1.0, -2.0, -0.5]); y = np.array([-1.1, -1.9, -0.5]); a = np.array([1.0, -1.0, 0.5])
        want = pc.clipped_surrogate(x, y, a, eps=0.2, segment_ids=np.array([0, 1, 0]),
                                    aggregation="seq-mean-token-mean").loss
        cases = [np.array([0, big, 0], dtype=np.int64) for big in (10**10, 10**12, 2**62, 2**63 - 1)]
        cases.append(np.array([0, 2**63 + 5, 0], dtype=np.uint64))
        for seg in cases:
            try:
                r = pc.clipped_surrogate(x, y, a, eps=0.2, segment_ids=seg, aggregation="seq-mean-token-mean")
                status = "ok" if abs(r.loss - want) <= 1e-12 * abs(want) else "WRONG %r != %r" % (r.loss, want)
            except pc.InvalidArgumentError as e:
                status = "ok" if e.argument == "segment_ids" else "BAD ARGUMENT %r: %s" % (e.argument, e)
            except Exception as e:
                status = "BAD %s: %s" % (type(e).__name__, e)
            print(seg.dtype, int(seg[1]), status)
        print("done")
        """
    )
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, f"crashed (rc {p.returncode}):\n{p.stdout}\n{p.stderr}"
    assert "done" in p.stdout
    bad = [line for line in p.stdout.splitlines() if "BAD" in line or "WRONG" in line]
    assert not bad, "\n".join(bad)


# ---------------------------------------------------------------------------------------------
# Distributions


def test_categorical_bad_input(rng):
    logits = rng.normal(size=(5, 4))
    acts = np.array([0, 1, 2, 3, 0])
    snap_l, snap_a = logits.copy(), acts.copy()
    raises_invalid("logits", pc.categorical_logprob_entropy, logits[0], acts[:1])  # 1-D
    raises_invalid("logits", pc.categorical_logprob_entropy, logits.reshape(5, 2, 2), acts)  # 3-D
    raises_invalid(
        "logits", pc.categorical_logprob_entropy, np.zeros((0, 4)), np.zeros(0, dtype=np.int64)
    )
    raises_invalid("logits", pc.categorical_logprob_entropy, np.zeros((5, 0)), acts * 0)
    for bad in (math.nan, math.inf, -math.inf):
        for dtype in (np.float32, np.float64):
            x = logits.astype(dtype)
            x[3, 2] = bad
            raises_invalid("logits", pc.categorical_logprob_entropy, x, acts)
    raises_type("logits", pc.categorical_logprob_entropy, np.zeros((5, 4), dtype=np.int64), acts)
    raises_type("logits", pc.categorical_logprob_entropy, logits.astype(np.float16), acts)
    for bad_acts in (
        np.array([0, 1, 4, 3, 0]),
        np.array([0, -1, 2, 3, 0]),
        np.array([0, 1, 2, 3, 2**40]),
    ):
        raises_invalid("actions", pc.categorical_logprob_entropy, logits, bad_acts)
    raises_invalid("actions", pc.categorical_logprob_entropy, logits, acts[:4])
    raises_invalid("actions", pc.categorical_logprob_entropy, logits, acts.reshape(5, 1))
    raises_type("actions", pc.categorical_logprob_entropy, logits, acts.astype(np.float64))
    raises_invalid("num_threads", pc.categorical_logprob_entropy, logits, acts, num_threads=-2)
    assert np.array_equal(logits, snap_l) and np.array_equal(acts, snap_a)


def test_categorical_out_of_range_action_in_large_batch(rng):
    logits = rng.normal(size=(200_001, 3))
    acts = rng.integers(0, 3, size=200_001)
    acts[150_000] = 3
    for t in (1, 2, 8):
        raises_invalid("actions", pc.categorical_logprob_entropy, logits, acts, num_threads=t)


def test_gaussian_bad_input():
    raises_invalid("log_std", pc.gaussian_entropy, np.zeros((2, 3, 4)))
    raises_invalid("log_std", pc.gaussian_entropy, np.float64(0.0))
    raises_type("log_std", pc.gaussian_entropy, np.zeros((2, 3), dtype=np.int32))
    raises_type("log_std", pc.gaussian_entropy, np.zeros((2, 3), dtype=np.float16))
    for bad in (math.nan, math.inf, -math.inf):
        x = np.zeros((4, 3))
        x[2, 1] = bad
        snap = x.copy()
        raises_invalid("log_std", pc.gaussian_entropy, x)
        assert np.array_equal(x, snap, equal_nan=True)


# ---------------------------------------------------------------------------------------------
# Controller configs


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        ({"eps0": 0.0}, "eps0"),
        ({"eps0": -0.2}, "eps0"),
        ({"eps0": math.nan}, "eps0"),
        ({"eps0": math.inf}, "eps0"),
        ({"lambda1": -0.1}, "lambda1"),
        ({"lambda1": math.nan}, "lambda1"),
        ({"lambda1": math.inf}, "lambda1"),
        ({"lambda2": -1e-12}, "lambda2"),
        ({"lambda2": math.nan}, "lambda2"),
        ({"lambda2": 1.5}, ("eps_min", "lambda2")),  # default eps_min = eps0 (1 - lambda2) < 0
        ({"window": 1}, "window"),
        ({"window": 0}, "window"),
        ({"window": -10}, "window"),
        ({"window": 10**12}, "window"),
        ({"psi_mode": "plateu"}, "psi_mode"),
        ({"psi_mode": ""}, "psi_mode"),
        ({"entropy_ref": 0.0}, ("entropy_ref", "entropy_floor")),
        ({"entropy_ref": -1.0}, ("entropy_ref", "entropy_floor")),
        ({"entropy_ref": 1.0, "entropy_floor": 1.0}, ("entropy_ref", "entropy_floor")),
        ({"entropy_ref": 1.0, "entropy_floor": 2.0}, ("entropy_ref", "entropy_floor")),
        ({"entropy_ref": math.nan}, "entropy_ref"),
        ({"entropy_ref": math.inf}, "entropy_ref"),
        ({"entropy_floor": math.nan}, "entropy_floor"),
        ({"entropy_floor": -math.inf}, "entropy_floor"),
        ({"eps_min": 0.3, "eps_max": 0.2}, ("eps_min", "eps_max")),
        ({"eps_min": 0.35}, ("eps_min", "eps_max")),  # above the default eps_max 0.3
        ({"eps_max": 0.1}, ("eps_min", "eps_max")),  # below the default eps_min 0.14
        ({"eps_min": -0.1}, "eps_min"),
        ({"eps_min": math.nan}, "eps_min"),
        ({"eps_max": math.nan}, "eps_max"),
        ({"eps_max": math.inf}, "eps_max"),
        ({"eps_max": -0.1}, ("eps_max", "eps_min")),
    ],
)
def test_ppobr_bad_config(kwargs, argument):
    raises_invalid(argument, pc.PPOBRController, **kwargs)


def test_ppobr_config_type_errors():
    with pytest.raises(TypeError):
        pc.PPOBRController(eps0="0.2")
    with pytest.raises(TypeError):
        pc.PPOBRController(window=2.5)
    with pytest.raises(TypeError):
        pc.PPOBRController(entropy_ref="log(4)")
    with pytest.raises(TypeError):
        pc.PPOBRController(psi_mode=1)


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        ({"eps": -1e-300}, "eps"),
        ({"eps": -0.1}, "eps"),
        ({"eps": math.nan}, "eps"),
        ({"eps": math.inf}, "eps"),
    ],
)
def test_constant_bad_config(kwargs, argument):
    raises_invalid(argument, pc.ConstantController, **kwargs)


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        ({"total_updates": 0}, "total_updates"),
        ({"total_updates": -5}, "total_updates"),
        ({"eps_start": -1e-300, "total_updates": 10}, "eps_start"),
        ({"eps_start": -0.2, "total_updates": 10}, "eps_start"),
        ({"eps_start": math.nan, "total_updates": 10}, "eps_start"),
        ({"eps_end": -0.01, "total_updates": 10}, "eps_end"),
        ({"eps_end": math.nan, "total_updates": 10}, "eps_end"),
        ({"eps_end": math.inf, "total_updates": 10}, "eps_end"),
    ],
)
def test_linear_decay_bad_config(kwargs, argument):
    raises_invalid(argument, pc.LinearDecayController, **kwargs)


def test_linear_decay_requires_total_updates():
    with pytest.raises(TypeError, match=r"^total_updates: is required$"):
        pc.LinearDecayController(0.2, 0.0)
    with pytest.raises(TypeError, match=r"^total_updates: is keyword-only"):
        pc.LinearDecayController(0.2, 0.0, 10)


def test_zero_is_a_valid_clip_range_where_eps_is_a_value():
    """eps = 0 clips the ratio to exactly 1: valid for the constant and the linear schedule
    (values, not factors); the rules that scale eps still need a positive start."""
    c = pc.ConstantController(eps=0.0)
    assert c.epsilon == 0.0 and c.update() == 0.0
    lin = pc.LinearDecayController(0.0, 0.0, total_updates=3)
    assert [lin.update() for _ in range(4)] == [0.0] * 4
    up = pc.LinearDecayController(eps_start=0.0, eps_end=0.3, total_updates=3)
    assert up.update() == 0.0 and up.update() > 0.0
    assert pc.PPOBRController(eps_min=0.0).config["eps_min"] == 0.0
    for ctor, kw, why in [
        (pc.PPOBRController, {"eps0": 0.0}, "ConstantController"),
        (pc.KLAdaptiveController, {"eps0": 0.0}, "product with 0"),
        (pc.KLAdaptiveController, {"eps_min": 0.0}, "product with 0"),
    ]:
        e = raises_invalid(next(iter(kw)), ctor, **kw)
        assert why in str(e), str(e)


# Every constructor and function answers a missing or wrong argument with a TypeError that
# names it: never pybind11's raw "incompatible constructor arguments".
RAW_PYBIND11 = "incompatible"


@pytest.mark.parametrize(
    "call,message",
    [
        (lambda: pc.LinearDecayController(0.2, 0.0), "total_updates: is required"),
        (
            lambda: pc.LinearDecayController(total_updates="10"),
            "total_updates: expected an integer, got str",
        ),
        (
            lambda: pc.LinearDecayController(total_updates=2.0),
            "total_updates: expected an integer, got float",
        ),
        (lambda: pc.PPOBRController(window="10"), "window: expected an integer, got str"),
        (lambda: pc.PPOBRController(window=True), "window: expected an integer, got bool"),
        (lambda: pc.PPOBRController(eps0=None), "eps0: expected a real number, got NoneType"),
        (lambda: pc.PPOBRController(psi_mode=1), "psi_mode: expected a string, got int"),
        (lambda: pc.PPOBRController(lambda1=[0.5]), "lambda1: expected a real number, got list"),
        (lambda: pc.PPOBRController(0.2, eps0=0.2), "eps0: given twice"),
        (lambda: pc.PPOBRController(epsilon0=0.2), "epsilon0: unexpected keyword argument"),
        (lambda: pc.PPOBRController(*([0.2] * 10)), "PPOBRController: takes at most 9 positional"),
        (lambda: pc.ConstantController("0.2"), "eps: expected a real number, got str"),
        (lambda: pc.ConstantController(0.2, 0.3), "ConstantController: takes at most 1 positional"),
        (lambda: pc.KLAdaptiveController(rate=[1.5]), "rate: expected a real number, got list"),
        (lambda: pc.KLAdaptiveController(kl=0.01), "kl: unexpected keyword argument"),
        (lambda: pc.PPOBRController().update(1.0, [1.0], 0.01), "kl: is keyword-only"),
        (
            lambda: pc.PPOBRController().update(entropy=1.0, returns=[1.0]),
            "returns: unexpected keyword",
        ),
        (lambda: pc.PPOBRController().load_state_dict(), "state_dict: is required"),
        (lambda: pc.load_controller(), "state_dict: is required"),
        (
            lambda: pc.load_controller([1]),
            "state_dict: expected the dict from state_dict() or its 'state' bytes, got list",
        ),
        (
            lambda: pc.clipped_surrogate(
                np.zeros(3), np.zeros(3), np.zeros(3), eps=0.2, out=[0.0] * 3
            ),
            "out: expected a NumPy array, got list",
        ),
        (lambda: pc.gaussian_entropy(), "log_std: is required"),
        (lambda: pc.categorical_logprob_entropy(np.zeros((2, 2))), "actions: is required"),
        (
            lambda: pc.categorical_logprob_entropy(np.zeros((2, 2)), np.zeros(2, np.int64), 1),
            "num_threads: is keyword-only",
        ),
        (
            lambda: pc.categorical_logprob_entropy(
                np.zeros((2, 2)), np.zeros(2, np.int64), num_threads=1.0
            ),
            "num_threads: expected an integer, got float",
        ),
        (lambda: pc.clipped_surrogate(np.zeros(3), np.zeros(3)), "advantages: is required"),
        (
            lambda: pc.clipped_surrogate(np.zeros(3), np.zeros(3), np.zeros(3), 0.2),
            "eps: is keyword-only",
        ),
        (
            lambda: pc.clipped_surrogate(
                np.zeros(3), np.zeros(3), np.zeros(3), eps=0.2, epsilon=0.2
            ),
            "epsilon: unexpected keyword argument",
        ),
        (
            lambda: pc.clipped_surrogate(
                np.zeros(3), np.zeros(3), np.zeros(3), eps=0.2, num_threads="1"
            ),
            "num_threads: expected an integer, got str",
        ),
        (
            lambda: pc.clipped_surrogate(
                np.zeros(3), np.zeros(3), np.zeros(3), eps=0.2, aggregation=1
            ),
            "aggregation: expected a string, got int",
        ),
    ],
)
def test_wrong_or_missing_arguments_are_named_type_errors(call, message):
    with pytest.raises(TypeError) as e:
        call()
    assert str(e.value).startswith(message), str(e.value)
    assert RAW_PYBIND11 not in str(e.value)


def test_keyword_arguments_still_work_everywhere():
    assert pc.PPOBRController(0.2, 0.5, 0.3, 10, "plateau", None, 0.0, None, None).epsilon == 0.2
    assert pc.PPOBRController(window=np.int64(4), eps0=np.float32(0.25)).config["window"] == 4.0
    assert (
        pc.LinearDecayController(0.3, 0.1, total_updates=np.int32(2)).config["total_updates"] == 2.0
    )
    assert pc.KLAdaptiveController(0.2, 0.01, 1.5, 1.5, 0.02, 0.5).epsilon == 0.2
    k = pc.KLAdaptiveController()
    assert k.update(None, None, kl=1.0) == pytest.approx(0.2 / 1.5)
    restored = pc.load_controller(state_dict=k.state_dict())
    restored.load_state_dict(state_dict=k.state_dict())
    assert restored.epsilon == k.epsilon


@pytest.mark.parametrize(
    "kwargs,argument",
    [
        ({"eps0": 0.0}, ("eps0", "eps_min")),
        ({"eps0": -0.1}, ("eps0", "eps_min")),
        ({"eps0": math.nan}, "eps0"),
        ({"kl_target": 0.0}, "kl_target"),
        ({"kl_target": -0.01}, "kl_target"),
        ({"kl_target": math.inf}, "kl_target"),
        ({"tolerance": 1.0}, "tolerance"),
        ({"tolerance": 0.5}, "tolerance"),
        ({"tolerance": math.nan}, "tolerance"),
        ({"rate": 1.0}, "rate"),
        ({"rate": 0.9}, "rate"),
        ({"rate": math.inf}, "rate"),
        ({"eps_min": 0.0}, "eps_min"),
        ({"eps_min": -0.1}, "eps_min"),
        ({"eps_min": 0.6, "eps_max": 0.5}, ("eps_min", "eps_max")),
        ({"eps_max": math.nan}, "eps_max"),
        ({"eps0": 0.6}, ("eps0", "eps_max")),  # outside [eps_min, eps_max]
        ({"eps0": 0.01}, ("eps0", "eps_min")),
    ],
)
def test_kl_adaptive_bad_config(kwargs, argument):
    raises_invalid(argument, pc.KLAdaptiveController, **kwargs)


# ---------------------------------------------------------------------------------------------
# Controller updates and state


def ready_controllers():
    p = pc.PPOBRController(window=3)
    for H, r in [(1.0, [1.0]), (0.8, [2.0, 3.0]), (0.9, [5.0])]:
        p.update(H, r)
    k = pc.KLAdaptiveController()
    k.update(kl=0.1)
    lin = pc.LinearDecayController(total_updates=5)
    lin.update()
    c = pc.ConstantController()
    c.update()
    return [p, c, lin, k]


def continues_like(ctrl, sd):
    """ctrl still holds state sd, and continues exactly like a controller restored from it."""
    assert ctrl.state_dict() == sd
    twin = pc.load_controller(sd)
    for H, r, kl in [(0.7, [4.0], 0.001), (1.2, [], 0.05), (0.3, [2.0, 8.0], 0.01)]:
        assert ctrl.update(H, r, kl=kl) == twin.update(H, r, kl=kl)
        assert ctrl.diagnostics == twin.diagnostics


@pytest.mark.parametrize("idx", range(4))
def test_update_type_errors_keep_state(idx):
    ctrl = ready_controllers()[idx]
    sd = ctrl.state_dict()
    bad_calls = [
        dict(entropy="high"),
        dict(entropy=["a", "b"]),
        dict(entropy=[object()]),
        dict(entropy=np.array([True, False])),
        dict(entropy=np.array([1 + 2j])),
        dict(entropy=1.0, episode_returns=["a", "b"]),
        dict(entropy=1.0, episode_returns=[object()]),
        dict(entropy=1.0, episode_returns=np.array([1 + 2j])),
        dict(entropy=1.0, episode_returns=[1.0], kl="small"),
    ]
    for kw in bad_calls:
        with pytest.raises(TypeError):
            ctrl.update(**kw)
        assert ctrl.state_dict() == sd, kw
    continues_like(ctrl, sd)


def test_numeric_strings_are_not_numbers():
    """A str is a wrong type everywhere (as eps0="0.2" already is): entropy="1.5" or
    entropy_ref="1.0" must raise TypeError, not be parsed as a float."""
    with pytest.raises(TypeError):
        pc.PPOBRController(eps0="0.2")
    for kwargs in ({"entropy_ref": "1.0"}, {"eps_min": "0.1"}, {"eps_max": "0.3"}):
        with pytest.raises(TypeError):
            pc.PPOBRController(**kwargs)
    for idx in range(4):
        ctrl = ready_controllers()[idx]
        sd = ctrl.state_dict()
        for kw in (dict(entropy="1.5"), dict(entropy=1.0, kl="0.01")):
            with pytest.raises(TypeError):
                ctrl.update(**kw)
            assert ctrl.state_dict() == sd


def test_kl_adaptive_missing_kl():
    k = pc.KLAdaptiveController()
    k.update(kl=0.1)
    sd = k.state_dict()
    raises_invalid("kl", k.update, 1.0, [1.0])
    raises_invalid("kl", k.update)
    assert k.state_dict() == sd
    continues_like(k, sd)


def test_ppobr_rejects_first_entropy_at_floor_and_stays_usable():
    c = pc.PPOBRController(window=2, entropy_floor=0.5)
    sd = c.state_dict()
    for H in (0.5, 0.1, -3.0):
        raises_invalid("entropy_ref", c.update, H, [1.0, 2.0])
        assert c.state_dict() == sd
    continues_like(c, sd)


def test_ppobr_explicit_bounds_not_containing_eps0():
    """docs/SPEC.md: eps_t in [eps_min, eps_max] for every input sequence. With explicit bounds that
    exclude eps0, either the config is rejected or every returned eps (including the one an
    update with a NaN entropy returns before any accepted update) lies within the bounds."""
    for eps_min, eps_max in ((0.25, 0.3), (0.05, 0.1)):
        try:
            c = pc.PPOBRController(eps0=0.2, eps_min=eps_min, eps_max=eps_max)
        except pc.InvalidArgumentError as e:
            assert e.argument in ("eps0", "eps_min", "eps_max")
            continue
        got = [c.epsilon, c.update(math.nan, [1.0]), c.update(None), c.update(1.0, [1.0])]
        assert all(eps_min <= e <= eps_max for e in got), (eps_min, eps_max, got)


def all_state_bytes():
    return [(type(c), c.state_dict()["state"]) for c in ready_controllers()]


@pytest.mark.parametrize("idx", range(4))
def test_truncated_state_bytes(idx):
    cls, blob = all_state_bytes()[idx]
    ctrl = ready_controllers()[idx]
    sd = ctrl.state_dict()
    for n in range(len(blob)):
        with pytest.raises(ValueError) as e:
            ctrl.load_state_dict(blob[:n])
        assert isinstance(e.value, pc.InvalidArgumentError) and e.value.argument == "state"
        with pytest.raises(ValueError):
            pc.load_controller({"controller": ctrl.name, "state": blob[:n]})
        assert ctrl.state_dict() == sd
    continues_like(ctrl, sd)


@pytest.mark.parametrize("idx", range(4))
def test_corrupted_state_bytes(idx):
    cls, blob = all_state_bytes()[idx]
    ctrl = ready_controllers()[idx]
    sd = ctrl.state_dict()
    for i in range(len(blob)):
        for flip in (0x01, 0x80, 0xFF):
            bad = bytearray(blob)
            bad[i] ^= flip
            with pytest.raises(ValueError) as e:
                ctrl.load_state_dict(bytes(bad))
            assert isinstance(e.value, pc.InvalidArgumentError) and e.value.argument == "state", (
                i,
                flip,
            )
            with pytest.raises(ValueError):
                pc.load_controller(bytes(bad))
    assert ctrl.state_dict() == sd
    for extra in (b"\x00", b"garbage", blob):
        with pytest.raises(ValueError):
            ctrl.load_state_dict(blob + extra)
    for junk in (b"", b"\x00" * 64, bytes(range(256)), b"ppobr"):
        with pytest.raises(ValueError):
            ctrl.load_state_dict(junk)
        with pytest.raises(ValueError):
            pc.load_controller(junk)
    assert ctrl.state_dict() == sd
    continues_like(ctrl, sd)


def test_random_garbage_state_never_crashes():
    rng = np.random.default_rng(1234)
    _, blob = all_state_bytes()[0]
    for _ in range(300):
        n = int(rng.integers(0, 2 * len(blob)))
        junk = rng.integers(0, 256, size=n, dtype=np.uint8).tobytes()
        if n >= 8 and rng.random() < 0.5:
            junk = blob[:8] + junk[8:]  # a valid-looking header
        with pytest.raises(ValueError):
            pc.load_controller(junk)


@pytest.mark.parametrize("idx", range(4))
def test_state_dict_of_another_controller_type(idx):
    ctrls = ready_controllers()
    ctrl = ctrls[idx]
    sd = ctrl.state_dict()
    for j, other in enumerate(ctrls):
        if j == idx:
            continue
        raises_invalid("state_dict", ctrl.load_state_dict, other.state_dict())
        raises_invalid("state_dict", ctrl.load_state_dict, other.state_dict()["state"])
        assert ctrl.state_dict() == sd
        # pickle of the wrong class: the restore is refused too
        with pytest.raises(ValueError):
            type(ctrl).__setstate__(type(ctrl).__new__(type(ctrl)), other.state_dict()["state"])
    continues_like(ctrl, sd)


def test_malformed_state_dict_objects():
    ctrl = ready_controllers()[0]
    sd = ctrl.state_dict()
    raises_invalid("state_dict", ctrl.load_state_dict, {"controller": "ppobr"})
    raises_invalid("state_dict", pc.load_controller, {})
    for bad in (None, 5, "ppobr", ["x"], {"state": "not bytes"}, {"state": None}):
        with pytest.raises(TypeError):
            ctrl.load_state_dict(bad)
        with pytest.raises(TypeError):
            pc.load_controller(bad)
    assert ctrl.state_dict() == sd
    continues_like(ctrl, sd)


@pytest.mark.parametrize("idx", range(4))
def test_bad_entropy_arrays_keep_state(idx):
    """Per-step entropies are a 1-D array: an empty one or one with more dimensions is an
    InvalidArgumentError naming entropy, and the controller is left as it was."""
    ctrl = ready_controllers()[idx]
    sd = ctrl.state_dict()
    e = raises_invalid("entropy", ctrl.update, np.array([]), [1.0], kl=0.01)
    assert str(e) == "entropy: empty array (pass a number or at least one per-step entropy)"
    raises_invalid("entropy", ctrl.update, [], [1.0], kl=0.01)
    e = raises_invalid("entropy", ctrl.update, np.ones((2, 3)), [1.0], kl=0.01)
    assert (
        str(e) == "entropy: expected a number or a 1-D array of per-step values, got 2 dimensions"
    )
    assert ctrl.state_dict() == sd
    continues_like(ctrl, sd)


SEQ_AGGREGATIONS = ["seq-mean-token-mean", "seq-mean-token-sum"]


@pytest.mark.parametrize("aggregation", SEQ_AGGREGATIONS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_sequence_aggregation_of_a_1d_batch_requires_segment_ids(aggregation, dtype, rng):
    """A 1-D batch without segment_ids has no sequences: a seq-mean aggregation used to equal
    token-mean silently; now it names segment_ids. The same data as one [1, N] row is one
    sequence, and token-mean never needs ids."""
    kw = make_batch(rng, (40,), dtype, entropy=True, mask="float")
    e = raises_invalid("segment_ids", surrogate, kw, aggregation=aggregation)
    assert str(e) == (
        f"segment_ids: is required for aggregation '{aggregation}' on a 1-D batch (pass "
        "segment_ids, or a 2-D [batch, tokens] batch whose rows are the sequences)"
    )
    row = {k: v.reshape(1, -1) for k, v in kw.items()}
    one_sequence = surrogate(row, aggregation=aggregation)
    token_mean = surrogate(kw, aggregation="token-mean")
    if aggregation == "seq-mean-token-mean":
        assert one_sequence.loss == pytest.approx(token_mean.loss, rel=1e-5)
    else:
        total_weight = float(np.sum(kw["mask"], dtype=np.float64))
        assert one_sequence.loss == pytest.approx(token_mean.loss * total_weight, rel=1e-4)
    # a stride-0 row (x[None]) is still a 2-D batch
    assert (
        surrogate({k: v[None] for k, v in kw.items()}, aggregation=aggregation).loss
        == one_sequence.loss
    )
    ids = np.zeros(40, np.int64)
    assert surrogate(kw, aggregation=aggregation, segment_ids=ids).loss == pytest.approx(
        one_sequence.loss, rel=1e-5
    )
