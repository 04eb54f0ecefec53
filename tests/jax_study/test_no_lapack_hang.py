"""The program that hung XLA's CPU runtime on 2 cores (CartPole, 2 controllers × 2 seeds;
11 of 11 unpinned tries before the trainer stopped calling LAPACK's batched QR) runs to the
end unpinned, with XLA's default flags, twice in a row. A regression makes the child
hang, and the timeout fails the test."""

import os
import subprocess
import sys
import tempfile

from conftest import _child_pythonpath

CONFIG = """name = "hang_regression"
tasks = ["CartPole-v1"]
controllers = ["ppo", "ppobr"]
seeds = 2
seed_batch = 2
steps = 4096
brax_backend = "spring"
"""


def test_unpinned_program_returns(tmp_path):
    config = tmp_path / "hang_regression.toml"
    config.write_text(CONFIG)
    env = dict(os.environ, PYTHONPATH=_child_pythonpath())
    env.pop("XLA_FLAGS", None)  # XLA's defaults: the multi-threaded pool the hang needed
    for attempt in range(2):
        out = tmp_path / f"run{attempt}"
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "ppobr_study.jax",
                "--config",
                str(config),
                "--out",
                str(out),
                "--no-plots",
            ],
            cwd=tempfile.gettempdir(),
            env=env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
        assert "seeds 0..1" in proc.stdout, proc.stdout[-2000:]
