"""The policy entropy of every step of an SB3 rollout, from the rollout buffer.

At ``on_rollout_end`` the rollout buffer is full and the policy has not been updated yet, so
evaluating the policy on the buffer's observations gives the distribution that chose each action:
the per-step entropy H(π_old(·|s_t)) exactly (up to float rounding of a batched forward pass),
without touching SB3's rollout loop. The pass runs under ``no_grad`` in the policy's current
(evaluation) mode and draws no random numbers, so training is unchanged bit for bit.

- PPO: ``policy.get_distribution(obs)``.
- MaskablePPO: the same with the buffer's action masks (the masked distribution's entropy).
- RecurrentPPO: the buffer keeps the LSTM state each step started from (``hidden_states_pi``,
  ``cell_states_pi``) and the episode starts, so every step is evaluated as a sequence of one
  step from its own stored state (reset where an episode started), as during collection.
- Distributions without a closed-form entropy (SB3's squashed Gaussian, gSDE): −log π_old(a_t|s_t)
  of the action taken, from the buffer's log-probs — an unbiased one-sample estimate, as SB3
  itself uses for its entropy loss in that case.

Observations are evaluated in chunks of about 64 MiB of float32 input (the whole rollout at
once for small observations: one forward pass, not one per minibatch), and never fewer rows than
``model.batch_size``, which SB3's own update evaluates at once.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from stable_baselines3.common.utils import obs_as_tensor

import ppobr_core

CHUNK_BYTES = 64 * 2**20  # float32 observation bytes per forward pass


def _row_bytes(obs) -> int:
    """float32 bytes of one step's observation (all keys of a dict observation)."""
    arrays = obs.values() if isinstance(obs, dict) else [obs]
    return max(1, 4 * sum(int(np.prod(a.shape[1:], dtype=np.int64)) for a in arrays))


def _flat(a: np.ndarray) -> np.ndarray:
    """[steps, envs, ...] -> [steps · envs, ...], step-major (row t·envs + e is env e at step t)."""
    return a.reshape((a.shape[0] * a.shape[1],) + a.shape[2:])


def _flat_lstm_states(a: np.ndarray) -> np.ndarray:
    """[steps, layers, envs, hidden] -> [layers, steps · envs, hidden], step-major like _flat."""
    return np.ascontiguousarray(a.transpose(1, 0, 2, 3)).reshape(
        a.shape[1], a.shape[0] * a.shape[2], a.shape[3]
    )


def rollout_entropies(model: Any) -> np.ndarray:
    """Per-step policy entropies of ``model``'s full rollout buffer, float64, length
    ``n_steps · n_envs``, step-major."""
    buffer = model.rollout_buffer
    if buffer.generator_ready or not buffer.full:
        # train() flattens the buffer in place (env-major) and RecurrentPPO reorders it into
        # sequences: the step-major layout, and the LSTM states' alignment, hold only before
        err = ppobr_core.InvalidArgumentError(
            "model: the rollout buffer is not a full, unconsumed rollout (call "
            "rollout_entropies at on_rollout_end, before train())"
        )
        err.argument = "model"
        raise err
    policy = model.policy
    device = policy.device
    if isinstance(buffer.observations, dict):
        obs = {k: _flat(v) for k, v in buffer.observations.items()}
        n = next(iter(obs.values())).shape[0]
    else:
        obs = _flat(buffer.observations)
        n = obs.shape[0]
    recurrent = hasattr(buffer, "hidden_states_pi")
    masked = hasattr(buffer, "action_masks")
    if recurrent:
        hidden = _flat_lstm_states(buffer.hidden_states_pi)
        cell = _flat_lstm_states(buffer.cell_states_pi)
        starts = _flat(buffer.episode_starts)
    if masked:
        masks = _flat(buffer.action_masks)
    chunk = max(int(getattr(model, "batch_size", 1) or 1), CHUNK_BYTES // _row_bytes(obs))
    parts = []
    with torch.no_grad():
        for lo in range(0, n, chunk):
            hi = min(n, lo + chunk)
            if isinstance(obs, dict):
                obs_t = obs_as_tensor({k: v[lo:hi] for k, v in obs.items()}, device)
            else:
                obs_t = obs_as_tensor(obs[lo:hi], device)
            if recurrent:
                states = (
                    torch.as_tensor(hidden[:, lo:hi], device=device),
                    torch.as_tensor(cell[:, lo:hi], device=device),
                )
                starts_t = torch.as_tensor(starts[lo:hi], dtype=torch.float32, device=device)
                dist, _ = policy.get_distribution(obs_t, states, starts_t)
            elif masked:
                dist = policy.get_distribution(obs_t, action_masks=masks[lo:hi])
            else:
                dist = policy.get_distribution(obs_t)
            entropy = dist.entropy()
            if entropy is None:  # no closed form: the taken action's surprise estimates it
                parts.append(-_flat(buffer.log_probs)[lo:hi].astype(np.float64))
            else:
                parts.append(entropy.reshape(-1).to("cpu", torch.float64).numpy())
    return np.concatenate(parts)
