"""Import boundaries and the example script."""

from __future__ import annotations

import json
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
