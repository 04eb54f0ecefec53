"""PPO with a pluggable clip-range controller, trained by Stable-Baselines3's own PPO.

The same job as ``ppobr_study.train`` (same presets, same result format, so ``ppobr compare
--trainer sb3`` writes the same run folder, tables and plots), but the training is SB3's
``PPO.learn`` with SB3's defaults, or with the hyper-parameters the user passes, and the
controller's ε reaches SB3's ``train()`` through ``ppobr_sb3.PPOBRCallback``:

    from ppobr_study.sb3_trainer import SB3Config, train
    result = train(SB3Config(env_id="CartPole-v1", controller="ppobr", seed=0, total_timesteps=50_000))
    result["episodes"]    # every finished episode: global_step, iteration, return, length
    result["iterations"]  # every iteration: epsilon, phi, psi, entropy, clip_fraction, kl_k3, timings

SB3's PPO defaults (``stable_baselines3.PPO``): 1 env × 2048 steps, batch 64, 10 epochs, lr 3e-4,
γ 0.99, GAE λ 0.95, entropy coefficient 0, value coefficient 0.5, gradient norm 0.5, no value
clipping, 2×64 tanh MLPs. ``hyperparameters`` (a dict: a section of an rl-baselines3-zoo style
file as ``ppobr_study.hyperparams.load`` returns it, or built in code) holds keywords of
``PPO(...)`` plus ``n_envs`` (environments, default 1), ``policy`` (default ``"MlpPolicy"``) and
``normalize`` (``True`` or ``VecNormalize`` keywords); the zoo's ``lin_<x>`` schedules and
``policy_kwargs`` strings are resolved here (``ppobr_study.hyperparams.resolve``). ``clip_range``
is refused there: the preset sets ε.

What SB3 does not log, the trainer measures without changing SB3's ``train()``: it observes
each minibatch (the buffer's samples and the policy's new log-probs and entropies, detached) and
computes, once per iteration, the statistics of ``ppobr_core.clipped_surrogate`` over all
minibatches of all epochs (clip fractions, KL k1/k3, ratio range, entropy), as
``ppobr_study.train`` does. Observing is bit-neutral: a run equals plain ``PPO.learn``.

``controller_seconds`` is the callback's ``on_rollout_end``: the controller update and the
entropy pass over the rollout buffer that SB3 needs (it keeps no per-step entropies), so it is
larger than ``ppobr_study.train``'s, which computes entropies during the rollout.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Dict, List, Optional, Union

import gymnasium as gym
import numpy as np
import torch
from ppobr_sb3 import PPOBRCallback
from stable_baselines3 import PPO
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.env_util import make_vec_env
from stable_baselines3.common.vec_env import VecNormalize

import ppobr_core
from ppobr_study import hyperparams as hyperparameter_files
from ppobr_study.presets import TaskInfo, make_controller


@dataclass
class SB3Config:
    env_id: str = "CartPole-v1"
    controller: str = "ppobr"  # a preset name from ppobr_study.presets
    seed: int = 0
    total_timesteps: int = 500_000
    hyperparameters: Dict[str, Any] = field(default_factory=dict)  # SB3 PPO keywords (above)


def _invalid(argument: str, what: str) -> ppobr_core.InvalidArgumentError:
    err = ppobr_core.InvalidArgumentError(f"{argument}: {what}")
    err.argument = argument
    return err


def _as_config(cfg: Any) -> SB3Config:
    """An SB3Config from itself or from ``ppobr_study.train.Config`` (whose CleanRL
    hyper-parameters do not apply to SB3: only env, controller, seed and steps are taken)."""
    if isinstance(cfg, SB3Config):
        return cfg
    try:
        return SB3Config(
            env_id=cfg.env_id,
            controller=cfg.controller,
            seed=cfg.seed,
            total_timesteps=cfg.total_timesteps,
            hyperparameters=dict(getattr(cfg, "hyperparameters", None) or {}),
        )
    except AttributeError:
        raise TypeError(f"config: expected an SB3Config, got {type(cfg).__name__}") from None


def _json_safe(value: Any) -> Any:
    """Hyper-parameters as run.json can hold them: numbers, strings, lists, dicts; else repr."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, type):  # a module class of policy_kwargs: its import path
        return f"{value.__module__}.{value.__qualname__}"
    return repr(value)


