"""A GRPO (or RLOO) run small enough for a test: the tiny Llama, the character tokenizer and
the ``repeat`` task of ppobr_study.llm, with a configuration in which the clip range binds
(num_iterations = 2, steps_per_generation = 2, gradient_accumulation_steps = 1: one generation
batch every 4 optimizer steps, π_old kept)."""

from __future__ import annotations

import warnings

import torch
from ppobr_trl import PPOBRGRPOTrainer
from trl import GRPOConfig, GRPOTrainer, RLOOConfig

from ppobr_study.llm.tasks import TASKS
from ppobr_study.llm.tiny_model import char_tokenizer, tiny_llama

COMPLETION = 6
GENERATE_EVERY = 4


def grpo_config(output_dir: str, config_cls=GRPOConfig, **overrides) -> GRPOConfig:
    settings = dict(
        output_dir=output_dir,
        use_cpu=True,
        bf16=False,
        per_device_train_batch_size=8,
        num_generations=4,
        steps_per_generation=2,
        gradient_accumulation_steps=1,
        num_iterations=2,
        max_completion_length=COMPLETION,
        max_steps=GENERATE_EVERY,
        learning_rate=3e-3,
        beta=0.0,
        logging_steps=1,
        report_to="none",
        save_strategy="no",
        seed=0,
        disable_tqdm=True,
    )
    settings.update(overrides)
    return config_cls(**settings)


def rloo_config(output_dir: str, **overrides) -> RLOOConfig:
    """The same run for RLOOTrainer (beta 0: RLOO's default puts a KL penalty in the reward)."""
    return grpo_config(output_dir, config_cls=RLOOConfig, **overrides)


def build(args: GRPOConfig, controller=None, seed: int = 0, trainer_cls=None, saved_to=None):
    """GRPOTrainer when controller is None, else PPOBRGRPOTrainer with it. ``saved_to``: save
    the tiny model in that folder and pass its path, which TRL needs to build a reference
    model (beta > 0) for a model that is not on the hub."""
    tokenizer = char_tokenizer()
    task = TASKS["repeat"]
    model = tiny_llama(tokenizer, seed)
    if saved_to is not None:
        model.save_pretrained(saved_to)
        model = str(saved_to)
    kwargs = dict(
        model=model,
        reward_funcs=task.reward_func(COMPLETION),
        args=args,
        train_dataset=task.dataset(seed, 256),
        processing_class=tokenizer,
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)
        if controller is None:
            return (trainer_cls or GRPOTrainer)(**kwargs)
        return (trainer_cls or PPOBRGRPOTrainer)(controller=controller, **kwargs)


def train_logs(trainer) -> list[dict]:
    """The per-step log entries (the final summary entry left out)."""
    trainer.train()
    return [h for h in trainer.state.log_history if "loss" in h]


def assert_same_training(plain, plain_logs: list[dict], ours, our_logs: list[dict]) -> None:
    """Bit for bit: every step's loss, gradient norm and clip share, and the final weights."""
    assert len(plain_logs) == len(our_logs) == GENERATE_EVERY
    for a, b in zip(plain_logs, our_logs):
        assert a["loss"] == b["loss"]
        assert a["grad_norm"] == b["grad_norm"]
        assert a["clip_ratio/region_mean"] == b["clip_ratio/region_mean"]
    for (name, p), (_, q) in zip(plain.model.named_parameters(), ours.model.named_parameters()):
        assert torch.equal(p, q), name
