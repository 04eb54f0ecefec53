"""Small SB3 set-ups shared by the tests: tiny PPO runs and a logger output that keeps every dump."""

from __future__ import annotations

import math

import torch
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
