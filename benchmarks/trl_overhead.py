"""PPO-BR's overhead per GRPO optimizer step: PPOBRGRPOTrainer's hooks against TRL's own, on
the same training, measured side by side in one process.

Both sides run ``PPOBRController(eps0=0.2, lambda1=0, lambda2=0)``: ε ≡ ε0 bit-exactly
(docs/SPEC.md §1), while every piece of PPO-BR's work still runs (entropy reduction, reward
window, controller update, clip statistics, logging). A plain GRPOTrainer at ε = 0.2 trains the
same way bit for bit, so PPO-BR's work is the only difference.

Crossover lock step. A round builds two trainers, x and y, from one seed; both are
:class:`Switchable`: a PPOBRGRPOTrainer whose TRL hooks (every method the mixin overrides) run
the mixin's code while ``ppobr_on`` is set and GRPOTrainer's own code otherwise (one Python
call in between either way, so the two sides differ by PPO-BR's work alone). Each ``train()``
runs in a greenlet of the main thread, so both allocate from the main heap as a user's script
does (threads would give each a per-thread glibc arena, which faults pages in far more often,
by amounts that depend on the exact sequence of allocations).

Training is cut into blocks of ``--block`` optimizer steps (default: one generation period,
4 steps, about 0.1 s), placed so that no block ends on a step where PPO-BR works (a generation
step, which runs the update, or a log step, which runs the clip-statistics flush): whatever
PPO-BR's work does to the CPU's caches then slows the same training's next step, in the same
block, as it would alone. Block k of x and block k of y run back to back; PPO-BR is on in x for
even k and in y for odd k; the steps before the first boundary and after the last run with
PPO-BR off on both sides and are not timed. Rounds come in pairs on one seed: x runs first in
every block of the first, y in the second, so the side that runs first is PPO-BR half the time.
Each training's random-number state (torch, NumPy, random) is saved when its block ends and
restored when its next begins, so x and y draw exactly the numbers they would draw alone and
train the same (checked: every logged loss and every final weight). The objects alive when
training starts (the libraries' ~400,000) are frozen out of Python's garbage collector
(``gc.freeze``): a full collection walks them in ~150 ms and lands on whichever training
happens to allocate when the threshold is crossed.

Why this design: the machine's speed drifts (other tenants of the host), by several percent
within a second, so the two sides must run close together in time: short blocks, back to
back. A training also keeps a speed of its own for a while (memory layout), so neither x nor
y may always be one side: they cross over every block. And PPO-BR's cost includes what its
work does to the caches of the training's next steps, which an interleaving at every step
would hand to the other side.

Reported (a pair of rounds is the independent unit):

- overhead = Σ t_on / Σ t_off − 1 over every block of every round, in CPU time (process_time;
  one thread runs at a time) and wall time (perf_counter), with a 95% bootstrap CI that
  resamples pairs of rounds; the median pair's overhead with an exact distribution-free 95% CI;
- direct: the seconds the mixin times inside its own hooks per step / plain's step time;
- each side's minor page faults per step.

``--null`` leaves PPO-BR off on both sides: the overhead it reports is the method's own bias
and noise.

    python benchmarks/trl_overhead.py --rounds 256 --steps 44 --hidden 64
    python benchmarks/trl_overhead.py --rounds 64 --steps 44 --hidden 64 --null

Needs ``greenlet`` (``pip install greenlet``; the ``bench`` extra).
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import platform
import random
import resource
import sys
import time
import warnings

# This folder's kernels.py would shadow the `kernels` package that TRL imports.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import greenlet  # noqa: E402
import numpy as np  # noqa: E402
import torch  # noqa: E402
from ppobr_trl import PPOBRGRPOTrainer  # noqa: E402
from ppobr_trl._trainer import PPOBRMixin  # noqa: E402
from scipy import stats  # noqa: E402
from transformers import TrainerCallback  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

import ppobr_core  # noqa: E402
from ppobr_study.llm.tasks import TASKS  # noqa: E402
from ppobr_study.llm.tiny_model import char_tokenizer, tiny_llama  # noqa: E402

KINDS = ("plain", "ppobr")
INSTANCES = ("x", "y")
COMPLETION = 16
# optimizer steps between generations: steps_per_generation × num_iterations /
# gradient_accumulation_steps in build()'s configuration
GENERATION_PERIOD = 4


def block_phase(steps: int, block: int, logging_steps: int) -> int:
    """The phase p at which blocks end (after each step s ≡ p mod ``block``) such that no block
    ends on a step where PPO-BR works (a generation, which runs the update, or a log, which
    runs the flush): its effect on the caches then falls on the same training's next step, in
    the same block, as it does when the training runs alone."""
    busy = {
        s % block
        for s in range(1, steps + 1)
        if (s - 1) % GENERATION_PERIOD == 0 or s % logging_steps == 0
    }
    free = [p for p in range(block) if p not in busy]
    if not free:
        raise ValueError(
            f"--block {block}: every phase ends a block on a generation or log step "
            f"(generation every {GENERATION_PERIOD} steps, a log every {logging_steps})"
        )
    return free[-1]


def full_blocks(steps: int, block: int, phase: int) -> int:
    """Blocks between the first boundary (after step ``phase``; the steps before it are the
    setup slice) and the last one (the steps after it end with train(), not a boundary)."""
    return max(len(range(phase, steps, block)) - 1, 0)


def _page_faults() -> int:
    """This thread's minor page faults so far."""
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt


