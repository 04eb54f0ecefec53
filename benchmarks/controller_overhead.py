"""PPO-BR's wall-clock overhead per PPO iteration, measured in lockstep in one process.

    python benchmarks/controller_overhead.py --env-id CartPole-v1 --seed 1 --threads 1 --summary s.json
    python benchmarks/controller_overhead.py --env-id Pendulum-v1 --total-timesteps 20480
    python benchmarks/controller_overhead.py --controller ppobr   # one agent alone (the control)

One process trains a constant-ε agent and a PPO-BR agent (same seed and hyper-parameters, each
with its own envs, optimizer and random stream, so each run equals a run of that controller on
its own) iteration by iteration, alternating which goes first. Each agent is CleanRL's PPO
(ppo.py for discrete, ppo_continuous_action.py for continuous actions, their defaults;
gymnasium >= 1.0) with the policy loss of ppobr_torch and ε from a ppobr_torch.EpsilonController:
examples/cleanrl_ppo_torch.py's training loop. The constant controller runs through the same
code path, so the difference is the controller's cost, not the adapter's (that is
benchmarks/torch_adapter.py's job).

It prints one line per iteration and agent and, at the end, a JSON summary (also written to
--summary, there with every iteration's paired times): both agents' summaries (steps, the
running average return of the last 100 episodes, the first step at which it reached
--solved-at, seconds per iteration, time in the controller) and the median over iterations of
the paired time ratio (PPO-BR / constant - 1) with a 95% CI (needs scipy), and the directly
timed controller update as a share of the iteration. `--controller constant|ppobr` trains
that agent alone: the run each lockstep agent reproduces exactly (own random stream).
"""

from __future__ import annotations

import argparse
import json
import math
import random
import time
from collections import deque

import gymnasium as gym
import numpy as np
import torch
import torch.nn as nn
import torch.optim as optim
from torch.distributions.categorical import Categorical
from torch.distributions.normal import Normal

import ppobr_core
import ppobr_torch

# CleanRL's defaults: ppo.py for discrete, ppo_continuous_action.py for continuous actions.
DEFAULTS = {
    "discrete": dict(
        total_timesteps=500_000,
        learning_rate=2.5e-4,
        num_envs=4,
        num_steps=128,
        num_minibatches=4,
        update_epochs=4,
        ent_coef=0.01,
    ),
    "continuous": dict(
        total_timesteps=1_000_000,
        learning_rate=3e-4,
        num_envs=1,
        num_steps=2048,
        num_minibatches=32,
        update_epochs=10,
        ent_coef=0.0,
    ),
}


def parse_args():
    p = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    p.add_argument("--env-id", type=str, default="CartPole-v1")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--torch-deterministic", type=int, default=1)
    p.add_argument("--cuda", type=int, default=1, help="use CUDA when available")
    p.add_argument("--threads", type=int, default=1, help="torch.set_num_threads")
    p.add_argument("--total-timesteps", type=int, default=None)
    p.add_argument("--learning-rate", type=float, default=None)
    p.add_argument("--num-envs", type=int, default=None)
    p.add_argument("--num-steps", type=int, default=None)
    p.add_argument("--anneal-lr", type=int, default=1)
    p.add_argument("--gamma", type=float, default=0.99)
    p.add_argument("--gae-lambda", type=float, default=0.95)
    p.add_argument("--num-minibatches", type=int, default=None)
    p.add_argument("--update-epochs", type=int, default=None)
    p.add_argument("--norm-adv", type=int, default=1)
    p.add_argument("--clip-coef", type=float, default=0.2, help="ε0 (and the value-clip range)")
    p.add_argument("--clip-vloss", type=int, default=1)
    p.add_argument("--ent-coef", type=float, default=None)
    p.add_argument("--vf-coef", type=float, default=0.5)
    p.add_argument("--max-grad-norm", type=float, default=0.5)
    p.add_argument("--target-kl", type=float, default=None)
    p.add_argument(
        "--controller",
        choices=["both", "constant", "ppobr"],
        default="both",
        help="both: the lockstep measurement; constant or ppobr: that agent alone (the run each "
        "lockstep agent must reproduce)",
    )
    p.add_argument("--solved-at", type=float, default=475.0)
    p.add_argument("--summary", type=str, default=None, help="write the JSON summary here")
    p.add_argument("--quiet", action="store_true")
    args = p.parse_args()
    kind = (
        "discrete"
        if isinstance(gym.make(args.env_id).action_space, gym.spaces.Discrete)
        else "continuous"
    )
    for k, v in DEFAULTS[kind].items():
        if getattr(args, k) is None:
            setattr(args, k, v)
    args.kind = kind
    args.batch_size = args.num_envs * args.num_steps
    args.minibatch_size = args.batch_size // args.num_minibatches
    args.num_iterations = args.total_timesteps // args.batch_size
    return args


