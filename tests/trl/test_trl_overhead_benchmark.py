"""benchmarks/trl_overhead.py, the crossover lock step behind the TRL overhead figures: both
trainings are the same bit for bit (it stops otherwise), blocks never end on a step where
PPO-BR works, PPO-BR's hooks run only on its side, and ``--null`` runs none of them."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
SCRIPT = os.path.join(ROOT, "benchmarks", "trl_overhead.py")


def _run(tmp_path, *extra: str) -> dict:
    pytest.importorskip("greenlet", reason="the benchmark runs its trainings in greenlets")
    out = tmp_path / "overhead.json"
    env = dict(os.environ)
    # the adapters and the study from the tree; ppobr_core as installed (the tree's python/
    # folder holds its sources, not the built extension)
    paths = [os.path.join(ROOT, d) for d in ("adapters", "study")]
    env["PYTHONPATH"] = os.pathsep.join([*paths, env.get("PYTHONPATH", "")])
    cmd = [sys.executable, SCRIPT, "--rounds", "2", "--steps", "20", "--resamples", "200"]
    subprocess.run(
        [*cmd, *extra, "--json", str(out)], check=True, env=env, timeout=300, capture_output=True
    )
    return json.loads(out.read_text())


def test_crossover_times_both_sides_of_one_training(tmp_path):
    result = _run(tmp_path)
    assert result["bit_identical"] is True and result["null_control"] is False
    # blocks of one generation period (4 steps), none ending on a generation (steps 1, 5, …)
    # or a log (steps 10, 20): they end after steps 3, 7, 11, 15, 19, so 4 whole blocks
    assert result["steps_per_block"] == 4 and result["block_phase"] == 3
    assert result["blocks_per_training"] == 4
    for clock in ("cpu", "wall"):
        rounds = result[clock]["round_seconds"]
        assert len(rounds) == 2 and all(p > 0 and q > 0 for p, q in rounds)
        assert result[clock]["ci95"][0] <= result[clock]["overhead"] <= result[clock]["ci95"][1]
    # PPO-BR's hooks ran (on its side only: its own time is a fraction of a step)
    assert 0.0 < result["direct_cpu"] < 0.05
    assert set(result["page_faults_per_step"]) == {"plain", "ppobr"}


def test_null_runs_no_hook(tmp_path):
    result = _run(tmp_path, "--null")
    assert result["null_control"] is True and result["bit_identical"] is True
    assert result["direct_cpu"] == 0.0 and result["direct_wall"] == 0.0
