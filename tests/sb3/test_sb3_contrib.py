"""PPOBRCallback with sb3-contrib's RecurrentPPO and MaskablePPO: the same hook, the same
guarantees (bit-exact at a constant ε, SB3 clips with the controller's ε), and each one's
entropy computed the way its policy acts (LSTM state per step, action masks)."""

from __future__ import annotations

import numpy as np
import torch
from ppobr_sb3 import PPOBRCallback, rollout_entropies
from sb3_contrib import MaskablePPO, RecurrentPPO
from sb3_contrib.common.envs import InvalidActionEnvDiscrete
from sb3_helpers import CARTPOLE_H_REF, assert_same_parameters, cartpole, parameters
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env

import ppobr_core

RECURRENT = {
    "n_steps": 32,
    "batch_size": 32,
    "n_epochs": 2,
    "seed": 0,
    "verbose": 0,
    "policy_kwargs": {"lstm_hidden_size": 16, "net_arch": [16]},
}
MASKABLE = {"n_steps": 64, "batch_size": 64, "n_epochs": 2, "seed": 0, "verbose": 0}


def masked_env():
    # 8 actions of which only 2 are valid at each step: the masks change the entropy
    return make_vec_env(
        lambda: InvalidActionEnvDiscrete(dim=8, n_invalid_actions=6), n_envs=2, seed=0
    )


class Collect(BaseCallback):
    """After PPOBRCallback: ε set at each rollout end and the clip range each train() used."""

    def __init__(self, ppobr, extra=None):
        super().__init__()
        self.ppobr, self.extra = ppobr, extra
        self.set_eps, self.used_eps, self.extras = [], [], []

    def _on_rollout_start(self):
        if self.set_eps:
            self.used_eps.append(self.model.logger.name_to_value["train/clip_range"])

    def _on_rollout_end(self):
        self.set_eps.append(self.ppobr.epsilon)
        if self.extra is not None:
            self.extras.append(self.extra(self.model))

    def _on_training_end(self):
        self.used_eps.append(self.model.logger.name_to_value["train/clip_range"])

    def _on_step(self):
        return True


def test_recurrent_ppo_constant_epsilon_is_bit_exact():
    plain = RecurrentPPO("MlpLstmPolicy", cartpole(), clip_range=0.1, **RECURRENT)
    plain.learn(4 * 2 * 32)
    ours = RecurrentPPO("MlpLstmPolicy", cartpole(), **RECURRENT)
    ours.learn(4 * 2 * 32, callback=PPOBRCallback(ppobr_core.ConstantController(0.1)))
    assert_same_parameters(parameters(plain), parameters(ours))


def _stepwise_recurrent_entropies(model) -> np.ndarray:
    """The entropy of each step recomputed by running the LSTM through each env's rollout in
    time order from the first stored state, resetting at episode starts (as collection does)."""
    buf, policy = model.rollout_buffer, model.policy
    n_steps, n_envs = buf.buffer_size, buf.n_envs
    out = np.zeros((n_steps, n_envs))
    with torch.no_grad():
        h = torch.as_tensor(buf.hidden_states_pi[0])
        c = torch.as_tensor(buf.cell_states_pi[0])
        for t in range(n_steps):
            obs = torch.as_tensor(buf.observations[t])
            starts = torch.as_tensor(buf.episode_starts[t], dtype=torch.float32)
            dist, (h, c) = policy.get_distribution(obs, (h, c), starts)
            out[t] = dist.entropy().double().numpy()
    return out.reshape(-1)


def test_recurrent_ppo_entropy_follows_the_lstm_state_and_epsilon_reaches_train():
    ppobr = PPOBRCallback(ppobr_core.PPOBRController(entropy_ref=CARTPOLE_H_REF, window=2))
    probe = Collect(ppobr, lambda m: (rollout_entropies(m), _stepwise_recurrent_entropies(m)))
    model = RecurrentPPO("MlpLstmPolicy", cartpole(), **RECURRENT)
    model.learn(5 * 2 * 32, callback=[ppobr, probe])
    assert probe.used_eps == probe.set_eps and len(set(probe.set_eps)) > 1
    for batched, stepwise in probe.extras:
        np.testing.assert_allclose(batched, stepwise, rtol=1e-5)


def test_maskable_ppo_constant_epsilon_is_bit_exact():
    plain = MaskablePPO("MlpPolicy", masked_env(), clip_range=0.1, **MASKABLE)
    plain.learn(4 * 2 * 64)
    ours = MaskablePPO("MlpPolicy", masked_env(), **MASKABLE)
    ours.learn(4 * 2 * 64, callback=PPOBRCallback(ppobr_core.ConstantController(0.1)))
    assert_same_parameters(parameters(plain), parameters(ours))


def test_maskable_ppo_entropy_is_the_masked_distributions_and_epsilon_reaches_train():
    def masked_and_unmasked(model):
        buf = model.rollout_buffer
        obs = torch.as_tensor(buf.observations.reshape((-1,) + buf.obs_shape))
        with torch.no_grad():
            unmasked = model.policy.get_distribution(obs).entropy().double().numpy()
        return rollout_entropies(model), unmasked, model.rollout_buffer.action_masks.copy()

    ppobr = PPOBRCallback(ppobr_core.PPOBRController(entropy_ref=np.log(2), window=2))
    probe = Collect(ppobr, masked_and_unmasked)
    model = MaskablePPO("MlpPolicy", masked_env(), **MASKABLE)
    model.learn(4 * 2 * 64, callback=[ppobr, probe])
    assert probe.used_eps == probe.set_eps and len(set(probe.set_eps)) > 1
    for masked, unmasked, masks in probe.extras:
        assert np.all(masks.reshape(-1, 8).sum(-1) == 2)
        assert np.all(masked <= np.log(2) + 1e-6)  # two valid actions: at most log 2
        assert np.all(unmasked > np.log(2) + 0.5)  # over 8 actions: near log 8
