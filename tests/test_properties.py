"""Property-based tests (hypothesis) of the guarantees in docs/SPEC.md.

- eps_t in [eps_min, eps_max] for every input sequence (NaN, +-Inf, empty return lists);
- eps non-decreasing in H and non-increasing in psi;
- lambda1 = lambda2 = 0 gives eps0 bit-exactly;
- the state round-trips mid-sequence and continues bit-identically;
- a rejected (non-finite entropy) update never corrupts the state;
- PPO-BR equals the pure-Python reference bit for bit on arbitrary sequences;
- clipped_surrogate is bitwise independent of the thread count, and float32 agrees with float64.
"""

import copy
import math
import pickle

import numpy as np
from assertions import assert_matches_reference, dict_bits, float_bits, result_bits
from batches import make_batch, shape_for
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from reference import AGGREGATIONS, STAT_NAMES, RefPPOBR, ref_surrogate

import ppobr_core as pc

# ---------------------------------------------------------------------------------------------
# Strategies

any_float = st.floats(allow_nan=True, allow_infinity=True)
entropies = st.one_of(
    st.none(),
    st.sampled_from([math.nan, math.inf, -math.inf]),
    st.floats(-10, 10),
    any_float,
)
returns_lists = st.one_of(
    st.none(),
    st.lists(
        st.one_of(
            st.floats(-1e3, 1e3), any_float, st.sampled_from([math.nan, math.inf, -math.inf])
        ),
        max_size=6,
    ),
)
observations = st.lists(st.tuples(entropies, returns_lists), max_size=40)


@st.composite
def ppobr_configs(draw, explicit_bounds=True, lambdas_zero=False):
    eps0 = draw(st.floats(1e-4, 1.0))
    if lambdas_zero:
        lambda1 = lambda2 = 0.0
    else:
        lambda1 = draw(st.one_of(st.just(0.0), st.floats(0.0, 5.0)))
        lambda2 = draw(st.one_of(st.just(0.0), st.floats(0.0, 1.0)))
    cfg = dict(
        eps0=eps0,
        lambda1=lambda1,
        lambda2=lambda2,
        window=draw(st.integers(2, 12)),
        psi_mode=draw(st.sampled_from(["plateau", "progress"])),
    )
    floor = draw(st.one_of(st.just(0.0), st.floats(-20.0, 5.0)))
    cfg["entropy_floor"] = floor
    if draw(st.booleans()):
        cfg["entropy_ref"] = floor + draw(st.floats(1e-3, 20.0))
    if explicit_bounds and not lambdas_zero and draw(st.booleans()):
        # explicit bounds that contain eps0 (see test_controllers for bounds that do not)
        lo = eps0 * draw(st.floats(0.0, 1.0))
        hi = eps0 * draw(st.floats(1.0, 3.0))
        cfg["eps_min"], cfg["eps_max"] = lo, hi
    return cfg


def bounds_of(cfg):
    lo = cfg.get("eps_min", cfg["eps0"] * (1.0 - cfg["lambda2"]))
    hi = cfg.get("eps_max", cfg["eps0"] * (1.0 + cfg["lambda1"]))
    return lo, hi


def step(ctrl, H, rets):
    """One update; an InvalidArgumentError (only: first entropy at or below the floor) is
    returned as the argument name, after checking that it left the state untouched."""
    before = ctrl.state_dict()
    try:
        return ctrl.update(H, rets)
    except pc.InvalidArgumentError as e:
        assert ctrl.state_dict() == before
        return ("error", e.argument)


def ref_step(ref, H, rets):
    try:
        return ref.update(H, rets)
    except ValueError as e:
        return ("error", str(e))


def trace(ctrl, obs):
    out = []
    for H, rets in obs:
        r = step(ctrl, H, rets)
        out.append(r if isinstance(r, tuple) else float_bits(r))
        out.append(dict_bits(ctrl.diagnostics))
    return out


# ---------------------------------------------------------------------------------------------
# PPO-BR


@given(cfg=ppobr_configs(), obs=observations)
def test_ppobr_equals_reference_bitwise(cfg, obs):
    ctrl = pc.PPOBRController(**cfg)
    ref = RefPPOBR(**cfg)
    for t, (H, rets) in enumerate(obs):
        got = step(ctrl, H, rets)
        want = ref_step(ref, H, rets)
        if isinstance(want, tuple):
            assert got == want, t
        else:
            assert float_bits(got) == float_bits(want), (t, got, want)
        assert dict_bits(ctrl.diagnostics) == dict_bits(ref.diagnostics()), t