def make_model(cfg: SB3Config) -> PPO:
    """SB3's PPO on ``cfg.env_id`` (Monitor-wrapped vector env) with the given hyper-parameters."""
    if "clip_range" in cfg.hyperparameters:
        raise _invalid("hyperparameters", hyperparameter_files.CLIP_RANGE_REFUSED)
    hp = hyperparameter_files.resolve(cfg.hyperparameters)
    n_envs = int(hp.pop("n_envs", 1))
    policy = hp.pop("policy", "MlpPolicy")
    normalize = hp.pop("normalize", False)
    env = make_vec_env(cfg.env_id, n_envs=n_envs, seed=cfg.seed)
    if normalize:
        # as rl-baselines3-zoo does: VecNormalize discounts the returns it scales rewards by
        # with the agent's γ unless its keywords say otherwise
        keywords = dict(normalize) if isinstance(normalize, dict) else {}
        if "gamma" in hp:
            keywords.setdefault("gamma", hp["gamma"])
        env = VecNormalize(env, **keywords)
    try:
        return PPO(policy, env, seed=cfg.seed, verbose=0, device="cpu", **hp)
    except BaseException:
        env.close()
        raise


class UpdateObserver:
    """Keeps each minibatch's inputs to SB3's surrogate during ``train()``, detached: the
    buffer's samples (``rollout_buffer.get``) and the policy's new log-probs and entropies
    (``policy.evaluate_actions``), both wrapped on the instance and returning what they return."""

    def __init__(self, model: PPO):
        self.samples: List[Any] = []
        self.evaluated: List[tuple] = []
        buffer, policy = model.rollout_buffer, model.policy
        get, evaluate = buffer.get, policy.evaluate_actions

        def observed_get(*args, **kwargs):
            for sample in get(*args, **kwargs):
                self.samples.append(sample)
                yield sample

        def observed_evaluate(*args, **kwargs):
            values, log_prob, entropy = evaluate(*args, **kwargs)
            self.evaluated.append(
                (log_prob.detach(), None if entropy is None else entropy.detach())
            )
            return values, log_prob, entropy

        buffer.get = observed_get
        policy.evaluate_actions = observed_evaluate

    def statistics(self, eps: float, normalize_advantage: bool) -> Dict[str, float]:
        """ppobr_core.clipped_surrogate's statistics over every observed minibatch (SB3's
        per-minibatch advantage normalisation reproduced), then forgets them."""
        new, old, adv, ent = [], [], [], []
        for sample, (log_prob, entropy) in zip(self.samples, self.evaluated):
            a = sample.advantages
            if normalize_advantage and len(a) > 1:
                a = (a - a.mean()) / (a.std() + 1e-8)
            new.append(log_prob.reshape(-1))
            old.append(sample.old_log_prob.reshape(-1))
            adv.append(a.reshape(-1))
            ent.append(entropy.reshape(-1) if entropy is not None else None)
        self.samples, self.evaluated = [], []
        if not new:
            return {name: math.nan for name in ppobr_core.STAT_NAMES}
        has_entropy = all(e is not None for e in ent)
        out = ppobr_core.clipped_surrogate(
            torch.cat(new).numpy(),
            torch.cat(old).numpy(),
            torch.cat(adv).numpy(),
            eps=eps,
            entropy=torch.cat(ent).numpy() if has_entropy else None,
        )
        stats = {name: float(v) for name, v in out.stats.items()}
        stats["policy_loss"] = float(out.loss)
        return stats


class IterationRecorder(BaseCallback):
    """Writes ``ppobr_study.train``'s per-iteration and per-episode records from SB3's loop."""

    def __init__(self, ppobr: PPOBRCallback, progress: Optional[Callable[[int], None]]):
        super().__init__()
        self.ppobr = ppobr
        self.progress = progress
        self.episodes: List[dict] = []
        self.iterations: List[dict] = []
        self._pending: Optional[dict] = None

    def _init_callback(self) -> None:
        self.observer = UpdateObserver(self.model)

    def _on_rollout_start(self) -> None:
        self._finish_iteration()
        self._pending = {
            "iteration": len(self.iterations) + 1,
            "t": time.perf_counter(),
            "cpu": time.process_time(),
            "episodes": 0,
        }

    def _on_step(self) -> bool:
        for info in self.locals["infos"]:
            episode = info.get("episode")
            if episode is not None:
                self._pending["episodes"] += 1
                self.episodes.append(
                    {
                        "global_step": int(self.model.num_timesteps),
                        "iteration": self._pending["iteration"],
                        "return": float(episode["r"]),
                        "length": int(episode["l"]),
                    }
                )
        return True

    def _on_rollout_end(self) -> None:
        # runs before PPOBRCallback's (this callback comes first), so the rollout's time
        # excludes the controller's
        self._pending["rollout_seconds"] = time.perf_counter() - self._pending["t"]

    def _on_training_end(self) -> None:
        self._finish_iteration()

    def _finish_iteration(self) -> None:
        """The record of the iteration whose train() just ran (ε is still the one it used)."""
        p = self._pending
        if p is None:
            return
        self._pending = None
        model, logged = self.model, self.model.logger.name_to_value
        now = time.perf_counter()
        eps = float(model.clip_range(model._current_progress_remaining))
        s = self.observer.statistics(eps, model.normalize_advantage)
        diag = self.ppobr.controller.diagnostics
        t_ctrl = self.ppobr.update_seconds
        self.iterations.append(
            {
                "iteration": p["iteration"],
                "global_step": int(model.num_timesteps),
                "epsilon": eps,
                "phi": diag.get("phi", math.nan),
                "psi": diag.get("psi", math.nan),
                "z": diag.get("z", math.nan),
                "rollout_entropy": self.ppobr.rollout_entropy,
                "entropy": s["entropy"],
                "clip_fraction": s["clip_fraction"],
                "clip_fraction_low": s["clip_fraction_low"],
                "clip_fraction_high": s["clip_fraction_high"],
                "kl_k1": s["kl_k1"],
                "kl_k3": s["kl_k3"],
                "ratio_min": s["ratio_min"],
                "ratio_max": s["ratio_max"],
                "policy_loss": float(logged.get("train/policy_gradient_loss", math.nan)),
                "value_loss": float(logged.get("train/value_loss", math.nan)),
                "explained_variance": float(logged.get("train/explained_variance", math.nan)),
                "learning_rate": float(logged.get("train/learning_rate", math.nan)),
                "episodes": p["episodes"],
                "controller_seconds": t_ctrl,
                "rollout_seconds": p["rollout_seconds"],
                "update_seconds": now - p["t"] - p["rollout_seconds"] - t_ctrl,
                "iteration_seconds": now - p["t"],
                "iteration_cpu_seconds": time.process_time() - p["cpu"],
            }
        )
        if self.progress is not None:
            self.progress(model.n_steps * model.n_envs)