class Switchable(PPOBRGRPOTrainer):
    """PPOBRGRPOTrainer whose TRL hooks run the mixin's code while ``ppobr_on`` is set and
    GRPOTrainer's own code otherwise."""

    ppobr_on = True


def _switched(name: str):
    ours, theirs = getattr(PPOBRMixin, name), getattr(GRPOTrainer, name)

    def hook(self, *args, **kwargs):
        return (ours if self.ppobr_on else theirs)(self, *args, **kwargs)

    hook.__name__ = name
    return hook


# every TRL method the mixin overrides
HOOKS = tuple(
    name
    for name, value in vars(PPOBRMixin).items()
    if callable(value) and hasattr(GRPOTrainer, name)
)
for _name in HOOKS:
    setattr(Switchable, _name, _switched(_name))


class LockStep:
    """Runs the blocks of two trainings one at a time, each ``train()`` in a greenlet of this
    thread, with PPO-BR on in one of them per block (see the module docstring).

    ``blocks[instance]`` holds each block's (kind, wall, cpu, page faults), setup slice first.
    """

    def __init__(self, a, leader: str):
        self.threads, self.block, self.null = a.threads, a.block, a.null
        self.phase, self.full = a.phase, full_blocks(a.steps, a.block, a.phase)
        self.order = (leader, INSTANCES[1 - INSTANCES.index(leader)])
        self.main = greenlet.getcurrent()
        self.blocks: dict[str, list[tuple[str, float, float, int]]] = {i: [] for i in INSTANCES}
        self.rng: dict[str, tuple] = {}
        self._kind = "plain"
        self._clock: tuple[float, float, int] = (0.0, 0.0, 0)

    def keep_rng(self, instance: str) -> None:
        self.rng[instance] = (torch.get_rng_state(), np.random.get_state(), random.getstate())

    def _start(self, instance: str, kind: str) -> None:
        torch_state, np_state, py_state = self.rng.pop(instance)
        torch.set_rng_state(torch_state)
        np.random.set_state(np_state)
        random.setstate(py_state)
        torch.set_num_threads(self.threads)
        self._kind = kind
        self._clock = (time.perf_counter(), time.process_time(), _page_faults())

    def end_block(self, instance: str) -> None:
        """Called by a training where its block ends: records it and hands control back."""
        wall0, cpu0, faults0 = self._clock
        wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
        self.blocks[instance].append((self._kind, wall, cpu, _page_faults() - faults0))
        self.keep_rng(instance)
        self.main.switch()

    def run(self, trainers: dict) -> None:
        """Slice k of both trainings, back to back, until both end: slice 0 is the setup and the
        steps up to the first boundary, slices 1 … ``full`` the blocks, the last one the steps
        after the last boundary (PPO-BR off on both sides outside the blocks). An exception in a
        training propagates from its switch."""
        runs = {i: greenlet.greenlet(trainers[i].train) for i in INSTANCES}
        k = 0
        while not all(g.dead for g in runs.values()):
            block = k - 1
            on = INSTANCES[block % 2] if 0 <= block < self.full else None
            for instance in self.order:
                kind = "ppobr" if instance == on else "plain"
                trainers[instance].ppobr_on = kind == "ppobr" and not self.null
                if not runs[instance].dead:
                    self._start(instance, kind)
                    runs[instance].switch()
            k += 1


