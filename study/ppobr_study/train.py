"""PPO with a pluggable clip-range controller: one file, CleanRL style, read top to bottom.

This is CleanRL's ppo.py (discrete actions) and ppo_continuous_action.py (continuous actions)
merged into one trainer, with a single change: the clip range ε is not a constant but comes
from a ``ppobr_core`` controller that is updated once per iteration, after the rollout and
before the update epochs (PPO-BR's rule, docs/SPEC.md §1). The policy loss is
``ppobr_torch.clipped_surrogate_loss`` (the fused C++ kernel), which also returns the
statistics logged per iteration (clip fraction, KL estimators, entropy).

    from ppobr_study.train import Config, train
    result = train(Config(env_id="CartPole-v1", controller="ppobr", seed=0, total_timesteps=50_000))
    result["episodes"]    # every finished episode: global_step, return, length
    result["iterations"]  # every iteration: epsilon, phi, psi, entropy, clip_fraction, kl_k3, timings

Hyper-parameters are CleanRL's defaults (``ppobr_study.cleanrl_defaults``, which the JAX trainer
reads too), chosen by the action space (``defaults_for``):

    discrete   (ppo.py):                   4 envs × 128 steps, lr 2.5e-4, 4 minibatches, 4 epochs,
                                           entropy coefficient 0.01
    continuous (ppo_continuous_action.py): 1 env × 2048 steps, lr 3e-4, 32 minibatches, 10 epochs,
                                           entropy coefficient 0, observation and reward
                                           normalisation, a state-independent log-std

and for both: γ 0.99, GAE λ 0.95, learning rate annealed linearly to 0, advantage
normalisation per minibatch, clipped value loss, value coefficient 0.5, gradient norm 0.5,
2×64 tanh MLPs with orthogonal initialisation, Adam (eps 1e-5).

One deliberate choice: the value-function clipping keeps CleanRL's fixed 0.2 for every
controller, so that only the policy's trust region differs between the compared methods.
As in CleanRL, a time-limit truncation is treated like a termination (no bootstrap).
"""

from __future__ import annotations

import math
import random
import time
from dataclasses import asdict, dataclass
from typing import Callable, Optional

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
from torch.distributions import Categorical, Normal

import ppobr_torch
from ppobr_study import cleanrl_defaults
from ppobr_study.presets import TaskInfo, make_controller

SHARED = cleanrl_defaults.SHARED


# ---------------------------------------------------------------------------------------------
# 1. Configuration: CleanRL's defaults for discrete and continuous tasks.


