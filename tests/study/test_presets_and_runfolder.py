"""Controller presets, the trainer on a continuous task, and the run folder's atomic files."""

import json
import math

import numpy as np
import pytest
from reference import RefPPOBR

import ppobr_core
from ppobr_study import presets as C
from ppobr_study import protocol as P
from ppobr_study import runfolder as R


@pytest.mark.parametrize("discrete", [True, False])
def test_ppo_wide_is_ppobr_starting_epsilon(discrete):
    task = C.TaskInfo(discrete=discrete, num_actions=4 if discrete else None, num_iterations=10)
    wide = C.make_controller("ppo-wide", task)
    assert isinstance(wide, ppobr_core.ConstantController)
    # PPO-BR's ε at full entropy (φ = 1) before the reward window fills, from the oracle
    oracle = RefPPOBR(eps0=C.EPS0, lambda1=C.LAMBDA1, lambda2=C.LAMBDA2, entropy_ref=1.0)
    expected = oracle.update(1.0)
    assert wide.update(0.1, [1.0]) == expected
    # ...which is what the ppobr preset itself gives on its first update at full entropy.
    br = C.make_controller("ppobr", task)
    assert br.update(task.entropy_ref if discrete else 2.5, None) == pytest.approx(
        expected, rel=1e-12
    )


def test_presets():
    task = C.TaskInfo(discrete=True, num_actions=2, num_iterations=7)
    for name in C.names():
        assert 0 < C.make_controller(name, task).update(0.5, [1.0, 2.0], kl=0.01) <= 0.5
    assert C.make_controller("ppo", task).update(0.1) == 0.2
    assert C.make_controller("ppobr", task).config["entropy_ref"] == pytest.approx(math.log(2))
    assert C.make_controller("ppobr-entropy", task).config["lambda2"] == 0.0
    assert C.make_controller("ppobr-reward", task).config["lambda1"] == 0.0
    assert C.make_controller("linear-decay", task).config["total_updates"] == 7
    assert set(C.DESCRIPTIONS) == set(C.PRESETS)
    with pytest.raises(ValueError, match="unknown preset"):
        C.make_controller("nope", task)


def test_trainer_continuous_smoke():
    """One iteration of the continuous (CleanRL ppo_continuous_action) path on Pendulum-v1."""
    import torch

    from ppobr_study.train import Config, train

    torch.set_num_threads(1)
    res = train(Config(env_id="Pendulum-v1", controller="ppobr", seed=3, total_timesteps=2048))
    assert res["config"]["num_envs"] == 1 and res["config"]["update_epochs"] == 10
    (it,) = res["iterations"]
    assert it["global_step"] == 2048
    # Gaussian policy: the first rollout's entropy is the reference, so φ = 1; the 10 episodes
    # of the rollout (Pendulum episodes are 200 steps) fill the reward window, so ψ is on.
    assert it["phi"] == pytest.approx(1.0)
    assert 0.0 < it["psi"] <= 1.0
    # ε from φ = 1 and the run's ψ, by the oracle's formula (tests/reference.py)
    tanh = RefPPOBR().tanh
    assert it["epsilon"] == pytest.approx(0.2 * ((1 + 0.5 * tanh(1.0)) - 0.3 * tanh(it["psi"])))
    assert len(res["episodes"]) == 10
    assert all(e["length"] == 200 for e in res["episodes"])


def test_trainer_is_deterministic_for_a_seed():
    import torch

    from ppobr_study.train import Config, train

    torch.set_num_threads(1)
    a = train(Config(env_id="CartPole-v1", controller="ppobr", seed=1, total_timesteps=1024))
    b = train(Config(env_id="CartPole-v1", controller="ppobr", seed=1, total_timesteps=1024))
    assert [e["return"] for e in a["episodes"]] == [e["return"] for e in b["episodes"]]
    assert [i["epsilon"] for i in a["iterations"]] == [i["epsilon"] for i in b["iterations"]]


