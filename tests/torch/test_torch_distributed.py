"""Two processes on gloo (localhost): different local data, identical statistics and ε."""

from __future__ import annotations

import json
import os
import socket
import time

import numpy as np
import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch_helpers import batch, core

import ppobr_core
import ppobr_torch as pt

WORLD = 2
ITERS = 6

pytestmark = pytest.mark.skipif(not dist.is_available(), reason="torch.distributed unavailable")


def _local_data(rank, it):
    """Rank-specific rollout signals: different sizes and values on each rank."""
    rng = np.random.default_rng(100 * rank + it)
    ent = torch.from_numpy(rng.random(200 + 150 * rank) * (0.6 + 0.5 * rank))
    rets = list(rng.normal(50 + 20 * rank + 10 * it, 5 + rank, size=(it + rank) % 3))
    lpn, lpo, adv, e = batch(300 + 200 * rank, seed=1000 * rank + it, spread=0.3 + 0.2 * rank)
    return ent, rets, (lpn, lpo, adv, e)


def _controller():
    return ppobr_core.PPOBRController(window=4, entropy_ref=1.0)


def _worker(rank, port, outdir):
    torch.set_num_threads(1)
    dist.init_process_group(
        "gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD
    )
    try:
        ctl = pt.EpsilonController(_controller())
        local = pt.EpsilonController(_controller(), distributed=False)
        record = {"eps": [], "local_eps": [], "stats": []}
        for it in range(ITERS):
            ent, rets, (lpn, lpo, adv, e) = _local_data(rank, it)
            record["eps"].append(ctl.update(ent, rets))
            record["local_eps"].append(local.update(ent, rets))
            acc = pt.StatsAccumulator()
            for idx in torch.arange(lpn.numel()).split(128):
                acc.add(
                    pt.clipped_surrogate_loss(
                        lpn[idx],
                        lpo[idx],
                        adv[idx],
                        ctl.epsilon_tensor(dtype=torch.float64),
                        entropy=e[idx],
                        dual_clip=3.0,
                    )
                )
            record["stats"].append(acc.compute())
        with open(os.path.join(outdir, f"rank{rank}.json"), "w") as f:
            json.dump(record, f)
    finally:
        dist.destroy_process_group()


def _free_port():
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_two_ranks_get_identical_eps_and_stats(tmp_path):
    ctx = mp.spawn(_worker, args=(_free_port(), str(tmp_path)), nprocs=WORLD, join=False)
    deadline = time.monotonic() + 120
    while not ctx.join(timeout=5):
        if time.monotonic() > deadline:
            for p in ctx.processes:
                p.kill()
            pytest.fail("the two-process gloo test timed out")
    r0, r1 = (json.loads((tmp_path / f"rank{r}.json").read_text()) for r in range(WORLD))

    # identical on both ranks, although each rank's own data give a different ε
    assert r0["eps"] == r1["eps"]
    assert r0["stats"] == r1["stats"]
    assert r0["local_eps"] != r1["local_eps"]
    assert len(set(r0["eps"])) > 1

    # and equal to one controller fed the global signals: entropy over both ranks' steps,
    # returns in rank order; statistics of the concatenated batches
    ref = _controller()
    for it in range(ITERS):
        parts = [_local_data(r, it) for r in range(WORLD)]
        ent = torch.cat([p[0] for p in parts])
        rets = [x for p in parts for x in p[1]]
        want = ref.update(float(ent.sum() / ent.numel()), rets)
        assert r0["eps"][it] == pytest.approx(want, rel=1e-12)
        eps = r0["eps"][it]
        cat = [torch.cat([p[2][k] for p in parts]) for k in range(4)]
        res = core(*cat[:3], eps=eps, entropy=cat[3], dual_clip=3.0)
        for k, v in res.stats.items():
            assert r0["stats"][it][k] == pytest.approx(v, rel=1e-9, abs=1e-12), k
