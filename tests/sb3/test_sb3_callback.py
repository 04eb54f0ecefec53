"""PPOBRCallback with SB3's real PPO: ε reaches SB3's train(), bit-exact at a constant ε,
vectorized envs, save / load."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from ppobr_sb3 import ControllerClipRange, PPOBRCallback, find_clip_range, rollout_entropies
from sb3_helpers import (
    CARTPOLE_H_REF,
    TINY,
    EpsilonProbe,
    assert_same_parameters,
    cartpole,
    parameters,
    recording_logger,
)
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback

import ppobr_core

STEPS = 6 * 2 * 64  # six rollouts of 2 envs × 64 steps


def test_constant_epsilon_equals_plain_ppo_bit_for_bit():
    plain = PPO("MlpPolicy", cartpole(), clip_range=0.15, **TINY)
    plain.learn(STEPS)
    ours = PPO("MlpPolicy", cartpole(), **TINY)
    ours.learn(STEPS, callback=PPOBRCallback(ppobr_core.ConstantController(0.15)))
    assert_same_parameters(parameters(plain), parameters(ours))
    assert ours.logger.name_to_value["train/clip_range"] == 0.15


def test_a_different_constant_changes_the_parameters():
    # the bit-exact test above could not fail if ε never reached train(): this one shows it does
    plain = PPO("MlpPolicy", cartpole(), clip_range=0.15, **TINY)
    plain.learn(STEPS)
    ours = PPO("MlpPolicy", cartpole(), **TINY)
    ours.learn(STEPS, callback=PPOBRCallback(ppobr_core.ConstantController(0.0)))
    a, b = parameters(plain), parameters(ours)
    assert any(not np.array_equal(a[k].numpy(), b[k].numpy()) for k in a)


def test_sb3_clips_with_the_controllers_epsilon_at_every_update():
    logger, dumps = recording_logger()
    model = PPO("MlpPolicy", cartpole(), **TINY)
    model.set_logger(logger)
    ppobr = PPOBRCallback(ppobr_core.PPOBRController(entropy_ref=CARTPOLE_H_REF, window=2))
    probe = EpsilonProbe(ppobr)
    model.learn(STEPS, callback=[ppobr, probe])
    assert len(probe.set_eps) == 6 and probe.used_eps == probe.set_eps
    assert len(set(probe.set_eps)) > 1  # PPO-BR moved ε: the equality above is not vacuous
    # the logger's rows: ppobr/eps, φ, ψ every rollout; train/clip_range one row later
    assert [row["ppobr/eps"] for row in dumps.rows] == probe.set_eps
    assert [row["train/clip_range"] for row in dumps.rows[1:]] == probe.set_eps[:-1]
    assert all(
        0.0 <= row["ppobr/phi"] <= 1.0 and 0.0 <= row["ppobr/psi"] <= 1.0 for row in dumps.rows
    )


def test_returns_of_every_finished_episode_in_vectorized_envs():
    env = cartpole(n_envs=4)
    model = PPO("MlpPolicy", env, **TINY)

    class Returns(BaseCallback):
        def __init__(self, ppobr):
            super().__init__()
            self.ppobr, self.seen = ppobr, []

        def _on_rollout_end(self):
            self.seen += self.ppobr.episode_returns

        def _on_step(self):
            return True

    ppobr = PPOBRCallback(ppobr_core.PPOBRController(entropy_ref=CARTPOLE_H_REF))
    returns = Returns(ppobr)
    model.learn(4 * 4 * 64, callback=[ppobr, returns])
    monitored = [r for env_returns in env.env_method("get_episode_rewards") for r in env_returns]
    assert len(monitored) > 10
    assert sorted(returns.seen) == sorted(float(r) for r in monitored)


def test_rollout_entropy_is_the_policys_entropy_on_the_buffer():
    class Capture(BaseCallback):
        """At each rollout's end: rollout_entropies and an independent computation, the
        entropy of the softmax of the policy's logits on each buffer observation."""

        def __init__(self):
            super().__init__()
            self.pairs = []

        def _on_rollout_end(self):
            with torch.no_grad():
                x = torch.as_tensor(self.model.rollout_buffer.observations.reshape(-1, 4))
                policy = self.model.policy
                latent = policy.mlp_extractor.forward_actor(policy.extract_features(x))
                logp = torch.log_softmax(policy.action_net(latent), -1)
                manual = -(logp.exp() * logp).sum(-1).double().numpy()
            self.pairs.append((rollout_entropies(self.model), manual))

        def _on_step(self):
            return True

    capture = Capture()
    model = PPO("MlpPolicy", cartpole(), **TINY)
    model.learn(3 * 2 * 64, callback=capture)
    assert len(capture.pairs) == 3
    for entropies, manual in capture.pairs:
        assert entropies.shape == (2 * 64,) and entropies.dtype == np.float64
        np.testing.assert_allclose(entropies, manual, rtol=1e-6)
    assert not np.allclose(capture.pairs[0][0], capture.pairs[2][0])  # the policy changed
    with pytest.raises(ppobr_core.InvalidArgumentError, match="^model: the rollout buffer"):
        rollout_entropies(model)  # train() has consumed (reordered) the buffer