@given(cfg=ppobr_configs(), obs=observations)
def test_ppobr_epsilon_within_bounds(cfg, obs):
    ctrl = pc.PPOBRController(**cfg)
    lo, hi = bounds_of(cfg)
    assert ctrl.config["eps_min_effective"] == lo and ctrl.config["eps_max_effective"] == hi
    assert lo <= ctrl.epsilon <= hi
    for H, rets in obs:
        r = step(ctrl, H, rets)
        if not isinstance(r, tuple):
            assert lo <= r <= hi, (r, lo, hi)
            assert r == ctrl.epsilon
        assert lo <= ctrl.epsilon <= hi
        d = ctrl.diagnostics
        assert 0.0 <= d["phi"] <= 1.0 and 0.0 <= d["psi"] <= 1.0
        assert all(not math.isnan(d[k]) for k in d if k != "entropy_ref")


@given(cfg=ppobr_configs(explicit_bounds=False, lambdas_zero=True), obs=observations)
def test_ppobr_lambdas_zero_gives_eps0_bit_exactly(cfg, obs):
    ctrl = pc.PPOBRController(**cfg)
    e0 = float_bits(cfg["eps0"])
    assert float_bits(ctrl.epsilon) == e0
    for H, rets in obs:
        r = step(ctrl, H, rets)
        if not isinstance(r, tuple):
            assert float_bits(r) == e0
        assert float_bits(ctrl.epsilon) == e0


@given(
    cfg=ppobr_configs(),
    history=observations,
    H1=st.floats(-1e6, 1e6),
    H2=st.floats(-1e6, 1e6),
    rets=returns_lists,
)
def test_ppobr_epsilon_non_decreasing_in_entropy(cfg, history, H1, H2, rets):
    H1, H2 = min(H1, H2), max(H1, H2)
    ctrl = pc.PPOBRController(**cfg)
    for H, r in history:
        step(ctrl, H, r)
    a, b = copy.deepcopy(ctrl), copy.deepcopy(ctrl)
    ea, eb = step(a, H1, rets), step(b, H2, rets)
    assume(not isinstance(ea, tuple) and not isinstance(eb, tuple))
    assert ea <= eb, (H1, ea, H2, eb)
    assert a.diagnostics["phi"] <= b.diagnostics["phi"]


@given(
    cfg=ppobr_configs(),
    history=observations,
    H=st.floats(-20, 20),
    r1=st.lists(st.floats(-1e4, 1e4), min_size=12, max_size=14),
    r2=st.lists(st.floats(-1e4, 1e4), min_size=12, max_size=14),
)
def test_ppobr_epsilon_non_increasing_in_psi(cfg, history, H, r1, r2):
    """Same history, same entropy, two full windows of returns: the larger psi never gives
    the larger eps (compared through the diagnostics' psi)."""
    ctrl = pc.PPOBRController(**cfg)
    for h, r in history:
        step(ctrl, h, r)
    a, b = copy.deepcopy(ctrl), copy.deepcopy(ctrl)
    ea, eb = step(a, H, r1), step(b, H, r2)
    assume(not isinstance(ea, tuple) and not isinstance(eb, tuple))
    pa, pb = a.diagnostics["psi"], b.diagnostics["psi"]
    assert a.diagnostics["phi"] == b.diagnostics["phi"]
    if pa < pb:
        assert ea >= eb
    elif pa > pb:
        assert ea <= eb
    else:
        assert ea == eb


@given(
    half=st.integers(1, 6),
    d1=st.floats(0.0, 50.0),
    d2=st.floats(0.0, 50.0),
    lambda2=st.floats(0.0, 1.0),
    psi_mode=st.sampled_from(["plateau", "progress"]),
)
def test_ppobr_controlled_z(half, d1, d2, lambda2, psi_mode):
    """Windows [older pattern, older pattern + delta] with the pattern -1, +1, ...: the mean
    difference is delta and z = delta / sqrt(1 + delta^2 / 4) rises with delta. In "progress"
    mode psi = clip(z, 0, 1) rises with delta, so eps must not; in "plateau" mode
    psi = 1 - tanh|z| falls with delta, so eps must not fall."""
    d1, d2 = min(d1, d2), max(d1, d2)
    k = 2 * half
    pattern = [(-1.0) ** i for i in range(half)]

    def eps_for(delta):
        c = pc.PPOBRController(window=k, lambda2=lambda2, entropy_ref=1.0, psi_mode=psi_mode)
        eps = c.update(0.5, pattern + [x + delta for x in pattern])
        return eps, c.diagnostics["z"]

    (e1, z1), (e2, z2) = eps_for(d1), eps_for(d2)
    if d2 - d1 > 1e-9 * (1.0 + d2):  # z is monotone in delta up to rounding
        assert z1 <= z2
    # eps is monotone in psi, psi monotone in z (op by op, so exactly, rounding included)
    if z1 == z2:
        assert e1 == e2
    elif (z1 < z2) == (psi_mode == "progress"):
        assert e1 >= e2
    else:
        assert e1 <= e2


