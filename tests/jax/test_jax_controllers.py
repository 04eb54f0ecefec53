"""ppobr_jax's controllers against the C++ order of operations, bit for bit.

Three implementations are driven with the same random sequences (NaN / +-Inf entropies and
returns, empty updates, constant returns, huge magnitudes):

- ppobr_jax (jitted, the state carried through lax.scan),
- tests/reference.py's RefPPOBR (the oracle): controllers.cpp transcribed in Python floats, with
  either tanh (math.tanh = the C library's, as the core today; fdlibm_tanh = the portable one),
- ppobr_core (when its native module is importable).

The claims checked: JAX == Python reference with the portable tanh, exactly (float64);
the Python reference with the C library's tanh == ppobr_core, exactly (so the reference
follows the C++ operation order); JAX == ppobr_core exactly except where the two tanh
implementations differ in the last bit (about 3 updates in 10,000); float32: exactly the
float32 evaluation of the same steps with fdlibm's tanhf, and within 1 ulp of the float32
evaluation with the C library's tanhf.
"""

import ctypes
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from assertions import float_bits as bits64
from assertions import ulp_distance32
from conftest import core_or_none, x32, x64
from fdlibm import fdlibm_tanh, freebsd_tanhf
from hypothesis import given
from hypothesis import strategies as st
from reference import RefKLAdaptive, RefLinearDecay, RefPPOBR

import ppobr_jax as pj

# ---------------------------------------------------------------------------------------------
# Random observation sequences


def gen_steps(rng, n, max_returns, scale):
    steps = []
    level = rng.normal(0.0, scale)
    for _ in range(n):
        u = rng.random()
        if u < 0.05:
            H = None
        elif u < 0.09:
            H = float(rng.choice([np.nan, np.inf, -np.inf]))
        else:
            H = float(rng.uniform(-0.2, 1.6))
        m = int(rng.integers(0, max_returns + 1))
        level += rng.normal(0.0, scale * 0.3)
        rets = list(rng.normal(level, scale * rng.uniform(0.01, 1.0), size=m))
        for i in range(m):
            v = rng.random()
            if v < 0.05:
                rets[i] = float(rng.choice([np.nan, np.inf, -np.inf]))
            elif v < 0.12 and i > 0:
                rets[i] = rets[i - 1]
        if rng.random() < 0.08:
            rets = [7.25] * m  # a constant window: std = 0
        steps.append((H, [float(x) for x in rets]))
    return steps


def pack(steps, max_returns, dtype):
    n = len(steps)
    H = np.array([np.nan if h is None else h for h, _ in steps], dtype)
    X = np.zeros((n, max(max_returns, 1)), dtype)
    M = np.zeros((n, max(max_returns, 1)), bool)
    for i, (_, r) in enumerate(steps):
        X[i, : len(r)] = r
        M[i, : len(r)] = True
    return H, X, M


def run_jax(cfg, H, X, M):
    def body(s, inp):
        e, s = pj.update(cfg, s, *inp)
        return s, e

    s, eps = jax.jit(lambda s, H, X, M: jax.lax.scan(body, s, (H, X, M)))(pj.init(cfg), H, X, M)
    return np.asarray(eps), s


def run_ref(kw, steps, T=float, tanh=math.tanh):
    ref = RefPPOBR(**kw, dtype=T, tanh=tanh)
    out = []
    for h, r in steps:
        try:
            out.append(ref.update(h, r))
        except ValueError:
            out.append(ref.epsilon)
    return np.array(out, dtype=np.float64 if T is float else T), ref


def run_core(core, kw, steps):
    ctl = core.PPOBRController(**kw)
    out, raised = [], []
    for h, r in steps:
        try:
            out.append(ctl.update(h, r))
            raised.append(False)
        except core.InvalidArgumentError as e:
            assert e.argument == "entropy_ref"
            out.append(ctl.epsilon)
            raised.append(True)
    return np.array(out), np.array(raised), ctl


CASES = [
    # (config, returns scale, max returns per update, steps)
    (dict(), 100.0, 6, 160),
    (dict(entropy_ref=1.0), 1.0, 3, 160),
    (dict(window=3, psi_mode="progress", entropy_ref=0.7, entropy_floor=-0.1), 1e3, 2, 160),
    (dict(window=11, lambda1=1.3, lambda2=0.9, eps0=0.1), 1e-3, 20, 120),
    (dict(window=2, lambda1=0.0, lambda2=0.0), 10.0, 1, 60),  # plain PPO: eps0 exactly
    (dict(window=100, eps_min=0.05, eps_max=0.4), 1e150, 40, 60),  # loop path, overflow
    (dict(window=4, psi_mode="progress", lambda2=1.5, eps_min=0.01), 1e300, 5, 80),  # inf stats
]


