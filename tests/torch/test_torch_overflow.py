"""A ratio r = exp(logp_new - logp_old) that overflows the dtype: both paths give the core's loss
and gradient, value for value, and never NaN from finite input (docs/SPEC.md §2, Overflow).

float32 overflows for d > ~88.7, float64 for d > ~709.8. The core's answers, per sign of A:
A > 0 takes the clipped term (gradient 0); A < 0 without dual-clip gives +inf loss and gradient,
with dual-clip the bound c A (gradient 0); A = 0 gives obj 0 and gradient 0.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from torch_helpers import core, tol

import ppobr_torch as pt

DTYPES = [torch.float32, torch.float64]
BACKENDS = ["core", "torch"]


def _overflow_batch(dtype, big):
    # one sample per case: huge positive d with A > 0, A < 0, A = 0; huge negative d (r
    # underflows to 0) with A < 0 and A > 0; ordinary samples around r = 1
    lpn = torch.tensor([big, big, big, -big, -big, 0.1, -0.3, 0.05], dtype=dtype)
    adv = torch.tensor([1.0, -1.0, 0.0, -1.0, 2.0, 1.0, -0.5, -2.0], dtype=dtype)
    return lpn, torch.zeros_like(lpn), adv


def _loss_and_grad(lpn, lpo, adv, backend, **kw):
    x = lpn.clone().requires_grad_(True)
    out = pt.clipped_surrogate_loss(x, lpo, adv, backend=backend, **kw)
    (g,) = torch.autograd.grad(out.loss, x)
    return out, g


def _assert_same_as_core(out, g, ref, dtype):
    t = tol(dtype)
    assert not torch.isnan(out.loss) and not torch.isnan(g).any()
    # assert_allclose: +inf only matches +inf, a finite value only a close finite one
    np.testing.assert_allclose(out.loss.item(), ref.loss, **t)
    np.testing.assert_allclose(g.numpy(), ref.grad, **t)
    np.testing.assert_allclose(out.sums.numpy()[1:], np.array(list(ref.sums.values()))[1:], **t)


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("big", [100.0, 800.0])
@pytest.mark.parametrize("dual_clip", [None, 3.0])
def test_overflowing_ratio_gives_the_cores_loss_and_gradient(backend, dtype, big, dual_clip):
    lpn, lpo, adv = _overflow_batch(dtype, big)
    overflows = torch.isinf(torch.exp(lpn - lpo))
    assert overflows.any() == (dtype == torch.float32 or big > 710)
    ref = core(lpn, lpo, adv, eps=0.2, dual_clip=dual_clip)
    out, g = _loss_and_grad(lpn, lpo, adv, backend, eps=0.2, dual_clip=dual_clip)
    _assert_same_as_core(out, g, ref, dtype)
    if overflows.any():
        # the spec's answers per sign of A, samples 0 (A > 0), 1 (A < 0), 2 (A = 0)
        assert g[0].item() == 0.0 and g[2].item() == 0.0
        if dual_clip is None:
            assert out.loss.item() == float("inf") and g[1].item() == float("inf")
        else:
            assert np.isfinite(out.loss.item()) and g[1].item() == 0.0


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("aggregation", ["seq-mean-token-mean", "seq-mean-token-sum"])
def test_overflow_in_a_weighted_two_dimensional_batch(backend, dtype, aggregation):
    lpn, lpo, adv = (t.reshape(2, 4) for t in _overflow_batch(dtype, 100.0))
    weights = torch.tensor([[1.0, 0.5, 2.0, 1.0], [0.0, 1.0, 0.25, 1.0]], dtype=dtype)
    for dual_clip in (None, 2.0):
        kw = dict(eps_low=0.1, eps_high=0.3, dual_clip=dual_clip, mask=weights)
        ref = core(lpn, lpo, adv, aggregation=aggregation, **kw)
        out, g = _loss_and_grad(lpn, lpo, adv, backend, aggregation=aggregation, **kw)
        _assert_same_as_core(out, g, ref, dtype)


@pytest.mark.parametrize("dtype", DTYPES)
def test_overflow_gradients_of_logp_old_and_advantages_are_not_nan(dtype):
    # the torch path also differentiates in logp_old and the advantages (autograd does all
    # three when they require grad); d obj / d A is r, clip(r) or c per the selected term
    lpn, lpo, adv = _overflow_batch(dtype, 100.0)
    for dual_clip in (None, 3.0):
        args = [t.clone().requires_grad_(True) for t in (lpn, lpo, adv)]
        out = pt.clipped_surrogate_loss(*args, 0.2, dual_clip=dual_clip)
        gn, go, ga = torch.autograd.grad(out.loss, args)
        assert not torch.isnan(gn).any() and not torch.isnan(go).any()
        assert not torch.isnan(ga).any()
        torch.testing.assert_close(go, -gn)  # d = logp_new - logp_old
        n = lpn.numel()
        r = torch.exp((lpn - lpo).double())
        clipped = torch.clamp(r, 0.8, 1.2)
        # samples 0 (A > 0: clipped term) and 3 (r = 0, A < 0: clipped term) take clip(r)
        for i in (0, 3):
            assert ga[i].item() == pytest.approx(-clipped[i].item() / n, rel=1e-6)
        if dual_clip is not None:
            assert ga[1].item() == pytest.approx(-dual_clip / n, rel=1e-6)  # the bound c A


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("dual_clip", [None, 3.0])
def test_overflow_under_torch_compile(dtype, dual_clip):
    torch._dynamo.reset()
    lpn, lpo, adv = _overflow_batch(dtype, 100.0)

    def f(x, eps):
        return pt.clipped_surrogate_loss(x, lpo, adv, eps, dual_clip=dual_clip).loss

    cf = torch.compile(f, fullgraph=True)  # inductor: its fusions must keep the masked input
    x = lpn.clone().requires_grad_(True)
    loss = cf(x, torch.tensor(0.2, dtype=dtype))
    (g,) = torch.autograd.grad(loss, x)
    ref = core(lpn, lpo, adv, eps=0.2, dual_clip=dual_clip)
    assert not torch.isnan(g).any()
    np.testing.assert_allclose(loss.item(), ref.loss, **tol(dtype))
    np.testing.assert_allclose(g.numpy(), ref.grad, **tol(dtype))


@settings(max_examples=60, deadline=None)
@given(
    d=st.lists(
        st.one_of(
            st.floats(-1000.0, 1000.0), st.floats(-0.5, 0.5), st.sampled_from([88.0, 89.0, 710.0])
        ),
        min_size=1,
        max_size=12,
    ),
    adv_seed=st.integers(0, 2**31 - 1),
    eps=st.sampled_from([0.0, 0.1, 0.2]),
    dual_clip=st.sampled_from([None, 1.5, 3.0]),
    double=st.booleans(),
)
def test_torch_path_never_makes_nan_and_matches_the_core(d, adv_seed, eps, dual_clip, double):
    dtype = torch.float64 if double else torch.float32
    lpn = torch.tensor(d, dtype=dtype)
    lpo = torch.zeros_like(lpn)
    g = torch.Generator().manual_seed(adv_seed)
    adv = torch.randn(lpn.shape, generator=g, dtype=torch.float64)
    adv = torch.where(torch.rand(lpn.shape, generator=g) < 0.15, torch.zeros_like(adv), adv)
    adv = adv.to(dtype)
    ref = core(lpn, lpo, adv, eps=eps, dual_clip=dual_clip)
    out, grad = _loss_and_grad(lpn, lpo, adv, "torch", eps=eps, dual_clip=dual_clip)
    assert not torch.isnan(out.loss) and not torch.isnan(grad).any()
    np.testing.assert_allclose(out.loss.item(), ref.loss, **tol(dtype))
    np.testing.assert_allclose(grad.numpy(), ref.grad, **tol(dtype))
