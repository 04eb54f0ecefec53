"""`ppobr compare --trainer sb3 --hyperparams FILE`: the file's section of each task trains its
runs with SB3's real PPO, goes into run.json, sets the budget, and a run folder never mixes runs
made with other hyper-parameters."""

import json

import pytest
from test_compare_cli import run_ppobr

from ppobr_study import cli, compare, runfolder

SECTION = {
    "n_envs": 2,
    "n_steps": 64,
    "batch_size": 64,
    "n_epochs": 2,
    "learning_rate": "lin_0.001",
}
ZOO_YAML = """\
Pendulum-v1:
  n_envs: 4
  n_steps: 1024
CartPole-v1:
  n_envs: 2
  n_timesteps: !!float 256
  n_steps: 64
  batch_size: 64
  n_epochs: 2
  learning_rate: lin_0.001
"""


@pytest.fixture
def zoo_file(tmp_path):
    path = tmp_path / "ppo.yml"
    path.write_text(ZOO_YAML)
    return path


def _compare(out, hyperparams, steps=None, trainer="sb3", seeds=(0,), workers=1):
    return compare.compare(
        ["CartPole-v1"],
        ["ppo", "ppobr"],
        list(seeds),
        steps,
        trainer=trainer,
        workers=workers,
        out=str(out),
        plots=False,
        progress=False,
        hyperparams=None if hyperparams is None else str(hyperparams),
    )


def test_compare_with_a_zoo_file_writes_the_run_folder_and_table(
    tmp_path, zoo_file, subprocess_env
):
    out = tmp_path / "runs"
    args = ["compare", "--trainer", "sb3", "--env", "CartPole-v1", "--hyperparams", str(zoo_file)]
    args += ["--seeds", "1", "--workers", "1", "--no-progress", "--no-plots", "--out", str(out)]
    stdout = run_ppobr(args, subprocess_env)
    # no --steps: the section's n_timesteps (256) is the budget: 2 iterations of 2 × 64 steps
    assert "0 finished run(s) skipped, 2 to run" in stdout
    assert "CartPole-v1, 256 steps per run" in stdout and "| ppobr | 1 |" in stdout
    assert "learning_rate=lin_0.001" in stdout
    group = out / "CartPole-v1_256"
    for controller in ("ppo", "ppobr"):
        d = group / controller / "seed0"
        meta = json.loads((d / "run.json").read_text())
        assert meta["trainer"] == "sb3" and meta["hyperparams_file"] == str(zoo_file)
        assert meta["config"]["hyperparameters"] == SECTION
        assert meta["config"]["sb3_hyperparameters"]["n_steps"] == 64
        it = runfolder.read_csv_columns(d / "iterations.csv")
        assert list(it["global_step"]) == [128, 256]
        assert list(it["learning_rate"]) == [0.0005, 0.0]  # lin_0.001 at progress 0.5, then 0
    assert "| ppobr | 1 |" in (group / "results.md").read_text()
    summary = json.loads((group / "summary.json").read_text())
    assert summary["hyperparameters"] == SECTION
    comparison = json.loads((out / "comparison.json").read_text())
    assert comparison["hyperparams"] == str(zoo_file)
    assert comparison["hyperparameters"] == {"CartPole-v1": SECTION}


def test_a_run_folder_never_mixes_hyperparameters(tmp_path, zoo_file, capsys):
    out = tmp_path / "runs"
    result = _compare(out, zoo_file)
    assert result["failures"] == [] and result["budgets"] == {"CartPole-v1": 256}
    # the same file again: every run is skipped
    result = _compare(out, zoo_file)
    assert result["runs_skipped"] == 2 and result["runs_executed"] == 0
    # other hyper-parameters, or none (SB3's defaults), for the same runs: refused in one line
    other = tmp_path / "other.yml"
    other.write_text(ZOO_YAML.replace("n_epochs: 2", "n_epochs: 3"))
    for hp_file, differing in ((other, "n_epochs"), (None, ", ".join(sorted(SECTION)))):
        with pytest.raises(SystemExit) as e:
            _compare(out, hp_file, steps="256")
        message = str(e.value)
        assert "holds a run made with other hyper-parameters" in message
        assert f"(differing: {differing})" in message
        assert "\n" not in message and "pass another --out" in message
    # a folder of runs made with SB3's defaults refuses a file too
    defaults = tmp_path / "defaults"
    _compare(defaults, None, steps="256")
    with pytest.raises(SystemExit, match="holds a run made with other hyper-parameters"):
        _compare(defaults, zoo_file, steps="256")


