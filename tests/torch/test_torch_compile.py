"""torch.compile: the loss traces into one graph and ε is a runtime value (no recompiles)."""

from __future__ import annotations

import pytest
import torch
import torch._dynamo
from torch._dynamo.testing import CompileCounterWithBackend
from torch_helpers import batch, core

import ppobr_torch as pt


def _agent():
    torch.manual_seed(0)
    return torch.nn.Sequential(torch.nn.Linear(4, 32), torch.nn.Tanh(), torch.nn.Linear(32, 3))


def _data(n=256):
    g = torch.Generator().manual_seed(1)
    obs = torch.randn(n, 4, generator=g)
    act = torch.randint(0, 3, (n,), generator=g)
    old = torch.log_softmax(torch.randn(n, 3, generator=g), -1).gather(1, act[:, None])[:, 0]
    adv = torch.randn(n, generator=g)
    return obs, act, old, adv


def _loss_step(agent, obs, act, old, adv, eps):
    logits = agent(obs)
    logp_all = torch.log_softmax(logits, -1)
    logp = logp_all.gather(1, act[:, None])[:, 0]
    ent = -(logp_all.exp() * logp_all).sum(-1)
    out = pt.clipped_surrogate_loss(logp, old, adv, eps, entropy=ent, dual_clip=3.0)
    return out.loss - 0.01 * ent.mean(), out.sums, out.counts


def test_training_step_compiles_once_across_changing_eps():
    torch._dynamo.reset()
    agent = _agent()
    opt = torch.optim.Adam(agent.parameters(), lr=1e-3)
    cnt = CompileCounterWithBackend("aot_eager")
    step = torch.compile(_loss_step, backend=cnt, fullgraph=True)
    ctl = pt.EpsilonController(pt_core().ConstantController(0.2))
    eps_t = ctl.epsilon_tensor()
    obs, act, old, adv = _data()
    acc = pt.StatsAccumulator()
    for i, eps in enumerate([0.2, 0.1, 0.3, 0.25, 0.05]):
        eps_t.fill_(eps)  # what EpsilonController.update does
        loss, sums, counts = step(agent, obs, act, old, adv, eps_t)
        # the compiled graph computed what the eager adapter (C++ kernel) computes for this eps
        ref_loss, ref_sums, _ = _loss_step(agent, obs, act, old, adv, eps)
        torch.testing.assert_close(loss, ref_loss, rtol=1e-5, atol=1e-6)
        torch.testing.assert_close(sums, ref_sums, rtol=1e-5, atol=1e-5)
        opt.zero_grad()
        loss.backward()
        opt.step()
        acc.add((sums, counts))
    assert cnt.frame_count == 1, f"compiled {cnt.frame_count} times"
    assert len(torch._dynamo.eval_frame._debug_get_cache_entry_list(_loss_step.__code__)) == 1
    assert acc.compute()["clip_fraction"] > 0


def test_module_buffers_set_epsilon_without_recompiling():
    torch._dynamo.reset()
    mod = pt.ClippedSurrogateLoss(0.2, dual_clip=2.0)
    cnt = CompileCounterWithBackend("aot_eager")

    def loss(a, b, c):
        return mod(a, b, c)

    f = torch.compile(loss, backend=cnt, fullgraph=True)
    lpn, lpo, adv, _ = batch(300, torch.float32, seed=5, spread=0.4)
    compiled_after_first = None
    for lo, hi in [(0.2, 0.2), (0.1, 0.3), (0.25, 0.25)]:
        mod.set_epsilon(eps_low=lo, eps_high=hi)
        out = f(lpn, lpo, adv)
        compiled_after_first = compiled_after_first or cnt.frame_count
        ref = core(lpn, lpo, adv, eps_low=lo, eps_high=hi, dual_clip=2.0)
        assert out.loss.item() == pytest.approx(ref.loss, rel=1e-5)
    # dynamo may restart its first analysis (the 0-d float buffers become graph inputs), but
    # the code object ends with one cached graph and changing eps compiled nothing new
    assert cnt.frame_count == compiled_after_first
    assert len(torch._dynamo.eval_frame._debug_get_cache_entry_list(loss.__code__)) == 1


def test_inductor_matches_core():
    torch._dynamo.reset()
    lpn, lpo, adv, ent = batch(1000, torch.float32, seed=6, spread=0.4)
    mask = torch.arange(1000) % 7 != 0

    def f(x, eps):
        return pt.clipped_surrogate_loss(x, lpo, adv, eps, entropy=ent, mask=mask, dual_clip=3.0)

    cf = torch.compile(f, fullgraph=True)  # inductor
    for eps in (0.2, 0.15):
        x = lpn.clone().requires_grad_(True)
        out = cf(x, torch.tensor(eps))
        (g,) = torch.autograd.grad(out.loss, x)
        ref = core(lpn, lpo, adv, eps=eps, entropy=ent, mask=mask, dual_clip=3.0)
        assert out.loss.item() == pytest.approx(ref.loss, rel=1e-5)
        torch.testing.assert_close(g.numpy(), ref.grad, rtol=1e-5, atol=1e-7)
        for k, v in out.stats().items():
            assert v == pytest.approx(ref.stats[k], rel=1e-5, abs=1e-7), k


def pt_core():
    import ppobr_core

    return ppobr_core
