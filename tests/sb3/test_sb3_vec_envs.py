"""PPOBRCallback on SB3's other set-ups: environments in subprocesses (SubprocVecEnv) and dict
observations (MultiInputPolicy). In both, ε is updated once per rollout and SB3's train() clips
with (and logs as train/clip_range) the controller's ε."""

from __future__ import annotations

import math

import gymnasium as gym
import numpy as np
import torch
from ppobr_sb3 import PPOBRCallback, rollout_entropies
from sb3_helpers import (
    CARTPOLE_H_REF,
    TINY,
    EpsilonProbe,
    assert_same_parameters,
    parameters,
    recording_logger,
)
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import DummyVecEnv, SubprocVecEnv

import ppobr_core

ROLLOUTS = 5


class TargetOnALine(gym.Env):
    """A dict-observation task: move a point left or right towards a target on [−1, 1];
    observation {"position": (1,), "target": (1,)}, reward −|position − target|, 16 steps."""

    observation_space = gym.spaces.Dict(
        {
            "position": gym.spaces.Box(-1.0, 1.0, (1,), np.float32),
            "target": gym.spaces.Box(-1.0, 1.0, (1,), np.float32),
        }
    )
    action_space = gym.spaces.Discrete(2)

    def reset(self, *, seed=None, options=None):
        super().reset(seed=seed)
        self.position, self.target = self.np_random.uniform(-1.0, 1.0, 2)
        self.t = 0
        return self._obs(), {}

    def step(self, action):
        self.position = float(np.clip(self.position + (0.1 if action == 1 else -0.1), -1, 1))
        self.t += 1
        reward = -abs(self.position - self.target)
        return self._obs(), reward, False, self.t >= 16, {}

    def _obs(self):
        return {
            "position": np.array([self.position], np.float32),
            "target": np.array([self.target], np.float32),
        }


class ReturnsProbe(EpsilonProbe):
    """EpsilonProbe that also keeps the episode returns the callback read in each rollout."""

    def __init__(self, ppobr: PPOBRCallback):
        super().__init__(ppobr)
        self.returns = []

    def _on_rollout_end(self) -> None:
        super()._on_rollout_end()
        self.returns += self.ppobr.episode_returns


def _train_with_probe(model, controller):
    """learn ROLLOUTS rollouts under PPOBRCallback(controller); (probe, logged rows)."""
    logger, dumps = recording_logger()
    model.set_logger(logger)
    ppobr = PPOBRCallback(controller)
    probe = ReturnsProbe(ppobr)
    model.learn(ROLLOUTS * model.n_steps * model.n_envs, callback=[ppobr, probe])
    return probe, dumps.rows


def _assert_epsilon_reached_every_update(probe, rows, controller):
    # once per rollout: one controller update, one ε, and train() clipped with that ε
    assert controller.diagnostics["updates"] == ROLLOUTS
    assert len(probe.set_eps) == ROLLOUTS and probe.used_eps == probe.set_eps
    assert len(set(probe.set_eps)) > 1  # ε moved: the equality above is not vacuous
    assert [row["ppobr/eps"] for row in rows] == probe.set_eps
    # SB3 dumps between a rollout and train(): train/clip_range is one row behind
    assert [row["train/clip_range"] for row in rows[1:]] == probe.set_eps[:-1]


def test_subprocess_envs_update_epsilon_once_per_rollout_as_in_process_envs():
    runs = {}
    for vec_env_cls in (SubprocVecEnv, DummyVecEnv):
        env = make_vec_env("CartPole-v1", n_envs=2, seed=0, vec_env_cls=vec_env_cls)
        controller = ppobr_core.PPOBRController(entropy_ref=CARTPOLE_H_REF, window=2)
        model = PPO("MlpPolicy", env, **TINY)
        try:
            probe, rows = _train_with_probe(model, controller)
            monitored = env.env_method("get_episode_rewards")
        finally:
            env.close()
        _assert_epsilon_reached_every_update(probe, rows, controller)
        # every finished episode's return, read from the workers' infos
        assert sorted(probe.returns) == sorted(float(r) for rs in monitored for r in rs)
        assert len(probe.returns) > 10
        runs[vec_env_cls.__name__] = (probe.set_eps, parameters(model))
    # the envs' processes change nothing: the same ε at every update, the same agent
    assert runs["SubprocVecEnv"][0] == runs["DummyVecEnv"][0]
    assert_same_parameters(runs["SubprocVecEnv"][1], runs["DummyVecEnv"][1])


def _dict_env():
    return make_vec_env(TargetOnALine, n_envs=2, seed=0)


def test_dict_observations_update_epsilon_once_per_rollout():
    class Entropies(BaseCallback):
        """At each rollout's end: rollout_entropies and the entropies SB3's own
        evaluate_actions gives for the buffer's observations and actions."""

        def __init__(self):
            super().__init__()
            self.pairs = []

        def _on_rollout_end(self):
            buf = self.model.rollout_buffer
            obs = {
                k: torch.as_tensor(v.reshape((-1,) + v.shape[2:]))
                for k, v in buf.observations.items()
            }
            actions = torch.as_tensor(buf.actions.reshape(-1))
            with torch.no_grad():
                _, _, entropy = self.model.policy.evaluate_actions(obs, actions)
            self.pairs.append((rollout_entropies(self.model), entropy.double().numpy()))

        def _on_step(self):
            return True

    controller = ppobr_core.PPOBRController(entropy_ref=math.log(2), window=2)
    model = PPO("MultiInputPolicy", _dict_env(), **TINY)
    entropies = Entropies()
    logger, dumps = recording_logger()
    model.set_logger(logger)
    ppobr = PPOBRCallback(controller)
    probe = EpsilonProbe(ppobr)
    model.learn(ROLLOUTS * 2 * TINY["n_steps"], callback=[ppobr, probe, entropies])
    _assert_epsilon_reached_every_update(probe, dumps.rows, controller)
    assert len(entropies.pairs) == ROLLOUTS
    for batched, sb3s in entropies.pairs:
        assert batched.shape == (2 * TINY["n_steps"],)
        np.testing.assert_allclose(batched, sb3s, rtol=1e-6)
        assert np.all((batched > 0) & (batched <= math.log(2) + 1e-6))


def test_dict_observations_constant_epsilon_is_bit_exact():
    plain = PPO("MultiInputPolicy", _dict_env(), clip_range=0.15, **TINY)
    plain.learn(3 * 2 * TINY["n_steps"])
    ours = PPO("MultiInputPolicy", _dict_env(), **TINY)
    ours.learn(3 * 2 * TINY["n_steps"], callback=PPOBRCallback(ppobr_core.ConstantController(0.15)))
    assert_same_parameters(parameters(plain), parameters(ours))
