"""PPO-BR's overhead per GRPO optimizer step: PPOBRGRPOTrainer against TRL's plain
GRPOTrainer at the same constant ε, trained step by step in lock step in one process.

The PPO-BR side runs ``PPOBRController(eps0=0.2, lambda1=0, lambda2=0)``: ε ≡ ε0 bit-exactly
(docs/SPEC.md §1), while every piece of PPO-BR's work still runs (entropy reduction, reward
window, controller update, clip statistics, logging). The two trainings are therefore
bit-identical (checked: every logged loss and every final weight), both trainers do the same
model work on the same completions, and the step-time ratio measures exactly the overhead.

Lock step: each trainer's ``train()`` runs in its own thread, and a baton lets one thread run at
a time. A thread hands the baton on at every ``on_step_begin`` (and at ``on_train_end``), so a
*slice* is one whole optimizer step: generation when due, forward/backward, optimizer step,
logging, the next batch's fetch. Slice k of the two trainers runs back to back, in the order
(plain, PPO-BR) for even k and (PPO-BR, plain) for odd k, and each thread's random-number state
(torch, NumPy, random) is saved when it hands the baton on and restored when it gets it back,
so each trainer draws exactly the numbers it would draw alone. The other thread waits on a
condition (no CPU). The first slice of each trainer (setup up to its first step) is dropped.

Reported over every step of every round (a round: two fresh trainers from one seed):

- overhead = Σ t_ppobr / Σ t_plain − 1 over all the paired steps, in CPU time (process_time;
  the waiting thread uses none) and wall time (perf_counter), with a 95% bootstrap CI that
  resamples pairs of rounds. The trainer built first in a round, which also gets the first
  thread, runs about half a percent faster than the other for the whole round (memory layout;
  --null shows it), so neither a step nor a round is an independent unit: rounds alternate the
  order, and a pair of rounds (one of each order) is the unit;
- the median over pairs of a pair's overhead, with an exact distribution-free 95% CI, and the
  median round of each build order (their gap is the order effect);
- the median of the per-step ratios t_ppobr / t_plain − 1 (blind to a cost paid only at the
  generation and log steps, a minority: a check, not an overhead estimate);
- direct: the seconds the mixin times inside its own hooks per step / plain's step time;
- each trainer's minor page faults per step. Each trainer runs on a thread of its own and so
  allocates from one of glibc's per-thread arenas, which give memory back to the system and
  fault it in again far more than the main thread's heap, by amounts that depend on the exact
  sequence of allocations. Where the two kinds' faults differ, the step-time ratio measures
  that, not the work PPO-BR adds (see docs/RESULTS_LLM.md); glibc's ``MALLOC_*`` variables in
  the environment are recorded.

``--null`` puts a plain GRPOTrainer on both sides: the overhead it reports is the method's own
bias and noise.

    python benchmarks/trl_overhead.py --rounds 64 --steps 128 --hidden 64
    python benchmarks/trl_overhead.py --rounds 64 --steps 128 --hidden 64 --null
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import resource
import statistics
import sys
import threading
import time
import warnings

# This folder's kernels.py would shadow the `kernels` package that TRL imports.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import numpy as np  # noqa: E402
import torch  # noqa: E402
from ppobr_trl import PPOBRGRPOTrainer  # noqa: E402
from scipy import stats  # noqa: E402
from transformers import TrainerCallback  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

import ppobr_core  # noqa: E402
from ppobr_study.llm.tasks import TASKS  # noqa: E402
from ppobr_study.llm.tiny_model import char_tokenizer, tiny_llama  # noqa: E402

KINDS = ("plain", "ppobr")
COMPLETION = 16


def _page_faults() -> int:
    """This thread's minor page faults so far (memory the allocator had given back to the
    system and touches again)."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