def test_worker_processes_train_with_the_file_as_one_process_does(tmp_path, zoo_file):
    # the section travels to each worker process with its job: two workers write the runs one
    # process writes, bit for bit
    folders = {}
    for workers in (1, 2):
        out = tmp_path / f"workers{workers}"
        result = _compare(out, zoo_file, seeds=(0, 1), workers=workers)
        assert result["failures"] == [] and result["runs_executed"] == 4
        folders[workers] = out / "CartPole-v1_256"
    for controller in ("ppo", "ppobr"):
        for seed in (0, 1):
            runs = [folders[w] / controller / f"seed{seed}" for w in (1, 2)]
            metas = [json.loads((d / "run.json").read_text()) for d in runs]
            assert [m["config"]["hyperparameters"] for m in metas] == [SECTION, SECTION]
            assert metas[0]["config"]["sb3_hyperparameters"]["n_steps"] == 64
            columns = [runfolder.read_csv_columns(d / "iterations.csv") for d in runs]
            assert columns[0].keys() == columns[1].keys()
            for name in ("global_step", "epsilon", "learning_rate", "clip_fraction"):
                assert list(columns[0][name]) == list(columns[1][name]), (controller, seed, name)


def test_steps_overrides_n_timesteps_and_says_so(tmp_path, zoo_file, capsys):
    result = _compare(tmp_path / "runs", zoo_file, steps="128")
    assert result["budgets"] == {"CartPole-v1": 128} and result["failures"] == []
    printed = capsys.readouterr().out
    assert (
        f"n_timesteps 256 of {zoo_file} for CartPole-v1 ignored: --steps sets the budget (128)"
        in printed
    )


def test_refusals_before_any_run(tmp_path, zoo_file):
    out = tmp_path / "runs"
    with pytest.raises(SystemExit, match="--hyperparams: only the sb3 trainer reads"):
        _compare(out, zoo_file, steps="256", trainer="torch")
    with pytest.raises(SystemExit, match="--hyperparams: only the sb3 trainer reads"):
        cli.main(
            ["compare", "--env", "CartPole-v1", "--hyperparams", str(zoo_file), "--out", str(out)]
        )
    bad = tmp_path / "bad.yml"
    bad.write_text("CartPole-v1:\n  n_steps: 64\n  frame_stack: 4\n")
    with pytest.raises(SystemExit) as e:
        _compare(out, bad)
    assert str(e.value).startswith(f"--hyperparams: {bad} [CartPole-v1]: unknown key 'frame_stack'")
    assert "\n" not in str(e.value)
    bad.write_text("CartPole-v1:\n  clip_range: lin_0.2\n")
    with pytest.raises(SystemExit, match="clip_range is set by the controller preset"):
        _compare(out, bad)
    bad.write_text("CartPole-v1:\n  batch_size: many\n")  # a value only SB3 itself can judge
    with pytest.raises(SystemExit, match="SB3's PPO refuses the hyper-parameters for CartPole-v1"):
        _compare(out, bad)
    bad.write_text("Acrobot-v1:\n  n_steps: 64\n")
    with pytest.raises(SystemExit, match="no section for 'CartPole-v1' \\(sections: Acrobot-v1\\)"):
        _compare(out, bad)
    assert not out.exists()  # nothing ran
