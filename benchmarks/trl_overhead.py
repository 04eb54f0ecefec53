"""PPO-BR's overhead per GRPO optimizer step: PPOBRGRPOTrainer (PPO-BR controller) against
TRL's plain GRPOTrainer (constant ε), side by side in one process.

Rounds alternate the order (plain, PPO-BR), (PPO-BR, plain), …; each round trains a fresh
trainer of each kind for --steps optimizer steps from the same seed. Reported, over all rounds
after the first (warm-up):

- end to end: mean step time (wall, and CPU via time.process_time) of PPO-BR / plain − 1;
- direct: ppobr_trl's own seconds per step (signals, controller update, clip statistics, as
  timed inside the mixin) / plain's mean step time, in wall and in CPU seconds (the CPU number
  is little disturbed by other processes on a shared machine). The direct number excludes the extra
  entropy reduction in π_old's pass, which only the end-to-end number sees.

    python benchmarks/trl_overhead.py --rounds 6 --steps 48
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import warnings

# This folder's kernels.py would shadow the `kernels` package that TRL imports.
_HERE = os.path.dirname(os.path.abspath(__file__))
sys.path[:] = [p for p in sys.path if os.path.abspath(p or ".") != _HERE]

import torch  # noqa: E402
from ppobr_trl import PPOBRGRPOTrainer  # noqa: E402
from transformers import TrainerCallback  # noqa: E402
from trl import GRPOConfig, GRPOTrainer  # noqa: E402

import ppobr_core  # noqa: E402
from ppobr_study.llm.tasks import TASKS  # noqa: E402
from ppobr_study.llm.tiny_model import char_tokenizer, tiny_llama  # noqa: E402


class StepClock(TrainerCallback):
    def __init__(self):
        self.wall, self.cpu = [], []

    def on_step_begin(self, args, state, control, **kwargs):
        self._w, self._c = time.perf_counter(), time.process_time()

    def on_step_end(self, args, state, control, **kwargs):
        self.wall.append(time.perf_counter() - self._w)
        self.cpu.append(time.process_time() - self._c)


def train(kind: str, steps: int, hidden: int, layers: int, seed: int):
    tokenizer = char_tokenizer()
    task = TASKS["repeat"]
    clock = StepClock()
    args = GRPOConfig(
        output_dir="/tmp/ppobr_trl_overhead",
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=16,
        num_generations=4,
        steps_per_generation=2,
        gradient_accumulation_steps=1,
        num_iterations=2,
        max_completion_length=16,
        max_steps=steps,
        learning_rate=5e-3,
        beta=0.0,
        logging_steps=steps,
        report_to="none",
        save_strategy="no",
        seed=seed,
        disable_tqdm=True,
    )
    kwargs = dict(
        model=tiny_llama(tokenizer, seed, hidden=hidden, layers=layers),
        reward_funcs=task.reward_func(16),
        args=args,
        train_dataset=task.dataset(seed, steps * 16),
        processing_class=tokenizer,
        callbacks=[clock],
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if kind == "plain":
            trainer = GRPOTrainer(**kwargs)
        else:
            trainer = PPOBRGRPOTrainer(controller=ppobr_core.PPOBRController(eps0=0.2), **kwargs)
        trainer.train()
    own = (getattr(trainer, "ppobr_seconds", 0.0), getattr(trainer, "ppobr_cpu_seconds", 0.0))
    return clock.wall, clock.cpu, own


def main(argv=None) -> dict:
    p = argparse.ArgumentParser()
    p.add_argument("--rounds", type=int, default=6)
    p.add_argument("--steps", type=int, default=48)
    p.add_argument("--hidden", type=int, default=128)
    p.add_argument("--layers", type=int, default=2)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--json", default=None)
    a = p.parse_args(argv)
    torch.set_num_threads(a.threads)
    wall = {"plain": [], "ppobr": []}
    cpu = {"plain": [], "ppobr": []}
    own, own_cpu = [], []
    for r in range(a.rounds):
        order = ("plain", "ppobr") if r % 2 == 0 else ("ppobr", "plain")
        for kind in order:
            w, c, o = train(kind, a.steps, a.hidden, a.layers, seed=r)
            if r == 0:
                continue  # warm-up round
            wall[kind] += w
            cpu[kind] += c
            if kind == "ppobr":
                own.append(o[0] / len(w))
                own_cpu.append(o[1] / len(w))
    plain_wall = statistics.fmean(wall["plain"])
    result = {
        "model": f"llama {a.layers} layers, hidden {a.hidden}",
        "rounds_measured": a.rounds - 1,
        "steps_per_round": a.steps,
        "plain_step_seconds": plain_wall,
        "ppobr_step_seconds": statistics.fmean(wall["ppobr"]),
        "overhead_end_to_end_wall": statistics.fmean(wall["ppobr"]) / plain_wall - 1.0,
        "overhead_end_to_end_cpu": statistics.fmean(cpu["ppobr"]) / statistics.fmean(cpu["plain"])
        - 1.0,
        "ppobr_own_seconds_per_step": statistics.fmean(own),
        "overhead_direct": statistics.fmean(own) / plain_wall,
        "ppobr_own_cpu_seconds_per_step": statistics.fmean(own_cpu),
        "overhead_direct_cpu": statistics.fmean(own_cpu) / statistics.fmean(cpu["plain"]),
        "torch": torch.__version__,
    }
    text = json.dumps(result, indent=2)
    print(text)
    if a.json:
        with open(a.json, "w") as f:
            f.write(text + "\n")
    return result


if __name__ == "__main__":
    sys.exit(main() and 0)