@dataclass
class Config:
    env_id: str = "CartPole-v1"
    controller: str = "ppobr"  # a preset name from ppobr_study.presets
    seed: int = 0
    total_timesteps: int = 500_000
    # filled by defaults_for() unless given:
    learning_rate: Optional[float] = None
    num_envs: Optional[int] = None
    num_steps: Optional[int] = None  # steps per env per rollout
    num_minibatches: Optional[int] = None
    update_epochs: Optional[int] = None
    ent_coef: Optional[float] = None
    # shared by both CleanRL scripts:
    anneal_lr: bool = SHARED["anneal_lr"]
    gamma: float = SHARED["gamma"]
    gae_lambda: float = SHARED["gae_lambda"]
    norm_adv: bool = SHARED["norm_adv"]
    value_clip: float = SHARED["value_clip"]  # CleanRL's clip_coef, used for the value loss only
    clip_vloss: bool = SHARED["clip_vloss"]
    vf_coef: float = SHARED["vf_coef"]
    max_grad_norm: float = SHARED["max_grad_norm"]
    target_kl: Optional[float] = None
    torch_deterministic: bool = True

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches

    @property
    def num_iterations(self) -> int:
        return max(1, self.total_timesteps // self.batch_size)


def is_discrete(env_id: str) -> bool:
    env = gym.make(env_id)
    try:
        return isinstance(env.action_space, gym.spaces.Discrete)
    finally:
        env.close()


def defaults_for(cfg: Config) -> Config:
    """A copy of ``cfg`` with the unset hyper-parameters taken from CleanRL's defaults."""
    defaults = cleanrl_defaults.for_action_space(is_discrete(cfg.env_id))
    values = asdict(cfg)
    for k, v in values.items():
        if v is None and k in defaults:
            values[k] = defaults[k]
    return Config(**values)


# ---------------------------------------------------------------------------------------------
# 2. Environments: CleanRL's make_env, one per action-space kind.


def make_env(env_id: str, discrete: bool, gamma: float) -> Callable[[], gym.Env]:
    """ppo.py's environment (discrete) or ppo_continuous_action.py's (normalised, clipped)."""
    normalize = cleanrl_defaults.for_action_space(discrete)["normalize"]
    obs_clip, reward_clip = SHARED["obs_clip"], SHARED["reward_clip"]

    def thunk():
        env = gym.make(env_id)
        env = gym.wrappers.RecordEpisodeStatistics(env)  # raw returns, before normalisation
        if normalize:
            env = gym.wrappers.FlattenObservation(env)
            env = gym.wrappers.ClipAction(env)
            env = gym.wrappers.NormalizeObservation(env)
            env = gym.wrappers.TransformObservation(
                env, lambda obs: np.clip(obs, -obs_clip, obs_clip), env.observation_space
            )
            env = gym.wrappers.NormalizeReward(env, gamma=gamma)
            env = gym.wrappers.TransformReward(
                env, lambda r: float(np.clip(r, -reward_clip, reward_clip))
            )
        return env

    return thunk


# ---------------------------------------------------------------------------------------------
# 3. The agent: 2×hidden tanh MLPs for the value and the policy (categorical or diagonal
# Gaussian), hidden = 64 (CleanRL).


def layer_init(layer: nn.Linear, std: float = math.sqrt(2), bias_const: float = 0.0) -> nn.Linear:
    nn.init.orthogonal_(layer.weight, std)
    nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    def __init__(self, obs_dim: int, action_space: gym.Space):
        super().__init__()
        self.discrete = isinstance(action_space, gym.spaces.Discrete)
        out = action_space.n if self.discrete else int(np.prod(action_space.shape))

        hidden = SHARED["hidden"]

        def mlp(last: int, last_std: float) -> nn.Sequential:
            return nn.Sequential(
                layer_init(nn.Linear(obs_dim, hidden)),
                nn.Tanh(),
                layer_init(nn.Linear(hidden, hidden)),
                nn.Tanh(),
                layer_init(nn.Linear(hidden, last), std=last_std),
            )

        self.critic = mlp(1, 1.0)
        self.actor = mlp(out, 0.01)
        if not self.discrete:
            self.actor_logstd = nn.Parameter(torch.zeros(1, out))

    def get_value(self, x: torch.Tensor) -> torch.Tensor:
        return self.critic(x)

    def get_action_and_value(self, x: torch.Tensor, action: Optional[torch.Tensor] = None):
        """(action, log-prob, entropy, value); log-prob and entropy are summed over action dims."""
        if self.discrete:
            dist = Categorical(logits=self.actor(x))
            if action is None:
                action = dist.sample()
            return action, dist.log_prob(action), dist.entropy(), self.critic(x)
        mean = self.actor(x)
        dist = Normal(mean, self.actor_logstd.expand_as(mean).exp())
        if action is None:
            action = dist.sample()
        return action, dist.log_prob(action).sum(1), dist.entropy().sum(1), self.critic(x)


# ---------------------------------------------------------------------------------------------
# 4. Training.


def train(cfg: Config, progress: Optional[Callable[[int], None]] = None) -> dict:
    """Runs PPO with ``cfg.controller`` choosing ε; returns every episode and iteration.

    ``progress(n)`` is called after each iteration with the number of new environment steps.
    """
    cfg = defaults_for(cfg)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    torch.manual_seed(cfg.seed)
    torch.backends.cudnn.deterministic = cfg.torch_deterministic
    device = torch.device("cpu")  # small MLPs: the CPU is faster than a GPU round trip

    discrete = is_discrete(cfg.env_id)
    envs = gym.vector.SyncVectorEnv(
        [make_env(cfg.env_id, discrete, cfg.gamma) for _ in range(cfg.num_envs)],
        autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,  # CleanRL's (gym ≤ 0.26) semantics
    )
    obs_shape = envs.single_observation_space.shape
    act_shape = envs.single_action_space.shape
    agent = Agent(int(np.prod(obs_shape)), envs.single_action_space).to(device)
    optimizer = torch.optim.Adam(agent.parameters(), lr=cfg.learning_rate, eps=SHARED["adam_eps"])

    # The clip-range controller, wrapped for tensors: it sees the rollout's mean policy entropy,
    # the returns of the episodes finished in the rollout and (KL-adaptive) the last update's KL.
    task = TaskInfo(
        discrete=discrete,
        num_actions=int(envs.single_action_space.n) if discrete else None,
        num_iterations=cfg.num_iterations,
    )
    controller = ppobr_torch.EpsilonController(make_controller(cfg.controller, task))

    # Rollout storage.
    obs = torch.zeros((cfg.num_steps, cfg.num_envs) + obs_shape)
    actions = torch.zeros((cfg.num_steps, cfg.num_envs) + act_shape)
    logprobs = torch.zeros((cfg.num_steps, cfg.num_envs))
    entropies = torch.zeros((cfg.num_steps, cfg.num_envs))
    rewards = torch.zeros((cfg.num_steps, cfg.num_envs))
    dones = torch.zeros((cfg.num_steps, cfg.num_envs))
    values = torch.zeros((cfg.num_steps, cfg.num_envs))

    episodes = []  # one dict per finished episode
    iterations = []  # one dict per iteration
    global_step = 0
    last_kl = None
    start, start_cpu = time.perf_counter(), time.process_time()
    next_obs, _ = envs.reset(seed=[cfg.seed + i for i in range(cfg.num_envs)])
    envs.single_action_space.seed(cfg.seed)
    next_obs = torch.as_tensor(next_obs, dtype=torch.float32)
    next_done = torch.zeros(cfg.num_envs)

    for iteration in range(1, cfg.num_iterations + 1):
        t_iter, t_iter_cpu = time.perf_counter(), time.process_time()
        if cfg.anneal_lr:
            frac = 1.0 - (iteration - 1.0) / cfg.num_iterations
            optimizer.param_groups[0]["lr"] = frac * cfg.learning_rate

        # 4a. Rollout: num_steps steps in each env with the current policy.
        finished_returns = []
        for step in range(cfg.num_steps):
            global_step += cfg.num_envs
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, entropy, value = agent.get_action_and_value(next_obs)
            values[step] = value.flatten()
            actions[step] = action.reshape((cfg.num_envs,) + act_shape)
            logprobs[step] = logprob
            entropies[step] = entropy
            next_obs, reward, terminations, truncations, infos = envs.step(action.numpy())
            rewards[step] = torch.as_tensor(reward, dtype=torch.float32).view(-1)
            next_obs = torch.as_tensor(next_obs, dtype=torch.float32)
            next_done = torch.as_tensor(
                np.logical_or(terminations, truncations), dtype=torch.float32
            )
            if "final_info" in infos and "episode" in infos["final_info"]:
                ep = infos["final_info"]["episode"]
                for i in np.nonzero(infos["final_info"]["_episode"])[0]:
                    r = float(ep["r"][i])
                    finished_returns.append(r)
                    episodes.append(
                        {
                            "global_step": global_step,
                            "iteration": iteration,
                            "return": r,
                            "length": int(ep["l"][i]),
                        }
                    )
        t_rollout = time.perf_counter() - t_iter

        # 4b. The clip range for this iteration (PPO-BR: from entropy and reward trend).
        t0 = time.perf_counter()
        if last_kl is None and controller.controller.name == "kl_adaptive":
            eps = controller.epsilon  # no policy update yet, so no KL to adapt to: keep ε0
        else:
            # the per-step entropies of every env, one 1-D sequence: their mean is the rollout's
            eps = controller.update(entropies.reshape(-1), finished_returns, kl=last_kl)
        t_ctrl = time.perf_counter() - t0
        diag = controller.diagnostics

        # 4c. Generalised advantage estimation (CleanRL's loop).
        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards)
            lastgaelam = 0
            for t in reversed(range(cfg.num_steps)):
                if t == cfg.num_steps - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + cfg.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = (
                    delta + cfg.gamma * cfg.gae_lambda * nextnonterminal * lastgaelam
                )
            returns = advantages + values

        b_obs = obs.reshape((-1,) + obs_shape)
        b_actions = actions.reshape((-1,) + act_shape)
        if discrete:
            b_actions = b_actions.long()
        b_logprobs = logprobs.reshape(-1)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)

        # 4d. Update epochs: the clipped surrogate with this iteration's ε.
        t_update = time.perf_counter()
        stats = ppobr_torch.StatsAccumulator()
        b_inds = np.arange(cfg.batch_size)
        pg_losses, v_losses = [], []
        for epoch in range(cfg.update_epochs):
            np.random.shuffle(b_inds)
            for start_i in range(0, cfg.batch_size, cfg.minibatch_size):
                mb = b_inds[start_i : start_i + cfg.minibatch_size]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                    b_obs[mb], b_actions[mb]
                )
                mb_adv = b_advantages[mb]
                if cfg.norm_adv:
                    mb_adv = (mb_adv - mb_adv.mean()) / (mb_adv.std() + 1e-8)

                # Policy loss: -E[min(r·A, clip(r, 1-ε, 1+ε)·A)], and its statistics.
                out = ppobr_torch.clipped_surrogate_loss(
                    newlogprob, b_logprobs[mb], mb_adv, eps, entropy=entropy.detach()
                )
                stats.add(out)
                pg_loss = out.loss

                # Value loss (clipped at the fixed value_clip, as CleanRL).
                newvalue = newvalue.view(-1)
                if cfg.clip_vloss:
                    v_loss_unclipped = (newvalue - b_returns[mb]) ** 2
                    v_clipped = b_values[mb] + torch.clamp(
                        newvalue - b_values[mb], -cfg.value_clip, cfg.value_clip
                    )
                    v_loss_clipped = (v_clipped - b_returns[mb]) ** 2
                    v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
                else:
                    v_loss = 0.5 * ((newvalue - b_returns[mb]) ** 2).mean()

                loss = pg_loss - cfg.ent_coef * entropy.mean() + v_loss * cfg.vf_coef
                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), cfg.max_grad_norm)
                optimizer.step()
                pg_losses.append(pg_loss.detach())
                v_losses.append(v_loss.detach())
            if cfg.target_kl is not None and out.stats()["kl_k3"] > cfg.target_kl:
                break
        s = stats.compute()  # means over all minibatches of all epochs
        last_kl = s["kl_k3"]  # CleanRL's approx_kl; KL-adaptive ε reads it next iteration
        t_update = time.perf_counter() - t_update

        y_pred, y_true = b_values.numpy(), b_returns.numpy()
        var_y = np.var(y_true)
        explained_var = np.nan if var_y == 0 else 1 - np.var(y_true - y_pred) / var_y
        iterations.append(
            {
                "iteration": iteration,
                "global_step": global_step,
                "epsilon": eps,
                "phi": diag.get("phi", math.nan),
                "psi": diag.get("psi", math.nan),
                "z": diag.get("z", math.nan),
                "rollout_entropy": float(entropies.mean()),
                "entropy": s["entropy"],
                "clip_fraction": s["clip_fraction"],
                "clip_fraction_low": s["clip_fraction_low"],
                "clip_fraction_high": s["clip_fraction_high"],
                "kl_k1": s["kl_k1"],
                "kl_k3": s["kl_k3"],
                "ratio_min": s["ratio_min"],
                "ratio_max": s["ratio_max"],
                "policy_loss": float(torch.stack(pg_losses).mean()),
                "value_loss": float(torch.stack(v_losses).mean()),
                "explained_variance": float(explained_var),
                "learning_rate": optimizer.param_groups[0]["lr"],
                "episodes": len(finished_returns),
                "controller_seconds": t_ctrl,
                "rollout_seconds": t_rollout,
                "update_seconds": t_update,
                "iteration_seconds": time.perf_counter() - t_iter,
                "iteration_cpu_seconds": time.process_time() - t_iter_cpu,
            }
        )
        if progress is not None:
            progress(cfg.batch_size)

    envs.close()
    return {
        "config": asdict(cfg),
        "controller": {"name": controller.name, "config": dict(controller.config)},
        "total_steps": global_step,
        "wall_seconds": time.perf_counter() - start,
        "cpu_seconds": time.process_time() - start_cpu,
        "torch_threads": torch.get_num_threads(),
        "episodes": episodes,
        "iterations": iterations,
    }


if __name__ == "__main__":  # python -m ppobr_study.train [ENV [CONTROLLER [SEED [STEPS]]]]
    import sys

    args = sys.argv[1:] + [None] * 4
    cfg = Config(
        env_id=args[0] or "CartPole-v1",
        controller=args[1] or "ppobr",
        seed=int(args[2] or 0),
        total_timesteps=int(args[3] or 50_000),
    )
    torch.set_num_threads(1)
    res = train(cfg)
    rets = [e["return"] for e in res["episodes"]]
    print(
        f"{cfg.env_id} {cfg.controller} seed {cfg.seed}: {len(rets)} episodes, mean of the last 10 "
        f"{np.mean(rets[-10:]):.1f}, {res['wall_seconds']:.1f} s"
    )