def _case_id(case):
    cfg, scale, m, n = case
    return ",".join(f"{k}={v}" for k, v in cfg.items()) + f",scale={scale:g}" or "defaults"


@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_ppobr_float64_bit_exact(case, rng):
    kw, scale, max_returns, n = case
    steps = gen_steps(rng, n, max_returns, scale)
    with x64():
        cfg = pj.ppobr_config(**kw)
        H, X, M = pack(steps, max_returns, np.float64)
        eps_jax, state = run_jax(cfg, H, X, M)
    eps_port, ref_port = run_ref(kw, steps, float, fdlibm_tanh)
    eps_libm, ref_libm = run_ref(kw, steps, float, math.tanh)

    # JAX == the C++ steps with the portable tanh, bit for bit
    assert [bits64(x) for x in eps_jax] == [bits64(x) for x in eps_port]
    # the bounds, for every input sequence
    lo, hi = cfg.eps_min_effective, cfg.eps_max_effective
    assert np.all((eps_jax >= lo) & (eps_jax <= hi))
    if kw.get("lambda1") == 0.0 and kw.get("lambda2") == 0.0:
        assert np.all(eps_jax == cfg.eps0)
    # the final state
    assert int(state.count) == ref_port.count and int(state.head) == ref_port.head
    assert int(state.updates) == ref_port.updates
    assert int(state.rejected_entropy) == ref_port.rejected_entropy
    assert int(state.dropped_returns) == ref_port.dropped_returns
    assert int(state.rejected_entropy_ref) == ref_port.rejected_entropy_ref
    assert [bits64(x) for x in np.asarray(state.returns)] == [bits64(x) for x in ref_port.returns]
    for name in ("phi", "psi", "entropy", "z"):
        assert bits64(getattr(state, "last_" + name)) == bits64(getattr(ref_port, "last_" + name))

    # ... and with the C library's tanh (what ppobr_core computes today) the two references can
    # differ only in the last bits, rarely
    differ = eps_port != eps_libm
    assert np.mean(differ) < 0.05
    np.testing.assert_allclose(eps_port, eps_libm, rtol=4e-16, atol=0)

    core = core_or_none()
    if core is not None:
        eps_core, raised, ctl = run_core(core, kw, steps)
        # the reference follows the C++ operation order exactly
        assert [bits64(x) for x in eps_core] == [bits64(x) for x in eps_libm] or [
            bits64(x) for x in eps_core
        ] == [bits64(x) for x in eps_port]
        assert np.array_equal(
            np.cumsum(raised), np.asarray(jax.device_get(run_jax_counters(cfg, steps, max_returns)))
        )
        d = ctl.diagnostics
        assert d["updates"] == int(state.updates)
        assert d["rejected_entropy"] == int(state.rejected_entropy)
        assert d["dropped_returns"] == int(state.dropped_returns)
        assert d["num_returns"] == int(state.count)


def run_jax_counters(cfg, steps, max_returns):
    """rejected_entropy_ref after each update (the updates where the core raised)."""
    with x64():
        H, X, M = pack(steps, max_returns, np.float64)

        def body(s, inp):
            _, s = pj.update(cfg, s, *inp)
            return s, s.rejected_entropy_ref

        return jax.jit(lambda s: jax.lax.scan(body, s, (H, X, M))[1])(pj.init(cfg))


def _tanh_sensitive_entropies(n, href=1.0, eps0=0.2, lambda1=0.5):
    """Entropies whose first PPO-BR update (no returns yet, so psi = 0 and
    eps = eps0 * ((1 + lambda1 tanh(H / href)) - lambda2 tanh(0))) differs between the C
    library's tanh and the portable one: the inputs on which bit-exactness with ppobr_core
    depends on which tanh the core uses."""
    rng = np.random.default_rng(1234)
    found = []
    while len(found) < n:
        H = float(rng.uniform(0.0, href))
        phi = H / href
        if eps0 * (1.0 + lambda1 * math.tanh(phi)) != eps0 * (1.0 + lambda1 * fdlibm_tanh(phi)):
            found.append(H)
    return found


