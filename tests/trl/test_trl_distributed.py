"""Two processes (torchrun, torch.distributed with gloo on CPU), each on its own shard of the
prompts: every process feeds its controller the same signals and so uses the same ε sequence,
and the signals are the global sums docs/SPEC.md §4 names, H_t = (Σ_p Σ m·H) / (Σ_p Σ m) and
the k3 KL likewise, not either process's own."""

import json
import math
import os
import socket
import subprocess
import sys

import pytest

WORKER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "distributed_worker.py")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def ranks(tmp_path_factory):
    out = tmp_path_factory.mktemp("distributed")
    cmd = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--nproc_per_node",
        "2",
        "--master_addr",
        "127.0.0.1",
        "--master_port",
        str(_free_port()),
        WORKER,
        str(out),
    ]
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-4000:]
    result = []
    for rank in range(2):
        with open(out / f"rank{rank}.json") as f:
            result.append(json.load(f))
    return result


def _same(a: float, b: float) -> bool:
    return a == b or (math.isnan(a) and math.isnan(b))


@pytest.mark.parametrize("rule", ["ppobr", "kl_adaptive"])
def test_every_process_uses_the_same_eps_from_global_signals(ranks, rule):
    r0, r1 = ranks[0][rule], ranks[1][rule]
    assert r0["processes"] == r1["processes"] == 2
    # each process trained on its own prompts
    assert r0["prompt_ids"] != r1["prompt_ids"]
    # the same ε sequence, from the same signals, on both processes
    assert len(r0["history"]) == len(r1["history"]) == 2
    for h0, h1 in zip(r0["history"], r1["history"]):
        assert h0.keys() == h1.keys()
        for key in h0:
            assert _same(h0[key], h1[key]), (key, h0[key], h1[key])
    # every update's signals: the sum of both processes' local (Σ m·H, Σ m, Σ k3, Σ m)
    for step, (a, b, h) in enumerate(zip(r0["reductions"], r1["reductions"], r0["history"])):
        assert a["reduced"] == b["reduced"]
        assert a["reduced"] == pytest.approx([x + y for x, y in zip(a["local"], b["local"])])
        ent_sum, ent_count, kl_sum, kl_count = a["reduced"]
        assert h["entropy"] == ent_sum / ent_count
        local_means = [p["local"][0] / p["local"][1] for p in (a, b)]
        assert all(h["entropy"] != m for m in local_means)  # neither process's own
        if rule == "kl_adaptive" and step > 0:
            assert kl_count == a["local"][3] + b["local"][3] > a["local"][3] > 0
            assert h["kl"] == kl_sum / kl_count
    # the logged clip statistics are all-reduced: the same on both processes
    for l0, l1 in zip(r0["logs"], r1["logs"]):
        for key in l0:
            assert _same(l0[key], l1[key]), key


def test_ppobr_moved_eps_and_kl_adaptive_read_the_reduced_kl(ranks):
    ppobr = [h["eps_low"] for h in ranks[0]["ppobr"]["history"]]
    assert ppobr[0] != 0.2 and ppobr[1] != ppobr[0]
    kl = ranks[0]["kl_adaptive"]["history"]
    assert kl[0]["eps_low"] == 0.2 and math.isnan(kl[0]["kl"])
    assert kl[1]["kl"] > 1e-4 and kl[1]["eps_low"] == pytest.approx(0.2 / 1.5)
