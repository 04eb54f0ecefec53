"""Import boundaries and the example script."""

from __future__ import annotations

import json
import math
import os
import re
import subprocess
import sys

import pytest

ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))


def _env():
    import ppobr_torch

    env = dict(os.environ)
    extra = os.path.dirname(os.path.dirname(ppobr_torch.__file__))
    rest = [env["PYTHONPATH"]] if env.get("PYTHONPATH") else []
    env["PYTHONPATH"] = os.pathsep.join([extra, *rest])
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
def test_example_runs_two_iterations(controller):
    pytest.importorskip("gymnasium", reason="the example needs gymnasium[classic-control]")
    script = os.path.join(ROOT, "examples", "cleanrl_ppo_torch.py")
    cmd = [sys.executable, script, "--controller", controller, "--total-timesteps", "1024"]
    done = subprocess.run(
        [*cmd, "--no-cuda"], check=True, env=_env(), timeout=120, capture_output=True, text=True
    )
    # one "SPS: <n> eps: <ε>" line per iteration: 1024 steps / (4 envs x 128 steps) = 2
    eps = [float(m) for m in re.findall(r"^SPS: \d+ eps: ([0-9.]+)$", done.stdout, re.MULTILINE)]
    assert len(eps) == 2
    if controller == "constant":
        assert eps == [0.2, 0.2]
    else:
        assert all(0.0 < e < 1.0 for e in eps)


def test_lockstep_overhead_benchmark_runs_both_controllers(tmp_path):
    """benchmarks/controller_overhead.py: a constant-ε and a PPO-BR agent in one process, with
    paired per-iteration timing, both through ppobr_torch."""
    pytest.importorskip("gymnasium", reason="the benchmark needs gymnasium[classic-control]")
    out = tmp_path / "both.json"
    script = os.path.join(ROOT, "benchmarks", "controller_overhead.py")
    cmd = [sys.executable, script, "--total-timesteps", "2048", "--cuda", "0", "--quiet"]
    subprocess.run(
        [*cmd, "--summary", str(out)], check=True, env=_env(), timeout=180, capture_output=True
    )
    both = json.loads(out.read_text())
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
