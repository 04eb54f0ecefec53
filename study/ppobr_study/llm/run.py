"""One GRPO run of the study: (task, clip rule, seed) → one JSON file, skipped when it exists.

Per generation batch the file holds the batch's mean reward (each completion's reward; the
protocol's "episode return" is this batch mean), its masked mean token entropy under π_old,
ε_low / ε_high, φ, ψ and the measured KL; per optimizer step its wall and CPU seconds and the
seconds spent in ppobr_trl's own work.
"""

from __future__ import annotations

import json
import os
import tempfile
import time
import warnings
from dataclasses import dataclass

import torch
from transformers import TrainerCallback
from trl import GRPOConfig

from ppobr_study.llm.controllers import RULES
from ppobr_study.llm.tasks import TASKS
from ppobr_study.llm.tiny_model import char_tokenizer, tiny_llama


@dataclass(frozen=True)
class Budget:
    """The study's fixed GRPO setting: 4 optimizer steps per generation batch (2 micro-batch
    slices × 2 iterations), so π_old is kept and the clip range can bind."""

    steps: int = 384
    completion_length: int = 6
    batch: int = 16
    num_generations: int = 4
    steps_per_generation: int = 2
    num_iterations: int = 2
    learning_rate: float = 5e-3


class _StepClock(TrainerCallback):
    """Wall and CPU seconds of every optimizer step, and ppobr_trl's seconds within it."""

    def __init__(self, trainer_ref):
        self.trainer_ref = trainer_ref
        self.wall, self.cpu, self.ppobr = [], [], []

    def on_step_begin(self, args, state, control, **kwargs):
        self._w, self._c = time.perf_counter(), time.process_time()
        self._p = self.trainer_ref[0].ppobr_seconds

    def on_step_end(self, args, state, control, **kwargs):
        self.wall.append(time.perf_counter() - self._w)
        self.cpu.append(time.process_time() - self._c)
        self.ppobr.append(self.trainer_ref[0].ppobr_seconds - self._p)


def result_path(out: str, task: str, rule: str, seed: int) -> str:
    return os.path.join(out, task, rule, f"seed{seed:03d}.json")


def run_one(out: str, task_name: str, rule_name: str, seed: int, budget: Budget = Budget()) -> str:
    from ppobr_trl import PPOBRGRPOTrainer

    path = result_path(out, task_name, rule_name, seed)
    if os.path.exists(path):
        return path
    torch.set_num_threads(1)
    task, rule = TASKS[task_name], RULES[rule_name]
    tokenizer = char_tokenizer()
    # TRL needs an output folder; nothing is saved there (save_strategy="no")
    scratch = os.path.join(tempfile.gettempdir(), "ppobr_llm", f"{task_name}-{rule_name}-{seed}")
    args = GRPOConfig(
        output_dir=scratch,
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=budget.batch,
        num_generations=budget.num_generations,
        steps_per_generation=budget.steps_per_generation,
        gradient_accumulation_steps=1,
        num_iterations=budget.num_iterations,
        max_completion_length=budget.completion_length,
        max_steps=budget.steps,
        learning_rate=budget.learning_rate,
        epsilon=rule.epsilon,
        epsilon_high=rule.epsilon_high,
        beta=0.0,
        logging_steps=budget.steps,
        report_to="none",
        save_strategy="no",
        seed=seed,
        disable_tqdm=True,
    )
    holder = []
    clock = _StepClock(holder)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        trainer = PPOBRGRPOTrainer(
            model=tiny_llama(tokenizer, seed),
            reward_funcs=task.reward_func(budget.completion_length),
            args=args,
            train_dataset=task.dataset(seed, budget.steps * budget.batch),
            processing_class=tokenizer,
            controller=rule.make(),
            callbacks=[clock],
        )
        holder.append(trainer)
        trainer.train()
    per_gen = budget.steps_per_generation * budget.num_iterations
    result = {
        "task": task_name,
        "rule": rule_name,
        "seed": seed,
        "budget": budget.__dict__,
        "batch_step": [i * per_gen for i in range(len(trainer.ppobr_history))],
        "batches": trainer.ppobr_history,
        "step_seconds": clock.wall,
        "step_cpu_seconds": clock.cpu,
        "ppobr_seconds": clock.ppobr,
        "torch": torch.__version__,
    }
    os.makedirs(os.path.dirname(path), exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f)
    os.replace(tmp, path)
    return path