@given(
    cfg=ppobr_configs(),
    first=observations,
    second=observations,
    via=st.sampled_from(["dict", "bytes", "load", "pickle"]),
)
def test_ppobr_state_round_trip_mid_sequence(cfg, first, second, via):
    ctrl = pc.PPOBRController(**cfg)
    for H, rets in first:
        step(ctrl, H, rets)
    sd = ctrl.state_dict()
    if via == "dict":
        restored = pc.PPOBRController()
        restored.load_state_dict(sd)
    elif via == "bytes":
        restored = pc.PPOBRController(window=3, psi_mode="progress")
        restored.load_state_dict(sd["state"])
    elif via == "load":
        restored = pc.load_controller(sd)
    else:
        restored = pickle.loads(pickle.dumps(ctrl))
    assert restored.state_dict() == sd
    assert dict_bits(restored.config) == dict_bits(ctrl.config)
    assert trace(restored, second) == trace(ctrl, second)
    assert restored.state_dict() == ctrl.state_dict()


nonfinite_entropy = st.sampled_from([None, math.nan, math.inf, -math.inf, -math.nan])


@given(
    cfg=ppobr_configs(),
    obs=observations,
    inserts=st.lists(st.tuples(st.integers(0, 40), nonfinite_entropy, returns_lists), max_size=8),
)
def test_ppobr_rejected_updates_never_corrupt_state(cfg, obs, inserts):
    """A controller that also sees rejected (non-finite entropy) updates behaves exactly like
    one that never saw them, except for the rejected_entropy counter."""
    clean = pc.PPOBRController(**cfg)
    noisy = pc.PPOBRController(**cfg)
    at = {}
    for pos, H, rets in inserts:
        at.setdefault(min(pos, len(obs)), []).append((H, rets))
    rejected = 0
    for t in range(len(obs) + 1):
        for H, rets in at.get(t, []):
            eps = noisy.update(H, rets)
            rejected += 1
            assert float_bits(eps) == float_bits(clean.epsilon)
        a, b = dict(clean.diagnostics), dict(noisy.diagnostics)
        assert b.pop("rejected_entropy") == a.pop("rejected_entropy") + rejected
        assert dict_bits(a) == dict_bits(b)
        if t < len(obs):
            ra, rb = step(clean, *obs[t]), step(noisy, *obs[t])
            assert (ra if isinstance(ra, tuple) else float_bits(ra)) == (
                rb if isinstance(rb, tuple) else float_bits(rb)
            )


# ---------------------------------------------------------------------------------------------
# The surrogate kernel


surrogate_options = st.fixed_dictionaries(
    {
        "eps": st.sampled_from([(0.2, 0.2), (0.1, 0.3), (0.28, 0.2), (0.05, 0.05)]),
        "dual_clip": st.sampled_from([None, 1.5, 3.0]),
        "entropy": st.booleans(),
        "mask": st.sampled_from([None, "float", "bool"]),
        "aggregation": st.sampled_from(AGGREGATIONS),
    }
)


def call(kw, opts, **extra):
    el, eh = opts["eps"]
    ek = {"eps": el} if el == eh else {"eps_low": el, "eps_high": eh}
    seg = kw.get("segment_ids") if opts["aggregation"] != "token-mean" else None
    return pc.clipped_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        **ek,
        dual_clip=opts["dual_clip"],
        entropy=kw.get("entropy"),
        mask=kw.get("mask"),
        segment_ids=seg,
        aggregation=opts["aggregation"],
        **extra,
    )


def batch_for(seed, n, ndim, dtype, opts):
    rng = np.random.default_rng(seed)
    shape = shape_for(n, ndim) if ndim == 1 else (max(1, n // 97), min(n, 97))
    el, eh = opts["eps"]
    segs = int(rng.integers(1, 200)) if ndim == 1 else None
    return make_batch(
        rng,
        shape,
        dtype,
        eps_low=el,
        eps_high=eh,
        dual_clip=opts["dual_clip"],
        entropy=opts["entropy"],
        mask=opts["mask"],
        num_segments=segs,
    )


@settings(max_examples=20)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 300_000),
    ndim=st.sampled_from([1, 2]),
    dtype=st.sampled_from([np.float32, np.float64]),
    opts=surrogate_options,
)
def test_surrogate_bitwise_independent_of_threads(seed, n, ndim, dtype, opts):
    kw = batch_for(seed, n, ndim, dtype, opts)
    base = result_bits(call(kw, opts, num_threads=1))
    for t in (2, 3, 8):
        assert result_bits(call(kw, opts, num_threads=t)) == base, t