def make_env(env_id, gamma, continuous):
    def thunk():
        env = gym.make(env_id)
        env = gym.wrappers.RecordEpisodeStatistics(env)
        if continuous:
            env = gym.wrappers.ClipAction(env)
            env = gym.wrappers.NormalizeObservation(env)
            env = gym.wrappers.TransformObservation(
                env, lambda o: np.clip(o, -10, 10), env.observation_space
            )
            env = gym.wrappers.NormalizeReward(env, gamma=gamma)
            env = gym.wrappers.TransformReward(env, lambda r: np.clip(r, -10, 10))
        return env

    return thunk


def layer_init(layer, std=np.sqrt(2), bias_const=0.0):
    torch.nn.init.orthogonal_(layer.weight, std)
    torch.nn.init.constant_(layer.bias, bias_const)
    return layer


class Agent(nn.Module):
    def __init__(self, envs, continuous):
        super().__init__()
        obs_dim = int(np.prod(envs.single_observation_space.shape))
        out = (
            int(np.prod(envs.single_action_space.shape))
            if continuous
            else int(envs.single_action_space.n)
        )
        self.continuous = continuous
        self.critic = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, 1), std=1.0),
        )
        self.actor = nn.Sequential(
            layer_init(nn.Linear(obs_dim, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, 64)),
            nn.Tanh(),
            layer_init(nn.Linear(64, out), std=0.01),
        )
        if continuous:
            self.actor_logstd = nn.Parameter(torch.zeros(1, out))

    def get_value(self, x):
        return self.critic(x)

    def get_action_and_value(self, x, action=None):
        if self.continuous:
            mean = self.actor(x)
            probs = Normal(mean, self.actor_logstd.expand_as(mean).exp())
            if action is None:
                action = probs.sample()
            return action, probs.log_prob(action).sum(1), probs.entropy().sum(1), self.critic(x)
        probs = Categorical(logits=self.actor(x))
        if action is None:
            action = probs.sample()
        return action, probs.log_prob(action), probs.entropy(), self.critic(x)


