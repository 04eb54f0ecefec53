"""ppobr_jax refuses bad configs and inputs exactly as ppobr_core does: the same exception type,
the same ``.argument`` and the same message text (docs/SPEC.md, "Input rules").

Each table row is one bad thing, given to ppobr_jax and to ppobr_core (the NumPy API); the two
exceptions are compared. The rows of ``RULE_CASES`` are rules decided for every binding (ε = 0
is a valid clip range, a required argument without a default, a wrong Python type, seq-mean-*
on a 1-D batch without segment_ids) whose text is spelled out here, as docs/SPEC.md states it.
"""

import math

import numpy as np
import pytest

import jax
import jax.numpy as jnp

import ppobr_jax as pj
from conftest import x32, x64

core = pytest.importorskip("ppobr_core")


def _raised(fn):
    """(type, .argument, message) of what fn raises; fails the test if it raises nothing."""
    try:
        fn()
    except (TypeError, ValueError) as e:
        return type(e), getattr(e, "argument", None), str(e)
    pytest.fail("no exception raised")


def _same(jax_fn, core_fn):
    got, want = _raised(jax_fn), _raised(core_fn)
    assert got == want
    return got


# ---------------------------------------------------------------------------------------------
# Controller configs


def _core_controller(kind, kw):
    return {
        "ppobr": core.PPOBRController,
        "constant": core.ConstantController,
        "linear_decay": core.LinearDecayController,
        "kl_adaptive": core.KLAdaptiveController,
    }[kind](**kw)


def _jax_controller(kind, kw):
    return getattr(pj, kind)(**kw)


NAN, INF = float("nan"), float("inf")

CONFIG_CASES = [
    ("ppobr", dict(eps0=0.0)),
    ("ppobr", dict(eps0=-0.2)),
    ("ppobr", dict(eps0=NAN)),
    ("ppobr", dict(eps0=INF)),
    ("ppobr", dict(lambda1=-1.0)),
    ("ppobr", dict(lambda1=NAN)),
    ("ppobr", dict(lambda2=-0.5)),
    ("ppobr", dict(window=1)),
    ("ppobr", dict(window=1_000_001)),
    ("ppobr", dict(psi_mode="nope")),
    ("ppobr", dict(entropy_ref=NAN)),
    ("ppobr", dict(entropy_floor=-INF)),
    ("ppobr", dict(entropy_ref=0.5, entropy_floor=0.5)),
    ("ppobr", dict(entropy_ref=0.3, entropy_floor=0.7)),
    ("ppobr", dict(eps_min=-0.1)),
    ("ppobr", dict(eps_max=0.0)),
    ("ppobr", dict(eps_max=NAN)),
    ("ppobr", dict(lambda2=1.5)),  # the default eps_min is negative
    ("ppobr", dict(eps0=10.0, lambda1=1e308)),  # the default eps_max overflows
    ("ppobr", dict(eps_min=0.5, eps_max=0.3)),
    ("ppobr", dict(eps0=0.2, eps_min=0.25)),  # eps0 below eps_min
    ("ppobr", dict(eps0=0.2, eps_max=0.1)),  # eps0 above eps_max
    ("ppobr", dict(eps0=0.1 + 0.2, eps_min=0.01, eps_max=0.3)),  # above by one ulp
    ("linear_decay", dict(eps_end=-0.1, total_updates=5)),
    ("linear_decay", dict(eps_end=NAN, total_updates=5)),
    ("linear_decay", dict(total_updates=0)),
    ("linear_decay", dict(total_updates=-7)),
    ("kl_adaptive", dict(eps0=0.0)),
    ("kl_adaptive", dict(eps0=NAN)),
    ("kl_adaptive", dict(kl_target=0.0)),
    ("kl_adaptive", dict(tolerance=1.0)),
    ("kl_adaptive", dict(rate=0.5)),
    ("kl_adaptive", dict(eps_min=0.0)),  # KL-adaptive scales eps: eps_min must be > 0
    ("kl_adaptive", dict(eps_max=-1.0)),
    ("kl_adaptive", dict(eps_min=0.6, eps_max=0.5)),
    ("kl_adaptive", dict(eps0=0.9)),
    ("kl_adaptive", dict(eps0=0.01)),
    ("kl_adaptive", dict(eps0=0.1, eps_min=0.1 + 1e-17, eps_max=0.7)),
]


@pytest.mark.parametrize("kind,kw", CONFIG_CASES, ids=[f"{k}-{kw}" for k, kw in CONFIG_CASES])
def test_config_errors_equal_the_core(kind, kw):
    _same(lambda: _jax_controller(kind, kw), lambda: _core_controller(kind, kw))


