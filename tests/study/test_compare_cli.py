"""`ppobr compare` end to end on a tiny budget: the run folder, the table, and resumption."""

import importlib.metadata
import importlib.util
import json
import shutil
import subprocess
import sys

CONTROLLERS = ("ppo", "ppobr")
SEEDS = (0, 1)
STEPS = 2048  # 4 iterations of CleanRL's 4 envs × 128 steps
ITER_COLUMNS = {
    "iteration",
    "global_step",
    "epsilon",
    "phi",
    "psi",
    "rollout_entropy",
    "entropy",
    "clip_fraction",
    "kl_k1",
    "kl_k3",
    "controller_seconds",
    "iteration_seconds",
}


def ppobr_command():
    """The installed console script when there is one, else `python -m ppobr_study`."""
    eps = importlib.metadata.entry_points(group="console_scripts")
    if any(ep.name == "ppobr" for ep in eps) and shutil.which("ppobr"):
        return [shutil.which("ppobr")]
    return [sys.executable, "-m", "ppobr_study"]


def run_ppobr(args, env, timeout=600):
    proc = subprocess.run(
        ppobr_command() + list(args), env=env, capture_output=True, text=True, timeout=timeout
    )
    assert proc.returncode == 0, f"ppobr {' '.join(args)} failed:\n{proc.stdout}\n{proc.stderr}"
    return proc.stdout


def check_run_folder(out, seeds=SEEDS):
    group = out / f"CartPole-v1_{STEPS}"
    for c in CONTROLLERS:
        for s in seeds:
            d = group / c / f"seed{s}"
            meta = json.loads((d / "run.json").read_text())
            assert meta["finished"] and meta["controller"]["name"]
            assert (meta["env"], meta["seed"], meta["steps"]) == ("CartPole-v1", s, STEPS)
            assert meta["versions"]["gymnasium"] == importlib.metadata.version("gymnasium")
            assert meta["versions"]["numpy"] == importlib.metadata.version("numpy")
            # the simulators' versions are recorded too (bit-reproducibility depends on them)
            for dist in ("mujoco", "Box2D"):
                try:
                    installed = importlib.metadata.version(dist)
                except importlib.metadata.PackageNotFoundError:
                    installed = None
                assert meta["versions"].get(dist.lower()) == installed
            ep = (d / "episodes.csv").read_text().splitlines()
            assert ep[0] == "global_step,iteration,return,length" and len(ep) > 10
            it = (d / "iterations.csv").read_text().splitlines()
            assert ITER_COLUMNS <= set(it[0].split(","))
            assert len(it) == 1 + STEPS // 512
    summary = json.loads((group / "summary.json").read_text())
    assert set(summary["controllers"]) == set(CONTROLLERS)
    assert summary["controllers"]["ppobr"]["runs"] == len(seeds)
    assert summary["threshold"] == 475.0 and summary["baseline"] == "ppo"
    vs = summary["versus_baseline"]["ppobr"]
    for key in (
        "steps_mannwhitney_p",
        "within_variance_ratio",
        "across_variance_ratio",
        "overhead_direct",
        "overhead_end_to_end",
    ):
        assert key in vs
    for png in ("learning_curves.png", "epsilon.png"):
        data = (group / png).read_bytes()
        assert data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) > 5000
    assert "| ppobr |" in (group / "results.md").read_text()
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["controllers"] == list(CONTROLLERS)
    return group


