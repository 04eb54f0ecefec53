"""`ppobr compare` on tasks no document names: where the threshold comes from (the protocol,
the env's spec, none), custom ``module:Env-vN`` ids, the steps a run made in the table, the
"ε never bound" flag, an unknown env id failing in one line, and the bare ``ppobr`` taking
compare's flags."""

import json
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from ppobr_study import cli, compare, protocol, runfolder, trainers
from ppobr_study.summary import summarize_group
from ppobr_study.tables import format_table

CUSTOM_MODULE = textwrap.dedent(
    '''
    """A custom task registered on import: gymnasium.make("ppobr_custom_env:Corridor-v0")."""
    import gymnasium as gym
    import numpy as np


    class Corridor(gym.Env):
        """Walk right along a corridor of 8 cells: +1 per step to the right, done at the end."""

        observation_space = gym.spaces.Box(0.0, 1.0, (1,), np.float32)
        action_space = gym.spaces.Discrete(2)

        def reset(self, *, seed=None, options=None):
            super().reset(seed=seed)
            self.x = 0
            return np.zeros(1, np.float32), {}

        def step(self, action):
            self.x = max(0, self.x + (1 if action == 1 else -1))
            obs = np.array([self.x / 8], np.float32)
            return obs, float(action == 1), self.x >= 8, False, {}


    gym.register("Corridor-v0", entry_point=Corridor, max_episode_steps=32, reward_threshold=6.0)
    '''
)