class Trainer:
    """One PPO agent: its envs, network, optimizer, ε controller and rollout buffers.

    `iterate()` is one iteration of CleanRL's training loop (rollout, GAE, update epochs), line
    for line, with the lines marked `# PPO-BR` as in examples/cleanrl_ppo_torch.py. Keeping an
    agent's state here rather than in main()'s locals lets main() drive one agent alone or two in
    lockstep with the same loop body, so the two paths cannot drift apart.
    """

    def __init__(self, args, controller, device):
        self.args, self.name, self.device = args, controller, device
        # Seeding here (not once in main) gives each agent of a lockstep run the same initial
        # weights and environment seeds as a run of that controller on its own.
        random.seed(args.seed)
        np.random.seed(args.seed)
        torch.manual_seed(args.seed)
        continuous = args.kind == "continuous"
        self.continuous = continuous

        self.envs = envs = gym.vector.SyncVectorEnv(
            [make_env(args.env_id, args.gamma, continuous) for _ in range(args.num_envs)],
            autoreset_mode=gym.vector.AutoresetMode.SAME_STEP,  # gym < 1.0 semantics, as CleanRL
        )
        self.agent = Agent(envs, continuous).to(device)
        self.optimizer = optim.Adam(self.agent.parameters(), lr=args.learning_rate, eps=1e-5)
        if (
            controller == "ppobr"
        ):  # PPO-BR: ε from entropy and reward trend, H_ref = log(n) for n actions
            h_ref = None if continuous else math.log(envs.single_action_space.n)  # PPO-BR
            self.ctl = ppobr_torch.EpsilonController(
                ppobr_core.PPOBRController(eps0=args.clip_coef, entropy_ref=h_ref)
            )  # PPO-BR
        else:  # PPO-BR: the same code path with a fixed ε
            self.ctl = ppobr_torch.EpsilonController(
                ppobr_core.ConstantController(args.clip_coef)
            )  # PPO-BR

        shape = (args.num_steps, args.num_envs)
        self.obs = torch.zeros(shape + envs.single_observation_space.shape).to(device)
        self.actions = torch.zeros(shape + envs.single_action_space.shape).to(device)
        self.logprobs = torch.zeros(shape).to(device)
        self.entropies = torch.zeros(shape).to(device)  # PPO-BR
        self.rewards = torch.zeros(shape).to(device)
        self.dones = torch.zeros(shape).to(device)
        self.values = torch.zeros(shape).to(device)

        self.global_step = 0
        self.start_time = time.time()
        next_obs, _ = envs.reset(seed=args.seed)
        self.next_obs = torch.Tensor(next_obs).to(device)
        self.next_done = torch.zeros(args.num_envs).to(device)
        self.recent = deque(maxlen=100)  # returns of the last 100 episodes
        self.solved_step = None
        self.iter_times, self.ctl_times, self.eps_trace = [], [], []
        self.rng_state = self._get_rng()

    # Two agents in one process share torch's and NumPy's global generators (action sampling,
    # minibatch shuffles). Each agent swaps its own generator state in for its iteration, so its
    # random stream, and hence its run, is the one it would have alone with the same seed.
    def _get_rng(self):
        cuda = torch.cuda.get_rng_state(self.device) if self.device.type == "cuda" else None
        return torch.get_rng_state(), np.random.get_state(), cuda

    def _set_rng(self, state):
        torch.set_rng_state(state[0])
        np.random.set_state(state[1])
        if state[2] is not None:
            torch.cuda.set_rng_state(state[2], self.device)

    def iterate(self, iteration):
        """One CleanRL iteration; returns ε and the update's statistics (clip fraction, KL, ...)."""
        # Local names as in CleanRL's loop, so the body below reads (and diffs) like ppo.py.
        args, envs, agent, optimizer, device = (
            self.args,
            self.envs,
            self.agent,
            self.optimizer,
            self.device,
        )
        obs, actions, logprobs, rewards, dones, values = (
            self.obs,
            self.actions,
            self.logprobs,
            self.rewards,
            self.dones,
            self.values,
        )
        next_obs, next_done, continuous = self.next_obs, self.next_done, self.continuous
        ctl, entropies = self.ctl, self.entropies  # PPO-BR
        self._set_rng(self.rng_state)
        t_iter = time.perf_counter()
        if args.anneal_lr:
            frac = 1.0 - (iteration - 1.0) / args.num_iterations
            optimizer.param_groups[0]["lr"] = frac * args.learning_rate

        finished = []  # PPO-BR: returns of the episodes that ended in this rollout
        for step in range(0, args.num_steps):
            self.global_step += args.num_envs
            obs[step] = next_obs
            dones[step] = next_done
            with torch.no_grad():
                action, logprob, entropy, value = agent.get_action_and_value(next_obs)
                values[step] = value.flatten()
            actions[step] = action
            logprobs[step] = logprob
            entropies[step] = entropy  # PPO-BR
            next_obs, reward, terminations, truncations, infos = envs.step(action.cpu().numpy())
            next_done = np.logical_or(terminations, truncations)
            rewards[step] = torch.tensor(reward).to(device).view(-1)
            next_obs, next_done = (
                torch.Tensor(next_obs).to(device),
                torch.Tensor(next_done).to(device),
            )
            if "final_info" in infos and "episode" in infos["final_info"]:
                ep = infos["final_info"]["episode"]
                for r in ep["r"][infos["final_info"]["_episode"]]:
                    finished.append(float(r))  # PPO-BR
                    self.recent.append(float(r))
                    full = len(self.recent) == self.recent.maxlen
                    if self.solved_step is None and full and np.mean(self.recent) >= args.solved_at:
                        self.solved_step = self.global_step
        self.next_obs, self.next_done = next_obs, next_done

        t_ctl = time.perf_counter()  # PPO-BR
        eps = ctl.update(
            entropies.flatten(), finished
        )  # PPO-BR: once per rollout, before the epochs
        self.ctl_times.append(time.perf_counter() - t_ctl)  # PPO-BR

        with torch.no_grad():
            next_value = agent.get_value(next_obs).reshape(1, -1)
            advantages = torch.zeros_like(rewards).to(device)
            lastgaelam = 0
            for t in reversed(range(args.num_steps)):
                if t == args.num_steps - 1:
                    nextnonterminal = 1.0 - next_done
                    nextvalues = next_value
                else:
                    nextnonterminal = 1.0 - dones[t + 1]
                    nextvalues = values[t + 1]
                delta = rewards[t] + args.gamma * nextvalues * nextnonterminal - values[t]
                advantages[t] = lastgaelam = (
                    delta + args.gamma * args.gae_lambda * nextnonterminal * lastgaelam
                )
            returns = advantages + values

        b_obs = obs.reshape((-1,) + envs.single_observation_space.shape)
        b_logprobs = logprobs.reshape(-1)
        b_actions = actions.reshape((-1,) + envs.single_action_space.shape)
        b_advantages = advantages.reshape(-1)
        b_returns = returns.reshape(-1)
        b_values = values.reshape(-1)

        b_inds = np.arange(args.batch_size)
        stats = ppobr_torch.StatsAccumulator()  # PPO-BR: clip fraction, KL, ... on the device
        for epoch in range(args.update_epochs):
            np.random.shuffle(b_inds)
            for start in range(0, args.batch_size, args.minibatch_size):
                mb_inds = b_inds[start : start + args.minibatch_size]
                mb_actions = b_actions[mb_inds] if continuous else b_actions.long()[mb_inds]
                _, newlogprob, entropy, newvalue = agent.get_action_and_value(
                    b_obs[mb_inds], mb_actions
                )

                mb_advantages = b_advantages[mb_inds]
                if args.norm_adv:
                    mb_advantages = (mb_advantages - mb_advantages.mean()) / (
                        mb_advantages.std() + 1e-8
                    )

                # PPO-BR: the clipped surrogate (and its statistics) with this iteration's ε
                out = ppobr_torch.clipped_surrogate_loss(
                    newlogprob, b_logprobs[mb_inds], mb_advantages, eps
                )
                pg_loss = out.loss  # PPO-BR
                stats.add(out)  # PPO-BR

                newvalue = newvalue.view(-1)
                if args.clip_vloss:
                    v_loss_unclipped = (newvalue - b_returns[mb_inds]) ** 2
                    v_clipped = b_values[mb_inds] + torch.clamp(
                        newvalue - b_values[mb_inds], -args.clip_coef, args.clip_coef
                    )
                    v_loss_clipped = (v_clipped - b_returns[mb_inds]) ** 2
                    v_loss = 0.5 * torch.max(v_loss_unclipped, v_loss_clipped).mean()
                else:
                    v_loss = 0.5 * ((newvalue - b_returns[mb_inds]) ** 2).mean()

                entropy_loss = entropy.mean()
                loss = pg_loss - args.ent_coef * entropy_loss + v_loss * args.vf_coef

                optimizer.zero_grad()
                loss.backward()
                nn.utils.clip_grad_norm_(agent.parameters(), args.max_grad_norm)
                optimizer.step()

            if args.target_kl is not None and out.stats()["kl_k3"] > args.target_kl:
                break

        s = stats.compute()  # PPO-BR: one host transfer per iteration
        self.iter_times.append(time.perf_counter() - t_iter)
        self.eps_trace.append(eps)
        self.rng_state = self._get_rng()
        return eps, s

    def log(self, iteration, eps, s, prefix=""):
        avg = np.mean(self.recent) if self.recent else float("nan")
        sps = int(
            self.global_step / sum(self.iter_times)
        )  # this agent's own time (lockstep: not the other's)
        print(
            f"{prefix}iter={iteration} step={self.global_step} eps={eps:.4f} avg_return={avg:.1f} "
            f"clipfrac={s['clip_fraction']:.3f} kl_k3={s['kl_k3']:.5f} SPS={sps}",
            flush=True,
        )

    def summary(self):
        self.envs.close()
        steady = (
            self.iter_times[1:] or self.iter_times
        )  # the first iteration pays one-off warm-up costs
        return {
            "env_id": self.args.env_id,
            "controller": self.name,
            "seed": self.args.seed,
            "steps": self.global_step,
            "iterations": len(self.iter_times),
            "avg_return": float(np.mean(self.recent)) if self.recent else None,
            "episodes_in_avg": len(self.recent),
            "solved_at": self.args.solved_at,
            "solved_step": self.solved_step,
            "sec_per_iter_mean": float(np.mean(steady)),
            "sec_per_iter_median": float(np.median(steady)),
            "controller_sec_per_iter": float(np.mean(self.ctl_times)),
            "controller_share_of_iter": float(np.mean(self.ctl_times) / np.mean(steady)),
            "eps_min": float(min(self.eps_trace)),
            "eps_max": float(max(self.eps_trace)),
            "eps_mean": float(np.mean(self.eps_trace)),
            "wall_s": time.time() - self.start_time,
        }