class LockStep:
    """Runs two trainers' slices one at a time, in the order (a, b), (b, a), (a, b), …

    ``slices[kind]`` holds each slice's (wall, cpu) seconds, setup slice first.
    """

    def __init__(self, first: str, threads: int):
        self.first = first
        self.threads = threads
        self.cond = threading.Condition()
        self.owner = first
        self.index = dict.fromkeys(KINDS, 0)
        self.done = dict.fromkeys(KINDS, False)
        self.slices: dict[str, list[tuple[float, float]]] = {k: [] for k in KINDS}
        self.rng: dict[str, tuple] = {}
        self._clock: tuple[float, float, int] = (0.0, 0.0, 0)
        self.faults: dict[str, list[int]] = {k: [] for k in KINDS}

    def _other(self, kind: str) -> str:
        return KINDS[1 - KINDS.index(kind)]

    def _next_owner(self, kind: str) -> str:
        """Who runs after `kind` ends its slice k: the other one if `kind` went first in pair k,
        else the first of pair k + 1 (orders alternate, so that is `kind` itself)."""
        k = self.index[kind]
        leader = self.first if k % 2 == 0 else self._other(self.first)
        nxt = self._other(kind) if kind == leader else kind
        return self._other(nxt) if self.done[nxt] else nxt

    def acquire(self, kind: str) -> None:
        with self.cond:
            self.cond.wait_for(lambda: self.owner == kind)
        if kind in self.rng:
            torch_state, np_state, py_state = self.rng.pop(kind)
            torch.set_rng_state(torch_state)
            np.random.set_state(np_state)
            random.setstate(py_state)
        torch.set_num_threads(self.threads)
        self._clock = (time.perf_counter(), time.process_time(), _page_faults())

    def keep_rng(self, kind: str) -> None:
        self.rng[kind] = (torch.get_rng_state(), np.random.get_state(), random.getstate())

    def hand_on(self, kind: str, final: bool = False) -> None:
        wall0, cpu0, faults0 = self._clock
        self.slices[kind].append((time.perf_counter() - wall0, time.process_time() - cpu0))
        self.faults[kind].append(_page_faults() - faults0)
        self.keep_rng(kind)
        with self.cond:
            self.done[kind] = final
            nxt = self._next_owner(kind)
            self.index[kind] += 1
            self.owner = nxt
            self.cond.notify_all()

    def yield_turn(self, kind: str) -> None:
        self.hand_on(kind)
        self.acquire(kind)


class Baton(TrainerCallback):
    def __init__(self, lockstep: LockStep, kind: str):
        self.lockstep, self.kind = lockstep, kind

    def on_step_begin(self, args, state, control, **kwargs):
        self.lockstep.yield_turn(self.kind)

    def on_train_end(self, args, state, control, **kwargs):
        self.lockstep.hand_on(self.kind, final=True)


