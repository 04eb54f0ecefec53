"""ppobr_study.sb3_trainer: SB3's PPO under a preset, in ppobr_study.train's result format."""

from __future__ import annotations

import math

import numpy as np
import pytest
from ppobr_sb3 import PPOBRCallback
from sb3_helpers import assert_same_parameters, parameters, recording_logger
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import ppobr_core
from ppobr_study import protocol, runfolder
from ppobr_study import train as torch_trainer
from ppobr_study.sb3_trainer import IterationRecorder, SB3Config, train

SMALL = {"n_envs": 2, "n_steps": 64, "batch_size": 64, "n_epochs": 2}


@pytest.fixture(scope="module")
def sb3_result():
    return train(
        SB3Config("CartPole-v1", "ppobr", seed=3, total_timesteps=5 * 128, hyperparameters=SMALL)
    )


@pytest.fixture(scope="module")
def torch_result():
    return torch_trainer.train(torch_trainer.Config("CartPole-v1", "ppobr", total_timesteps=512))


def test_result_has_the_pytorch_trainers_format(sb3_result, torch_result):
    assert list(sb3_result) == list(torch_result)
    assert list(sb3_result["iterations"][0]) == list(torch_result["iterations"][0])
    assert list(sb3_result["episodes"][0]) == list(torch_result["episodes"][0])
    assert sb3_result["config"]["trainer"] == "sb3"
    assert sb3_result["controller"]["name"] == "ppobr"


def test_records_describe_the_run(sb3_result):
    its, eps = sb3_result["iterations"], sb3_result["episodes"]
    assert [it["iteration"] for it in its] == [1, 2, 3, 4, 5]
    assert [it["global_step"] for it in its] == [128, 256, 384, 512, 640]
    assert sb3_result["total_steps"] == 640
    assert sum(it["episodes"] for it in its) == len(eps) > 10
    assert all(0.14 - 1e-12 <= it["epsilon"] <= 0.3 + 1e-12 for it in its)
    assert len({it["epsilon"] for it in its}) > 1
    for it in its:
        assert 0.0 <= it["clip_fraction"] <= 1.0
        assert it["clip_fraction_low"] + it["clip_fraction_high"] <= it["clip_fraction"] + 1e-12
        assert it["ratio_min"] <= 1.0 <= it["ratio_max"]
        assert 0.0 < it["entropy"] <= math.log(2) + 1e-6
        assert 0.0 < it["rollout_entropy"] <= math.log(2) + 1e-6
        assert it["iteration_seconds"] >= it["rollout_seconds"] + it["controller_seconds"]
    steps = [e["global_step"] for e in eps]
    assert steps == sorted(steps) and all(e["return"] == e["length"] for e in eps)


def test_the_run_folder_and_the_protocol_read_it(sb3_result, tmp_path):
    path = runfolder.run_dir(tmp_path, "CartPole-v1", 640, "ppobr", 3)
    runfolder.write_run(path, sb3_result, {"env": "CartPole-v1"})
    assert runfolder.is_finished(path)
    episodes = runfolder.read_csv_columns(path / "episodes.csv")
    iterations = runfolder.read_csv_columns(path / "iterations.csv")
    m = protocol.run_metrics(episodes, iterations, threshold=475.0)
    assert m["episodes"] == len(sb3_result["episodes"]) and m["iterations"] == 5


def test_observed_statistics_equal_sb3s_logged_ones():
    # the recorder's clip fraction and KL come from ppobr_core over the observed minibatches;
    # SB3 logs the mean per-minibatch clip fraction over all epochs and the last epoch's KL
    env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
    model = PPO("MlpPolicy", env, n_steps=64, batch_size=32, n_epochs=1, seed=0, verbose=0)
    logger, dumps = recording_logger()
    model.set_logger(logger)
    ppobr = PPOBRCallback(ppobr_core.ConstantController(0.01))
    recorder = IterationRecorder(ppobr, None)
    model.learn(4 * 128, callback=[recorder, ppobr])
    logged = [row for row in dumps.rows[1:]] + [dict(model.logger.name_to_value)]
    assert len(logged) == len(recorder.iterations) == 4
    for row, it in zip(logged, recorder.iterations):
        assert it["clip_fraction"] == pytest.approx(row["train/clip_fraction"], abs=1e-7)
        # SB3 forms k3 = (r - 1) - log r in float32: cancellation costs it digits at small KL
        assert it["kl_k3"] == pytest.approx(float(row["train/approx_kl"]), rel=5e-3)
    assert any(it["clip_fraction"] > 0 for it in recorder.iterations)


def test_observing_leaves_training_bit_exact():
    def run(with_recorder: bool):
        env = make_vec_env("CartPole-v1", n_envs=2, seed=0)
        model = PPO("MlpPolicy", env, n_steps=64, batch_size=64, n_epochs=2, seed=0, verbose=0)
        ppobr = PPOBRCallback(ppobr_core.ConstantController(0.2))
        model.learn(
            3 * 128, callback=[IterationRecorder(ppobr, None), ppobr] if with_recorder else None
        )
        return parameters(model)

    assert_same_parameters(run(True), run(False))


def test_clip_range_in_the_hyperparameters_is_refused():
    with pytest.raises(ppobr_core.InvalidArgumentError, match="^hyperparameters: clip_range") as e:
        train(SB3Config(total_timesteps=64, hyperparameters={"clip_range": 0.1}))
    assert e.value.argument == "hyperparameters"


def test_rollout_returns_with_normalized_envs():
    res = train(
        SB3Config(
            "CartPole-v1",
            "ppo",
            total_timesteps=256,
            hyperparameters={**SMALL, "normalize": {"norm_reward": True}},
        )
    )
    # Monitor sits under VecNormalize: the recorded returns are the raw episode returns
    assert all(e["return"] == e["length"] for e in res["episodes"])
    assert np.all(np.array([it["epsilon"] for it in res["iterations"]]) == 0.2)