def overhead(base, other):
    """PPO-BR's wall-clock overhead per iteration from a lockstep run of two Trainers.

    Each iteration gives a pair of times measured back to back under the same machine load, so
    their ratio cancels most of the load drift that separate runs suffer (±3-4% between runs).
    The statistic is the median of the paired ratios − 1, robust to the occasional iteration hit
    by a scheduler stall, with an exact distribution-free 95% CI from the order statistics
    (scipy's quantile_test). The first iteration (warm-up) is left out, as in the summaries.
    """
    from scipy import stats  # only this mode needs scipy

    t_base, t_other = np.asarray(base.iter_times[1:]), np.asarray(other.iter_times[1:])
    ratio = t_other / t_base - 1.0
    ci = stats.quantile_test(ratio, q=0.0, p=0.5).confidence_interval(0.95)
    finite = lambda x: float(x) if np.isfinite(x) else None  # too few pairs: no CI  # noqa: E731
    c_base, c_other = np.asarray(base.ctl_times[1:]), np.asarray(other.ctl_times[1:])
    return {
        "paired_iterations": int(ratio.size),
        "median_ratio_minus_1": float(np.median(ratio)),
        "ci95": [finite(ci.low), finite(ci.high)],
        "ci_method": "order statistics (scipy.stats.quantile_test)",
        "ratio_of_mean_times_minus_1": float(t_other.mean() / t_base.mean() - 1.0),
        # The controller update timed directly: median over iterations of each agent's share of
        # its own iteration, and of PPO-BR's extra cost over the constant controller's.
        "controller_share_of_iter": {
            base.name: float(np.median(c_base / t_base)),
            other.name: float(np.median(c_other / t_other)),
        },
        "controller_extra_share_of_iter": float(np.median((c_other - c_base) / t_base)),
        # The raw pairs (iterations 2, 3, ...; odd iterations ran the constant agent first), so
        # the statistic can be recomputed or checked for order effects from the file alone.
        "iter_sec": {base.name: t_base.tolist(), other.name: t_other.tolist()},
    }