def build(kind: str, a, seed: int, callbacks):
    tokenizer = char_tokenizer()
    task = TASKS["repeat"]
    args = GRPOConfig(
        output_dir=f"/tmp/ppobr_trl_overhead_{kind}",
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=16,
        num_generations=4,
        steps_per_generation=2,
        gradient_accumulation_steps=1,
        num_iterations=2,
        max_completion_length=COMPLETION,
        max_steps=a.steps,
        learning_rate=5e-3,
        beta=0.0,
        logging_steps=a.logging_steps,
        report_to="none",
        save_strategy="no",
        seed=seed,
        disable_tqdm=True,
    )
    kwargs = dict(
        model=tiny_llama(tokenizer, seed, hidden=a.hidden, layers=a.layers),
        reward_funcs=task.reward_func(COMPLETION),
        args=args,
        train_dataset=task.dataset(seed, a.steps * 16),
        processing_class=tokenizer,
        callbacks=callbacks,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "plain" or a.null:
            return GRPOTrainer(**kwargs)
        controller = ppobr_core.PPOBRController(eps0=0.2, lambda1=0.0, lambda2=0.0)
        return PPOBRGRPOTrainer(controller=controller, **kwargs)


def require_identical(plain, ours) -> None:
    """The two trainings must be the same bit for bit, or the step times do not compare."""
    losses = [[h["loss"] for h in t.state.log_history if "loss" in h] for t in (plain, ours)]
    if not losses[0] or losses[0] != losses[1]:
        raise AssertionError(f"the logged losses differ: {losses}")
    for (name, p), (_, q) in zip(plain.model.named_parameters(), ours.model.named_parameters()):
        if not torch.equal(p, q):
            raise AssertionError(f"the trained weights differ at {name}")
    eps = {h["eps_low"] for h in ours.ppobr_history} | {h["eps_high"] for h in ours.ppobr_history}
    if eps != {0.2}:
        raise AssertionError(f"lambda1 = lambda2 = 0 must keep eps at 0.2, got {sorted(eps)}")


def run_round(a, seed: int, first: str) -> dict:
    lockstep = LockStep(first, a.threads)
    trainers = {}
    # The round's first trainer is also built first and gets the first thread: memory layout
    # and allocator arenas then favour neither kind over the rounds.
    order = (first, lockstep._other(first))
    for kind in order:
        # A Trainer seeds the global generators when it is built, not when it trains: each
        # thread starts from the state its own trainer's construction left.
        trainers[kind] = build(kind, a, seed, [Baton(lockstep, kind)])
        lockstep.keep_rng(kind)
    errors: list[BaseException] = []

    def work(kind: str) -> None:
        try:
            lockstep.acquire(kind)
            trainers[kind].train()
        except BaseException as exc:  # reported by the main thread
            errors.append(exc)
            with lockstep.cond:
                lockstep.done[kind] = True
                lockstep.owner = lockstep._other(kind)
                lockstep.cond.notify_all()

    threads = [threading.Thread(target=work, args=(k,)) for k in order]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    if not a.null:
        require_identical(trainers["plain"], trainers["ppobr"])
    steps = {k: lockstep.slices[k][1:] for k in KINDS}  # the setup slice dropped
    assert len(steps["plain"]) == len(steps["ppobr"]) == a.steps
    ours = trainers["ppobr"]
    return {
        "seed": seed,
        "first": first,
        "wall": {k: [s[0] for s in steps[k]] for k in KINDS},
        "cpu": {k: [s[1] for s in steps[k]] for k in KINDS},
        "direct_wall": getattr(ours, "ppobr_seconds", 0.0),
        "faults": {k: sum(lockstep.faults[k][1:]) for k in KINDS},
        "direct_cpu": getattr(ours, "ppobr_cpu_seconds", 0.0),
    }


def paired_overhead(pairs: np.ndarray, resamples: int, seed: int) -> dict:
    """``pairs``: [unit, (plain seconds, PPO-BR seconds)], the independent units of a run.
    Σ t_ppobr / Σ t_plain − 1 with a 95% bootstrap CI that resamples units, and the median
    unit's overhead with an exact distribution-free 95% CI (``scipy.stats.quantile_test``)."""
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(pairs), size=(resamples, len(pairs)))
    boot = pairs[idx, 1].sum(1) / pairs[idx, 0].sum(1) - 1.0
    per_pair = pairs[:, 1] / pairs[:, 0] - 1.0
    median_ci = stats.quantile_test(per_pair, q=0.0, p=0.5).confidence_interval(0.95)
    return {
        "overhead": float(pairs[:, 1].sum() / pairs[:, 0].sum() - 1.0),
        "ci95": [float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))],
        "median_pair": float(np.median(per_pair)),
        "median_pair_ci95": [float(median_ci.low), float(median_ci.high)],
    }


