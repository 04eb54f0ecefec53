"""Small SB3 set-ups shared by the tests: tiny PPO runs and a logger output that keeps every dump."""

from __future__ import annotations

import math

import torch
from ppobr_sb3 import PPOBRCallback
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.logger import KVWriter, Logger

# A tiny but real PPO: 2 envs × 64 steps per rollout, 2 epochs of 2 minibatches.
TINY = {"n_steps": 64, "batch_size": 64, "n_epochs": 2, "seed": 0, "verbose": 0}
CARTPOLE_H_REF = math.log(2)


def cartpole(n_envs: int = 2, seed: int = 0):
    return make_vec_env("CartPole-v1", n_envs=n_envs, seed=seed)


class DumpRecorder(KVWriter):
    """Keeps a copy of every row SB3's logger dumps."""

    def __init__(self):
        self.rows = []

    def write(self, key_values, key_excluded, step=0):
        self.rows.append(dict(key_values))


def recording_logger() -> tuple[Logger, DumpRecorder]:
    recorder = DumpRecorder()
    return Logger(folder=None, output_formats=[recorder]), recorder


def parameters(model) -> dict:
    return {k: v.detach().clone() for k, v in model.policy.state_dict().items()}


def assert_same_parameters(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


class EpsilonProbe(BaseCallback):
    """After PPOBRCallback (later in the list): the ε set for each train(), and at the start of
    the next rollout the clip range that train() logged."""

    def __init__(self, ppobr: PPOBRCallback):
        super().__init__()
        self.ppobr = ppobr
        self.set_eps, self.used_eps = [], []

    def _on_rollout_start(self) -> None:
        if self.set_eps:  # train() has run since the last on_rollout_end
            self.used_eps.append(self.model.logger.name_to_value["train/clip_range"])

    def _on_rollout_end(self) -> None:
        self.set_eps.append(self.ppobr.epsilon)

    def _on_training_end(self) -> None:
        self.used_eps.append(self.model.logger.name_to_value["train/clip_range"])

    def _on_step(self) -> bool:
        return True