@pytest.fixture
def custom_env(tmp_path, monkeypatch):
    (tmp_path / "ppobr_custom_env.py").write_text(CUSTOM_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    return "ppobr_custom_env:Corridor-v0"


def test_threshold_sources():
    assert compare.threshold_for("CartPole-v1", None) == (475.0, "protocol")
    assert compare.threshold_for("Acrobot-v1", None) == (-100.0, "protocol")
    # not in docs/PROTOCOL.md: gymnasium's spec carries a reward_threshold
    assert compare.threshold_for("MountainCarContinuous-v0", None) == (90.0, "spec")
    assert compare.threshold_for("InvertedPendulum-v5", None) == (950.0, "spec")
    assert compare.threshold_for("Pendulum-v1", None) == (None, "none")
    assert compare.threshold_for("CartPole-v1", 100) == (100.0, "override")
    # the jax trainer's Brax tasks use the protocol's locomotion thresholds
    assert compare.threshold_for("hopper", None, "jax") == (1500.0, "protocol")


def test_custom_module_id_runs_end_to_end(custom_env, tmp_path):
    """A ``module:Env-vN`` id: checked, its spec's threshold used, the runs made, the table
    written with the steps the runs made (one iteration of 4 × 128 = 512 < 700 requested)."""
    compare.check_env(custom_env)
    assert compare.threshold_for(custom_env, None) == (6.0, "spec")
    out = tmp_path / "runs"
    result = compare.compare(
        [custom_env],
        ["ppo", "ppobr"],
        [0],
        "700",
        workers=1,
        out=str(out),
        plots=True,
        progress=False,
    )
    assert result["failures"] == []
    (group,) = result["groups"]
    assert group["steps"] == 700 and group["steps_per_run"] == 512
    assert group["threshold"] == 6.0 and group["threshold_source"] == "spec"
    table = format_table(group)
    assert "512 steps per run (700 requested)" in table
    assert "threshold 6 (the gymnasium spec's reward_threshold)" in table
    gdir = runfolder.group_dir(out, custom_env, 700)
    assert (gdir / "learning_curves.png").stat().st_size > 0
    meta = json.loads((gdir / "ppo" / "seed0" / "run.json").read_text())
    assert meta["total_steps"] == 512 and meta["trainer"] == "torch"


def _write_runs(out, env, steps, made, clip_fraction, controllers=("ppo", "ppobr"), seeds=4):
    """Runs with the given clip fraction in every iteration (written as a trainer writes them)."""
    rng = np.random.default_rng(0)
    for c in controllers:
        for s in range(seeds):
            episodes = [
                {"global_step": 50 * (i + 1), "iteration": 1 + i // 4, "return": r, "length": 50}
                for i, r in enumerate(rng.normal(-200.0, 30.0, size=40))
            ]
            iterations = [
                {
                    "iteration": i + 1,
                    "global_step": (i + 1) * made // 10,
                    "epsilon": 0.2,
                    "clip_fraction": clip_fraction(i),
                    "controller_seconds": 1e-5,
                    "iteration_seconds": 0.1,
                    "iteration_cpu_seconds": 0.1,
                }
                for i in range(10)
            ]
            result = {"episodes": episodes, "iterations": iterations, "total_steps": made}
            meta = {"env": env, "controller": c, "seed": s, "steps": steps, "trainer": "torch"}
            runfolder.write_run(runfolder.run_dir(out, env, steps, c, s), result, meta)


def test_no_threshold_reports_every_other_statistic(tmp_path):
    _write_runs(tmp_path, "Pendulum-v1", 20_000, 18_432, lambda i: 0.1)
    s = summarize_group(tmp_path, "Pendulum-v1", 20_000, ["ppo", "ppobr"], range(4), None)
    assert s["threshold"] is None and s["threshold_source"] == "none"
    assert s["steps_per_run"] == 18_432
    v = s["versus_baseline"]["ppobr"]
    assert np.isnan(v["steps_mannwhitney_p"])  # not measured, not "p = 1"
    assert 0 <= v["final_return_mannwhitney_p"] <= 1  # what needs no threshold is there
    assert np.isfinite(v["across_variance_ratio"])
    table = format_table(s)
    assert "no threshold (none registered" in table
    assert "18,432 steps per run (20,000 requested)" in table
    assert "| ppo | 4 | – | no threshold | no threshold | 100% |" in table
    assert "ε never bound" not in table


def test_epsilon_never_bound_is_flagged(tmp_path):
    _write_runs(tmp_path, "Acrobot-v1", 8192, 8192, lambda i: 0.0)
    s = summarize_group(tmp_path, "Acrobot-v1", 8192, ["ppo", "ppobr"], range(4), -100.0)
    assert s["epsilon_never_bound"] is True
    assert s["controllers"]["ppobr"]["bound_share_mean"] == 0.0
    table = format_table(s)
    assert "**ε never bound**" in table and "| 0% |" in table


def test_bound_share_counts_iterations_in_which_the_clip_bound(tmp_path):
    _write_runs(tmp_path, "Acrobot-v1", 8192, 8192, lambda i: 0.05 if i < 3 else 0.0)
    s = summarize_group(tmp_path, "Acrobot-v1", 8192, ["ppo", "ppobr"], range(4), -100.0)
    assert s["epsilon_never_bound"] is False
    assert s["controllers"]["ppo"]["bound_share_mean"] == pytest.approx(0.3)
    assert "| 30% |" in format_table(s)
    assert protocol.bound_share([0.0, 0.1, float("nan"), 0.0]) == pytest.approx(1 / 3)


def test_unknown_env_fails_in_one_line_before_any_run(tmp_path, subprocess_env):
    out = tmp_path / "runs"
    with pytest.raises(SystemExit, match=r"--env: unknown environment 'NoSuchTask-v0'"):
        compare.compare(["CartPole-v1", "NoSuchTask-v0"], ["ppo"], [0], "512", out=str(out))
    assert not out.exists()  # nothing ran, nothing was written
    proc = subprocess.run(
        [sys.executable, "-m", "ppobr_study", "--env", "NoSuchTask-v0", "--no-progress"],
        capture_output=True,
        text=True,
        timeout=300,
        env=subprocess_env,
    )
    assert proc.returncode != 0
    assert proc.stderr.strip().count("\n") == 0, proc.stderr  # one line, no traceback
    assert "NoSuchTask" in proc.stderr
    with pytest.raises(SystemExit, match="the jax trainer has no task 'Pendulum-v1'"):
        compare.check_env("Pendulum-v1", "jax")


def test_bare_ppobr_takes_compare_flags(tmp_path):
    with pytest.raises(SystemExit, match="--env: unknown environment 'NoSuchTask-v0'"):
        cli.main(["--no-progress", "--env", "NoSuchTask-v0", "--out", str(tmp_path / "x")])
    with pytest.raises(SystemExit) as e:
        cli.main(["--no-such-flag"])
    assert e.value.code == 2  # argparse's usage error, from compare's parser


def test_trainer_registry_and_run_folders_of_one_trainer(tmp_path):
    assert set(trainers.TRAINERS) == {"torch", "jax", "sb3"}
    assert trainers.recorded_trainer({"engine": "ppobr_study.jax (jitted PPO, ppobr_jax)"}) == "jax"
    assert trainers.recorded_trainer({}) == "torch"
    parser = cli.build_parser()
    assert parser.parse_args(["compare", "--engine", "jax"]).trainer == "jax"
    assert parser.parse_args(["compare", "--trainer", "sb3"]).trainer == "sb3"
    # a finished torch run in the folder: the jax trainer refuses to mix its runs with it
    _write_runs(tmp_path, "CartPole-v1", 1024, 1024, lambda i: 0.1, controllers=("ppo",), seeds=1)
    with pytest.raises(SystemExit, match="holds a run of the torch trainer"):
        compare.compare(["CartPole-v1"], ["ppo"], [0], "1024", trainer="jax", out=str(tmp_path))


def test_sb3_trainer_through_compare(tmp_path):
    """--trainer sb3 runs ppobr_study.sb3_trainer.train per run; the table says the steps
    SB3 made (its rollout of 2048 steps is larger than the 1024 requested)."""
    out = tmp_path / "sb3"
    result = compare.compare(
        ["CartPole-v1"],
        ["ppo", "ppobr"],
        [0],
        "1024",
        trainer="sb3",
        workers=1,
        out=str(out),
        plots=False,
        progress=False,
    )
    assert result["failures"] == [] and result["trainer"] == "sb3"
    (group,) = result["groups"]
    assert group["steps_per_run"] == 2048 and group["trainer"] == "sb3"
    assert "2,048 steps per run (1,024 requested)" in format_table(group)
    meta = json.loads(
        (runfolder.run_dir(out, "CartPole-v1", 1024, "ppobr", 0) / "run.json").read_text()
    )
    assert meta["trainer"] == "sb3" and meta["controller"]["name"] == "ppobr"