@settings(max_examples=40)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 20_000),
    ndim=st.sampled_from([1, 2]),
    opts=surrogate_options,
)
def test_surrogate_float32_agrees_with_float64(seed, n, ndim, opts):
    kw32 = batch_for(seed, n, ndim, np.float32, opts)
    kw64 = {k: (v.astype(np.float64) if v.dtype == np.float32 else v) for k, v in kw32.items()}
    r32, r64 = call(kw32, opts), call(kw64, opts)
    tol = 2e-6
    ref = ref_surrogate(
        kw64["logp_new"],
        kw64["logp_old"],
        kw64["advantages"],
        eps_low=opts["eps"][0],
        eps_high=opts["eps"][1],
        dual_clip=opts["dual_clip"],
        entropy=kw64.get("entropy"),
        mask=kw64.get("mask"),
        segment_ids=kw64.get("segment_ids") if opts["aggregation"] != "token-mean" else None,
        aggregation=opts["aggregation"],
    )
    assert abs(r32.loss - r64.loss) <= tol * ref["loss_scale"] + 1e-30, (r32.loss, r64.loss)
    assert r32.grad.dtype == np.float32 and r64.grad.dtype == np.float64
    g64 = r64.grad
    np.testing.assert_array_equal(r32.grad == 0, g64 == 0)
    np.testing.assert_allclose(r32.grad.astype(np.float64), g64, rtol=4 * tol, atol=1e-30)
    for k in STAT_NAMES:
        s = ref["scale"][k]
        assert abs(r32.sums[k] - r64.sums[k]) <= tol * max(s, abs(r64.sums[k])) + 1e-30, k
        assert abs(r32.counts[k] - r64.counts[k]) <= tol * max(r64.counts[k], 1.0), k


@settings(max_examples=40)
@given(
    seed=st.integers(0, 2**32 - 1),
    n=st.integers(1, 3000),
    ndim=st.sampled_from([1, 2]),
    dtype=st.sampled_from([np.float32, np.float64]),
    opts=surrogate_options,
)
def test_surrogate_matches_reference(seed, n, ndim, dtype, opts):
    kw = batch_for(seed, n, ndim, dtype, opts)
    res = call(kw, opts)
    ref = ref_surrogate(
        kw["logp_new"],
        kw["logp_old"],
        kw["advantages"],
        eps_low=opts["eps"][0],
        eps_high=opts["eps"][1],
        dual_clip=opts["dual_clip"],
        entropy=kw.get("entropy"),
        mask=kw.get("mask"),
        segment_ids=kw.get("segment_ids") if opts["aggregation"] != "token-mean" else None,
        aggregation=opts["aggregation"],
    )
    assert_matches_reference(res, ref, dtype, kw["logp_new"].shape)


@settings(max_examples=40)
@given(
    logits=st.lists(
        st.lists(st.floats(-1e6, 1e6), min_size=3, max_size=3), min_size=1, max_size=20
    ),
    shift=st.floats(-1e3, 1e3),
    data=st.data(),
)
def test_categorical_is_a_distribution(logits, shift, data):
    x = np.array(logits)
    a = np.array(data.draw(st.lists(st.integers(0, 2), min_size=len(x), max_size=len(x))))
    logp, ent = pc.categorical_logprob_entropy(x, a)
    assert np.all(np.isfinite(logp)) and np.all(np.isfinite(ent))
    assert np.all(logp <= 1e-9)
    assert np.all(ent >= -1e-9) and np.all(ent <= math.log(3) + 1e-9)
    # the log-probs of all actions of a row sum (as probabilities) to one
    cols = [pc.categorical_logprob_entropy(x, np.full(len(x), j))[0] for j in range(3)]
    np.testing.assert_allclose(np.exp(cols).sum(axis=0), 1.0, rtol=1e-12)
    lp2, en2 = pc.categorical_logprob_entropy(x + shift, a)
    np.testing.assert_allclose(lp2, logp, rtol=1e-9, atol=1e-9 * (1 + np.abs(x).max()))
    np.testing.assert_allclose(en2, ent, rtol=1e-9, atol=1e-9 * (1 + np.abs(x).max()))