def drop_raw_times(summary):  # the console gets the summary without the per-iteration lists
    return {
        **summary,
        "overhead": {k: v for k, v in summary["overhead"].items() if k != "iter_sec"},
    }


def lockstep(args, device):
    """Both agents, the same iteration back to back, the order alternating every iteration so
    neither always runs on a warm (or cold) cache; returns the summary with the overhead."""
    start_time = time.time()
    trainers = [Trainer(args, "constant", device), Trainer(args, "ppobr", device)]
    for iteration in range(1, args.num_iterations + 1):
        for trainer in trainers if iteration % 2 else trainers[::-1]:
            eps, s = trainer.iterate(iteration)
            if not args.quiet:
                trainer.log(iteration, eps, s, prefix=f"[{trainer.name:>8}] ")
    return {
        "env_id": args.env_id,
        "controller": "both",
        "seed": args.seed,
        "mode": "lockstep",
        "steps": trainers[0].global_step,
        "iterations": args.num_iterations,
        "overhead": overhead(*trainers),
        "agents": {t.name: t.summary() for t in trainers},
        "wall_s": time.time() - start_time,
    }


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)
    torch.backends.cudnn.deterministic = bool(args.torch_deterministic)
    device = torch.device("cuda" if torch.cuda.is_available() and args.cuda else "cpu")
    if args.controller != "both":
        trainer = Trainer(args, args.controller, device)
        for iteration in range(1, args.num_iterations + 1):
            eps, s = trainer.iterate(iteration)
            if not args.quiet:
                trainer.log(iteration, eps, s)
        summary = trainer.summary()
        print(json.dumps(summary))
    else:
        summary = lockstep(args, device)
        print(json.dumps(drop_raw_times(summary)))
    if args.summary:
        with open(args.summary, "w") as f:
            json.dump(summary, f, indent=2)


if __name__ == "__main__":
    main()
