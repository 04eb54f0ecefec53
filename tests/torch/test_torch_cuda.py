"""CUDA: the torch path on the GPU against the core, with no host-device syncs per minibatch,
and ε changed in place under a captured CUDA graph (no re-capture)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch_helpers import batch, core, vec

import ppobr_torch as pt

pytestmark = pytest.mark.skipif(
    not torch.cuda.is_available(), reason="no CUDA device on this machine"
)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_cuda_path_matches_core(dtype):
    lpn, lpo, adv, ent = batch(10_000, dtype, seed=41, spread=0.4)
    mask = torch.rand(10_000, generator=torch.Generator().manual_seed(0)) > 0.1
    kw = dict(eps_low=0.2, eps_high=0.28, dual_clip=3.0)
    ref = core(lpn, lpo, adv, entropy=ent, mask=mask, **kw)
    x = lpn.cuda().requires_grad_(True)
    out = pt.clipped_surrogate_loss(
        x, lpo.cuda(), adv.cuda(), entropy=ent.cuda(), mask=mask.cuda(), **kw
    )
    (g,) = torch.autograd.grad(out.loss, x)
    t = dict(rtol=2e-5, atol=2e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    assert out.sums.device.type == "cuda"
    np.testing.assert_allclose(out.loss.item(), ref.loss, **t)
    np.testing.assert_allclose(g.cpu().numpy(), ref.grad, **t)
    np.testing.assert_allclose(out.sums.cpu().numpy(), vec(ref.sums), **t)
    np.testing.assert_allclose(out.counts.cpu().numpy(), vec(ref.counts), **t)


def test_no_host_device_sync_per_minibatch():
    lpn, lpo, adv, ent = (t.cuda() for t in batch(8 * 1024, torch.float32, seed=42))
    ctl = pt.EpsilonController(__import__("ppobr_core").ConstantController(0.2))
    eps = ctl.epsilon_tensor("cuda")
    x = lpn.clone().requires_grad_(True)
    acc = pt.StatsAccumulator()

    def minibatches():
        for start in range(0, lpn.numel(), 1024):  # slices: indexing itself adds no sync either
            idx = slice(start, start + 1024)
            out = pt.clipped_surrogate_loss(
                x[idx], lpo[idx], adv[idx], eps, entropy=ent[idx], dual_clip=3.0
            )
            out.loss.backward()
            acc.add(out)

    minibatches()  # warm-up (allocator, lazy init)
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        minibatches()
    finally:
        torch.cuda.set_sync_debug_mode("default")
    assert acc.compute()["clip_fraction"] >= 0


def test_cuda_graph_replays_with_new_eps():
    lpn, lpo, adv, _ = (t.cuda() for t in batch(4096, torch.float32, seed=43, spread=0.4))
    eps = torch.tensor(0.2, device="cuda")
    static_x = lpn.clone()
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(2):
            pt.clipped_surrogate_loss(static_x, lpo, adv, eps)
    torch.cuda.current_stream().wait_stream(s)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        out = pt.clipped_surrogate_loss(static_x, lpo, adv, eps)
    for e in (0.2, 0.1, 0.3):
        eps.fill_(e)
        graph.replay()
        torch.cuda.synchronize()
        ref = core(lpn, lpo, adv, eps=e)
        assert out.loss.item() == pytest.approx(ref.loss, rel=1e-5)
        np.testing.assert_allclose(out.sums.cpu().numpy(), vec(ref.sums), rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("dual_clip", [None, 3.0])
def test_cuda_overflowing_ratio_gives_the_cores_loss_and_gradient(dtype, dual_clip):
    # exp(d) overflows float32 at d = 100 and float64 at d = 800: the masked input keeps the
    # gradient of the unselected samples 0, never NaN (docs/SPEC.md §2, Overflow)
    lpn = torch.tensor([100.0, 100.0, 100.0, 800.0, -800.0, 0.1, -0.3], dtype=dtype)
    adv = torch.tensor([1.0, -1.0, 0.0, 2.0, -1.0, 1.0, -0.5], dtype=dtype)
    lpo = torch.zeros_like(lpn)
    ref = core(lpn, lpo, adv, eps=0.2, dual_clip=dual_clip)
    x = lpn.cuda().requires_grad_(True)
    out = pt.clipped_surrogate_loss(x, lpo.cuda(), adv.cuda(), 0.2, dual_clip=dual_clip)
    (g,) = torch.autograd.grad(out.loss, x)
    assert not torch.isnan(g).any() and not torch.isnan(out.loss)
    t = dict(rtol=2e-5, atol=2e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(out.loss.item(), ref.loss, **t)
    np.testing.assert_allclose(g.cpu().numpy(), ref.grad, **t)


def test_cuda_path_checks_types_and_shapes_without_a_sync():
    lpn, lpo, adv, _ = (t.cuda() for t in batch(1024, torch.float32, seed=44))
    adv_long, lpo_short, lpo_numpy = adv.long(), lpo[:-1], lpo.cpu().numpy()
    torch.cuda.synchronize()
    torch.cuda.set_sync_debug_mode("error")
    try:
        with pytest.raises(TypeError, match="advantages: expected a float32 or float64 array"):
            pt.clipped_surrogate_loss(lpn, lpo, adv_long, 0.2)
        with pytest.raises(ValueError, match="logp_old: shape"):
            pt.clipped_surrogate_loss(lpn, lpo_short, adv, 0.2)
        with pytest.raises(TypeError, match="logp_old: expected a torch.Tensor"):
            pt.clipped_surrogate_loss(lpn, lpo_numpy, adv, 0.2)
    finally:
        torch.cuda.set_sync_debug_mode("default")