def test_ppobr_bit_exact_vs_core(core):
    """JAX == ppobr_core bit for bit, on inputs where the choice of tanh matters: the core uses
    the portable fdlibm tanh (cpp/src/portable_tanh.hpp), not the C library's."""
    kw = dict(entropy_ref=1.0)
    # where this machine's C library tanh and fdlibm's differ (if any), plus a plain grid
    Hs = _tanh_sensitive_entropies(6) + [float(h) for h in np.linspace(0.01, 1.5, 40)]
    with x64():
        cfg = pj.ppobr_config(**kw)
        first = jax.jit(jax.vmap(lambda h: pj.update(cfg, pj.init(cfg), h)[0]))
        eps_jax = [float(e) for e in first(jnp.asarray(Hs))]
    eps_core = [core.PPOBRController(**kw).update(H, []) for H in Hs]
    eps_port = [run_ref(kw, [(H, [])], float, fdlibm_tanh)[0][0] for H in Hs]
    assert eps_jax == eps_port
    assert eps_core == eps_jax


@pytest.mark.parametrize("case", CASES[:4], ids=[_case_id(c) for c in CASES[:4]])
def test_ppobr_float32(case, rng):
    """float32: exactly the float32 evaluation of the C++ steps with fdlibm's tanhf, and within
    1 ulp of it with the C library's tanhf."""
    kw, scale, max_returns, n = case
    scale = min(scale, 1e3)
    steps = gen_steps(rng, n, max_returns, scale)
    with x32():
        cfg = pj.ppobr_config(**kw)
        H, X, M = pack(steps, max_returns, np.float32)
        eps_jax, state = run_jax(cfg, H, X, M)
    assert eps_jax.dtype == np.float32
    steps32 = [(None if h is None else np.float32(h), [np.float32(x) for x in r]) for h, r in steps]
    eps_ref, _ = run_ref(kw, steps32, np.float32, freebsd_tanhf)
    assert eps_jax.tobytes() == eps_ref.tobytes()
    try:
        libm = ctypes.CDLL("libm.so.6")
    except OSError:
        return
    libm.tanhf.restype, libm.tanhf.argtypes = ctypes.c_float, [ctypes.c_float]
    eps_libm, _ = run_ref(kw, steps32, np.float32, lambda x: np.float32(libm.tanhf(float(x))))
    assert max(ulp_distance32(a, b) for a, b in zip(eps_jax, eps_libm)) <= 1


# ---------------------------------------------------------------------------------------------
# The other controllers


def test_linear_decay_and_constant():
    with x64():
        lin = pj.linear_decay(0.3, 0.05, total_updates=7)
        s = lin.init()
        f = jax.jit(lin.update)
        got = []
        for _ in range(12):
            e, s = f(s)
            got.append(float(e))
        ref = RefLinearDecay(0.3, 0.05, 7, dtype=float)
        assert [bits64(x) for x in got] == [bits64(ref.update()) for _ in range(12)]
        c = pj.constant(0.17)
        e, s2 = jax.jit(c.update)(c.init(), 0.3)
        assert float(e) == 0.17 and int(s2.updates) == 1
    with x32():
        s = lin.init()
        got32 = []
        for _ in range(12):
            e, s = jax.jit(lin.update)(s)
            got32.append(np.float32(e))
        ref = RefLinearDecay(0.3, 0.05, 7, dtype=np.float32)
        assert got32 == [ref.update() for _ in range(12)]
    core = core_or_none()
    if core is not None:
        cc = core.LinearDecayController(0.3, 0.05, total_updates=7)
        assert [bits64(cc.update(0.5)) for _ in range(12)] == [bits64(x) for x in got]


def test_linear_decay_bit_exact_vs_core(core, rng):
    """Every product of the decay is rounded before the sum, as in the core. (Inputs derived
    from an integer once let XLA's LLVM fuse them into an FMA: 0.2 -> 0 over 3 updates gave
    0.13333333333333333 instead of 0.13333333333333336.)"""
    configs = [(0.2, 0.0, 3)] + [
        (float(a), float(b), int(t))
        for a, b, t in zip(rng.uniform(0, 1, 12), rng.uniform(0, 1, 12), rng.integers(1, 30, 12))
    ]
    with x64():
        for eps_start, eps_end, total in configs:
            ctl = pj.linear_decay(eps_start, eps_end, total_updates=total)

            def body(s, _):
                e, s = ctl.update(s)
                return s, e

            _, scanned = jax.jit(lambda s: jax.lax.scan(body, s, None, length=total + 2))(
                ctl.init()
            )
            eps, s = [], ctl.init()
            for _ in range(total + 2):  # one call at a time (the update jitted on its own)
                e, s = ctl.update(s)
                eps.append(e)
            ref = core.LinearDecayController(eps_start, eps_end, total_updates=total)
            want = [bits64(ref.update()) for _ in range(total + 2)]
            assert [bits64(float(e)) for e in scanned] == want, (eps_start, eps_end, total)
            assert [bits64(float(e)) for e in eps] == want, (eps_start, eps_end, total)


