"""The verdicts on the paper's claims (docs/PROTOCOL.md) and `ppobr report` over summaries."""

import json
import math
import subprocess

import pytest

from ppobr_study import protocol as P
from ppobr_study import report as R
from ppobr_study import runfolder


def versus(**kw):
    base = {
        "fewer_steps_fraction": 0.3,
        "steps_mannwhitney_p": 0.01,
        "within_variance_ratio_ci": [1.2, 3.0],
        "across_variance_ratio_ci": [0.5, 2.0],
        "overhead_direct": 1e-5,
    }
    return {**base, **kw}


def test_claim_verdicts_follow_the_preregistered_rules():
    d = P.claim_verdicts(versus())
    assert d == {
        "faster": True,
        "lower_variance": True,
        "lower_across_variance": False,
        "overhead": True,
        "overhead_bar": True,
    }
    # Faster needs fewer steps *and* p < 0.05: p = 0.05 is not enough, nor is being slower.
    assert not P.claim_verdicts(versus(steps_mannwhitney_p=0.05))["faster"]
    assert not P.claim_verdicts(versus(fewer_steps_fraction=-0.3))["faster"]
    assert not P.claim_verdicts(versus(fewer_steps_fraction=0.0))["faster"]
    # A median that was not observed (censored; NaN, or None in summary.json) is no speed-up.
    assert not P.claim_verdicts(versus(fewer_steps_fraction=None))["faster"]
    assert not P.claim_verdicts(versus(fewer_steps_fraction=math.nan))["faster"]
    # Lower variance: the CI's lower end strictly above 1.
    assert not P.claim_verdicts(versus(within_variance_ratio_ci=[1.0, 4.0]))["lower_variance"]
    assert not P.claim_verdicts(versus(within_variance_ratio_ci=[None, None]))["lower_variance"]
    assert P.claim_verdicts(versus(across_variance_ratio_ci=[1.01, 9.0]))["lower_across_variance"]
    # Overhead: below 1.8% supports the claim, at most 0.5% meets the project's bar.
    assert P.claim_verdicts(versus(overhead_direct=0.005))["overhead_bar"]
    d = P.claim_verdicts(versus(overhead_direct=0.0051))
    assert d["overhead"] and not d["overhead_bar"]
    assert not P.claim_verdicts(versus(overhead_direct=0.018))["overhead"]
    assert not P.claim_verdicts(versus(overhead_direct=None))["overhead"]


def test_overall_verdict_needs_a_majority_of_all_tasks():
    assert P.overall_verdict([True] * 4, 6) == "supported"
    assert (
        P.overall_verdict([True, True, True, False, False, False], 6) == "not supported"
    )  # 3 is no majority
    assert P.overall_verdict([True, True, True], 6) == "undecided"  # three tasks still to come
    assert P.overall_verdict([False, False, False], 6) == "not supported"  # at most 3 of 6 left
    assert P.overall_verdict([False, False], 6) == "undecided"
    assert P.overall_verdict([], 6) == "undecided"


def fake_runs(n, steps, final, late, ctrl_s=1e-4, iter_s=1.0):
    return [
        {
            "episodes": 100,
            "steps_to_threshold": steps[i % len(steps)],
            "reached": steps[i % len(steps)] is not None,
            "final_return": final[i % len(final)],
            "late_variance": late[i % len(late)],
            "late_std": 1.0,
            "iterations": 10,
            "controller_seconds_per_iteration": ctrl_s,
            "seconds_per_iteration": iter_s,
            "cpu_seconds_per_iteration": iter_s,
            "seed": i,
        }
        for i in range(n)
    ]


def write_summary(folder, env, runs_by_controller, steps=None):
    """A summary.json as `ppobr compare` writes it (same functions, JSON-cleaned)."""
    budget = P.TASKS[env].budget if steps is None else steps
    base = runs_by_controller["ppo"]
    summary = {
        "env": env,
        "steps": budget,
        "threshold": P.TASKS[env].threshold,
        "baseline": "ppo",
        "controllers": {c: P.controller_summary(m, budget) for c, m in runs_by_controller.items()},
        "versus_baseline": {
            c: P.compare(base, m) for c, m in runs_by_controller.items() if c != "ppo"
        },
        "versus_ppo_wide": {
            c: P.compare(runs_by_controller["ppo-wide"], runs_by_controller[c])
            for c in ("ppobr",)
            if "ppo-wide" in runs_by_controller
        },
        "runs": runs_by_controller,
    }
    runfolder.atomic_write_json(folder / f"{env}_{budget}" / "summary.json", summary)


