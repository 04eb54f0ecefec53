"""categorical_logprob_entropy and gaussian_entropy against the float64 reference."""

import math

import numpy as np
import pytest
from batches import relayout
from reference import ref_categorical, ref_gaussian_entropy

import ppobr_core as pc

DTYPES = [np.float32, np.float64]


def tol(dtype):
    return 1e-12 if np.dtype(dtype) == np.float64 else 3e-6


def check_categorical(logits, actions, dtype, what=""):
    lsnap, asnap = np.array(logits, copy=True), np.array(actions, copy=True)
    logp, ent = pc.categorical_logprob_entropy(logits, actions)
    want_logp, want_ent = ref_categorical(logits, actions)
    n = np.shape(logits)[0]
    for out in (logp, ent):
        assert isinstance(out, np.ndarray) and out.dtype == np.dtype(dtype) and out.shape == (n,), (
            what
        )
    # absolute tolerance on the scale of the (max-shifted) logits
    spread = float(
        np.max(np.abs(np.asarray(logits, np.float64) - np.max(logits, axis=1, keepdims=True)))
    )
    atol = tol(dtype) * max(1.0, spread)
    np.testing.assert_allclose(
        logp.astype(np.float64), want_logp, rtol=tol(dtype), atol=atol, err_msg=f"{what} logp"
    )
    np.testing.assert_allclose(
        ent.astype(np.float64), want_ent, rtol=tol(dtype), atol=atol, err_msg=f"{what} entropy"
    )
    assert np.array_equal(np.asarray(logits), lsnap) and np.array_equal(np.asarray(actions), asnap)
    return logp, ent


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize(
    "shape", [(1, 1), (1, 2), (7, 3), (1000, 17), (4097, 5), (100003, 4), (64, 1000)]
)
def test_categorical_matches_reference(shape, dtype, rng):
    logits = (rng.normal(size=shape) * 3).astype(dtype)
    actions = rng.integers(0, shape[1], size=shape[0])
    logp, ent = check_categorical(logits, actions, dtype, str(shape))
    assert np.all(logp <= 1e-6)
    assert np.all(ent >= -1e-6) and np.all(ent <= math.log(shape[1]) + 1e-5)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("layout", ["strided", "reversed", "transposed", "fortran"])
def test_categorical_non_contiguous(layout, dtype, rng):
    logits = rng.normal(size=(257, 9)).astype(dtype)
    actions = rng.integers(0, 9, size=257)
    contiguous = pc.categorical_logprob_entropy(logits, actions)
    lv = relayout(logits, layout)
    av = relayout(actions, "strided" if layout != "reversed" else "reversed")
    assert not lv.flags.c_contiguous and not av.flags.c_contiguous
    logp, ent = check_categorical(lv, av, dtype, layout)
    np.testing.assert_allclose(logp, contiguous[0], rtol=tol(dtype), atol=tol(dtype))
    np.testing.assert_allclose(ent, contiguous[1], rtol=tol(dtype), atol=tol(dtype))


@pytest.mark.parametrize("adtype", [np.int64, np.int32, np.int8, np.uint8, np.uint64])
def test_categorical_action_dtypes(adtype, rng):
    logits = rng.normal(size=(50, 6))
    actions = rng.integers(0, 6, size=50)
    base = pc.categorical_logprob_entropy(logits, actions)
    for acts in (actions.astype(adtype), list(map(int, actions))):
        logp, ent = pc.categorical_logprob_entropy(logits, acts)
        assert np.array_equal(logp, base[0]) and np.array_equal(ent, base[1])


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_shift_invariance(dtype, rng):
    """Adding a constant to every logit of a row changes neither logp nor the entropy.

    Logits on a 2^-10 grid and shifts that are multiples of 2^-10 (small enough that
    logits + c stays exact in float32) make the shifted input exact, so only the kernel's
    rounding is measured."""
    N, A = 500, 11
    logits = (np.round(rng.normal(size=(N, A)) * 4 * 1024) / 1024).astype(dtype)
    actions = rng.integers(0, A, size=N)
    shifts = (np.round(rng.uniform(-2000, 2000, size=(N, 1)) * 1024) / 1024).astype(dtype)
    shifted = logits + shifts
    assert np.array_equal(
        shifted.astype(np.float64) - shifts.astype(np.float64), logits.astype(np.float64)
    )
    a = pc.categorical_logprob_entropy(logits, actions)
    b = pc.categorical_logprob_entropy(shifted, actions)
    t = 1e-12 if dtype == np.float64 else 2e-5
    np.testing.assert_allclose(b[0], a[0], rtol=t, atol=t * 16)
    np.testing.assert_allclose(b[1], a[1], rtol=t, atol=t * 16)
    check_categorical(shifted, actions, dtype, "shifted")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("width", [3, 276])