def test_compare_end_to_end_and_rerun_skips_finished(tmp_path, subprocess_env):
    out = tmp_path / "runs"
    args = [
        "compare",
        "--env",
        "CartPole-v1",
        "--controllers",
        ",".join(CONTROLLERS),
        "--seeds",
        str(len(SEEDS)),
        "--steps",
        str(STEPS),
        "--workers",
        "2",
        "--out",
        str(out),
    ]
    stdout = run_ppobr(args, subprocess_env)
    assert "0 finished run(s) skipped, 4 to run" in stdout
    assert "| ppo | 2 |" in stdout and "| ppobr | 2 |" in stdout  # the printed table
    group = check_run_folder(out)

    # A rerun skips every finished triple and leaves the run files untouched.
    stamps = {p: p.stat().st_mtime_ns for p in group.glob("*/seed*/*")}
    stdout = run_ppobr(args + ["--no-progress"], subprocess_env)
    assert "4 finished run(s) skipped, 0 to run" in stdout
    assert stamps == {p: p.stat().st_mtime_ns for p in group.glob("*/seed*/*")}

    # An interrupted run (no run.json) is run again, and only it; one more seed adds two runs.
    (group / "ppobr" / "seed1" / "run.json").unlink()
    stdout = run_ppobr(
        [
            "compare",
            "--env",
            "CartPole-v1",
            "--controllers",
            "ppo,ppobr",
            "--seeds",
            "3",
            "--steps",
            str(STEPS),
            "--workers",
            "1",
            "--no-plots",
            "--no-progress",
            "--out",
            str(out),
        ],
        subprocess_env,
    )
    assert "3 finished run(s) skipped, 3 to run" in stdout
    check_run_folder(out, seeds=(0, 1, 2))

    # A compact copy (the form kept in git) is a run folder `compare` resumes from: it runs
    # nothing and gives the same statistics; a new run in it is written compactly.
    packed = tmp_path / "packed"
    assert "6 finished run(s) copied" in run_ppobr(
        ["compact", str(out), str(packed)], subprocess_env
    )
    assert not list(packed.glob("*/*/seed*/*.csv"))
    stdout = run_ppobr(
        [
            "compare",
            "--env",
            "CartPole-v1",
            "--controllers",
            "ppo,ppobr",
            "--seeds",
            "4",
            "--steps",
            str(STEPS),
            "--workers",
            "1",
            "--no-plots",
            "--no-progress",
            "--compact",
            "--out",
            str(packed),
        ],
        subprocess_env,
    )
    assert "6 finished run(s) skipped, 2 to run" in stdout
    new_run = packed / f"CartPole-v1_{STEPS}" / "ppo" / "seed3"
    assert sorted(p.name for p in new_run.iterdir()) == [
        "episodes.csv.gz",
        "iterations.csv.gz",
        "run.json",
    ]
    # --summarize-only runs nothing, even where runs are missing (seed 4 here).
    stdout = run_ppobr(
        [
            "compare",
            "--env",
            "CartPole-v1",
            "--controllers",
            "ppo,ppobr",
            "--seeds",
            "0,1,2,4",
            "--steps",
            str(STEPS),
            "--no-plots",
            "--summarize-only",
            "--out",
            str(packed),
        ],
        subprocess_env,
    )
    assert "6 finished run(s), 2 not run (--summarize-only)" in stdout
    assert not (packed / group.name / "ppo" / "seed4").exists()
    original = json.loads((group / "summary.json").read_text())
    resumed = json.loads((packed / group.name / "summary.json").read_text())
    assert resumed["runs"] == original["runs"] and resumed["controllers"] == original["controllers"]


def test_help_and_presets(subprocess_env):
    assert "--ray" in run_ppobr(["compare", "--help"], subprocess_env)
    listing = run_ppobr(["controllers"], subprocess_env)
    for name in (
        "ppo",
        "ppobr",
        "ppobr-entropy",
        "ppobr-reward",
        "linear-decay",
        "kl-adaptive",
        "ppo-wide",
    ):
        assert name in listing


def test_compare_on_a_local_ray_instance(tmp_path, subprocess_env):
    out = tmp_path / "ray_runs"
    stdout = run_ppobr(
        [
            "compare",
            "--env",
            "CartPole-v1",
            "--controllers",
            "ppo,ppobr",
            "--seeds",
            "1",
            "--steps",
            "1024",
            "--workers",
            "2",
            "--ray",
            "local",
            "--no-plots",
            "--no-progress",
            "--out",
            str(out),
        ],
        subprocess_env,
    )
    assert "2 to run on Ray (local)" in stdout
    for c in ("ppo", "ppobr"):
        meta = json.loads((out / "CartPole-v1_1024" / c / "seed0" / "run.json").read_text())
        assert meta["finished"] and meta["total_steps"] == 1024
