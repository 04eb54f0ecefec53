"""The GRPO study's runner and report on a tiny budget: one result file per run, finished runs
skipped, tables through ppobr_study.protocol."""

import json
import os

from ppobr_study.llm.report import load_runs, run_metrics, tables
from ppobr_study.llm.run import Budget, result_path, run_one
from ppobr_study.llm.tasks import TASKS

BUDGET = Budget(steps=8, batch=8)


def test_run_writes_one_file_and_skips_it_next_time(tmp_path):
    out = str(tmp_path)
    path = run_one(out, "repeat", "ppobr", 0, BUDGET)
    assert path == result_path(out, "repeat", "ppobr", 0)
    with open(path) as f:
        result = json.load(f)
    assert len(result["batches"]) == 2  # 8 steps, a generation batch every 4
    assert len(result["step_seconds"]) == 8
    assert result["batches"][0]["eps_low"] != 0.2  # PPO-BR moved ε at the first batch
    mtime = os.path.getmtime(path)
    run_one(out, "repeat", "ppobr", 0, BUDGET)
    assert os.path.getmtime(path) == mtime

    run_one(out, "repeat", "constant", 0, BUDGET)
    runs = load_runs(out)
    metrics = run_metrics(runs["repeat"]["ppobr"][0])
    assert metrics["iterations"] == 8 and metrics["episodes"] == 2
    text = tables(runs)
    assert "### repeat" in text and "| ppobr | 1 |" in text and "| constant | 1 |" in text


def test_task_rewards():
    repeat = TASKS["repeat"].reward_func(4)
    assert repeat(["b:", "c:"], ["bbbb", "bcxx"]) == [1.0, 0.25]
    alternate = TASKS["alternate"].reward_func(4)
    assert alternate(["ab:"], ["abab"]) == [1.0]
    assert alternate(["ab:"], ["baba"]) == [0.0]