@pytest.fixture
def folders(tmp_path):
    old, new = tmp_path / "old", tmp_path / "new"
    # CartPole: PPO-BR clearly faster and steadier, 10 seeds each.
    write_summary(
        old,
        "CartPole-v1",
        {
            "ppo": fake_runs(
                10,
                [200_000.0 + 1000 * i for i in range(10)],
                [480.0, 470.0, 490.0],
                [900.0, 1000.0],
            ),
            "ppobr": fake_runs(
                10, [100_000.0 + 1000 * i for i in range(10)], [495.0, 497.0], [100.0, 120.0]
            ),
        },
    )
    # Hopper: an old interim summary (2 seeds) and a newer one with more runs and ppo-wide.
    same = dict(
        steps=[300_000.0, 310_000.0, 320_000.0], final=[2000.0, 2500.0, 1800.0], late=[5e5, 6e5]
    )
    write_summary(old, "Hopper-v5", {"ppo": fake_runs(2, **same), "ppobr": fake_runs(2, **same)})
    write_summary(
        new,
        "Hopper-v5",
        {
            "ppo": fake_runs(4, **same),
            "ppobr": fake_runs(4, **same),
            "ppo-wide": fake_runs(4, **same),
        },
    )
    # Not the reproduction's budget: never used.
    write_summary(
        new,
        "CartPole-v1",
        {"ppo": fake_runs(12, **same), "ppobr": fake_runs(12, **same)},
        steps=65_536,
    )
    return old, new


def test_report_picks_the_fullest_summary_and_states_the_verdicts(folders):
    old, new = folders
    found = R.find_summaries([old, new])
    assert set(found) == {"CartPole-v1", "Hopper-v5"}
    assert (
        found["Hopper-v5"]["controllers"]["ppo"]["runs"] == 4
        and "new" in found["Hopper-v5"]["path"]
    )
    assert found["CartPole-v1"]["steps"] == 500_000

    text = R.report([old, new])
    row = next(line for line in text.splitlines() if line.startswith("| CartPole-v1 | 10 + 10 |"))
    assert "**yes**: 48.9% fewer steps, p = " in row  # medians 104.5k and 204.5k: 1 - 104.5 / 204.5
    assert "**yes**: 8.64 [" in row  # within-run variance ratio 950 / 110
    assert "**yes** (meets ≤ 0.5%): +0.0000% per iteration" in row
    hopper = next(line for line in text.splitlines() if line.startswith("| Hopper-v5 |"))
    assert "4 + 4 (interim)" in hopper and hopper.count("*interim:*") == 3
    # One complete task of six: every claim is still open (interim tasks count as no data).
    overall = next(line for line in text.splitlines() if line.startswith("| **overall**"))
    assert overall.count("**undecided** (1 of 1 complete tasks)") == 3
    assert "| HalfCheetah-v5 | 800 → 620 | not run |" in text
    assert "| Hopper-v5 | ppobr vs ppo-wide | 4 + 4 (interim) | no: 0.0% more steps" in text
    assert "ppo-wide vs ppo" in text


def test_report_update_replaces_only_the_marked_block(folders, tmp_path):
    doc = tmp_path / "RESULTS.md"
    doc.write_text(f"# Results\n\nbefore\n{R.BEGIN}\nstale table\n{R.END}\nafter\n")
    R.update_file(doc, R.report(list(folders)))
    text = doc.read_text()
    assert text.startswith("# Results\n\nbefore\n" + R.BEGIN + "\n#### The paper's three claims")
    assert text.endswith(R.END + "\nafter\n") and "stale table" not in text
    once = text
    R.update_file(doc, R.report(list(folders)))
    assert doc.read_text() == once  # idempotent
    doc.write_text("no markers here\n")
    with pytest.raises(ValueError, match="--update: .* marker lines"):
        R.update_file(doc, "x")
    assert doc.read_text() == "no markers here\n"  # untouched


def test_report_command(folders, tmp_path, subprocess_env):
    from test_compare_cli import ppobr_command

    old, new = folders
    proc = subprocess.run(
        ppobr_command() + ["report", str(old), str(new)],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    assert (
        proc.stdout.startswith("#### The paper's three claims")
        and "| CartPole-v1 | 10 + 10 |" in proc.stdout
    )
    proc = subprocess.run(
        ppobr_command() + ["report", str(tmp_path / "missing")],
        env=subprocess_env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 2 and "folders: no such folder" in proc.stderr
    summary = json.loads((old / "CartPole-v1_500000" / "summary.json").read_text())
    assert summary["controllers"]["ppobr"]["runs"] == 10  # the report only reads
