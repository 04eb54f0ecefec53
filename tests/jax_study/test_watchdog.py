"""The JAX engine's watchdog (``engine.supervise``) with real child processes: a shard that
hangs (alive, using no CPU) is killed and started again; one that keeps hanging fails after
MAX_RESTARTS with its output; one that exits with an error is reported, not restarted."""

import sys

import pytest

from ppobr_study.jax import engine

# Hangs (sleeps, using no CPU) the first time it runs, then finishes: the marker file says
# whether it ran before.
HANG_ONCE = """import os, sys, time
marker = sys.argv[1]
if not os.path.exists(marker):
    open(marker, "w").close()
    print("started", flush=True)
    time.sleep(600)
print("CHUNK 1 0", flush=True)
"""
HANG_ALWAYS = "import time\nprint('hanging', flush=True)\ntime.sleep(600)\n"
FAIL = "import sys\nprint('bad config', flush=True)\nsys.exit(3)\n"


@pytest.fixture
def fast_watchdog(monkeypatch):
    monkeypatch.setattr(engine, "IDLE_WINDOW", 1.5)
    monkeypatch.setattr(engine, "MAX_RESTARTS", 2)


def _shard(code, *args):
    return engine._Shard([sys.executable, "-c", code, *args], 1, 1, None, print, None)


def _supervise(shard):
    logs, failures = [], []
    restarts = engine.supervise([shard], lambda sh, why: failures.append(why), logs.append, "t")
    return restarts, logs, failures


def test_hung_shard_is_restarted(tmp_path, fast_watchdog):
    shard = _shard(HANG_ONCE, str(tmp_path / "marker"))
    restarts, logs, failures = _supervise(shard)
    assert restarts == 1 and shard.restarts == 1
    assert failures == []
    assert shard.proc.returncode == 0
    assert len(logs) == 1 and "killed and restarted" in logs[0]


def test_shard_that_keeps_hanging_fails(fast_watchdog):
    shard = _shard(HANG_ALWAYS)
    restarts, logs, failures = _supervise(shard)
    assert restarts == engine.MAX_RESTARTS == 2
    assert len(failures) == 1 and "hanging" in failures[0]
    assert shard.proc.poll() is not None  # killed, not left behind


def test_failing_shard_is_reported_not_restarted(fast_watchdog):
    shard = _shard(FAIL)
    restarts, logs, failures = _supervise(shard)
    assert restarts == 0 and logs == []
    assert failures == ["bad config"]
