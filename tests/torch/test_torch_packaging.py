"""Import boundaries and the example script."""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _env():
    import ppobr_torch

    env = dict(os.environ)
    extra = os.path.dirname(os.path.dirname(ppobr_torch.__file__))
    env["PYTHONPATH"] = os.pathsep.join([extra] + ([env["PYTHONPATH"]] if env.get("PYTHONPATH") else []))
    return env


def test_ppobr_core_does_not_import_torch():
    code = "import sys, ppobr_core; assert 'torch' not in sys.modules, 'ppobr_core imported torch'"
    subprocess.run([sys.executable, "-c", code], check=True, env=_env())


def test_public_surface():
    import ppobr_torch as pt

    for name in pt.__all__:
        assert hasattr(pt, name), name
    assert pt.STAT_NAMES == tuple(__import__("ppobr_core").STAT_NAMES)


@pytest.mark.parametrize("controller", ["constant", "ppobr"])
def test_example_runs_two_iterations(controller, tmp_path):
    pytest.importorskip("gymnasium", reason="the example needs gymnasium[classic-control]")
    out = tmp_path / "summary.json"
    cmd = [sys.executable, os.path.join(ROOT, "examples", "cleanrl_ppo_torch.py"), "--controller", controller,
           "--total-timesteps", "1024", "--quiet", "--summary", str(out), "--cuda", "0"]  # fmt: skip
    subprocess.run(cmd, check=True, env=_env(), timeout=120, capture_output=True)
    summary = json.loads(out.read_text())
    assert summary["iterations"] == 2 and summary["steps"] == 1024
    if controller == "constant":
        assert summary["eps_min"] == summary["eps_max"] == 0.2


def _run_example(tmp_path, name, *extra):
    out = tmp_path / f"{name}.json"
    cmd = [sys.executable, os.path.join(ROOT, "examples", "cleanrl_ppo_torch.py"), *extra,
           "--quiet", "--summary", str(out), "--cuda", "0"]  # fmt: skip
    subprocess.run(cmd, check=True, env=_env(), timeout=180, capture_output=True)
    return json.loads(out.read_text())


def test_example_lockstep_both_controllers(tmp_path):
    """--controller both: two agents in one process, paired per-iteration timing, and each agent's
    run identical to the single-controller run with the same seed (own random stream)."""
    pytest.importorskip("gymnasium", reason="the example needs gymnasium[classic-control]")
    pytest.importorskip("scipy", reason="the lockstep overhead CI uses scipy.stats")
    both = _run_example(tmp_path, "both", "--controller", "both", "--total-timesteps", "2048")
    assert both["controller"] == "both" and both["steps"] == 2048 and both["iterations"] == 4
    assert set(both["agents"]) == {"constant", "ppobr"}
    for name, agent in both["agents"].items():
        assert agent["controller"] == name and agent["iterations"] == 4 and agent["steps"] == 2048
        assert agent["episodes_in_avg"] > 0 and math.isfinite(agent["avg_return"])
    assert both["agents"]["constant"]["eps_min"] == both["agents"]["constant"]["eps_max"] == 0.2
    assert both["agents"]["ppobr"]["eps_min"] != both["agents"]["ppobr"]["eps_max"]  # ε adapted

    ov = both["overhead"]
    assert ov["paired_iterations"] == 3  # the warm-up iteration is not paired
    assert len(ov["iter_sec"]["constant"]) == len(ov["iter_sec"]["ppobr"]) == 3
    assert math.isfinite(ov["median_ratio_minus_1"]) and ov["median_ratio_minus_1"] > -1.0
    assert len(ov["ci95"]) == 2
    for share in ov["controller_share_of_iter"].values():
        assert 0.0 < share < 1.0
    assert math.isfinite(ov["controller_extra_share_of_iter"])

    # The PPO-BR agent of the lockstep run is the PPO-BR run on its own: same returns, same ε.
    alone = _run_example(tmp_path, "alone", "--controller", "ppobr", "--total-timesteps", "2048")
    for key in ("avg_return", "episodes_in_avg", "eps_min", "eps_max", "eps_mean"):
        assert both["agents"]["ppobr"][key] == alone[key], key