@pytest.mark.parametrize("kind,kw", CONFIG_CASES[:8], ids=[str(kw) for _, kw in CONFIG_CASES[:8]])
def test_a_config_built_directly_is_checked_by_init_and_update(kind, kw):
    """A NamedTuple config bypasses its constructor; init and update check it the same way."""
    config_type = {"ppobr": pj.PPOBRConfig}[kind]
    bad = config_type(**kw)
    want = _raised(lambda: _core_controller(kind, kw))
    assert _raised(lambda: pj.init(bad)) == want
    good_state = pj.init(config_type())
    assert _raised(lambda: pj.update(bad, good_state, 0.5)) == want


@pytest.mark.parametrize(
    "kind,kw",
    [
        ("ppobr", dict(eps0=0.1, eps_min=0.0)),
        ("ppobr", dict(eps0=0.2, lambda1=0.0, lambda2=0.0)),
        ("linear_decay", dict(eps_start=0.3, eps_end=0.0, total_updates=4)),
        ("kl_adaptive", dict(eps0=0.5, eps_max=0.5)),
    ],
)
def test_valid_edge_configs_are_accepted_by_both(kind, kw):
    ctl = _jax_controller(kind, kw)
    ref = _core_controller(kind, kw)
    with x64():
        assert float(ctl.init().epsilon) == ref.epsilon


def test_number_formatting_is_the_cores():
    """The messages print numbers as the core does (%.17g for configs, %f for loss options)."""
    kind, kw = "ppobr", dict(eps0=0.2, eps_min=0.25)
    _, _, message = _same(lambda: _jax_controller(kind, kw), lambda: _core_controller(kind, kw))
    assert "(0.20000000000000001)" in message and "0.30000000000000004" in message
    x = np.zeros(3)
    _, _, message = _same(
        lambda: pj.clipped_surrogate(x, x, x, eps=1.5),
        lambda: core.clipped_surrogate(x, x, x, eps=1.5),
    )
    assert message.endswith("got 1.500000")


# Decided for every binding; the core adopts the same text (docs/SPEC.md, rules R3, R5, R6).
RULE_CASES = [
    (lambda: pj.constant(-1.0), ValueError, "eps", "eps: must be finite and >= 0, got -1"),
    (lambda: pj.constant(NAN), ValueError, "eps", "eps: must be finite and >= 0, got nan"),
    (lambda: pj.constant(INF), ValueError, "eps", "eps: must be finite and >= 0, got inf"),
    (
        lambda: pj.linear_decay(-0.1, 0.0, total_updates=3),
        ValueError,
        "eps_start",
        "eps_start: must be finite and >= 0, got -0.10000000000000001",
    ),
    (lambda: pj.linear_decay(0.2, 0.0), TypeError, None, "total_updates: is required"),
    (
        lambda: pj.linear_decay(0.2, 0.0, total_updates=2.0),
        TypeError,
        None,
        "total_updates: expected an integer, got float",
    ),
    (lambda: pj.ppobr(eps0="0.2"), TypeError, None, "eps0: expected a real number, got str"),
    (lambda: pj.ppobr(eps0=None), TypeError, None, "eps0: expected a real number, got NoneType"),
    (lambda: pj.ppobr(window=2.5), TypeError, None, "window: expected an integer, got float"),
    (lambda: pj.ppobr(window=True), TypeError, None, "window: expected an integer, got bool"),
    (lambda: pj.ppobr(psi_mode=1), TypeError, None, "psi_mode: expected a string, got int"),
    (
        lambda: pj.kl_adaptive(rate=[1.5]),
        TypeError,
        None,
        "rate: expected a real number, got list",
    ),
    (
        lambda: pj.clipped_surrogate(np.zeros(4), np.zeros(4), np.zeros(4), 0.2, aggregation=1),
        TypeError,
        None,
        "aggregation: expected a string, got int",
    ),
]


@pytest.mark.parametrize("case", RULE_CASES, ids=[c[3] for c in RULE_CASES])
def test_rules_shared_by_every_binding(case):
    fn, exc_type, argument, message = case
    got = _raised(fn)
    assert got[0] is exc_type or (exc_type is ValueError and issubclass(got[0], ValueError))
    assert got[1:] == (argument, message)
    if exc_type is ValueError:
        assert isinstance(_raised_exception(fn), core.InvalidArgumentError)


