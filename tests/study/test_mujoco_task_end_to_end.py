"""``ppobr compare`` on a MuJoCo task that no document of the project names
(InvertedPendulum-v5, gymnasium's MuJoCo bindings, installed by the test command), without
--threshold: the gymnasium spec's reward_threshold (950) is used and said, the runs are made
with CleanRL's continuous-action PPO, and the run folder gets its table, summary and plots."""

import json

from ppobr_study import compare, protocol, runfolder
from ppobr_study.tables import format_table

ENV = "InvertedPendulum-v5"


def test_unlisted_mujoco_task_writes_table_summary_and_plots(tmp_path):
    assert ENV not in protocol.TASKS  # not registered: the spec's threshold must be found
    compare.check_env(ENV)
    out = tmp_path / "runs"
    result = compare.compare(
        [ENV],
        ["ppo", "ppobr"],
        [0, 1],
        "4096",
        workers=2,
        out=str(out),
        plots=True,
        progress=False,
    )
    assert result["failures"] == []
    (group,) = result["groups"]
    # CleanRL's continuous PPO: 1 env × 2048 steps per iteration, two iterations
    assert group["steps_per_run"] == 4096
    assert group["threshold"] == 950.0 and group["threshold_source"] == "spec"
    table = format_table(group)
    assert "threshold 950 (the gymnasium spec's reward_threshold)" in table
    gdir = runfolder.group_dir(out, ENV, 4096)
    summary = json.loads((gdir / "summary.json").read_text())
    assert summary["threshold_source"] == "spec"
    for png in ("learning_curves.png", "epsilon.png"):
        assert (gdir / png).stat().st_size > 0, png
    for controller in ("ppo", "ppobr"):
        for seed in (0, 1):
            meta = json.loads((gdir / controller / f"seed{seed}" / "run.json").read_text())
            assert meta["total_steps"] == 4096 and meta["env"] == ENV