def test_kl_adaptive(rng):
    kls = list(rng.lognormal(np.log(0.01), 1.2, size=80))
    for i in rng.choice(80, 8, replace=False):
        kls[i] = float(rng.choice([np.nan, np.inf, -np.inf]))
    kw = dict(eps0=0.2, kl_target=0.01, tolerance=1.5, rate=1.3, eps_min=0.03, eps_max=0.45)
    with x64():
        ctl = pj.kl_adaptive(**kw)

        def body(s, k):
            e, s = ctl.update(s, kl=k)
            return s, e

        s, eps = jax.jit(lambda s, k: jax.lax.scan(body, s, k))(ctl.init(), jnp.asarray(kls))
        with pytest.raises(ValueError, match="kl"):
            ctl.update(ctl.init(), 0.5)
    ref = RefKLAdaptive(**kw, dtype=float)
    assert [bits64(x) for x in np.asarray(eps)] == [bits64(ref.update(k)) for k in kls]
    assert int(s.rejected_kl) == ref.rejected_kl and int(s.updates) == ref.updates
    with x32():
        s32, eps32 = jax.jit(lambda s, k: jax.lax.scan(body, s, k))(
            ctl.init(), jnp.asarray(kls, jnp.float32)
        )
    ref32 = RefKLAdaptive(**kw, dtype=np.float32)
    assert np.asarray(eps32).tolist() == [float(ref32.update(np.float32(k))) for k in kls]
    core = core_or_none()
    if core is not None:
        cc = core.KLAdaptiveController(**kw)
        assert [bits64(cc.update(kl=k)) for k in kls] == [bits64(x) for x in np.asarray(eps)]
        assert cc.diagnostics["rejected_kl"] == int(s.rejected_kl)


# ---------------------------------------------------------------------------------------------
# jit / vmap / scan behaviour, API


def test_vmap_over_seeds_equals_single_runs(rng):
    """8 seeds' sequences through one vmapped, jitted scan == 8 separate runs, bit for bit."""
    seqs = [gen_steps(np.random.default_rng(s), 50, 4, 50.0) for s in range(8)]
    with x64():
        cfg = pj.ppobr_config(window=6, entropy_ref=1.2)
        packed = [pack(s, 4, np.float64) for s in seqs]
        H = np.stack([p[0] for p in packed])
        X = np.stack([p[1] for p in packed])
        M = np.stack([p[2] for p in packed])

        def run(H, X, M):
            def body(s, inp):
                e, s = pj.update(cfg, s, *inp)
                return s, e

            return jax.lax.scan(body, pj.init(cfg), (H, X, M))

        s_b, eps_b = jax.jit(jax.vmap(run))(H, X, M)
        single = jax.jit(run)
        for i in range(8):
            s_i, eps_i = single(H[i], X[i], M[i])
            assert np.asarray(eps_i).tobytes() == np.asarray(eps_b[i]).tobytes()
            for a, b in zip(
                jax.tree.leaves(s_i), jax.tree.leaves(jax.tree.map(lambda x: x[i], s_b))
            ):
                assert np.asarray(a).tobytes() == np.asarray(b).tobytes()


def test_no_retrace_and_bound_api():
    traces = []
    with x64():
        ctl = pj.ppobr(window=4, entropy_ref=1.0)

        @jax.jit
        def step(s, h, x, m):
            traces.append(1)
            return ctl.update(s, h, x, m)

        s = ctl.init()
        for i in range(6):
            e, s = step(
                s, 0.1 * i, jnp.asarray([i, i + 1.0, np.nan]), jnp.asarray([True, i % 2 == 0, True])
            )
        assert len(traces) == 1
        # the unbound functions give the same
        cfg = pj.ppobr_config(window=4, entropy_ref=1.0)
        s2 = pj.init(cfg)
        for i in range(6):
            e2, s2 = pj.update(
                cfg,
                s2,
                0.1 * i,
                jnp.asarray([i, i + 1.0, np.nan]),
                jnp.asarray([True, i % 2 == 0, True]),
            )
        assert float(e2) == float(e)
        d = ctl.diagnostics(s)
        core = core_or_none()
        if core is not None:  # the same diagnostics names, plus rejected_entropy_ref
            assert list(d)[:-1] == list(core.PPOBRController().diagnostics)
        assert float(d["dropped_returns"]) == 6.0 and float(d["num_returns"]) == 4.0


