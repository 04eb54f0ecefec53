"""CleanRL's PPO hyper-parameters: the one place both of the study's trainers read them from.

The values are the defaults of CleanRL's two PPO scripts (Huang et al., "CleanRL: High-quality
Single-file Implementations of Deep Reinforcement Learning Algorithms", JMLR 2022;
https://github.com/vwxyzjn/cleanrl):

- ``cleanrl/ppo.py`` (discrete actions, e.g. CartPole): :data:`DISCRETE`;
- ``cleanrl/ppo_continuous_action.py`` (continuous actions, e.g. MuJoCo): :data:`CONTINUOUS`;
- what the two scripts share: :data:`SHARED`.

The PyTorch trainer (``ppobr_study.train``) and the JAX trainer (``ppobr_study.jax``) both take
their defaults from here (:func:`for_action_space`), so the two run the same algorithm.

Two entries are not command-line flags of CleanRL but written into its code, and are kept here
so that no trainer types them again: ``normalize`` (the continuous script wraps the environment
in NormalizeObservation and NormalizeReward, the discrete one does not) and the clip bounds of
those wrappers' outputs, ``obs_clip`` and ``reward_clip`` (np.clip(·, -10, 10)); ``hidden`` (the
2 × 64 tanh MLPs) and ``adam_eps`` (``optim.Adam(..., eps=1e-5)``) likewise.
"""

from __future__ import annotations

from types import MappingProxyType
from typing import Mapping

# Shared by ppo.py and ppo_continuous_action.py.
SHARED: Mapping[str, object] = MappingProxyType(
    {
        "gamma": 0.99,  # discount γ
        "gae_lambda": 0.95,  # GAE λ
        "anneal_lr": True,  # learning rate annealed linearly to 0 over the iterations
        "norm_adv": True,  # advantages normalised per minibatch
        "value_clip": 0.2,  # clip_coef, which CleanRL also uses to clip the value loss
        "clip_vloss": True,
        "vf_coef": 0.5,
        "max_grad_norm": 0.5,
        "hidden": 64,  # 2 hidden layers of this width, tanh, orthogonal initialisation
        "adam_eps": 1e-5,
        "obs_clip": 10.0,  # observation normalisation's output clipped to ±obs_clip
        "reward_clip": 10.0,  # reward normalisation's output clipped to ±reward_clip
    }
)

# ppo.py: 4 environments × 128 steps per rollout, 4 epochs × 4 minibatches.
DISCRETE: Mapping[str, object] = MappingProxyType(
    {
        "learning_rate": 2.5e-4,
        "num_envs": 4,
        "num_steps": 128,
        "num_minibatches": 4,
        "update_epochs": 4,
        "ent_coef": 0.01,
        "normalize": False,
    }
)

# ppo_continuous_action.py: 1 environment × 2048 steps per rollout, 10 epochs × 32 minibatches,
# observation and reward normalisation, a state-independent log-std.
CONTINUOUS: Mapping[str, object] = MappingProxyType(
    {
        "learning_rate": 3e-4,
        "num_envs": 1,
        "num_steps": 2048,
        "num_minibatches": 32,
        "update_epochs": 10,
        "ent_coef": 0.0,
        "normalize": True,
    }
)


def for_action_space(discrete: bool) -> dict:
    """Every default for a task with a discrete (``ppo.py``) or continuous
    (``ppo_continuous_action.py``) action space: :data:`SHARED` and the script's own."""
    return {**SHARED, **(DISCRETE if discrete else CONTINUOUS)}
