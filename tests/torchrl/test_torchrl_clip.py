"""ppobr_torchrl with TorchRL's real ClipPPOLoss and collector."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from ppobr_torchrl import ControlledClipEpsilon, rollout_signals, set_clip_epsilon
from tensordict import TensorDict
from tensordict.nn import TensorDictModule
from torchrl.collectors import Collector
from torchrl.envs import GymEnv, RewardSum, SerialEnv, TransformedEnv
from torchrl.modules import MLP, ProbabilisticActor, ValueOperator
from torchrl.modules.distributions import OneHotCategorical, TanhNormal
from torchrl.objectives import ClipPPOLoss
from torchrl.objectives.value import GAE

import ppobr_core

EPS_SEQUENCE = [0.2, 0.05, 0.3, 0.0, 0.14, 0.2765]


def cartpole_env(n_envs: int = 2, seed: int = 0):
    env = TransformedEnv(SerialEnv(n_envs, lambda: GymEnv("CartPole-v1")), RewardSum())
    env.set_seed(seed)
    return env


def actor_critic(seed: int = 0):
    torch.manual_seed(seed)
    net = TensorDictModule(
        MLP(in_features=4, out_features=2, num_cells=[16]),
        in_keys=["observation"],
        out_keys=["logits"],
    )
    actor = ProbabilisticActor(
        net, in_keys=["logits"], distribution_class=OneHotCategorical, return_log_prob=True
    )
    critic = ValueOperator(
        MLP(in_features=4, out_features=1, num_cells=[16]), in_keys=["observation"]
    )
    return actor, critic


@pytest.fixture(scope="module")
def batch_with_advantage():
    """A real collector batch, its GAE advantage, and old log-probs moved away from the
    current policy so that the ratios spread beyond every ε of EPS_SEQUENCE."""
    actor, critic = actor_critic()
    collector = Collector(
        cartpole_env(),
        actor,
        frames_per_batch=128,
        total_frames=128,
        auto_register_policy_transforms=False,
    )
    batch = next(iter(collector))
    collector.shutdown()
    with torch.no_grad():
        GAE(gamma=0.99, lmbda=0.95, value_network=critic)(batch)
    g = torch.Generator().manual_seed(0)
    lp = batch.get("action_log_prob")
    batch.set("action_log_prob", lp + 0.4 * torch.randn(lp.shape, generator=g))
    return actor, critic, batch.reshape(-1)


def _outputs(loss, batch):
    out = loss(batch)
    total = out["loss_objective"] + out["loss_critic"] + out["loss_entropy"]
    grads = torch.autograd.grad(total, list(loss.actor_network_params.values(True, True)))
    return out, grads


def test_loss_at_each_eps_equals_a_loss_built_with_it(batch_with_advantage):
    actor, critic, batch = batch_with_advantage
    scheduled = ClipPPOLoss(actor, critic, clip_epsilon=0.2)
    buffer = scheduled.clip_epsilon
    objectives = []
    for eps in EPS_SEQUENCE:
        set_clip_epsilon(scheduled, eps)
        assert scheduled.clip_epsilon is buffer  # the same tensor, written in place
        built = ClipPPOLoss(actor, critic, clip_epsilon=eps)
        (a, ga), (b, gb) = _outputs(scheduled, batch), _outputs(built, batch)
        assert set(a.keys()) == set(b.keys())
        for key in a.keys():
            assert torch.equal(a[key], b[key]), (eps, key)
        for x, y in zip(ga, gb):
            assert torch.equal(x, y)
        assert torch.equal(
            scheduled.state_dict()["clip_epsilon"], built.state_dict()["clip_epsilon"]
        )
        objectives.append(float(a["loss_objective"].detach()))
    assert len(set(objectives)) == len(EPS_SEQUENCE)  # ε changes the loss: not vacuous


def test_asymmetric_loss_sets_both_bounds(batch_with_advantage):
    actor, critic, batch = batch_with_advantage
    scheduled = ClipPPOLoss(actor, critic, clip_epsilon=(0.2, 0.28))
    set_clip_epsilon(scheduled, 0.1, eps_high=0.15)
    built = ClipPPOLoss(actor, critic, clip_epsilon=(0.1, 0.15))
    a, b = scheduled(batch), built(batch)
    for key in a.keys():
        assert torch.equal(a[key], b[key]), key
    with pytest.raises(ppobr_core.InvalidArgumentError, match="^eps_high: this loss has one"):
        set_clip_epsilon(ClipPPOLoss(actor, critic), 0.1, eps_high=0.2)


def test_bad_eps_and_loss():
    actor, critic = actor_critic()
    loss = ClipPPOLoss(actor, critic)
    for bad in (-0.1, math.nan, math.inf):
        with pytest.raises(ppobr_core.InvalidArgumentError, match="^eps: must be finite"):
            set_clip_epsilon(loss, bad)
    assert float(loss.clip_epsilon) == pytest.approx(0.2)
    with pytest.raises(TypeError, match="^loss: expected a torchrl ClipPPOLoss"):
        set_clip_epsilon(torch.nn.Linear(1, 1), 0.1)
    with pytest.raises(TypeError, match="^controller: expected a ppobr_core controller"):
        ControlledClipEpsilon(loss, 0.2, actor)


def test_rollout_signals_reads_finished_returns_in_time_order():
    # 2 envs × 4 steps, time the last dimension as collectors give it
    done = torch.tensor([[0, 1, 0, 1], [1, 0, 0, 0]], dtype=torch.bool).unsqueeze(-1)
    episode_reward = torch.tensor([[1.0, 2.0, 1.0, 5.0], [7.0, 1.0, 2.0, 3.0]]).unsqueeze(-1)
    entropy = torch.arange(8, dtype=torch.float32).reshape(2, 4)
    batch = TensorDict(
        {"next": {"done": done, "episode_reward": episode_reward}, "ent": entropy},
        batch_size=[2, 4],
        names=[None, "time"],
    )
    entropies, returns = rollout_signals(batch, entropy_key="ent")
    assert returns == [7.0, 2.0, 5.0]  # step 0: env 1; step 1: env 0; step 3: env 0
    assert entropies.dtype == np.float64
    assert entropies.tolist() == [0.0, 4.0, 1.0, 5.0, 2.0, 6.0, 3.0, 7.0]
    with pytest.raises(ppobr_core.InvalidArgumentError, match="^episode_reward_key: .*RewardSum"):
        rollout_signals(batch.exclude(("next", "episode_reward")), entropy_key="ent")
    with pytest.raises(TypeError, match="^actor: is required"):
        rollout_signals(batch)


def test_rollout_signals_entropy_is_the_collecting_policys(batch_with_advantage):
    actor, _, batch = batch_with_advantage
    entropies, returns = rollout_signals(batch, actor)
    probs = torch.softmax(batch.get("logits"), -1)
    manual = -(probs * probs.log()).sum(-1).double().numpy()
    np.testing.assert_allclose(entropies, manual, rtol=1e-6)
    done = batch.get(("next", "done")).reshape(-1)
    assert sorted(returns) == sorted(
        batch.get(("next", "episode_reward")).reshape(-1)[done].tolist()
    )


def test_tanh_normal_falls_back_to_the_taken_actions_log_prob():
    net = TensorDictModule(torch.nn.Linear(3, 4), in_keys=["obs"], out_keys=["param"])
    split = TensorDictModule(
        lambda p: (p[..., :2], torch.nn.functional.softplus(p[..., 2:]) + 0.1),
        in_keys=["param"],
        out_keys=["loc", "scale"],
    )
    from tensordict.nn import TensorDictSequential

    actor = ProbabilisticActor(
        TensorDictSequential(net, split),
        in_keys=["loc", "scale"],
        distribution_class=TanhNormal,
        return_log_prob=True,
    )
    batch = TensorDict(
        {
            "obs": torch.randn(5, 3),
            "next": {
                "done": torch.zeros(5, 1, dtype=torch.bool),
                "episode_reward": torch.zeros(5, 1),
            },
        },
        batch_size=[5],
    )
    with torch.no_grad():
        actor(batch)
    entropies, _ = rollout_signals(batch, actor)
    lp_key = "action_log_prob" if "action_log_prob" in batch.keys() else "sample_log_prob"
    np.testing.assert_array_equal(entropies, (-batch.get(lp_key)).detach().double().numpy())


def test_controller_drives_the_loss_once_per_batch():
    actor, critic = actor_critic(1)
    loss = ClipPPOLoss(actor, critic, clip_epsilon=0.5)
    controller = ppobr_core.PPOBRController(entropy_ref=math.log(2), window=2)
    clip = ControlledClipEpsilon(loss, controller, actor)
    assert float(loss.clip_epsilon) == np.float32(0.2)  # ε0 from the start
    reference = ppobr_core.PPOBRController(entropy_ref=math.log(2), window=2)
    collector = Collector(
        cartpole_env(seed=1),
        actor,
        frames_per_batch=64,
        total_frames=4 * 64,
        auto_register_policy_transforms=False,
    )
    seen = []
    for batch in collector:
        entropies, returns = rollout_signals(batch, actor)
        expected = reference.update(entropies, returns)
        eps = clip.step(batch)
        assert eps == expected and float(loss.clip_epsilon) == np.float32(eps)
        seen.append(eps)
    collector.shutdown()
    assert len(seen) == 4 and len(set(seen)) > 1
    restored = ControlledClipEpsilon(
        ClipPPOLoss(actor, critic), ppobr_core.PPOBRController(entropy_ref=math.log(2), window=2)
    )
    restored.load_state_dict(clip.state_dict())
    assert restored.epsilon == clip.epsilon
    assert float(restored.loss.clip_epsilon) == np.float32(clip.epsilon)