def test_run_folder_roundtrip_and_finished_marker(tmp_path):
    d = R.run_dir(tmp_path, "CartPole-v1", 1000, "ppo", 3)
    assert d == tmp_path / "CartPole-v1_1000" / "ppo" / "seed3"
    assert not R.is_finished(d)
    result = {
        "episodes": [{"global_step": 40, "iteration": 1, "return": 20.0, "length": 20}],
        "iterations": [{"iteration": 1, "global_step": 512, "epsilon": 0.2, "phi": math.nan}],
        "wall_seconds": 1.5,
    }
    R.write_run(d, result, {"env": "CartPole-v1", "seed": 3})
    assert R.is_finished(d)
    run = R.load_run(d)
    assert run["meta"]["seed"] == 3 and run["meta"]["wall_seconds"] == 1.5
    assert run["episodes"]["return"].tolist() == [20.0]
    assert run["iterations"]["epsilon"].tolist() == [0.2]
    assert math.isnan(run["iterations"]["phi"][0])
    assert not list(d.glob(".*.tmp"))  # no temporary files left behind
    # A run without its run.json (interrupted) is not finished; a corrupt one neither.
    (d / "run.json").write_text("{not json")
    assert not R.is_finished(d)


def _rich_result(n_iterations=3):
    """A run result with every column the trainer writes (and values repr must keep exactly)."""
    iterations = [
        {
            "iteration": i,
            "global_step": 512 * i,
            "epsilon": 0.2 + i / 3,
            "phi": math.nan if i == 1 else 1 / 7,
            "psi": 0.1 * i,
            "z": -0.5,
            "rollout_entropy": 0.69,
            "entropy": 0.68,
            "clip_fraction": 1e-300,
            "kl_k3": 2.5e-5,
            "policy_loss": -0.01,
            "value_loss": 35.0,
            "controller_seconds": 1.2345678901234567e-4,
            "iteration_seconds": 0.1,
            "iteration_cpu_seconds": 0.09,
        }
        for i in range(1, n_iterations + 1)
    ]
    episodes = [
        {"global_step": 40 * k, "iteration": 1, "return": 20.0 + k / 3, "length": 20}
        for k in range(5)
    ]
    return {"episodes": episodes, "iterations": iterations, "wall_seconds": 1.5}


def test_compact_runs_keep_exact_values_and_resume(tmp_path):
    full = R.run_dir(tmp_path / "full", "CartPole-v1", 1536, "ppobr", 0)
    direct = R.run_dir(tmp_path / "direct", "CartPole-v1", 1536, "ppobr", 0)
    R.write_run(full, _rich_result(), {"seed": 0})
    R.write_run(direct, _rich_result(), {"seed": 0}, compact=True)
    assert sorted(p.name for p in direct.iterdir()) == [
        "episodes.csv.gz",
        "iterations.csv.gz",
        "run.json",
    ]

    # Converting a full run folder gives the same bytes as writing compactly in the first place.
    assert R.compact_folder(tmp_path / "full", tmp_path / "copied") == [
        R.run_dir(tmp_path / "copied", "CartPole-v1", 1536, "ppobr", 0)
    ]
    copied = R.run_dir(tmp_path / "copied", "CartPole-v1", 1536, "ppobr", 0)
    for name in ("episodes.csv.gz", "iterations.csv.gz"):
        data = (direct / name).read_bytes()
        assert (copied / name).read_bytes() == data
        assert data[4:8] == b"\0\0\0\0"  # gzip header without a timestamp
    assert R.compact_folder(tmp_path / "full", tmp_path / "copied") == []  # already there

    a, b = R.load_run(full), R.load_run(copied)
    assert b["meta"]["compact"] is True and a["meta"]["compact"] is False
    assert set(b["iterations"]) == set(R.COMPACT_ITERATION_COLUMNS)
    assert {"z", "policy_loss", "value_loss"} <= set(a["iterations"]) - set(b["iterations"])
    for k, v in b["iterations"].items():
        np.testing.assert_array_equal(v, a["iterations"][k])  # bit-exact, NaN where NaN
    for k, v in a["episodes"].items():
        np.testing.assert_array_equal(b["episodes"][k], v)
    assert b["iterations"]["controller_seconds"][0] == 1.2345678901234567e-4
    assert b["iterations"]["clip_fraction"][0] == 1e-300
    assert P.run_metrics(a["episodes"], a["iterations"], 20.5) == P.run_metrics(
        b["episodes"], b["iterations"], 20.5
    )

    with pytest.raises(ValueError, match="src: .* no finished run"):
        R.compact_run(tmp_path / "full" / "nothing", tmp_path / "x")


def test_atomic_json_has_no_nan(tmp_path):
    R.atomic_write_json(
        tmp_path / "x.json", {"a": math.nan, "b": (1.0, math.inf), "c": np.float64(2.0)}
    )
    assert json.loads((tmp_path / "x.json").read_text()) == {"a": None, "b": [1.0, None], "c": 2.0}