def test_state_survives_save_and_load(tmp_path):
    controller = ppobr_core.PPOBRController(entropy_ref=CARTPOLE_H_REF, window=2)
    model = PPO("MlpPolicy", cartpole(), **TINY)
    model.learn(3 * 2 * 64, callback=PPOBRCallback(controller))
    model.save(tmp_path / "agent")
    saved_state = controller.state_dict()

    loaded = PPO.load(tmp_path / "agent", env=cartpole(seed=1))
    carried = find_clip_range(loaded.clip_range)
    assert isinstance(carried, ControllerClipRange)
    assert carried.controller.state_dict() == saved_state
    assert carried.controller is not controller

    resumed = PPOBRCallback()  # continues with the loaded controller
    loaded.learn(2 * 2 * 64, callback=resumed, reset_num_timesteps=False)
    assert resumed.controller is carried.controller
    assert resumed.controller.diagnostics["updates"] == controller.diagnostics["updates"] + 2

    # the same two updates on a copy restored from the saved bytes give the same ε
    copy = ppobr_core.PPOBRController(entropy_ref=CARTPOLE_H_REF, window=2)
    copy.load_state_dict(saved_state)
    assert copy.state_dict() == saved_state


def test_callback_state_dict_round_trip():
    ppobr = PPOBRCallback(ppobr_core.PPOBRController(entropy_ref=CARTPOLE_H_REF))
    model = PPO("MlpPolicy", cartpole(), **TINY)
    model.learn(2 * 2 * 64, callback=ppobr)
    other = PPOBRCallback(ppobr_core.PPOBRController(entropy_ref=CARTPOLE_H_REF))
    other.load_state_dict(ppobr.state_dict())
    assert other.epsilon == ppobr.epsilon
    assert other.controller.diagnostics == ppobr.controller.diagnostics


def test_bad_arguments():
    with pytest.raises(TypeError, match="^controller: expected a ppobr_core controller"):
        PPOBRCallback(0.2)
    model = PPO("MlpPolicy", cartpole(), **TINY)
    with pytest.raises(ppobr_core.InvalidArgumentError, match="^controller: is required") as e:
        model.learn(64, callback=PPOBRCallback())
    assert e.value.argument == "controller"


def test_kl_adaptive_reads_the_previous_updates_kl():
    class KLProbe(BaseCallback):
        """Before PPOBRCallback in the list: the KL it will read; after it: the ε it set."""

        def __init__(self):
            super().__init__()
            self.kls = []

        def _on_rollout_end(self):
            self.kls.append(self.model.logger.name_to_value.get("train/approx_kl"))

        def _on_step(self):
            return True

    ppobr = PPOBRCallback(ppobr_core.KLAdaptiveController(eps0=0.2, kl_target=1e-4))
    kl_probe, eps_probe = KLProbe(), EpsilonProbe(ppobr)
    model = PPO("MlpPolicy", cartpole(), **TINY)
    model.learn(STEPS, callback=[kl_probe, ppobr, eps_probe])
    assert kl_probe.kls[0] is None and eps_probe.set_eps[0] == 0.2  # no KL before train()
    reference = ppobr_core.KLAdaptiveController(eps0=0.2, kl_target=1e-4)
    for kl, eps in zip(kl_probe.kls[1:], eps_probe.set_eps[1:]):
        assert reference.update(0.5, None, kl=float(kl)) == eps
    assert eps_probe.used_eps == eps_probe.set_eps and len(set(eps_probe.set_eps)) > 1
