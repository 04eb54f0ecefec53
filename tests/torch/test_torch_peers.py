"""Agreement with peer PPO implementations on the same random inputs.

- TorchRL: ``torchrl.objectives.ClipPPOLoss`` itself (torchrl/objectives/ppo.py,
  ``ClipPPOLoss.forward``), when torchrl is installed: objective, gradient, clip fraction,
  kl_approx (= mean of log(pi_old / pi), our k1) and the ratio's max and mean.
- Stable-Baselines3 and CleanRL: their formulas restated below, line for line, from
  DLR-RM/stable-baselines3 stable_baselines3/ppo/ppo.py (``PPO.train``) and
  vwxyzjn/cleanrl cleanrl/ppo.py (the "Optimizing the policy and value network" loop).
"""

from __future__ import annotations

import pytest
import torch
from torch_helpers import batch

import ppobr_torch as pt


def sb3_policy_loss(log_prob, old_log_prob, advantages, clip_range):
    # stable_baselines3/ppo/ppo.py, PPO.train():
    #   ratio = th.exp(log_prob - rollout_data.old_log_prob)
    #   policy_loss_1 = advantages * ratio
    #   policy_loss_2 = advantages * th.clamp(ratio, 1 - clip_range, 1 + clip_range)
    #   policy_loss = -th.min(policy_loss_1, policy_loss_2).mean()
    #   clip_fraction = th.mean((th.abs(ratio - 1) > clip_range).float()).item()
    #   log_ratio = log_prob - rollout_data.old_log_prob
    #   approx_kl_div = th.mean((th.exp(log_ratio) - 1) - log_ratio).cpu().numpy()
    ratio = torch.exp(log_prob - old_log_prob)
    policy_loss_1 = advantages * ratio
    policy_loss_2 = advantages * torch.clamp(ratio, 1 - clip_range, 1 + clip_range)
    policy_loss = -torch.min(policy_loss_1, policy_loss_2).mean()
    clip_fraction = torch.mean((torch.abs(ratio - 1) > clip_range).float()).item()
    log_ratio = log_prob - old_log_prob
    approx_kl_div = torch.mean((torch.exp(log_ratio) - 1) - log_ratio).item()
    return policy_loss, clip_fraction, approx_kl_div


def cleanrl_pg_loss(newlogprob, b_logprobs, mb_advantages, clip_coef):
    # cleanrl/ppo.py:
    #   logratio = newlogprob - b_logprobs[mb_inds]
    #   ratio = logratio.exp()
    #   old_approx_kl = (-logratio).mean();  approx_kl = ((ratio - 1) - logratio).mean()
    #   clipfracs += [((ratio - 1.0).abs() > args.clip_coef).float().mean().item()]
    #   pg_loss1 = -mb_advantages * ratio
    #   pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - args.clip_coef, 1 + args.clip_coef)
    #   pg_loss = torch.max(pg_loss1, pg_loss2).mean()
    logratio = newlogprob - b_logprobs
    ratio = logratio.exp()
    with torch.no_grad():
        old_approx_kl = (-logratio).mean().item()
        approx_kl = ((ratio - 1) - logratio).mean().item()
        clipfrac = ((ratio - 1.0).abs() > clip_coef).float().mean().item()
    pg_loss1 = -mb_advantages * ratio
    pg_loss2 = -mb_advantages * torch.clamp(ratio, 1 - clip_coef, 1 + clip_coef)
    pg_loss = torch.max(pg_loss1, pg_loss2).mean()
    return pg_loss, clipfrac, old_approx_kl, approx_kl


