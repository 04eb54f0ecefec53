"""ppobr_jax refuses bad configs and inputs exactly as ppobr_core does: the same exception type,
the same ``.argument`` and the same message text (docs/SPEC.md, "Input rules").

Each table row is one bad thing, given to ppobr_jax and to ppobr_core (the NumPy API); the two
exceptions are compared. For the rules decided for every binding (ε = 0 is a valid clip range,
a required argument without a default, a wrong Python type, per-step entropies, seq-mean-* on a
1-D batch without segment_ids) the expected text is also spelled out, as docs/SPEC.md states it.
"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import x32, x64
from hypothesis import given, settings
from hypothesis import strategies as st

import ppobr_jax as pj

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


def _outcome(make):
    """("ok", effective config items) or the exception's (type, argument, message)."""
    try:
        return ("ok", make())
    except (TypeError, ValueError) as e:
        return type(e), getattr(e, "argument", None), str(e)


_value = st.one_of(
    st.floats(-2.0, 2.0),
    st.sampled_from([0.0, -0.0, 1.0, NAN, INF, -INF, 1e308, 5e-324]),
)


@settings(max_examples=300, deadline=None)
@given(
    eps0=_value,
    lambda1=_value,
    lambda2=_value,
    window=st.integers(-1, 12),
    entropy_ref=st.one_of(st.none(), _value),
    entropy_floor=_value,
    eps_min=st.one_of(st.none(), _value),
    eps_max=st.one_of(st.none(), _value),
)
def test_any_ppobr_config_is_judged_as_the_core_judges_it(**kw):
    def jax_make():
        c = pj.ppobr_config(**kw)
        return [c.eps_min_effective, c.eps_max_effective]

    def core_make():
        items = core.PPOBRController(**kw).config
        return [items["eps_min_effective"], items["eps_max_effective"]]

    assert _outcome(jax_make) == _outcome(core_make)


@settings(max_examples=300, deadline=None)
@given(
    eps0=_value,
    kl_target=_value,
    tolerance=_value,
    rate=_value,
    eps_min=_value,
    eps_max=_value,
)
def test_any_kl_adaptive_config_is_judged_as_the_core_judges_it(**kw):
    def jax_make():
        return list(pj.kl_adaptive_config(**kw))

    def core_make():
        items = core.KLAdaptiveController(**kw).config
        return [items[k] for k in pj.KLAdaptiveConfig._fields]

    assert _outcome(jax_make) == _outcome(core_make)


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


# Rules decided for every binding (docs/SPEC.md R3, R5): the text is spelled out, and both
# ppobr_jax and ppobr_core must raise exactly it. (pj.<name> and core.<Name> take the same
# arguments here.)
_X = np.zeros(4)
RULE_CASES = [
    ("constant", "ConstantController", (-1.0,), {}, "eps", "eps: must be finite and >= 0, got -1"),
    ("constant", "ConstantController", (NAN,), {}, "eps", "eps: must be finite and >= 0, got nan"),
    ("constant", "ConstantController", (INF,), {}, "eps", "eps: must be finite and >= 0, got inf"),
    (
        "linear_decay",
        "LinearDecayController",
        (-0.1, 0.0),
        dict(total_updates=3),
        "eps_start",
        "eps_start: must be finite and >= 0, got -0.10000000000000001",
    ),
    ("linear_decay", "LinearDecayController", (0.2, 0.0), {}, None, "total_updates: is required"),
    (
        "linear_decay",
        "LinearDecayController",
        (0.2, 0.0),
        dict(total_updates=2.0),
        None,
        "total_updates: expected an integer, got float",
    ),
    (
        "ppobr",
        "PPOBRController",
        (),
        dict(eps0="0.2"),
        None,
        "eps0: expected a real number, got str",
    ),
    (
        "ppobr",
        "PPOBRController",
        (),
        dict(eps0=None),
        None,
        "eps0: expected a real number, got NoneType",
    ),
    (
        "ppobr",
        "PPOBRController",
        (),
        dict(window=2.5),
        None,
        "window: expected an integer, got float",
    ),
    (
        "ppobr",
        "PPOBRController",
        (),
        dict(window=True),
        None,
        "window: expected an integer, got bool",
    ),
    (
        "ppobr",
        "PPOBRController",
        (),
        dict(psi_mode=1),
        None,
        "psi_mode: expected a string, got int",
    ),
    (
        "kl_adaptive",
        "KLAdaptiveController",
        (),
        dict(rate=[1.5]),
        None,
        "rate: expected a real number, got list",
    ),
    ("clipped_surrogate", "clipped_surrogate", (), {}, None, "logp_new: is required"),
    ("clipped_surrogate", "clipped_surrogate", (_X,), {}, None, "logp_old: is required"),
    (
        "clipped_surrogate",
        "clipped_surrogate",
        (_X,),
        dict(logp_old=_X, eps=0.2),
        None,
        "advantages: is required",
    ),
    (
        "clipped_surrogate",
        "clipped_surrogate",
        (_X, _X, _X),
        dict(eps=0.2, aggregation=1),
        None,
        "aggregation: expected a string, got int",
    ),
    (
        "clipped_surrogate",
        "clipped_surrogate",
        (_X, _X, _X),
        dict(eps="0.2"),
        None,
        "eps: expected a real number, got str",
    ),
    (
        "clipped_surrogate",
        "clipped_surrogate",
        (_X, _X, _X),
        dict(eps=0.2, dual_clip=[3.0]),
        None,
        "dual_clip: expected a real number, got list",
    ),
]