def test_categorical_logits_spanning_more_than_the_dtype_range(dtype, width):
    """Finite logits from -max to +max: x - max overflows to -inf, and the entropy's term
    exp(x - m) (x - m) was 0 * -inf = NaN (a fuzzer finding). Now the row is one-hot: entropy 0,
    log-prob 0 for the maximum and -inf (its probability underflows) for the others."""
    hi = np.finfo(dtype).max
    logits = np.zeros((2, width), dtype)
    logits[0, 0], logits[0, 1:] = hi, -hi
    logits[1, -1], logits[1, :-1] = 0.5 * hi, -hi
    logp, ent = pc.categorical_logprob_entropy(logits, np.array([0, 0]))
    assert not np.any(np.isnan(ent)) and np.all(ent == 0.0)
    assert logp[0] == 0.0 and logp[1] == -np.inf


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("big", [1e4, 1e20, 1e30])
def test_categorical_large_logits_stay_finite(big, dtype):
    logits = np.array(
        [
            [big, 0.0, -big],
            [big, big, big],
            [-big, -big, -big],
            [big, big - 1.0, 0.0] if big < 1e6 else [big, 0.5 * big, 0.0],
            [0.0, 0.0, big],
        ],
        dtype=dtype,
    )
    actions = np.array([0, 1, 2, 1, 0])
    logp, ent = pc.categorical_logprob_entropy(logits, actions)
    assert np.all(np.isfinite(logp)) and np.all(np.isfinite(ent))
    assert np.all(ent >= -1e-6) and np.all(ent <= math.log(3) + 1e-5)
    assert np.all(logp <= 1e-6)
    assert logp[0] == pytest.approx(0.0, abs=1e-6)
    assert ent[0] == pytest.approx(0.0, abs=1e-6)
    assert ent[1] == pytest.approx(math.log(3), rel=1e-6)
    assert ent[2] == pytest.approx(math.log(3), rel=1e-6)
    assert logp[1] == pytest.approx(-math.log(3), rel=1e-6)
    assert logp[4] == pytest.approx(-float(np.float64(dtype(big))), rel=1e-6)
    check_categorical(logits, actions, dtype, f"big={big}")


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_thread_count_is_bitwise_irrelevant(dtype, rng):
    logits = rng.normal(size=(60001, 7)).astype(dtype)
    actions = rng.integers(0, 7, size=60001)
    outs = [pc.categorical_logprob_entropy(logits, actions, num_threads=t) for t in (1, 2, 3, 8, 0)]
    for lp, en in outs[1:]:
        assert lp.tobytes() == outs[0][0].tobytes() and en.tobytes() == outs[0][1].tobytes()


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
@pytest.mark.parametrize("shape", [(1, 1), (7, 3), (1000, 6), (4097, 17)])
def test_gaussian_entropy_matches_reference(shape, dtype, rng):
    log_std = rng.uniform(-3, 1, size=shape).astype(dtype)
    snap = log_std.copy()
    ent = pc.gaussian_entropy(log_std)
    assert isinstance(ent, np.ndarray) and ent.dtype == np.dtype(dtype) and ent.shape == (shape[0],)
    t = tol(dtype)
    np.testing.assert_allclose(
        ent.astype(np.float64), ref_gaussian_entropy(log_std), rtol=t, atol=t * shape[1] * 4
    )
    assert np.array_equal(log_std, snap)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_gaussian_entropy_one_distribution_is_0d(dtype):
    log_std = np.array([0.0, -1.0, 0.5], dtype=dtype)
    ent = pc.gaussian_entropy(log_std)
    assert isinstance(ent, np.ndarray) and ent.shape == () and ent.dtype == np.dtype(dtype)
    want = -0.5 + 3 * (1 + math.log(2 * math.pi)) / 2
    assert float(ent) == pytest.approx(want, rel=tol(dtype))
    # the entropy of a standard normal, per dimension
    assert float(pc.gaussian_entropy(np.zeros(1))) == pytest.approx(
        0.5 * math.log(2 * math.pi * math.e), rel=1e-15
    )


@pytest.mark.parametrize("layout", ["strided", "reversed", "transposed", "fortran"])
def test_gaussian_entropy_non_contiguous(layout, rng):
    log_std = rng.normal(size=(33, 5))
    v = relayout(log_std, layout)
    np.testing.assert_allclose(
        pc.gaussian_entropy(v), ref_gaussian_entropy(log_std), rtol=1e-12, atol=1e-12
    )
    # a log_std shared by the whole batch (the usual state-independent parameter): stride 0
    shared = np.broadcast_to(log_std[:1], (33, 5))
    np.testing.assert_allclose(
        pc.gaussian_entropy(shared), ref_gaussian_entropy(shared), rtol=1e-12, atol=1e-12
    )


def test_gaussian_entropy_from_list():
    ent = pc.gaussian_entropy([[0.0, 0.0], [1.0, -1.0]])
    assert ent.dtype == np.float64
    np.testing.assert_allclose(ent, [1 + math.log(2 * math.pi)] * 2, rtol=1e-15)


@pytest.mark.parametrize("dtype", DTYPES, ids=["f32", "f64"])
def test_categorical_vector_tails(dtype, rng):
    """Action counts and batch sizes around SIMD widths, with unaligned (offset) rows."""
    for A in (1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 32, 33, 64, 65):
        for N in (1, 3, 8, 17, 513):
            buf = (rng.normal(size=(N, A + 1)) * 2).astype(dtype)
            logits = buf[:, 1:]  # rows start one element in
            actions = rng.integers(0, A, size=N)
            check_categorical(logits, actions, dtype, f"A={A} N={N}")
            ent = pc.gaussian_entropy(logits)
            np.testing.assert_allclose(
                ent.astype(np.float64),
                ref_gaussian_entropy(logits),
                rtol=tol(dtype),
                atol=tol(dtype) * A * 8,
            )
