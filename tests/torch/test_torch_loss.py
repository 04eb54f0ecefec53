"""The adapter's loss, gradient and statistics against ppobr_core on the same inputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_helpers import batch, core, dtype_name, tol, vec

import ppobr_core
import ppobr_torch as pt

DTYPES = [torch.float32, torch.float64]
OPTION_SETS = {
    "symmetric": dict(eps=0.2),
    "asymmetric": dict(eps_low=0.2, eps_high=0.28),
    "dual-clip": dict(eps=0.2, dual_clip=3.0),
    "tight-dual": dict(eps=0.1, dual_clip=1.2),
}


def _run(lpn, lpo, adv, backend, **kw):
    x = lpn.clone().requires_grad_(True)
    out = pt.clipped_surrogate_loss(x, lpo, adv, backend=backend, **kw)
    (g,) = torch.autograd.grad(out.loss, x)
    return out, g


def _assert_matches_core(out, g, ref, dtype):
    t = tol(dtype)
    assert out.loss.dtype == dtype
    np.testing.assert_allclose(out.loss.item(), ref.loss, **t)
    np.testing.assert_allclose(g.numpy(), ref.grad, **t)
    np.testing.assert_allclose(out.sums.numpy(), vec(ref.sums), **t)
    np.testing.assert_allclose(out.counts.numpy(), vec(ref.counts), **t)
    got, want = out.stats(), ref.stats
    for k in want:
        if np.isnan(want[k]):
            assert np.isnan(got[k]), k
        else:
            np.testing.assert_allclose(got[k], want[k], **t, err_msg=k)


@pytest.mark.parametrize("backend", ["core", "torch"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("opts", list(OPTION_SETS))
def test_token_mean_matches_core(backend, dtype, opts):
    lpn, lpo, adv, ent = batch(1001, dtype, spread=0.4)
    kw = OPTION_SETS[opts]
    ref = core(lpn, lpo, adv, entropy=ent, **kw)
    out, g = _run(lpn, lpo, adv, backend, entropy=ent, **kw)
    _assert_matches_core(out, g, ref, dtype)
    if "dual_clip" in kw:
        assert ref.stats["dual_clip_fraction"] > 0  # the data exercise dual-clip


@pytest.mark.parametrize("backend", ["core", "torch"])
@pytest.mark.parametrize("dtype", DTYPES)
def test_without_entropy_and_with_masks(backend, dtype):
    lpn, lpo, adv, _ = batch(300, dtype, seed=3)
    g = torch.Generator().manual_seed(5)
    bool_mask = torch.rand(300, generator=g) > 0.3
    weights = (torch.rand(300, generator=g, dtype=torch.float64) * 2).to(dtype) * bool_mask
    for mask in (None, bool_mask, weights):
        ref = core(lpn, lpo, adv, eps=0.2, mask=mask)
        out, grad = _run(lpn, lpo, adv, backend, eps=0.2, mask=mask)
        _assert_matches_core(out, grad, ref, dtype)
        assert np.isnan(out.stats()["entropy"])


@pytest.mark.parametrize("backend", ["core", "torch"])
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("aggregation", ["token-mean", "seq-mean-token-mean", "seq-mean-token-sum"])
def test_aggregations_2d_and_segments(backend, dtype, aggregation):
    # [batch, tokens] with a ragged mask (one empty row)
    lpn, lpo, adv, ent = batch(dtype=dtype, shape=(6, 40), seed=7)
    lengths = torch.tensor([40, 13, 1, 0, 27, 35])
    mask = torch.arange(40)[None, :] < lengths[:, None]
    kw = dict(
        eps_low=0.2, eps_high=0.3, dual_clip=2.5, entropy=ent, mask=mask, aggregation=aggregation
    )
    ref = core(lpn, lpo, adv, **kw)
    out, g = _run(lpn, lpo, adv, backend, **kw)
    _assert_matches_core(out, g, ref, dtype)

    # the same tokens as a packed 1-D batch with segment ids (ids need not be contiguous)
    sel = mask.reshape(-1)
    ids = torch.arange(6).repeat_interleave(40)[sel] * 2
    flat = [t.reshape(-1)[sel] for t in (lpn, lpo, adv, ent)]
    kw1 = dict(
        eps_low=0.2,
        eps_high=0.3,
        dual_clip=2.5,
        entropy=flat[3],
        segment_ids=ids,
        aggregation=aggregation,
    )
    ref1 = core(*flat[:3], **kw1)
    out1, g1 = _run(*flat[:3], backend, **kw1)
    _assert_matches_core(out1, g1, ref1, dtype)
    np.testing.assert_allclose(ref1.loss, ref.loss, **tol(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_strided_inputs_are_viewed_not_copied(dtype, monkeypatch):
    base = batch(dtype=dtype, shape=(64, 50), seed=2)
    # column slices of a transposed tensor: non-contiguous 2-D views; every other element: 1-D
    views2d = [t.t()[::2, 3:] for t in base]
    views1d = [t.reshape(-1)[::3] for t in base]
    seen = []
    real = ppobr_core.clipped_surrogate

    def spy(*args, **kw):
        seen.append([a for a in args] + [kw["entropy"]])
        return real(*args, **kw)

    monkeypatch.setattr(ppobr_core, "clipped_surrogate", spy)
    leaf = base[0].clone().requires_grad_(True)
    for views, lpn in ((views2d, leaf.t()[::2, 3:]), (views1d, leaf.reshape(-1)[::3])):
        _, lpo, adv, ent = views
        assert not lpn.is_contiguous()
        args = [np.ascontiguousarray(v.detach().numpy()) for v in (lpn, lpo, adv)]
        ref = real(*args, eps=0.2, entropy=np.ascontiguousarray(ent.numpy()))
        out = pt.clipped_surrogate_loss(lpn, lpo, adv, 0.2, entropy=ent, backend="core")
        (g,) = torch.autograd.grad(out.loss, lpn)
        _assert_matches_core(out, g, ref, dtype)
        assert g.shape == lpn.shape
        for arr, t in zip(seen[-1], [lpn, lpo, adv, ent]):
            assert isinstance(arr, np.ndarray)
            assert arr.ctypes.data == t.data_ptr()
            assert arr.strides == tuple(s * t.element_size() for s in t.stride())


@pytest.mark.parametrize("dtype", DTYPES)
def test_cpu_core_and_torch_paths_agree(dtype):
    lpn, lpo, adv, ent = batch(5000, dtype, seed=21, spread=0.5)
    mask = torch.rand(5000, generator=torch.Generator().manual_seed(1)) > 0.1
    kw = dict(eps_low=0.15, eps_high=0.25, dual_clip=2.0, entropy=ent, mask=mask)
    a, ga = _run(lpn, lpo, adv, "core", **kw)
    b, gb = _run(lpn, lpo, adv, "torch", **kw)
    t = tol(dtype)
    torch.testing.assert_close(a.loss, b.loss, **t)
    torch.testing.assert_close(ga, gb, **t)
    torch.testing.assert_close(a.sums, b.sums, **t)
    torch.testing.assert_close(a.counts, b.counts, **t)


def test_auto_picks_core_on_cpu_and_refuses_other_float_dtypes(monkeypatch):
    calls = []
    real = ppobr_core.clipped_surrogate
    monkeypatch.setattr(
        ppobr_core, "clipped_surrogate", lambda *a, **k: calls.append(1) or real(*a, **k)
    )
    lpn, lpo, adv, _ = batch(100, torch.float32)
    pt.clipped_surrogate_loss(lpn, lpo, adv, 0.2)
    assert calls == [1]
    # bfloat16 / float16 are not float32 or float64: refused on every path, never computed
    for dtype in (torch.bfloat16, torch.float16):
        for backend in ("auto", "torch"):
            low = [t.to(dtype) for t in (lpn, lpo, adv)]
            with pytest.raises(
                TypeError,
                match=f"logp_new: expected a float32 or float64 array, got {dtype_name(dtype)}",
            ):
                pt.clipped_surrogate_loss(*low, 0.2, backend=backend)
    assert calls == [1]


@pytest.mark.parametrize("backend", ["core", "torch"])
def test_gradcheck_float64(backend):
    for opts in OPTION_SETS.values():
        lpn, lpo, adv, _ = batch(
            40,
            torch.float64,
            seed=4,
            spread=0.4,
            margin=1e-3,
            eps=opts.get("eps", 0.2),
            dual_clip=opts.get("dual_clip"),
        )
        if "eps_low" in opts:  # asymmetric: keep away from both bounds
            r = (lpn - lpo).exp()
            keep = ((r - 0.8).abs() > 2e-3) & ((r - 1.28).abs() > 2e-3)
            lpn, lpo, adv = lpn[keep], lpo[keep], adv[keep]
        x = lpn.clone().requires_grad_(True)
        mask = torch.arange(x.numel()) % 5 != 0

        def f(x):
            return pt.clipped_surrogate_loss(x, lpo, adv, backend=backend, mask=mask, **opts).loss

        assert torch.autograd.gradcheck(f, (x,), eps=1e-6, atol=1e-8, rtol=1e-6)


def test_backward_scales_by_grad_output_and_retains_graph():
    lpn, lpo, adv, _ = batch(100, seed=9)
    x = lpn.clone().requires_grad_(True)
    out = pt.clipped_surrogate_loss(x, lpo, adv, 0.2, backend="core")
    ref = core(lpn, lpo, adv, eps=0.2)
    (3.0 * out.loss).backward(retain_graph=True)
    np.testing.assert_allclose(x.grad.numpy(), 3.0 * ref.grad, rtol=1e-12)
    x.grad = None
    out.loss.backward()  # twice on the same graph: the saved kernel gradient was not modified
    np.testing.assert_allclose(x.grad.numpy(), ref.grad, rtol=1e-12)


def test_gradient_flows_through_the_policy():
    torch.manual_seed(0)
    logits = torch.randn(128, 5, dtype=torch.float64, requires_grad=True)
    act = torch.randint(0, 5, (128,))
    lpo = torch.log_softmax(logits.detach() + 0.2 * torch.randn(128, 5, dtype=torch.float64), -1)
    lpo = lpo.gather(1, act[:, None])[:, 0]
    adv = torch.randn(128, dtype=torch.float64)
    grads = []
    for backend in ("core", "torch"):
        lp = torch.log_softmax(logits, -1).gather(1, act[:, None])[:, 0]
        out = pt.clipped_surrogate_loss(lp, lpo, adv, 0.2, backend=backend)
        (g,) = torch.autograd.grad(out.loss, logits)
        grads.append(g)
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-10, atol=1e-12)


def test_no_grad_and_requires_grad_elsewhere():
    lpn, lpo, adv, _ = batch(100, seed=13)
    ref = core(lpn, lpo, adv, eps=0.2)
    with torch.no_grad():
        out = pt.clipped_surrogate_loss(lpn.requires_grad_(True), lpo, adv, 0.2)
    assert not out.loss.requires_grad
    np.testing.assert_allclose(out.loss.item(), ref.loss, rtol=1e-12)
    # advantages that require grad (e.g. a learned baseline): autograd does the whole job
    a = adv.clone().requires_grad_(True)
    x = lpn.detach().clone().requires_grad_(True)
    out = pt.clipped_surrogate_loss(x, lpo, a, 0.2)
    gx, ga = torch.autograd.grad(out.loss, (x, a))
    np.testing.assert_allclose(gx.numpy(), ref.grad, rtol=1e-10, atol=1e-14)
    assert ga.abs().sum() > 0


@pytest.mark.parametrize("opts", list(OPTION_SETS))
def test_gradients_in_logp_old_and_advantages_are_the_formulas(opts):
    # the torch path differentiates in all three inputs: d obj / d A is r, clip(r) or c per the
    # selected term (the masked-input rebuild of r must not cut these paths)
    kw = OPTION_SETS[opts]
    lpn, lpo, adv, _ = batch(
        60,
        torch.float64,
        seed=31,
        spread=0.4,
        margin=1e-3,
        eps=kw.get("eps", 0.2),
        dual_clip=kw.get("dual_clip"),
    )
    if "eps_low" in kw:
        r = (lpn - lpo).exp()
        keep = ((r - 0.8).abs() > 2e-3) & ((r - 1.28).abs() > 2e-3)
        lpn, lpo, adv = lpn[keep], lpo[keep], adv[keep]
    adv = torch.where(adv.abs() < 1e-3, torch.full_like(adv, 0.5), adv)  # away from A = 0

    def f(x, o, a):
        return pt.clipped_surrogate_loss(x, o, a, backend="torch", **kw).loss

    args = tuple(t.clone().requires_grad_(True) for t in (lpn, lpo, adv))
    assert torch.autograd.gradcheck(f, args, eps=1e-6, atol=1e-8, rtol=1e-6)


def test_module_and_set_epsilon():
    lpn, lpo, adv, ent = batch(500, seed=17, spread=0.4)
    mod = pt.ClippedSurrogateLoss(0.2, dual_clip=3.0)
    for eps in (0.2, 0.1, 0.3):
        mod.set_epsilon(eps)
        for backend in ("core", "torch"):
            mod.backend = backend
            out = mod(lpn, lpo, adv, entropy=ent)
            ref = core(lpn, lpo, adv, eps=eps, dual_clip=3.0, entropy=ent)
            np.testing.assert_allclose(out.loss.item(), ref.loss, rtol=1e-10)
            np.testing.assert_allclose(out.sums.numpy(), vec(ref.sums), rtol=1e-10)
    mod.set_epsilon(eps_low=0.1, eps_high=0.3)
    out = mod(lpn, lpo, adv)
    ref = core(lpn, lpo, adv, eps_low=0.1, eps_high=0.3, dual_clip=3.0)
    np.testing.assert_allclose(out.loss.item(), ref.loss, rtol=1e-10)
    assert "eps_low=0.1" in repr(mod)
    assert mod.state_dict() == {}  # ε is the controller's state, not the module's


def test_eps_as_tensor_and_bad_arguments():
    lpn, lpo, adv, _ = batch(50, seed=19)
    ref = core(lpn, lpo, adv, eps=0.25)
    for backend in ("core", "torch"):
        out = pt.clipped_surrogate_loss(lpn, lpo, adv, torch.tensor(0.25), backend=backend)
        np.testing.assert_allclose(out.loss.item(), ref.loss, rtol=1e-12)
    Err = ppobr_core.InvalidArgumentError
    with pytest.raises(Err, match="eps"):
        pt.clipped_surrogate_loss(lpn, lpo, adv)
    with pytest.raises(Err, match="eps"):
        pt.clipped_surrogate_loss(lpn, lpo, adv, 0.2, eps_low=0.1, eps_high=0.1)
    with pytest.raises(Err, match="dual_clip"):
        pt.clipped_surrogate_loss(lpn, lpo, adv, 0.2, dual_clip=0.5)
    with pytest.raises(Err, match="aggregation"):
        pt.clipped_surrogate_loss(lpn, lpo, adv, 0.2, aggregation="sum")
    for backend in ("core", "torch"):
        with pytest.raises(Err, match="logp_old"):
            pt.clipped_surrogate_loss(lpn, lpo[:-1], adv, 0.2, backend=backend)
        with pytest.raises(Err, match="logp_new"):
            pt.clipped_surrogate_loss(lpn[:0], lpo[:0], adv[:0], 0.2, backend=backend)
        with pytest.raises(TypeError, match="logp_old"):  # mixed dtypes
            pt.clipped_surrogate_loss(lpn, lpo.float(), adv, 0.2, backend=backend)
    with pytest.raises(Err, match="logp_new"):  # NaN: the core validates values
        pt.clipped_surrogate_loss(torch.full_like(lpn, float("nan")), lpo, adv, 0.2)
    with pytest.raises(ValueError, match="backend"):
        pt.clipped_surrogate_loss(lpn, lpo, adv, 0.2, backend="numpy")
    # the clip range is checked on both paths (the torch path computes with whatever it gets,
    # so this check is all that stands between a bad ε and a wrong loss there)
    for backend in ("core", "torch"):
        for bad, name in (
            ({"eps": -0.1}, "eps"),
            ({"eps": float("nan")}, "eps"),
            ({"eps": 1.0}, "eps"),
            ({"eps_low": 1.5, "eps_high": 0.2}, "eps_low"),
            ({"eps_low": 0.2, "eps_high": -1.0}, "eps_high"),
            ({"eps": torch.tensor(-0.5)}, "eps"),
            ({"eps": torch.ones(2)}, "eps"),
        ):
            with pytest.raises(Err, match=name) as e:
                pt.clipped_surrogate_loss(lpn, lpo, adv, backend=backend, **bad)
            assert e.value.argument == name
    mod = pt.ClippedSurrogateLoss(eps_low=0.1, eps_high=0.3)
    assert (mod.eps_low.item(), mod.eps_high.item()) == (0.1, 0.3)
    assert pt.ClippedSurrogateLoss().eps_low.item() == 0.2  # the default
    with pytest.raises(Err, match="eps_high"):
        mod.set_epsilon(eps_low=0.1, eps_high=float("inf"))
    assert mod.eps_high.item() == 0.3  # a rejected value is not written
    with pytest.raises(Err, match="eps"):
        pt.ClippedSurrogateLoss(eps=2.0)


def test_stats_accumulator_equals_one_big_batch():
    lpn, lpo, adv, ent = batch(1000, seed=23, spread=0.5)
    mask = torch.rand(1000, generator=torch.Generator().manual_seed(2)) > 0.2
    ref = core(lpn, lpo, adv, eps=0.2, dual_clip=3.0, entropy=ent, mask=mask)
    for backend, fold_every in (("core", 1024), ("torch", 3)):  # 3: partial sums folded on the way
        acc = pt.StatsAccumulator()
        acc.fold_every = fold_every
        for idx in torch.randperm(1000, generator=torch.Generator().manual_seed(3)).split(128):
            acc.add(
                pt.clipped_surrogate_loss(
                    lpn[idx],
                    lpo[idx],
                    adv[idx],
                    0.2,
                    dual_clip=3.0,
                    entropy=ent[idx],
                    mask=mask[idx],
                    backend=backend,
                )
            )
        assert len(acc) == 8
        np.testing.assert_allclose(acc.sums.numpy(), vec(ref.sums), rtol=1e-10)
        np.testing.assert_allclose(acc.counts.numpy(), vec(ref.counts), rtol=1e-12)
        stats = acc.compute()  # not distributed here: local means
        for k, v in ref.stats.items():
            np.testing.assert_allclose(stats[k], v, rtol=1e-10, err_msg=k)
        assert len(acc) == 0
        with pytest.raises(RuntimeError):
            acc.compute()


@pytest.mark.parametrize("backend", ["core", "torch"])
def test_masked_padding_with_extreme_log_ratios_stays_finite(backend):
    lpn, lpo, adv, _ = batch(dtype=torch.float32, shape=(4, 30), seed=29)
    mask = torch.arange(30)[None, :] < torch.tensor([30, 10, 20, 5])[:, None]
    lpn = torch.where(mask, lpn, torch.full_like(lpn, 0.0))
    lpo = torch.where(
        mask, lpo, torch.full_like(lpo, -100.0)
    )  # padding: exp(100) overflows float32
    ref = core(lpn, lpo, adv, eps=0.2, mask=mask, aggregation="seq-mean-token-mean")
    out, g = _run(lpn, lpo, adv, backend, eps=0.2, mask=mask, aggregation="seq-mean-token-mean")
    assert torch.isfinite(out.loss) and torch.isfinite(g).all()
    _assert_matches_core(out, g, ref, torch.float32)


def test_double_backward_is_refused_on_the_core_path_and_works_on_torch():
    lpn, lpo, adv, _ = batch(64, seed=37, margin=1e-3)
    x = lpn.clone().requires_grad_(True)
    out = pt.clipped_surrogate_loss(x, lpo, adv, 0.2, backend="core")
    with pytest.raises(RuntimeError, match="differentiable once"):
        torch.autograd.grad(out.loss, x, create_graph=True)
    out = pt.clipped_surrogate_loss(x, lpo, adv, 0.2, backend="torch")
    (g,) = torch.autograd.grad(out.loss, x, create_graph=True)
    (h,) = torch.autograd.grad(g.sum(), x)  # d/dx of -s A r = the same expression again
    torch.testing.assert_close(h, g)
