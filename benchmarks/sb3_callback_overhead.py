"""PPOBRCallback's overhead per rollout in Stable-Baselines3's PPO, side by side.

Two agents train in one process, in lockstep: plain SB3 PPO with a constant clip_range 0.2 and
no callback, and SB3 PPO with ``PPOBRCallback(PPOBRController)`` (same seed and
hyper-parameters — SB3's defaults unless given — each with its own envs). Each iteration
(one ``learn`` call of exactly one rollout plus one ``train()``) of one agent is followed by the
same iteration of the other, the order alternating, so both see the same machine load.

Reported:
- ``median_ratio_minus_1``: the median over iterations of t_ppobr / t_constant − 1, with an exact
  distribution-free 95% CI (scipy.stats.quantile_test), the first iteration (warm-up) left out;
- ``callback_share``: the callback's own time per rollout, measured directly — its
  ``on_rollout_end`` (entropy pass over the buffer + controller update + logging) plus its
  ``on_step`` calls — over the constant agent's iteration time (median over iterations). This
  isolates the callback's cost from the two agents' different trajectories.

    python benchmarks/sb3_callback_overhead.py --env-id CartPole-v1 --iterations 12
"""

from __future__ import annotations

import argparse
import json
import math
import time

import numpy as np
import torch
from ppobr_sb3 import PPOBRCallback
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import ppobr_core


class TimedPPOBRCallback(PPOBRCallback):
    """PPOBRCallback that adds up the time of its own on_step calls."""

    step_seconds = 0.0

    def _on_step(self) -> bool:
        t0 = time.perf_counter()
        ok = super()._on_step()
        self.step_seconds += time.perf_counter() - t0
        return ok


def parse_args():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--env-id", default="CartPole-v1")
    p.add_argument("--iterations", type=int, default=12)
    p.add_argument("--n-envs", type=int, default=1)
    p.add_argument("--n-steps", type=int, default=2048)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--summary", default=None, help="write the summary (with raw times) here")
    return p.parse_args()


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)

    def model():
        env = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed)
        return PPO("MlpPolicy", env, n_steps=args.n_steps, seed=args.seed, device="cpu")

    constant, ppobr = model(), model()
    n_actions = getattr(ppobr.action_space, "n", None)
    controller = ppobr_core.PPOBRController(entropy_ref=math.log(n_actions) if n_actions else None)
    callback = TimedPPOBRCallback(controller)
    per_iteration = args.n_steps * args.n_envs
    times = {"constant": [], "ppobr": []}
    callback_seconds = []
    for iteration in range(args.iterations):
        order = ("constant", "ppobr") if iteration % 2 == 0 else ("ppobr", "constant")
        for name in order:
            t0 = time.perf_counter()
            if name == "constant":
                constant.learn(per_iteration, reset_num_timesteps=False)
            else:
                callback.step_seconds = 0.0
                ppobr.learn(per_iteration, callback=callback, reset_num_timesteps=False)
            times[name].append(time.perf_counter() - t0)
        callback_seconds.append(callback.step_seconds + callback.update_seconds)

    from scipy import stats

    t_c, t_p = np.array(times["constant"][1:]), np.array(times["ppobr"][1:])
    ratio = t_p / t_c - 1.0
    ci = stats.quantile_test(ratio, q=0.0, p=0.5).confidence_interval(0.95)
    share = np.array(callback_seconds[1:]) / t_c
    summary = {
        "env_id": args.env_id,
        "rollout": f"{args.n_envs} env x {args.n_steps} steps, SB3 defaults otherwise",
        "paired_iterations": int(ratio.size),
        "median_ratio_minus_1": float(np.median(ratio)),
        "ci95": [float(ci.low), float(ci.high)],
        "callback_share": float(np.median(share)),
        "callback_seconds_median": float(np.median(callback_seconds[1:])),
        "constant_iteration_seconds_median": float(np.median(t_c)),
        "eps_final": float(controller.epsilon),
        "torch_threads": args.threads,
    }
    print(json.dumps(summary, indent=2))
    if args.summary:
        with open(args.summary, "w") as f:
            json.dump({**summary, "iter_sec": times, "callback_sec": callback_seconds}, f, indent=2)


if __name__ == "__main__":
    main()
