"""PPO-BR's overhead per GRPO optimizer step, each trainer alone in its own process, as a user
runs it: PPOBRGRPOTrainer against TRL's plain GRPOTrainer at the same constant ε.

Why a second method next to ``trl_overhead.py`` (lock step in one process): there each trainer
trains on a thread of its own, so its memory comes from one of glibc's per-thread arenas, which
give pages back to the system and fault them in again far more than the main thread's heap does,
and by how much depends on the exact sequence of allocations. At hidden size 256 that turned
PPO-BR's few small extra allocations into ~1,100 extra page faults per step (+4% step time),
while the same two trainers on the main thread of their own processes fault equally often
(~3,000 per step each). Here the training runs on the main thread, as in a user's script.

Pairs of processes train the same configuration from the same seed, one plain and one PPO-BR
(``PPOBRController(eps0=0.2, lambda1=0, lambda2=0)``: ε ≡ 0.2 bit-exactly while all of
PPO-BR's work runs), one after the other, the order alternating between pairs. The two runs of
a pair are checked to be the same training (every logged loss, a checksum of the final
weights). A process times each optimizer step's CPU time (``time.process_time``, one torch
thread) from one ``on_step_begin`` to the next; its first ``--warmup`` steps are left out.

Reported: overhead = Σ t_ppobr / Σ t_plain − 1 over all pairs' timed steps, with a 95% bootstrap
CI over pairs; each pair's overhead with their median and an exact distribution-free 95% CI
(``scipy.stats.quantile_test``); page faults per step of each kind; the hooks' own CPU time
per step over the plain step ("direct").

    python benchmarks/trl_overhead_processes.py --pairs 16 --steps 128 --hidden 64
    python benchmarks/trl_overhead_processes.py --pairs 10 --steps 96 --hidden 256
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import resource
import subprocess
import sys
import time
import warnings

# This folder's kernels.py would shadow the `kernels` package that TRL imports.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

KINDS = ("plain", "ppobr")


def lockstep_module():
    """trl_overhead.py (the lock-step benchmark), whose trainer configuration and result record
    this benchmark shares; loaded by path, as this folder is not on sys.path."""
    import importlib.util

    if "trl_overhead" not in sys.modules:
        spec = importlib.util.spec_from_file_location(
            "trl_overhead", os.path.join(_HERE, "trl_overhead.py")
        )
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        sys.modules["trl_overhead"] = module
    return sys.modules["trl_overhead"]


def child(a) -> None:
    """Trains one trainer on this process's main thread; prints its timings as JSON."""
    import torch
    from transformers import TrainerCallback

    lockstep = lockstep_module()
    torch.set_num_threads(1)

    class StepClock(TrainerCallback):
        def __init__(self):
            self.cpu, self.faults, self._last = [], [], None

        def _now(self):
            return time.process_time(), resource.getrusage(resource.RUSAGE_SELF).ru_minflt

        def on_step_begin(self, args, state, control, **kwargs):
            self._tick()

        def on_train_end(self, args, state, control, **kwargs):
            self._tick()

        def _tick(self):
            now = self._now()
            if self._last is not None:
                self.cpu.append(now[0] - self._last[0])
                self.faults.append(now[1] - self._last[1])
            self._last = now

    clock = StepClock()
    bench = argparse.Namespace(
        steps=a.steps, hidden=a.hidden, layers=a.layers, logging_steps=a.logging_steps, null=False
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = lockstep.build(a.child, bench, a.seed, [clock])
        with contextlib.redirect_stdout(io.StringIO()):
            trainer.train()
    digest = hashlib.sha256()
    for p in trainer.model.parameters():
        digest.update(p.detach().numpy().tobytes())
    losses = [h["loss"] for h in trainer.state.log_history if "loss" in h]
    print(
        json.dumps(
            {
                "cpu": clock.cpu,
                "faults": clock.faults,
                "losses": losses,
                "weights_sha256": digest.hexdigest(),
                "direct_cpu": getattr(trainer, "ppobr_cpu_seconds", 0.0),
            }
        )
    )


def run_child(kind: str, a) -> dict:
    cmd = [sys.executable, os.path.abspath(__file__), "--child", kind]
    cmd += ["--steps", str(a.steps), "--hidden", str(a.hidden), "--layers", str(a.layers)]
    cmd += ["--logging-steps", str(a.logging_steps), "--seed", str(a.seed)]
    out = subprocess.run(cmd, check=True, capture_output=True, text=True).stdout
    return json.loads(out.strip().splitlines()[-1])


def main(argv=None) -> dict:
    import numpy as np

    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--pairs", type=int, default=16)
    p.add_argument("--steps", type=int, default=128)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--logging-steps", type=int, default=10, help="TRL's default is 10")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--warmup", type=int, default=8, help="first steps of a process not timed")
    p.add_argument("--resamples", type=int, default=10000)
    p.add_argument("--json", default=None)
    p.add_argument("--child", choices=KINDS, help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.child:
        child(a)
        return {}
    if a.pairs < 2 or a.warmup >= a.steps:
        p.error("--pairs: at least 2; --warmup: fewer than --steps")
    started, load_before = time.perf_counter(), os.getloadavg()
    pairs = []
    for i in range(a.pairs):
        order = KINDS if i % 2 == 0 else KINDS[::-1]
        runs = {kind: run_child(kind, a) for kind in order}
        plain, ours = runs["plain"], runs["ppobr"]
        if plain["losses"] != ours["losses"] or plain["weights_sha256"] != ours["weights_sha256"]:
            raise AssertionError(f"pair {i}: the two trainings differ")
        pairs.append(runs)
        print(f"pair {i + 1}/{a.pairs} done", file=sys.stderr, flush=True)
    w = a.warmup
    sums = np.array([[sum(r[k]["cpu"][w:]) for k in KINDS] for r in pairs])
    timed = a.pairs * (a.steps - w)
    plain_step = sums[:, 0].sum() / timed
    result = {
        "model": f"llama {a.layers} layers, hidden {a.hidden}",
        "pairs": a.pairs,
        "steps_per_process": a.steps,
        "warmup_steps": w,
        "logging_steps": a.logging_steps,
        "same_training": True,  # checked for every pair above
        "plain_step_seconds": float(plain_step),
        "ppobr_step_seconds": float(sums[:, 1].sum() / timed),
        **lockstep_module().paired_overhead(sums, a.resamples, seed=0),
        "per_pair": [float(x) for x in sums[:, 1] / sums[:, 0] - 1.0],
        "pair_seconds": sums.tolist(),  # [pair][plain, ppobr]: Σ over the timed steps
        "faults_per_step": {
            k: float(np.mean([np.mean(r[k]["faults"][w:]) for r in pairs])) for k in KINDS
        },
        # the hooks' own time over the whole run (warm-up included) per step
        "direct_cpu": float(np.mean([r["ppobr"]["direct_cpu"] for r in pairs]) / a.steps)
        / float(plain_step),
        **lockstep_module().run_record(started, load_before),
    }
    lockstep_module().report(result, a.json)
    return result


if __name__ == "__main__":
    main()