@pytest.mark.parametrize("backend", ["core", "torch"])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_sb3_and_cleanrl(backend, dtype):
    # margin: keep ratios off the clip bounds, where min/max split the gradient of ties.
    lpn, lpo, adv, _ = batch(2048, dtype, seed=31, spread=0.4, margin=1e-4)
    eps = 0.2
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
    x = lpn.clone().requires_grad_(True)
    out = pt.clipped_surrogate_loss(x, lpo, adv, eps, backend=backend)
    (g,) = torch.autograd.grad(out.loss, x)
    stats = out.stats()

    y = lpn.clone().requires_grad_(True)
    loss, clip_fraction, approx_kl = sb3_policy_loss(y, lpo, adv, eps)
    (gy,) = torch.autograd.grad(loss, y)
    torch.testing.assert_close(out.loss, loss, **tol)
    torch.testing.assert_close(g, gy, **tol)
    assert stats["clip_fraction"] == pytest.approx(clip_fraction, abs=1e-6)
    assert stats["kl_k3"] == pytest.approx(approx_kl, rel=1e-4)

    z = lpn.clone().requires_grad_(True)
    pg_loss, clipfrac, old_kl, kl = cleanrl_pg_loss(z, lpo, adv, eps)
    (gz,) = torch.autograd.grad(pg_loss, z)
    torch.testing.assert_close(out.loss, pg_loss, **tol)
    torch.testing.assert_close(g, gz, **tol)
    assert stats["clip_fraction"] == pytest.approx(clipfrac, abs=1e-6)
    assert stats["kl_k1"] == pytest.approx(old_kl, rel=1e-4, abs=1e-7)
    assert stats["kl_k3"] == pytest.approx(kl, rel=1e-4)
    assert 0.05 < stats["clip_fraction"] < 0.95  # the data do clip


def _torchrl_setup(n, k, eps, seed=0):
    from tensordict import TensorDict
    from tensordict.nn import TensorDictModule
    from torch.distributions import Categorical
    from torchrl.modules import ProbabilisticActor
    from torchrl.objectives import ClipPPOLoss

    g = torch.Generator().manual_seed(seed)
    logits0 = torch.randn(n, k, generator=g, dtype=torch.float64)

    class Logits(torch.nn.Module):  # the policy's logits are its parameters
        def __init__(self):
            super().__init__()
            self.logits = torch.nn.Parameter(logits0.clone())

        def forward(self, obs):
            return self.logits + 0 * obs

    policy = Logits()
    actor = ProbabilisticActor(
        TensorDictModule(policy, in_keys=["observation"], out_keys=["logits"]),
        in_keys=["logits"],
        distribution_class=Categorical,
        return_log_prob=True,
    )
    loss_fn = ClipPPOLoss(actor, None, clip_epsilon=eps, entropy_bonus=False)
    act = torch.randint(0, k, (n,), generator=g)
    old_logits = logits0 + 0.4 * torch.randn(n, k, generator=g, dtype=torch.float64)
    old = torch.log_softmax(old_logits, -1).gather(-1, act[:, None])[:, 0]
    adv = torch.randn(n, 1, generator=g, dtype=torch.float64)
    td = TensorDict(
        {
            "observation": torch.zeros(n, 1, dtype=torch.float64),
            "action": act,
            loss_fn.tensor_keys.sample_log_prob: old,
            "advantage": adv,
        },
        batch_size=[n],
    )
    return loss_fn, td, policy, act, old, adv[:, 0]


@pytest.mark.parametrize("backend", ["core", "torch"])
@pytest.mark.parametrize("eps", [0.2, (0.2, 0.28)], ids=["symmetric", "clip-higher"])
def test_torchrl_clip_ppo_loss(backend, eps):
    pytest.importorskip("torchrl", reason="torchrl is not installed (pip install torchrl)")
    loss_fn, td, policy, act, old, adv = _torchrl_setup(512, 6, eps)
    out_rl = loss_fn(td)
    (g_rl,) = torch.autograd.grad(out_rl["loss_objective"], policy.logits)

    logp = torch.log_softmax(policy.logits, -1).gather(-1, act[:, None])[:, 0]
    kw = dict(eps=eps) if isinstance(eps, float) else dict(eps_low=eps[0], eps_high=eps[1])
    out = pt.clipped_surrogate_loss(logp, old, adv, backend=backend, **kw)
    (g,) = torch.autograd.grad(out.loss, policy.logits)
    stats = out.stats()

    # TorchRL keeps clip_epsilon in a float32 buffer: its clip bounds carry float32 rounding.
    torch.testing.assert_close(out.loss, out_rl["loss_objective"], rtol=1e-6, atol=1e-9)
    torch.testing.assert_close(g, g_rl, rtol=1e-6, atol=1e-9)
    assert stats["clip_fraction"] == pytest.approx(out_rl["clip_fraction"].item(), abs=1e-12)
    assert 0.05 < stats["clip_fraction"] < 0.95
    assert stats["kl_k1"] == pytest.approx(out_rl["kl_approx"].item(), rel=1e-10)
    assert stats["ratio_max"] == pytest.approx(out_rl["max_ratio"].item(), rel=1e-12)
    assert stats["ratio_mean"] == pytest.approx(out_rl["mean_ratio"].item(), rel=1e-12)