def train(config: Union[SB3Config, Any], progress: Optional[Callable[[int], None]] = None) -> dict:
    """Trains SB3's PPO with ``config.controller`` choosing ε; returns every episode and
    iteration in ``ppobr_study.train.train``'s format (keys and per-record fields)."""
    cfg = _as_config(config)
    start, start_cpu = time.perf_counter(), time.process_time()
    model = make_model(cfg)
    action_space = model.action_space
    discrete = isinstance(action_space, gym.spaces.Discrete)
    task = TaskInfo(
        discrete=discrete,
        num_actions=int(action_space.n) if discrete else None,
        # SB3's learn() collects rollouts until total_timesteps is reached: ceil, not floor
        num_iterations=max(1, math.ceil(cfg.total_timesteps / (model.n_steps * model.n_envs))),
    )
    controller = make_controller(cfg.controller, task)
    ppobr = PPOBRCallback(controller)
    recorder = IterationRecorder(ppobr, progress)
    model.learn(cfg.total_timesteps, callback=[recorder, ppobr])
    model.env.close()

    effective = {
        "policy": cfg.hyperparameters.get("policy", "MlpPolicy"),
        "n_envs": model.n_envs,
        "n_steps": model.n_steps,
        "batch_size": model.batch_size,
        "n_epochs": model.n_epochs,
        "learning_rate": model.learning_rate,
        "gamma": model.gamma,
        "gae_lambda": model.gae_lambda,
        "ent_coef": model.ent_coef,
        "vf_coef": model.vf_coef,
        "max_grad_norm": model.max_grad_norm,
        "normalize_advantage": model.normalize_advantage,
        "target_kl": model.target_kl,
        "use_sde": model.use_sde,
        "policy_kwargs": model.policy_kwargs,
        "normalize": cfg.hyperparameters.get("normalize", False),
    }
    config_record = asdict(cfg)
    config_record["hyperparameters"] = _json_safe(cfg.hyperparameters)
    config_record["trainer"] = "sb3"
    config_record["sb3_hyperparameters"] = _json_safe(effective)
    return {
        "config": config_record,
        "controller": {"name": controller.name, "config": dict(controller.config)},
        "total_steps": int(model.num_timesteps),
        "wall_seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - start_cpu,
        "torch_threads": torch.get_num_threads(),
        "episodes": recorder.episodes,
        "iterations": recorder.iterations,
    }


if __name__ == "__main__":  # python -m ppobr_study.sb3_trainer [ENV [CONTROLLER [SEED [STEPS]]]]
    import sys

    args = sys.argv[1:] + [None] * 4
    cfg = SB3Config(
        env_id=args[0] or "CartPole-v1",
        controller=args[1] or "ppobr",
        seed=int(args[2] or 0),
        total_timesteps=int(args[3] or 50_000),
    )
    torch.set_num_threads(1)
    res = train(cfg)
    rets = [e["return"] for e in res["episodes"]]
    print(
        f"{cfg.env_id} {cfg.controller} seed {cfg.seed} (SB3): {len(rets)} episodes, mean of the "
        f"last 10 {np.mean(rets[-10:]):.1f}, {res['wall_seconds']:.1f} s"
    )
