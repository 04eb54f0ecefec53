"""One process of a two-process CPU run (torch.distributed, gloo), started by
test_trl_distributed.py through torchrun: it trains PPOBRGRPOTrainer with PPO-BR and then
with KL-adaptive, each process on its own shard of the prompts, and writes what it saw to
``<out>/rank<k>.json``: the ε sequence, the signals it fed the controller, the local and the
reduced signal sums of every update, its prompts and the logged statistics.

    torchrun --nproc_per_node 2 tests/trl/distributed_worker.py OUT_DIR
"""

from __future__ import annotations

import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import conftest  # noqa: E402, F401  (the in-tree packages, one torch thread)
from grpo_setup import GENERATE_EVERY, build, grpo_config  # noqa: E402
from ppobr_trl import PPOBRGRPOTrainer  # noqa: E402

import ppobr_core  # noqa: E402


class RecordingTrainer(PPOBRGRPOTrainer):
    """Keeps each process's local signal sums next to the reduced ones, and its prompts."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.reductions: list[dict] = []
        self.prompt_ids: list[list[int]] = []

    def _ppobr_sum_over_processes(self, x):
        out = super()._ppobr_sum_over_processes(x)
        self.reductions.append({"local": x.tolist(), "reduced": out.tolist()})
        return out

    def _ppobr_update(self, batch):
        self.prompt_ids.append(batch["prompt_ids"].tolist())
        super()._ppobr_update(batch)


def run(out_dir: str, name: str, controller) -> dict:
    args = grpo_config(
        os.path.join(out_dir, name),
        max_steps=2 * GENERATE_EVERY,
        learning_rate=1e-2,
        per_device_train_batch_size=8,
    )
    trainer = build(args, controller=controller, trainer_cls=RecordingTrainer)
    trainer.train()
    logs = [
        {k: v for k, v in h.items() if k.startswith("ppobr/")}
        for h in trainer.state.log_history
        if "loss" in h
    ]
    return {
        "processes": trainer.accelerator.num_processes,
        "history": trainer.ppobr_history,
        "reductions": trainer.reductions,
        "prompt_ids": trainer.prompt_ids,
        "logs": logs,
    }


def main(out_dir: str) -> None:
    result = {
        "ppobr": run(out_dir, "ppobr", ppobr_core.PPOBRController(eps0=0.2, window=4)),
        "kl_adaptive": run(
            out_dir, "kl_adaptive", ppobr_core.KLAdaptiveController(eps0=0.2, kl_target=1e-4)
        ),
    }
    rank = torch.distributed.get_rank()
    with open(os.path.join(out_dir, f"rank{rank}.json"), "w") as f:
        json.dump(result, f)


if __name__ == "__main__":
    main(sys.argv[1])