def test_cli_argument_helpers():
    from ppobr_study import cli, compare

    assert cli.parse_seeds("3") == [0, 1, 2]
    assert cli.parse_seeds("4-6") == [4, 5, 6]
    assert cli.parse_seeds("5,1,1") == [1, 5]
    with pytest.raises(Exception, match="seeds"):
        cli.parse_seeds("x")
    assert compare.steps_for("CartPole-v1", None) == 500_000
    assert compare.steps_for("CartPole-v1", "paper") == 500_000
    assert compare.steps_for("Hopper-v5", None) == 1_000_000
    assert compare.steps_for("Acrobot-v1", None) == 500_000  # the JAX study's registered budget
    assert compare.steps_for("Pendulum-v1", "3e4") == 30_000
    # no registered budget: CleanRL's default for the action space (continuous: 1M)
    assert compare.steps_for("Pendulum-v1", None) == 1_000_000
    with pytest.raises(SystemExit, match="--steps"):
        compare.steps_for("Pendulum-v1", "paper")
    assert compare.threshold_for("Pendulum-v1", None) == (None, "none")
    assert compare.threshold_for("Pendulum-v1", -200.0) == (-200.0, "override")


def _fake_result(rng, n_iter=8, level=400.0):
    episodes, step = [], 0
    for i in range(60):
        step += 100
        episodes.append(
            {
                "global_step": step,
                "iteration": 1 + i * n_iter // 60,
                "return": float(min(500.0, level * (i + 1) / 40 + rng.normal(0, 20))),
                "length": 100,
            }
        )
    iterations = [
        {
            "iteration": k + 1,
            "global_step": 750 * (k + 1),
            "epsilon": 0.2 + 0.01 * rng.random(),
            "phi": 0.5,
            "psi": 0.5,
            "controller_seconds": 1e-4,
            "iteration_seconds": 0.3,
            "iteration_cpu_seconds": 0.29,
        }
        for k in range(n_iter)
    ]
    return {"episodes": episodes, "iterations": iterations, "wall_seconds": 2.4, "cpu_seconds": 2.3}


def test_summarize_group_with_ppo_wide_writes_tables_and_plots(tmp_path):
    """The summary step alone, on synthetic run folders: the baseline table, the extra
    comparison against ppo-wide, the JSON and the PNGs."""
    from ppobr_study.summary import summarize_group
    from ppobr_study.tables import format_table

    rng = np.random.default_rng(0)
    controllers = ["ppo", "ppobr", "ppo-wide"]
    for c in controllers:
        for s in range(3):
            R.write_run(
                R.run_dir(tmp_path, "CartPole-v1", 6000, c, s),
                _fake_result(rng),
                {"env": "CartPole-v1", "controller": c, "seed": s, "steps": 6000},
            )
    summary = summarize_group(tmp_path, "CartPole-v1", 6000, controllers, [0, 1, 2], 300.0)
    assert set(summary["versus_baseline"]) == {"ppobr", "ppo-wide"}
    assert set(summary["versus_ppo_wide"]) == {"ppobr"}
    assert summary["controllers"]["ppo"]["reached"] == 3
    table = format_table(summary)
    assert "| vs ppo |" in table and "| vs ppo-wide |" in table
    group = R.group_dir(tmp_path, "CartPole-v1", 6000)
    for f in ("summary.json", "results.md", "learning_curves.png", "epsilon.png"):
        assert (group / f).is_file()
    assert (
        json.loads((group / "summary.json").read_text())["versus_ppo_wide"]["ppobr"][
            "overhead_direct"
        ]
        == 0.0
    )


@pytest.mark.parametrize("preset", C.names())
def test_every_preset_trains(preset):
    """Two iterations of the trainer with each preset: the first rollout has no KL yet (no
    policy update has happened), so the KL-adaptive preset must keep ε0 there, not fail."""
    import torch

    from ppobr_study.train import Config, train

    torch.set_num_threads(1)
    res = train(
        Config(
            env_id="CartPole-v1",
            controller=preset,
            seed=0,
            total_timesteps=2 * 512,
            num_envs=1,
            num_steps=512,
        )
    )
    first, second = res["iterations"]
    for it in (first, second):
        assert 0.0 < it["epsilon"] <= 0.5 and math.isfinite(it["kl_k3"])
    if preset == "kl-adaptive":
        assert first["epsilon"] == C.EPS0
        assert second["epsilon"] != C.EPS0  # it adapted to the KL measured in iteration 1
