"""Identical epsilon on every device when their local data differ: runs multidevice_check.py in
its own process with 4 host CPU devices (XLA_FLAGS=--xla_force_host_platform_device_count=4; the
device count is fixed when jax starts, so it cannot be changed inside this test process)."""

import json
import os
import subprocess
import sys

import pytest

pytest.importorskip("jax")


def test_identical_eps_on_every_device():
    env = dict(os.environ)
    env["XLA_FLAGS"] = (
        env.get("XLA_FLAGS", "") + " --xla_force_host_platform_device_count=4"
    ).strip()
    env["JAX_PLATFORMS"] = "cpu"
    script = os.path.join(os.path.dirname(os.path.abspath(__file__)), "multidevice_check.py")
    proc = subprocess.run(
        [sys.executable, script], env=env, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-4000:]
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    # pmap: statistics and both controllers' epsilon identical on the 4 devices, while the
    # device-local losses differ; equal to one device fed the concatenated inputs
    for key in (
        "pmap_same_eps_ppobr",
        "pmap_same_eps_kl",
        "pmap_same_stats",
        "local_losses_differ",
        "eps_varies",
        "stats_are_ordered_sums_of_local",
        "pmap_equals_single_device_ppobr",
        "pmap_equals_single_device_kl",
    ):
        assert res.get(key) is True, (key, res)
    # shard_map: the same
    assert "shard_map_error" not in res, res
    assert res["shard_map_same_eps"] and res["shard_map_equals_pmap"], res