def overhead(rounds: list[dict], clock: str, resamples: int, seed: int) -> dict:
    """Σ t_ppobr / Σ t_plain − 1 over every step, with a 95% CI from a bootstrap over pairs of
    rounds. The trainer built first in a round (and given the first thread) runs faster by
    about half a percent for the whole round (see --null), so a round is not an independent
    unit and neither is a step; rounds 2k and 2k + 1 build in both orders, and a pair of them
    is one unit with that effect cancelled. Also: each pair's overhead (its Σ over its two
    rounds), their median with an exact distribution-free 95% CI (``scipy.stats.quantile_test``),
    and each order's median round."""
    sums = np.asarray([(sum(r[clock]["plain"]), sum(r[clock]["ppobr"])) for r in rounds])
    pairs = sums.reshape(-1, 2, 2).sum(1)  # [pair, (plain, ppobr)]
    per_round = sums[:, 1] / sums[:, 0] - 1.0
    per_step = np.concatenate(
        [np.asarray(r[clock]["ppobr"]) / np.asarray(r[clock]["plain"]) - 1.0 for r in rounds]
    )
    steps = len(per_step)
    return {
        "plain_step_seconds": float(sums[:, 0].sum() / steps),
        "ppobr_step_seconds": float(sums[:, 1].sum() / steps),
        **paired_overhead(pairs, resamples, seed),
        "median_round_plain_built_first": float(np.median(per_round[0::2])),
        "median_round_ppobr_built_first": float(np.median(per_round[1::2])),
        "per_round": [float(x) for x in per_round],
        "round_seconds": sums.tolist(),  # [round][plain, ppobr]: Σ over the round's steps
        "median_per_step_ratio": float(np.median(per_step)),
        "steps": steps,
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=16)
    p.add_argument("--steps", type=int, default=128)
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--logging-steps", type=int, default=10, help="TRL's default is 10")
    p.add_argument("--resamples", type=int, default=10000)
    p.add_argument(
        "--null",
        action="store_true",
        help="both sides plain GRPOTrainer: what the method reads when there is no overhead",
    )
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    if a.rounds < 2 or a.rounds % 2:
        p.error("--rounds: an even number (rounds are paired, one of each build order)")
    torch.set_num_threads(a.threads)
    load_before = os.getloadavg()
    started = time.perf_counter()
    rounds = [run_round(a, seed=r, first=KINDS[r % 2]) for r in range(a.rounds)]
    plain_wall = statistics.fmean(w for r in rounds for w in r["wall"]["plain"])
    plain_cpu = statistics.fmean(c for r in rounds for c in r["cpu"]["plain"])
    total_steps = a.rounds * a.steps
    result = {
        "model": f"llama {a.layers} layers, hidden {a.hidden}",
        "rounds": a.rounds,
        "steps_per_round": a.steps,
        "logging_steps": a.logging_steps,
        "null_control": a.null,
        "bit_identical": not a.null,  # require_identical raised otherwise
        "wall": overhead(rounds, "wall", a.resamples, 0),
        "cpu": overhead(rounds, "cpu", a.resamples, 1),
        "direct_wall": sum(r["direct_wall"] for r in rounds) / total_steps / plain_wall,
        "direct_cpu": sum(r["direct_cpu"] for r in rounds) / total_steps / plain_cpu,
        "direct_cpu_seconds_per_step": sum(r["direct_cpu"] for r in rounds) / total_steps,
        "page_faults_per_step": {
            k: sum(r["faults"][k] for r in rounds) / total_steps for k in KINDS
        },
        **run_record(started, load_before),
    }
    report(result, a.json)
    return result


def run_record(started: float, load_before) -> dict:
    """What a result needs besides its numbers: how long, how loaded, on what."""
    return {
        "malloc_environment": {k: v for k, v in os.environ.items() if k.startswith("MALLOC_")},
        "seconds": time.perf_counter() - started,
        "load_average_before": load_before,
        "load_average_after": os.getloadavg(),
        "cpus": os.cpu_count(),
        "machine": platform.processor() or platform.machine(),
        "torch": torch.__version__,
    }


def report(result: dict, path: str | None) -> None:
    text = json.dumps(result, indent=2)
    print(text)
    if path:
        with open(path, "w") as f:
            f.write(text + "\n")


if __name__ == "__main__":
    sys.exit(main() and 0)