def test_mean_pairs_and_no_episode_updates():
    with x64():
        cfg = pj.ppobr_config(window=2, entropy_ref=2.0)
        s = pj.init(cfg)
        e1, s = pj.update(cfg, s, pj.Mean(3.0, 4.0))  # entropy 0.75, no returns
        e2, _ = pj.update(cfg, pj.init(cfg), 0.75)
        assert float(e1) == float(e2)
        e3, s3 = pj.update(cfg, s, pj.Mean(1.0, 0.0))  # count 0: NaN mean, rejected
        assert float(e3) == float(e1) and int(s3.rejected_entropy) == 1
        e4, s4 = pj.update(cfg, s, None, jnp.asarray([1.0, 2.0]))  # rejected: returns not added
        assert int(s4.count) == 0 and int(s4.rejected_entropy) == 1


def test_entropy_ref_rejection_is_counted():
    """The core raises InvalidArgument('entropy_ref') when the first entropy is <= floor; under
    jit the update is rejected instead, state unchanged, and counted."""
    with x64():
        cfg = pj.ppobr_config()
        e, s = jax.jit(lambda s: pj.update(cfg, s, -0.5, jnp.asarray([1.0])))(pj.init(cfg))
        assert float(e) == 0.2 and int(s.rejected_entropy_ref) == 1 and int(s.count) == 0
        assert not bool(s.has_entropy_ref)
        e, s = pj.update(cfg, s, 0.5, jnp.asarray([1.0]))
        assert bool(s.has_entropy_ref) and float(s.entropy_ref) == 0.5 and int(s.count) == 1


def test_state_of_another_window_is_refused():
    """Config checks: tests/jax/test_jax_input_rules.py (each against the core's exception)."""
    with x64():
        cfg = pj.ppobr_config(window=3)
        with pytest.raises(pj.InvalidArgumentError, match="state"):
            pj.update(cfg, pj.init(pj.ppobr_config(window=4)), 0.5)


# ---------------------------------------------------------------------------------------------
# Property-based: any sequence (NaN / Inf included) -> eps in [eps_min, eps_max], equal to the
# reference, non-decreasing in the entropy. One compiled function for every example.


_PROP_CFG = dict(window=4, entropy_ref=1.0)
_PROP_STEPS, _PROP_M = 12, 3
_floats = st.one_of(
    st.floats(-1e6, 1e6, allow_subnormal=False),
    st.sampled_from([np.nan, np.inf, -np.inf, 0.0, 1e300, -1e300]),
)
_steps = st.lists(
    st.tuples(st.one_of(st.none(), _floats), st.lists(_floats, max_size=_PROP_M)),
    min_size=1,
    max_size=_PROP_STEPS,
)
_prop_fn = {}


def _prop_runner():
    if "f" not in _prop_fn:
        cfg = pj.ppobr_config(**_PROP_CFG)

        def run(H, X, M, n, H_last_hi):
            def body(s, inp):
                e, s = pj.update(cfg, s, *inp)
                return s, (e, s)

            s0 = pj.init(cfg)
            s, (eps, states) = jax.lax.scan(body, s0, (H, X, M))
            # update n - 1 again, from the state before it, with a larger entropy
            before = jax.tree.map(lambda i, a: jnp.concatenate([i[None], a]), s0, states)
            prev = jax.tree.map(lambda a: a[n - 1], before)
            e_hi, _ = pj.update(cfg, prev, H_last_hi, X[n - 1], M[n - 1])
            return eps, e_hi

        _prop_fn["f"] = jax.jit(run)
        _prop_fn["cfg"] = cfg
    return _prop_fn["f"], _prop_fn["cfg"]


@given(steps=_steps, bump=st.floats(0.0, 2.0))
def test_ppobr_properties(steps, bump):
    with x64():
        f, cfg = _prop_runner()
        n = len(steps)
        padded = steps + [(np.nan, [])] * (_PROP_STEPS - n)  # rejected no-op updates
        H, X, M = pack(padded, _PROP_M, np.float64)
        H_last = H[n - 1]
        H_hi = H_last + bump if np.isfinite(H_last) else H_last
        eps, e_hi = f(jnp.asarray(H), jnp.asarray(X), jnp.asarray(M), n, H_hi)
    eps = np.asarray(eps)
    assert np.all((eps >= cfg.eps_min_effective) & (eps <= cfg.eps_max_effective))
    want, _ = run_ref(_PROP_CFG, steps, float, fdlibm_tanh)
    assert [bits64(x) for x in eps[:n]] == [bits64(x) for x in want]
    if np.isfinite(H_last):
        assert float(e_hi) >= eps[n - 1]  # non-decreasing in H