class BlockEnd(TrainerCallback):
    """Ends a slice at each block boundary (``on_step_begin`` after a step ≡ phase mod block)
    and at the end of training."""

    def __init__(self, lockstep: LockStep, instance: str):
        self.lockstep, self.instance = lockstep, instance

    def on_step_begin(self, args, state, control, **kwargs):
        if state.global_step % self.lockstep.block == self.lockstep.phase:
            self.lockstep.end_block(self.instance)

    def on_train_end(self, args, state, control, **kwargs):
        self.lockstep.end_block(self.instance)


def build(instance: str, a, seed: int, callbacks) -> Switchable:
    """One of a round's two trainers: a :class:`Switchable` at λ1 = λ2 = 0 in the benchmark's
    configuration."""
    tokenizer = char_tokenizer()
    task = TASKS["repeat"]
    args = GRPOConfig(
        output_dir=f"/tmp/ppobr_trl_overhead_{instance}",
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
        controller = ppobr_core.PPOBRController(eps0=0.2, lambda1=0.0, lambda2=0.0)
        return Switchable(controller=controller, **kwargs)


def require_identical(x, y) -> None:
    """The two trainings must be the same bit for bit, or the block times do not compare."""
    losses = [[h["loss"] for h in t.state.log_history if "loss" in h] for t in (x, y)]
    if not losses[0] or losses[0] != losses[1]:
        raise AssertionError(f"the logged losses differ: {losses}")
    for (name, p), (_, q) in zip(x.model.named_parameters(), y.model.named_parameters()):
        if not torch.equal(p, q):
            raise AssertionError(f"the trained weights differ at {name}")
    for t in (x, y):
        eps = {h["eps_low"] for h in t.ppobr_history} | {h["eps_high"] for h in t.ppobr_history}
        if eps - {0.2}:
            raise AssertionError(f"lambda1 = lambda2 = 0 must keep eps at 0.2, got {sorted(eps)}")


def run_round(a, seed: int, leader: str) -> dict:
    lockstep = LockStep(a, leader)
    trainers = {}
    for instance in INSTANCES:
        # A Trainer seeds the global generators when it is built, not when it trains: each
        # training starts from the state its own trainer's construction left.
        trainers[instance] = build(instance, a, seed, [BlockEnd(lockstep, instance)])
        lockstep.keep_rng(instance)
    # Python's full collections walk every object alive (~400,000 here, from the imported
    # libraries): 150 ms each, falling on whichever training allocates when the threshold is
    # crossed. Frozen, those objects are skipped; what the trainings allocate is collected as
    # before, so the collections PPO-BR's own objects cause are still timed.
    gc.collect()
    gc.freeze()
    try:
        lockstep.run(trainers)
    finally:
        gc.unfreeze()
    require_identical(trainers["x"], trainers["y"])
    # the blocks only: not the setup slice, nor the steps after the last boundary
    blocks = [b for i in INSTANCES for b in lockstep.blocks[i][1 : 1 + lockstep.full]]
    assert len(blocks) == 2 * lockstep.full
    return {
        "seed": seed,
        "wall": {k: sum(b[1] for b in blocks if b[0] == k) for k in KINDS},
        "cpu": {k: sum(b[2] for b in blocks if b[0] == k) for k in KINDS},
        "faults": {k: sum(b[3] for b in blocks if b[0] == k) for k in KINDS},
        "direct_wall": sum(t.ppobr_seconds for t in trainers.values()),
        "direct_cpu": sum(t.ppobr_cpu_seconds for t in trainers.values()),
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


def overhead(rounds: list[dict], clock: str, resamples: int, seed: int, steps: int) -> dict:
    """Σ t_ppobr / Σ t_plain − 1 over every block, with a 95% CI from a bootstrap over pairs of
    rounds (one with x running first, one with y), and the median pair with an exact CI (see
    ``paired_overhead``)."""
    sums = np.asarray([(r[clock]["plain"], r[clock]["ppobr"]) for r in rounds])
    return {
        "plain_step_seconds": float(sums[:, 0].sum() / steps),
        "ppobr_step_seconds": float(sums[:, 1].sum() / steps),
        **paired_overhead(sums.reshape(-1, 2, 2).sum(1), resamples, seed),
        "round_seconds": sums.tolist(),  # [round][plain, ppobr]: Σ over the round's blocks
    }


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=16)
    p.add_argument("--steps", type=int, default=44, help="optimizer steps per training")
    p.add_argument(
        "--block",
        type=int,
        default=None,
        help="optimizer steps per block; default: the generation period (4 steps); blocks "
        "are placed so that none ends on a step that generates or logs",
    )
    p.add_argument("--hidden", type=int, default=64)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--logging-steps", type=int, default=10, help="TRL's default is 10")
    p.add_argument("--resamples", type=int, default=10000)
    p.add_argument(
        "--null",
        action="store_true",
        help="PPO-BR off on both sides: what the method reads when there is no overhead",
    )
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    if a.rounds < 2 or a.rounds % 2:
        p.error("--rounds: an even number (rounds are paired: x runs first, then y)")
    if a.block is None:
        a.block = GENERATION_PERIOD
    if a.block < 1:
        p.error("--block: at least 1")
    try:
        a.phase = block_phase(a.steps, a.block, a.logging_steps)
    except ValueError as exc:
        p.error(str(exc))
    blocks = full_blocks(a.steps, a.block, a.phase)
    if blocks < 2 or blocks % 2:
        p.error(
            f"--steps {a.steps}: {blocks} whole blocks of {a.block} steps; an even number of at "
            "least 2 is needed (PPO-BR is on in each training in every other block)"
        )
    torch.set_num_threads(a.threads)
    load_before = os.getloadavg()
    started = time.perf_counter()
    # seed r // 2 twice: x leading every block, then y
    rounds = [run_round(a, seed=r // 2, leader=INSTANCES[r % 2]) for r in range(a.rounds)]
    # steps timed per side: each round, every block of both trainings, half on each side
    steps = a.rounds * full_blocks(a.steps, a.block, a.phase) * a.block
    plain_wall = sum(r["wall"]["plain"] for r in rounds)
    plain_cpu = sum(r["cpu"]["plain"] for r in rounds)
    result = {
        "model": f"llama {a.layers} layers, hidden {a.hidden}",
        "rounds": a.rounds,
        "steps_per_training": a.steps,
        "steps_per_block": a.block,
        "block_phase": a.phase,
        "blocks_per_training": full_blocks(a.steps, a.block, a.phase),
        "logging_steps": a.logging_steps,
        "null_control": a.null,
        "bit_identical": True,  # require_identical raised otherwise
        "wall": overhead(rounds, "wall", a.resamples, 0, steps),
        "cpu": overhead(rounds, "cpu", a.resamples, 1, steps),
        "direct_wall": sum(r["direct_wall"] for r in rounds) / plain_wall,
        "direct_cpu": sum(r["direct_cpu"] for r in rounds) / plain_cpu,
        "direct_cpu_seconds_per_step": sum(r["direct_cpu"] for r in rounds) / steps,
        "page_faults_per_step": {k: sum(r["faults"][k] for r in rounds) / steps for k in KINDS},
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
