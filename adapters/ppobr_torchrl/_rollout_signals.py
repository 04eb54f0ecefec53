"""rollout_signals: what a clip-range controller needs, read from a TorchRL collector batch."""

from __future__ import annotations

from typing import List, Optional, Tuple

import numpy as np
import torch
from tensordict import TensorDictBase
from tensordict.utils import NestedKey

from ppobr_torchrl._clip_epsilon import _invalid


def _time_major(x: torch.Tensor, names) -> torch.Tensor:
    """Moves the batch's "time" dimension first (collectors put it last, after the env
    dimension), so values are read step by step and, within a step, env by env."""
    if names is not None and "time" in names:
        x = x.movedim(list(names).index("time"), 0)
    return x


def _batch_names(batch: TensorDictBase):
    try:
        return batch.names
    except Exception:  # a TensorDict without named dimensions
        return None


def rollout_signals(
    batch: TensorDictBase,
    actor: Optional[torch.nn.Module] = None,
    *,
    entropy_key: Optional[NestedKey] = None,
    log_prob_key: Optional[NestedKey] = None,
    done_key: NestedKey = ("next", "done"),
    episode_reward_key: NestedKey = ("next", "episode_reward"),
) -> Tuple[np.ndarray, List[float]]:
    """(per-step entropies, returns of the episodes that finished) of one collector batch.

    - Entropies, float64, one per step (flattened time-major): the batch's ``entropy_key``
      if the policy wrote one; else ``actor.get_dist(batch).entropy()`` under ``no_grad`` — the
      policy that collected the batch, before the update changes it, evaluated on the batch's
      observations: exact (batched rounding aside); else, for a distribution without a closed-
      form entropy (e.g. ``TanhNormal``), −log π(a_t|s_t) of the taken action
      (``log_prob_key``, by default the actor's, ``"action_log_prob"`` or
      ``"sample_log_prob"``): a one-sample estimate, as ClipPPOLoss itself uses then.
    - Returns: ``episode_reward_key`` (``RewardSum``'s running return) where ``done_key`` is
      set, i.e. the full return of each episode that ended (terminated or truncated) in the
      batch, in time order.
    """
    if not isinstance(batch, TensorDictBase):
        raise TypeError(f"batch: expected a TensorDict, got {type(batch).__name__}")
    names = _batch_names(batch)
    keys = batch.keys(include_nested=True)
    for key, arg in ((done_key, "done_key"), (episode_reward_key, "episode_reward_key")):
        if key not in keys:
            hint = " (add torchrl.envs.RewardSum() to the env)" if arg != "done_key" else ""
            raise _invalid(arg, f"{key!r} is not in the batch{hint}")
    done = _time_major(batch.get(done_key), names).reshape(-1)
    reward = _time_major(batch.get(episode_reward_key), names).reshape(-1)
    returns = reward[done.bool()].to("cpu", torch.float64).tolist()

    if entropy_key is not None:
        entropy = batch.get(entropy_key)
    elif actor is not None:
        with torch.no_grad():
            try:
                entropy = actor.get_dist(batch).entropy()
            except NotImplementedError:
                entropy = -_log_prob(batch, actor, log_prob_key, keys)
    else:
        raise TypeError("actor: is required unless entropy_key names the batch's entropies")
    entropy = _time_major(entropy.detach(), names).reshape(-1)
    return entropy.to("cpu", torch.float64).numpy(), returns


def _log_prob(batch, actor, log_prob_key, keys) -> torch.Tensor:
    candidates = [log_prob_key, getattr(actor, "log_prob_key", None)]
    candidates += ["action_log_prob", "sample_log_prob"]
    for key in candidates:
        if key is not None and key in keys:
            return batch.get(key)
    raise _invalid(
        "log_prob_key",
        "the distribution has no closed-form entropy and the batch holds no log-probs "
        "(collect with return_log_prob=True)",
    )
