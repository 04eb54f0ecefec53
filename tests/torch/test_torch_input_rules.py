"""The input rules (docs/SPEC.md §3) on both paths of ppobr_torch.clipped_surrogate_loss.

Where the NumPy API can be given the same bad input, the adapter must raise what it raises: the
same exception type, ``.argument`` and message, on the C++ path and on the torch-expression
path alike. Rules the NumPy API has no counterpart for (torch.Tensor only, seq-mean on a 1-D
batch needs segment_ids, value checks skipped on the torch path) are checked against the
spec's text.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_helpers import core, dtype_name, tol

import ppobr_core
import ppobr_torch as pt

BACKENDS = ["core", "torch"]
Err = ppobr_core.InvalidArgumentError
N = 6


def _arrays(dtype=np.float64, n=N):
    rng = np.random.default_rng(0)
    lpn = (rng.normal(size=n) * 0.3 - 1.0).astype(dtype)
    lpo = (rng.normal(size=n) * 0.3 - 1.0).astype(dtype)
    adv = rng.normal(size=n).astype(dtype)
    return {"logp_new": lpn, "logp_old": lpo, "advantages": adv}


def _to_torch(v):
    return torch.from_numpy(np.array(v)) if isinstance(v, np.ndarray) else v


def _error(fn):
    try:
        fn()
    except (TypeError, ValueError) as e:
        return e
    return None


def _core_error(arrays, kw):
    return _error(lambda: ppobr_core.clipped_surrogate(**arrays, **kw))


def _adapter_error(arrays, kw, backend):
    targs = {k: _to_torch(v) for k, v in arrays.items()}
    tkw = {k: _to_torch(v) for k, v in kw.items()}
    return _error(lambda: pt.clipped_surrogate_loss(**targs, **tkw, backend=backend))


def _assert_same_error(got, want):
    assert want is not None, "the NumPy API accepted this input"
    assert got is not None, f"no error; the NumPy API raises {want!r}"
    assert type(got) is type(want)
    assert str(got) == str(want)
    if isinstance(want, Err):
        assert got.argument == want.argument


def _base():
    return _arrays(), {"eps": 0.2}


def _with(arrays=None, **kw):
    a, k = _base()
    a.update(arrays or {})
    k.update(kw)
    return a, k


def _without(argument):
    a, k = _base()
    del a[argument]
    return a, k


f64 = _arrays()
CASES = {
    # dtypes (rule 2)
    "logp_new int64": _with({"logp_new": np.zeros(N, np.int64)}),
    "logp_new float16": _with({"logp_new": np.zeros(N, np.float16)}),
    "logp_new bool": _with({"logp_new": np.zeros(N, bool)}),
    "logp_old float32 with float64": _with({"logp_old": f64["logp_old"].astype(np.float32)}),
    "logp_old int32": _with({"logp_old": np.zeros(N, np.int32)}),
    "advantages int64": _with({"advantages": np.ones(N, np.int64)}),
    "entropy float32 with float64": _with(entropy=np.ones(N, np.float32)),
    "entropy int64": _with(entropy=np.ones(N, np.int64)),
    "mask int64": _with(mask=np.ones(N, np.int64)),
    "mask float16": _with(mask=np.ones(N, np.float16)),
    "mask float32 with float64": _with(mask=np.ones(N, np.float32)),
    "segment_ids float64": _with(segment_ids=np.zeros(N), aggregation="seq-mean-token-mean"),
    "segment_ids bool": _with(segment_ids=np.zeros(N, bool), aggregation="seq-mean-token-sum"),
    # shapes (rule 3)
    "logp_old shorter": _with({"logp_old": f64["logp_old"][:-1]}),
    "advantages 2-D": _with({"advantages": f64["advantages"].reshape(2, 3)}),
    "entropy shorter": _with(entropy=np.ones(N - 1)),
    "entropy 3-D": _with(entropy=np.ones((1, N, 1))),
    "mask [N, 1]": _with(mask=np.ones((N, 1), bool)),
    "logp_new 3-D": _with({k: v.reshape(1, 2, 3) for k, v in f64.items()}),
    "logp_new 0-D": _with({k: np.array(v[0]) for k, v in f64.items()}),
    "empty 1-D batch": _with({k: v[:0] for k, v in f64.items()}),
    "empty 2-D batch": _with({k: v.reshape(2, 3)[:, :0] for k, v in f64.items()}),
    "segment_ids shorter": _with(
        segment_ids=np.zeros(N - 1, np.int64), aggregation="seq-mean-token-mean"
    ),
    "segment_ids with a 2-D batch": _with(
        {k: v.reshape(2, 3) for k, v in f64.items()},
        segment_ids=np.zeros(N, np.int64),
        aggregation="seq-mean-token-mean",
    ),
    # required arguments
    "logp_old None": _with({"logp_old": None}),
    "advantages None": _with({"advantages": None}),
    "logp_new None": _with({"logp_new": None}),
    "advantages left out": _without("advantages"),
    "logp_old left out": _without("logp_old"),
    # the clip range (rule 4) and the other options
    "eps 1": _with(eps=1.0),
    "eps negative": _with(eps=-0.1),
    "eps NaN": _with(eps=float("nan")),
    "eps inf": _with(eps=float("inf")),
    "eps a string": _with(eps="0.2"),
    "eps and eps_low": _with(eps_low=0.1, eps_high=0.1),
    "no clip range": _with(eps=None),
    "eps_low alone": _with(eps=None, eps_low=0.1),
    "eps_high alone": _with(eps=None, eps_high=0.1),
    "eps_low 1": _with(eps=None, eps_low=1.0, eps_high=0.2),
    "eps_high negative": _with(eps=None, eps_low=0.2, eps_high=-0.1),
    "eps_high inf": _with(eps=None, eps_low=0.2, eps_high=float("inf")),
    "eps_high a string": _with(eps=None, eps_low=0.2, eps_high="x"),
    "dual_clip 1": _with(dual_clip=1.0),
    "dual_clip NaN": _with(dual_clip=float("nan")),
    "dual_clip a string": _with(dual_clip="3"),
    "unknown aggregation": _with(aggregation="sum"),
    "aggregation not a string": _with(aggregation=3),
    "num_threads a float": _with(num_threads=2.0),
    "num_threads a bool": _with(num_threads=True),
    "num_threads a NumPy integer": _with(num_threads=np.int64(2)),
    "num_threads negative": _with(num_threads=-1),
    "num_threads too many": _with(num_threads=5000),
}


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("case", list(CASES))
def test_bad_input_gets_the_numpy_apis_exception(case, backend):
    arrays, kw = CASES[case]
    _assert_same_error(_adapter_error(arrays, kw, backend), _core_error(arrays, kw))


@pytest.mark.parametrize("backend", BACKENDS)
def test_value_errors_on_the_cpp_path_are_the_cores(backend):
    # rule 8: the C++ path (CPU tensors) checks values as the core does; the torch-expression
    # path skips these checks (each would be a host-device sync on a device) and computes
    nan = np.full(N, np.nan)
    cases = {
        "logp_new NaN": _with({"logp_new": nan}),
        "logp_old inf": _with({"logp_old": np.full(N, np.inf)}),
        "advantages NaN": _with({"advantages": nan}),
        "entropy inf": _with(entropy=np.full(N, -np.inf)),
        "mask negative": _with(mask=-np.ones(N)),
        "mask all zero": _with(mask=np.zeros(N)),
        "segment id negative": _with(
            segment_ids=-np.ones(N, np.int64), aggregation="seq-mean-token-mean"
        ),
    }
    for case, (arrays, kw) in cases.items():
        if backend == "torch" and case == "segment id negative":
            continue  # unchecked there (docs/SPEC.md §3.8): torch.index_add decides what happens
        want = _core_error(arrays, kw)
        got = _adapter_error(arrays, kw, backend)
        if backend == "core":
            _assert_same_error(got, want)
        else:
            assert got is None, case


def test_the_torch_path_computes_with_bad_values_as_documented():
    a, k = _with({"logp_new": np.full(N, np.nan)})
    out = pt.clipped_surrogate_loss(
        **{n: torch.from_numpy(v) for n, v in a.items()}, **k, backend="torch"
    )
    assert torch.isnan(out.loss)  # garbage in, NaN out: no check, no sync


@pytest.mark.parametrize("backend", ["auto", *BACKENDS])
@pytest.mark.parametrize(
    "argument", ["logp_new", "logp_old", "advantages", "entropy", "mask", "segment_ids"]
)
def test_array_arguments_must_be_tensors(argument, backend):
    # rule 1: converting a NumPy array or a list silently would detach the autograd graph
    arrays = {k: torch.from_numpy(v) for k, v in _arrays().items()}
    kw = {
        "entropy": torch.ones(N, dtype=torch.float64),
        "mask": torch.ones(N, dtype=torch.bool),
        "segment_ids": torch.zeros(N, dtype=torch.long),
        "aggregation": "seq-mean-token-mean",
    }
    for bad, name in ((np.zeros(N), "numpy.ndarray"), ([0.0] * N, "list"), (0.5, "float")):
        call = dict(arrays, **kw)
        call[argument] = bad
        with pytest.raises(TypeError) as e:
            pt.clipped_surrogate_loss(**call, eps=0.2, backend=backend)
        assert str(e.value) == f"{argument}: expected a torch.Tensor, got {name}"


@pytest.mark.parametrize("backend", BACKENDS)
def test_half_precision_tensors_are_refused(backend):
    # rule 2 on the torch path: no silent computation in a dtype the core does not have
    arrays = {k: torch.from_numpy(v) for k, v in _arrays().items()}
    for dtype in (torch.bfloat16, torch.float16, torch.int64):
        for argument in ("logp_new", "mask"):
            call = dict(arrays)
            if argument == "logp_new":
                call = {k: v.to(dtype) for k, v in arrays.items()}
            with pytest.raises(TypeError) as e:
                kw = {"mask": arrays["logp_new"].to(dtype)} if argument == "mask" else {}
                pt.clipped_surrogate_loss(**call, eps=0.2, backend=backend, **kw)
            want = f"{argument}: expected a float32 or float64 array, got {dtype_name(dtype)}"
            assert str(e.value) == want


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("aggregation", ["seq-mean-token-mean", "seq-mean-token-sum"])
def test_seq_mean_of_a_one_dimensional_batch_needs_segment_ids(aggregation, backend):
    # rule 7: a 1-D batch has no sequences unless segment_ids name them
    arrays = {k: torch.from_numpy(v) for k, v in _arrays().items()}
    with pytest.raises(Err) as e:
        pt.clipped_surrogate_loss(**arrays, eps=0.2, aggregation=aggregation, backend=backend)
    assert e.value.argument == "segment_ids"
    assert str(e.value) == (
        f"segment_ids: is required for aggregation '{aggregation}' on a 1-D batch (pass "
        "segment_ids, or a 2-D [batch, tokens] batch whose rows are the sequences)"
    )
    mod = pt.ClippedSurrogateLoss(0.2, aggregation=aggregation, backend=backend)
    with pytest.raises(Err, match="segment_ids: is required"):
        mod(*arrays.values())
    # with ids, or as a 2-D batch, the same data are fine and agree with the NumPy API
    ids = torch.tensor([0, 0, 1, 1, 1, 2])
    out = pt.clipped_surrogate_loss(
        **arrays, eps=0.2, aggregation=aggregation, segment_ids=ids, backend=backend
    )
    ref = core(*arrays.values(), eps=0.2, aggregation=aggregation, segment_ids=ids)
    np.testing.assert_allclose(out.loss.item(), ref.loss, rtol=1e-12)
    two_d = [t.reshape(2, 3) for t in arrays.values()]
    out = pt.clipped_surrogate_loss(*two_d, eps=0.2, aggregation=aggregation, backend=backend)
    ref = core(*two_d, eps=0.2, aggregation=aggregation)
    np.testing.assert_allclose(out.loss.item(), ref.loss, rtol=1e-12)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_zero_is_a_valid_clip_range(backend, dtype):
    # rule 4: eps = 0 (and eps_low = eps_high = 0) clips every ratio to 1
    arrays = [torch.from_numpy(v).to(dtype) for v in _arrays().values()]
    for kw in (
        {"eps": 0.0},
        {"eps_low": 0.0, "eps_high": 0.0},
        {"eps_low": 0.0, "eps_high": 0.3},
        {"eps": torch.tensor(0.0)},
    ):
        x = arrays[0].clone().requires_grad_(True)
        out = pt.clipped_surrogate_loss(x, *arrays[1:], backend=backend, **kw)
        (g,) = torch.autograd.grad(out.loss, x)
        ref = core(*arrays, **{k: float(v) for k, v in kw.items()})
        np.testing.assert_allclose(out.loss.item(), ref.loss, **tol(dtype))
        np.testing.assert_allclose(g.numpy(), ref.grad, **tol(dtype))
    mod = pt.ClippedSurrogateLoss(0.0, backend=backend)
    assert mod.eps_low.item() == 0.0
    mod.set_epsilon(eps_low=0.0, eps_high=0.0)
    want = core(*arrays, eps=0.0).loss
    np.testing.assert_allclose(mod(*arrays).loss.item(), want, **tol(dtype))


def test_module_checks_its_configuration_and_every_call():
    with pytest.raises(Err, match="dual_clip: must be > 1"):
        pt.ClippedSurrogateLoss(0.2, dual_clip=0.5)
    with pytest.raises(Err, match="aggregation: unknown aggregation 'sum'"):
        pt.ClippedSurrogateLoss(0.2, aggregation="sum")
    mod = pt.ClippedSurrogateLoss(0.2)
    arrays = _arrays()
    with pytest.raises(TypeError, match="logp_old: expected a torch.Tensor, got numpy.ndarray"):
        mod(torch.from_numpy(arrays["logp_new"]), arrays["logp_old"], torch.zeros(N))
    with pytest.raises(TypeError, match="advantages: expected a float32 or float64 array"):
        mod(torch.zeros(N), torch.zeros(N), torch.zeros(N, dtype=torch.long))


_DTYPES = [np.float16, np.float32, np.float64, np.int32, np.int64, np.bool_]


@settings(max_examples=80, deadline=None)
@given(
    dtypes=st.tuples(*[st.sampled_from(_DTYPES)] * 4),
    backend=st.sampled_from(BACKENDS),
    with_mask=st.booleans(),
)
def test_any_mix_of_dtypes_gets_the_numpy_apis_answer(dtypes, backend, with_mask):
    names = ("logp_new", "logp_old", "advantages", "entropy")
    arrays = {k: v.astype(dt) for (k, v), dt in zip(_arrays().items(), dtypes)}
    kw = {"eps": 0.2, "entropy": np.ones(N).astype(dtypes[3])}
    if with_mask:
        kw["mask"] = np.ones(N).astype(dtypes[0])
    assert set(arrays) | {"entropy"} == set(names)
    want = _core_error(arrays, kw)
    got = _adapter_error(arrays, kw, backend)
    if want is None:  # accepted by both: the same loss
        assert got is None
        out = pt.clipped_surrogate_loss(
            **{k: torch.from_numpy(v) for k, v in arrays.items()},
            **{k: _to_torch(v) for k, v in kw.items()},
            backend=backend,
        )
        ref = ppobr_core.clipped_surrogate(**arrays, **kw)
        assert out.loss.item() == pytest.approx(ref.loss, rel=1e-5)
    else:
        _assert_same_error(got, want)
