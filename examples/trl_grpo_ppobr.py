"""GRPO with PPO-BR's adaptive clip range in TRL, against TRL's constant ε (minutes on a CPU).

A 2-layer Llama (hidden 64) and a character tokenizer are built in code (nothing is downloaded);
the task is ppobr_study.llm's ``repeat``: the prompt is "<letter>:", the reward is the fraction
of the first 6 completion characters equal to that letter. Both runs share the seed; each
prints its reward and token entropy per generation batch, PPO-BR also its ε.

    python examples/trl_grpo_ppobr.py                 # constant ε = 0.2, then PPO-BR
    python examples/trl_grpo_ppobr.py --steps 400 --seed 1
    python examples/trl_grpo_ppobr.py --device cuda   # on a GPU (PPO-BR's own sums run on the host)

The lines that differ from a plain TRL GRPO script are marked "PPO-BR".
"""

from __future__ import annotations

import argparse
import time
import warnings

import torch
from ppobr_trl import PPOBRGRPOTrainer  # PPO-BR
from trl import GRPOConfig

import ppobr_core  # PPO-BR
from ppobr_study.llm.tasks import TASKS
from ppobr_study.llm.tiny_model import char_tokenizer, tiny_llama

COMPLETION = 6


def train(controller_name: str, steps: int, seed: int, device: str) -> list:
    tokenizer = char_tokenizer()
    task = TASKS["repeat"]
    args = GRPOConfig(
        output_dir=f"/tmp/trl_grpo_ppobr_{controller_name}",
        use_cpu=device == "cpu",
        bf16=False,
        per_device_train_batch_size=16,
        num_generations=4,
        steps_per_generation=2,
        num_iterations=2,  # π_old is kept: the clip range can bind (PPO-BR needs it)
        max_completion_length=COMPLETION,
        max_steps=steps,
        learning_rate=5e-3,
        beta=0.0,
        epsilon=0.2,
        logging_steps=steps,
        report_to="none",
        save_strategy="no",
        seed=seed,
        disable_tqdm=True,
    )
    common = dict(
        model=tiny_llama(tokenizer, seed),
        reward_funcs=task.reward_func(COMPLETION),
        args=args,
        train_dataset=task.dataset(seed, steps * 16),
        processing_class=tokenizer,
    )
    # PPO-BR: plain TRL reads `trainer = GRPOTrainer(**common)`. The constant run uses
    # PPOBRGRPOTrainer with ConstantController(0.2), which computes exactly what GRPOTrainer
    # computes (tests/trl/test_trl_constant_parity.py) and also records the history printed below.
    if controller_name == "constant":
        trainer = PPOBRGRPOTrainer(controller=ppobr_core.ConstantController(0.2), **common)
    else:
        trainer = PPOBRGRPOTrainer(controller=ppobr_core.PPOBRController(eps0=0.2), **common)
    start = time.perf_counter()
    trainer.train()
    seconds = time.perf_counter() - start
    history = trainer.ppobr_history  # PPO-BR: one record per generation batch
    print(f"\n{controller_name}: {steps} optimizer steps in {seconds:.1f} s on {device}")
    print(" batch  reward  entropy  eps_low")
    for i, h in enumerate(history):
        if i % max(1, len(history) // 12) == 0 or i == len(history) - 1:
            print(f"{i:6d}  {h['reward_mean']:6.3f}  {h['entropy']:7.3f}  {h['eps_low']:.4f}")
    tail = history[-max(1, len(history) // 10) :]
    print(
        f"final reward (last 10% of batches): {sum(h['reward_mean'] for h in tail) / len(tail):.3f}"
    )
    return history


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--steps", type=int, default=384)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = p.parse_args()
    # A model this small runs fastest on one thread: more threads only wait on each other.
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", category=FutureWarning)
    for name in ("constant", "ppobr"):
        train(name, a.steps, a.seed, a.device)


if __name__ == "__main__":
    main()