def _raised_exception(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - returned for inspection
        return e
    return None


def test_zero_clip_range_is_valid():
    """ε = 0 is a valid clip range (R3): a constant 0, a decay from or to 0."""
    with x64():
        ctl = pj.constant(0.0)
        eps, _ = ctl.update(ctl.init())
        assert float(eps) == 0.0
        lin = pj.linear_decay(0.0, 0.0, total_updates=2)
        s = lin.init()
        for _ in range(3):
            eps, s = lin.update(s)
            assert float(eps) == 0.0
        lin = pj.linear_decay(0.2, 0.0, total_updates=2)
        s = lin.init()
        got = []
        for _ in range(3):
            eps, s = lin.update(s)
            got.append(float(eps))
        assert got == [0.2, 0.1, 0.0]


# ---------------------------------------------------------------------------------------------
# Controller update: the entropy as a number or per-step values (R4)

ENTROPY_SEQUENCE = [[0.9, 1.1, 1.0], 0.7, [0.4], [0.65, 0.35, 0.5, 0.55], 0.3, [0.2, 0.1]]


def test_per_step_entropies_are_averaged_as_the_core():
    """A 1-D array of per-step entropies counts as its arithmetic mean (float64)."""
    with x64():
        ctl = pj.ppobr(window=2, entropy_ref=1.2)
        s = ctl.init()
        ref = core.PPOBRController(window=2, entropy_ref=1.2)
        for i, h in enumerate(ENTROPY_SEQUENCE):
            forms = (list, np.asarray, jnp.asarray) if isinstance(h, list) else (float,)
            results = [ctl.update(s, form(h), [float(i)]) for form in forms]
            want = ref.update(float(np.mean(np.asarray(h, np.float64))), [float(i)])
            assert [float(eps) for eps, _ in results] == [want] * len(forms)
            s = results[0][1]


def test_per_step_entropies_under_jit_and_nan_policy():
    with x64():
        ctl = pj.ppobr(window=2, entropy_ref=1.0)
        step = jax.jit(lambda s, h: ctl.update(s, h, jnp.ones(1)))
        s = ctl.init()
        eps, s = step(s, jnp.asarray([0.5, 0.7]))
        assert float(s.last_entropy) == 0.6
        eps2, s = step(s, jnp.asarray([0.5, np.nan]))  # non-finite mean: update skipped
        assert float(eps2) == float(eps) and int(s.rejected_entropy) == 1


@pytest.mark.parametrize("kl", [[0.001, 0.003], np.array([0.001, 0.003]), "0.01"])
def test_kl_is_one_number_as_in_the_core(kl):
    """Per-step arrays are an entropy rule only: a KL is one number (or a Mean pair)."""
    ctl = pj.kl_adaptive()
    _same(lambda: ctl.update(ctl.init(), kl=kl), lambda: core.KLAdaptiveController().update(kl=kl))


@pytest.mark.parametrize("empty", [[], np.zeros(0), jnp.zeros(0)], ids=["list", "numpy", "jax"])
def test_empty_entropy_array_is_refused(empty):
    ctl = pj.ppobr(entropy_ref=1.0)
    e = _raised_exception(lambda: ctl.update(ctl.init(), empty))
    assert isinstance(e, core.InvalidArgumentError)
    assert e.argument == "entropy"
    assert str(e) == "entropy: empty array (pass a number or at least one per-step entropy)"


def test_empty_entropy_array_is_refused_under_jit():
    """A statically empty shape is known while tracing: it raises there too."""
    ctl = pj.ppobr(entropy_ref=1.0)
    with pytest.raises(core.InvalidArgumentError, match="entropy: empty array"):
        jax.jit(lambda s, h: ctl.update(s, h))(ctl.init(), jnp.zeros(0))


def test_entropy_of_the_wrong_type_equals_the_core():
    ctl = pj.ppobr(entropy_ref=1.0)
    _same(lambda: ctl.update(ctl.init(), "0.5"), lambda: core.PPOBRController().update("0.5"))


def test_entropy_of_two_dimensions_is_refused():
    ctl = pj.ppobr(entropy_ref=1.0)
    got = _raised(lambda: ctl.update(ctl.init(), np.zeros((2, 3))))
    assert got[1:] == (
        "entropy",
        "entropy: expected a number or a 1-D array of per-step entropies, got shape (2, 3)",
    )


def test_kl_missing_equals_the_core():
    ctl = pj.kl_adaptive()
    _same(lambda: ctl.update(ctl.init(), 0.5), lambda: core.KLAdaptiveController().update(0.5))


# ---------------------------------------------------------------------------------------------
# The loss's inputs


def _batch(shape=(6,), dtype=np.float64):
    rng = np.random.default_rng(0)
    return {
        "logp_new": rng.normal(size=shape).astype(dtype),
        "logp_old": rng.normal(size=shape).astype(dtype),
        "advantages": rng.normal(size=shape).astype(dtype),
    }


def _loss_case(name, change, **options):
    return (name, change, options)


def _replace(**arrays):
    return lambda b: {**b, **arrays}


def _astype(key, dtype):
    return lambda b: {**b, key: b[key].astype(dtype)}


LOSS_CASES = [
    _loss_case("logp_new int64", _astype("logp_new", np.int64), eps=0.2),
    _loss_case("logp_new float16", _astype("logp_new", np.float16), eps=0.2),
    _loss_case("logp_new bool", _astype("logp_new", np.bool_), eps=0.2),
    _loss_case("logp_new int list", _replace(logp_new=[1, 2, 3, 4, 5, 6]), eps=0.2),
    _loss_case("logp_new 0-D", _replace(logp_new=np.float64(1.0)), eps=0.2),
    _loss_case("logp_new 3-D", _replace(logp_new=np.zeros((2, 3, 1))), eps=0.2),
    _loss_case("logp_new None", _replace(logp_new=None), eps=0.2),
    _loss_case("logp_old None", _replace(logp_old=None), eps=0.2),
    _loss_case("advantages None", _replace(advantages=None), eps=0.2),
    _loss_case("logp_old float32", _astype("logp_old", np.float32), eps=0.2),
    _loss_case("advantages int32", _astype("advantages", np.int32), eps=0.2),
    _loss_case("logp_old shape", _replace(logp_old=np.zeros(5)), eps=0.2),
    _loss_case("advantages 2-D", _replace(advantages=np.zeros((6, 1))), eps=0.2),
    _loss_case("logp_old 3-D", _replace(logp_old=np.zeros((6, 1, 1))), eps=0.2),
    _loss_case("entropy float32", lambda b: {**b, "entropy": np.zeros(6, np.float32)}, eps=0.2),
    _loss_case("entropy int64", lambda b: {**b, "entropy": np.zeros(6, np.int64)}, eps=0.2),
    _loss_case("entropy shape", lambda b: {**b, "entropy": np.zeros(7)}, eps=0.2),
    _loss_case("mask int64", lambda b: {**b, "mask": np.ones(6, np.int64)}, eps=0.2),
    _loss_case("mask float32", lambda b: {**b, "mask": np.ones(6, np.float32)}, eps=0.2),
    _loss_case("mask shape", lambda b: {**b, "mask": np.ones(5, bool)}, eps=0.2),
    _loss_case("empty batch", lambda b: {k: np.zeros(0) for k in b}, eps=0.2),
    _loss_case("empty 2-D batch", lambda b: {k: np.zeros((0, 3)) for k in b}, eps=0.2),
    _loss_case("eps 1.5", None, eps=1.5),
    _loss_case("eps 1", None, eps=1.0),
    _loss_case("eps negative", None, eps=-0.1),
    _loss_case("eps nan", None, eps=NAN),
    _loss_case("eps and eps_low", None, eps=0.2, eps_low=0.1, eps_high=0.1),
    _loss_case("eps_low alone", None, eps_low=0.1),
    _loss_case("eps_high alone", None, eps_high=0.1),
    _loss_case("no eps", None),
    _loss_case("eps_low 1", None, eps_low=1.0, eps_high=0.2),
    _loss_case("eps_low negative", None, eps_low=-0.5, eps_high=0.2),
    _loss_case("eps_high negative", None, eps_low=0.1, eps_high=-0.2),
    _loss_case("eps_high inf", None, eps_low=0.1, eps_high=INF),
    _loss_case("dual_clip 0.5", None, eps=0.2, dual_clip=0.5),
    _loss_case("dual_clip 1", None, eps=0.2, dual_clip=1.0),
    _loss_case("dual_clip nan", None, eps=0.2, dual_clip=NAN),
    _loss_case("dual_clip inf", None, eps=0.2, dual_clip=INF),
    _loss_case("aggregation unknown", None, eps=0.2, aggregation="mean"),
    _loss_case("segment_ids float", None, eps=0.2, segment_ids=np.zeros(6), aggregation=""),
    _loss_case("segment_ids short", None, eps=0.2, segment_ids=np.zeros(5, np.int64)),
    _loss_case("segment_ids 2-D", None, eps=0.2, segment_ids=np.zeros((6, 1), np.int64)),
    _loss_case("segment_ids negative", None, eps=0.2, segment_ids=np.array([0, 0, 1, 1, -1, 2])),
    _loss_case(
        "segment_ids on 2-D batch",
        lambda b: {k: v.reshape(2, 3) for k, v in b.items()},
        eps=0.2,
        segment_ids=np.zeros(2, np.int64),
        aggregation="seq-mean-token-mean",
    ),
]
for _name, _change, _options in LOSS_CASES:
    if _options.get("aggregation") == "":
        _options["aggregation"] = "seq-mean-token-sum"


def _loss_inputs(change):
    b = _batch()
    return b if change is None else change(b)


@pytest.mark.parametrize("impl", ["jnp", "ffi"])
@pytest.mark.parametrize("case", LOSS_CASES, ids=[c[0] for c in LOSS_CASES])
def test_loss_errors_equal_the_core(case, impl):
    """The checks run before the implementation is chosen: "jnp" and "ffi" raise alike."""
    _, change, options = case
    b = _loss_inputs(change)
    with x64():
        _same(
            lambda: pj.clipped_surrogate(**b, **options, impl=impl),
            lambda: core.clipped_surrogate(**b, **options),
        )


@pytest.mark.parametrize(
    "case",
    [c for c in LOSS_CASES if c[1] is not None and "None" not in c[0] and "list" not in c[0]],
    ids=lambda c: c[0],
)
def test_loss_errors_of_jax_arrays_equal_the_core(case):
    """The same faults given as jax arrays (x64 on, so every dtype exists in jax)."""
    _, change, options = case
    b = _loss_inputs(change)
    with x64():
        jb = {k: (None if v is None else jnp.asarray(v)) for k, v in b.items()}
        if any(v is not None and v.dtype != np.asarray(b[k]).dtype for k, v in jb.items()):
            pytest.fail("jax changed a dtype under x64")
        _same(
            lambda: pj.clipped_surrogate(**jb, **options),
            lambda: core.clipped_surrogate(**b, **options),
        )


@pytest.mark.parametrize(
    "case",
    [c for c in LOSS_CASES if c[0] in ("logp_old float32", "advantages int32", "logp_old shape")],
    ids=lambda c: c[0],
)
def test_shape_and_dtype_errors_are_raised_under_jit(case):
    """Shapes and dtypes are static: a jitted call raises what the NumPy API raises."""
    _, change, options = case
    b = _loss_inputs(change)
    with x64():
        f = jax.jit(lambda lpn, lpo, adv: pj.clipped_surrogate(lpn, lpo, adv, **options))
        _same(lambda: f(**_positional(b)), lambda: core.clipped_surrogate(**b, **options))


def _positional(b):
    return {"lpn": b["logp_new"], "lpo": b["logp_old"], "adv": b["advantages"]}


@pytest.mark.parametrize("aggregation", ["seq-mean-token-mean", "seq-mean-token-sum"])
def test_seq_mean_on_a_1d_batch_needs_segment_ids(aggregation):
    """R6: a 1-D batch has no sequences unless segment_ids says which they are."""
    b = _batch()
    for impl in ("jnp", "ffi"):
        e = _raised_exception(
            lambda: pj.clipped_surrogate(**b, eps=0.2, aggregation=aggregation, impl=impl)
        )
        assert isinstance(e, core.InvalidArgumentError)
        assert e.argument == "segment_ids"
        assert str(e) == (
            f"segment_ids: is required for aggregation '{aggregation}' on a 1-D batch (pass "
            "segment_ids, or a 2-D [batch, tokens] batch whose rows are the sequences)"
        )
    # with ids, or as a 2-D batch, it is accepted
    pj.clipped_surrogate(**b, eps=0.2, aggregation=aggregation, segment_ids=np.arange(6) // 3)
    pj.clipped_surrogate(
        **{k: v.reshape(2, 3) for k, v in b.items()}, eps=0.2, aggregation=aggregation
    )


def test_zero_eps_is_a_valid_clip_range_for_the_loss():
    b = _batch()
    with x64():
        got = pj.clipped_surrogate(**b, eps=0.0)
        want = core.clipped_surrogate(**b, eps=0.0)
        assert float(got.loss) == pytest.approx(want.loss, rel=1e-12)
        got = pj.clipped_surrogate(**b, eps_low=0.0, eps_high=0.0)
        assert float(got.loss) == pytest.approx(want.loss, rel=1e-12)


def test_float64_numpy_input_with_x64_off_is_float32():
    """With x64 off jax holds float64 NumPy input as float32: mixing it with float32 is fine."""
    b = _batch()
    with x32():
        out = pj.clipped_surrogate(
            b["logp_new"], jnp.asarray(b["logp_old"], jnp.float32), b["advantages"], 0.2
        )
        assert out.loss.dtype == jnp.float32
        assert math.isfinite(float(out.loss))
