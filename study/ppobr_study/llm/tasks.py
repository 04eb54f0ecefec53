"""Synthetic GRPO tasks with programmatic rewards in [0, 1], prompts built from a seed.

- ``repeat``: the prompt is ``"<c>:"`` for a letter c; reward = the fraction of the completion's
  first L characters equal to c (L = the completion budget). A policy must learn to copy one
  token of its prompt.
- ``alternate``: the prompt is ``"<c><d>:"``; reward = the fraction of the first L characters
  matching c d c d …, so the policy must also track its position.
"""

from __future__ import annotations

import random
import string
from dataclasses import dataclass
from typing import Callable

from datasets import Dataset

LETTERS = string.ascii_lowercase[:8]


@dataclass(frozen=True)
class Task:
    name: str
    prompts: Callable[[random.Random, int], list[str]]
    target: Callable[[str, int], str]

    def reward_func(self, length: int):
        """TRL reward function: the fraction of the first `length` characters matching target."""

        def reward(prompts, completions, **kwargs):
            out = []
            for prompt, completion in zip(prompts, completions):
                want = self.target(prompt, length)
                got = completion[:length]
                out.append(sum(a == b for a, b in zip(got, want)) / length)
            return out

        reward.__name__ = f"{self.name}_reward"
        return reward

    def dataset(self, seed: int, size: int) -> Dataset:
        return Dataset.from_dict({"prompt": self.prompts(random.Random(seed), size)})


def _repeat_prompts(rng: random.Random, n: int) -> list[str]:
    return [f"{rng.choice(LETTERS)}:" for _ in range(n)]


def _repeat_target(prompt: str, length: int) -> str:
    return prompt[0] * length


def _alternate_prompts(rng: random.Random, n: int) -> list[str]:
    return [f"{''.join(rng.sample(LETTERS, 2))}:" for _ in range(n)]


def _alternate_target(prompt: str, length: int) -> str:
    return (prompt[:2] * length)[:length]


TASKS = {
    "repeat": Task("repeat", _repeat_prompts, _repeat_target),
    "alternate": Task("alternate", _alternate_prompts, _alternate_target),
}