@pytest.mark.parametrize("case", RULE_CASES, ids=[c[5] for c in RULE_CASES])
def test_rules_shared_by_every_binding(case):
    jax_name, core_name, args, kwargs, argument, message = case
    got = _same(
        lambda: getattr(pj, jax_name)(*args, **kwargs),
        lambda: getattr(core, core_name)(*args, **kwargs),
    )
    assert got[1:] == (argument, message)
    assert issubclass(got[0], core.InvalidArgumentError if argument else TypeError)


def _raised_exception(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001 - returned for inspection
        return e
    return None


def test_zero_clip_range_is_valid():
    """ε = 0 is a valid clip range (R3): a constant 0, a decay from or to 0, as in the core."""
    with x64():
        ctl = pj.constant(0.0)
        eps, _ = ctl.update(ctl.init())
        assert float(eps) == core.ConstantController(0.0).update() == 0.0
        for start, end in ((0.0, 0.0), (0.2, 0.0), (0.0, 0.3)):
            lin = pj.linear_decay(start, end, total_updates=2)
            ref = core.LinearDecayController(start, end, total_updates=2)
            s = lin.init()
            for _ in range(3):
                eps, s = lin.update(s)
                assert float(eps) == ref.update()


# ---------------------------------------------------------------------------------------------
# Controller update: the entropy as a number or per-step values (R4)

_STEPS = np.random.default_rng(3).uniform(0.0, 1.4, size=1000)
ENTROPY_SEQUENCE = [
    [0.9, 1.1, 1.0],
    0.7,
    [0.4],
    list(_STEPS[:129]),  # NumPy sums 129 values pairwise: the order matters in the last bit
    [0.65, 0.35, 0.5, 0.55],
    0.3,
    list(_STEPS),
    [0.2, 0.1],
]


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


@pytest.mark.parametrize(
    "entropy",
    ["0.5", b"0.5", np.zeros((2, 3)), [[0.5]], np.array([True, False]), [1j], object()],
    ids=["str", "bytes", "2-D", "nested list", "bool array", "complex", "object"],
)
def test_entropy_of_the_wrong_kind_equals_the_core(entropy):
    ctl = pj.ppobr(entropy_ref=1.0)
    _same(lambda: ctl.update(ctl.init(), entropy), lambda: core.PPOBRController().update(entropy))


@pytest.mark.parametrize("entropy", [True, np.float32(0.5), np.int64(1), 0.5, 1])
def test_entropy_numbers_equal_the_core(entropy):
    with x64():
        ctl = pj.ppobr(entropy_ref=1.0)
        eps, _ = ctl.update(ctl.init(), entropy)
    assert float(eps) == core.PPOBRController(entropy_ref=1.0).update(entropy)


@pytest.mark.parametrize("kind", ["ppobr", "constant", "kl_adaptive"])
@pytest.mark.parametrize(
    "returns", [["a", "b"], [True, False], np.array([1 + 2j])], ids=["str", "bool", "complex"]
)
def test_episode_returns_of_the_wrong_kind_equal_the_core(kind, returns):
    ctl = _jax_controller(kind, {})
    ref = _core_controller(kind, {})
    _same(
        lambda: ctl.update(ctl.init(), 0.5, returns, kl=0.01),
        lambda: ref.update(0.5, returns, kl=0.01),
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
        got = _same(
            lambda: pj.clipped_surrogate(**b, eps=0.2, aggregation=aggregation, impl=impl),
            lambda: core.clipped_surrogate(**b, eps=0.2, aggregation=aggregation),
        )
        assert issubclass(got[0], core.InvalidArgumentError)
        assert got[1:] == (
            "segment_ids",
            f"segment_ids: is required for aggregation '{aggregation}' on a 1-D batch (pass "
            "segment_ids, or a 2-D [batch, tokens] batch whose rows are the sequences)",
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
