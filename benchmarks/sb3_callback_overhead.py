"""PPOBRCallback's overhead per rollout in Stable-Baselines3's PPO, side by side.

Three agents train in one process, in lockstep, with the same seed and hyper-parameters (SB3's
defaults unless given), each with its own envs:

- ``constant``: plain SB3 PPO, ``clip_range`` 0.2, no callback;
- ``null``: SB3 PPO with ``PPOBRCallback(PPOBRController(lambda1=0, lambda2=0))``. By
  docs/SPEC.md §1 that controller's ε is ε0 = 0.2 bit-exactly, yet the callback does all of its
  work: the entropy pass over the rollout buffer, the reward window, the controller update, the
  logging. ``null`` therefore trains the same trajectory as ``constant`` bit for bit (asserted at
  the end: equal final parameters), and the only difference in their times is the callback;
- ``ppobr``: SB3 PPO with the paper's PPO-BR (λ1 = 0.5, λ2 = 0.3), whose callback's own time
  is measured directly.

Each iteration (one ``learn`` call of exactly one rollout plus one ``train()``) runs ``constant``
and ``null`` back to back, the order alternating, then ``ppobr``; the garbage collector runs
before each timed call, so its pauses land outside them. SB3 draws actions and minibatches from
the process-global torch and NumPy generators, so each agent gets its own: the global states are
swapped in before its ``learn`` and out after it (untimed), which makes each agent's run the run
it would be alone.

Reported:
- ``median_ratio_minus_1``: the median over iterations of t_null / t_constant − 1, the
  callback's overhead, with an exact distribution-free 95% CI for the median
  (``scipy.stats.quantile_test``); the first iteration (warm-up) is left out;
- ``cpu_median_ratio_minus_1``: the same from the process's CPU time (``time.process_time``;
  torch runs one thread), which waiting for a core on a loaded machine does not inflate;
- ``ppobr_callback_share``: the real PPO-BR callback's time per rollout, timed directly (its
  ``on_rollout_end`` — entropy pass + controller update + logging — plus all its ``on_step``
  calls), over that agent's iteration time (median over iterations);
- ``null_rollout_end_share``: the ``null`` callback's ``on_rollout_end`` over the constant
  agent's iteration time (its ``on_step`` is not timed: timing it would add to the paired ratio);
- the load average seen during the run (``os.getloadavg``, sampled every iteration).

    python benchmarks/sb3_callback_overhead.py --env-id CartPole-v1 --iterations 150
    python benchmarks/sb3_callback_overhead.py --env-id Pendulum-v1 --iterations 150
"""

from __future__ import annotations

import argparse
import gc
import json
import math
import os
import random
import time

import numpy as np
import torch
from ppobr_sb3 import PPOBRCallback
from stable_baselines3 import PPO
from stable_baselines3.common.env_util import make_vec_env

import ppobr_core

AGENTS = ("constant", "null", "ppobr")


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
    p.add_argument("--iterations", type=int, default=150)
    p.add_argument("--n-envs", type=int, default=1)
    p.add_argument("--n-steps", type=int, default=2048)
    p.add_argument("--seed", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--summary", default=None, help="write the summary (with raw times) here")
    args = p.parse_args()
    if args.iterations < 3:
        p.error("--iterations: at least 3 (the first is warm-up)")
    return args


def parameters(model) -> dict:
    return {k: v.detach().clone() for k, v in model.policy.state_dict().items()}


def same_parameters(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


class GlobalRandomState:
    """One agent's copy of the process-global generators SB3 draws from (torch, NumPy, random)."""

    def __init__(self):
        self.save()

    def save(self) -> None:
        self.state = (torch.get_rng_state(), np.random.get_state(), random.getstate())

    def restore(self) -> None:
        torch_state, numpy_state, python_state = self.state
        torch.set_rng_state(torch_state)
        np.random.set_state(numpy_state)
        random.setstate(python_state)


def main():
    args = parse_args()
    torch.set_num_threads(args.threads)

    def model():
        env = make_vec_env(args.env_id, n_envs=args.n_envs, seed=args.seed)
        return PPO(
            "MlpPolicy", env, n_steps=args.n_steps, clip_range=0.2, seed=args.seed, device="cpu"
        )

    models, rng = {}, {}
    for name in AGENTS:  # each seeded the same; the generators as its construction left them
        models[name] = model()
        rng[name] = GlobalRandomState()
    n_actions = getattr(models["ppobr"].action_space, "n", None)
    entropy_ref = math.log(n_actions) if n_actions else None
    null = PPOBRCallback(
        ppobr_core.PPOBRController(eps0=0.2, lambda1=0.0, lambda2=0.0, entropy_ref=entropy_ref)
    )
    ppobr = TimedPPOBRCallback(ppobr_core.PPOBRController(eps0=0.2, entropy_ref=entropy_ref))
    callbacks = {"constant": None, "null": null, "ppobr": ppobr}
    per_iteration = args.n_steps * args.n_envs
    times = {name: [] for name in AGENTS}
    cpu_times = {name: [] for name in AGENTS}
    null_rollout_end, ppobr_callback, load = [], [], []
    ppobr_eps = set()
    for iteration in range(args.iterations):
        pair = ("constant", "null") if iteration % 2 == 0 else ("null", "constant")
        for name in pair + ("ppobr",):
            ppobr.step_seconds = 0.0
            rng[name].restore()
            gc.collect()
            c0, t0 = time.process_time(), time.perf_counter()
            models[name].learn(per_iteration, callback=callbacks[name], reset_num_timesteps=False)
            times[name].append(time.perf_counter() - t0)
            cpu_times[name].append(time.process_time() - c0)
            rng[name].save()
        null_rollout_end.append(null.update_seconds)
        ppobr_callback.append(ppobr.step_seconds + ppobr.update_seconds)
        ppobr_eps.add(ppobr.epsilon)
        load.append(os.getloadavg()[0])

    identical = same_parameters(parameters(models["constant"]), parameters(models["null"]))
    if not identical:
        raise AssertionError(
            "the constant and null agents' final parameters differ: the side-by-side "
            "comparison is not of the same trajectory"
        )
    from scipy import stats

    t_c, t_n, t_p = (np.array(times[name][1:]) for name in AGENTS)
    ratio = t_n / t_c - 1.0
    ci = stats.quantile_test(ratio, q=0.0, p=0.5).confidence_interval(0.95)
    cpu_ratio = np.array(cpu_times["null"][1:]) / np.array(cpu_times["constant"][1:]) - 1.0
    cpu_ci = stats.quantile_test(cpu_ratio, q=0.0, p=0.5).confidence_interval(0.95)
    summary = {
        "env_id": args.env_id,
        "rollout": f"{args.n_envs} env x {args.n_steps} steps, SB3 defaults otherwise",
        "paired_iterations": int(ratio.size),
        "identical_final_parameters": identical,
        "median_ratio_minus_1": float(np.median(ratio)),
        "ci95": [float(ci.low), float(ci.high)],
        "null_slower_share": float(np.mean(ratio > 0)),
        "cpu_median_ratio_minus_1": float(np.median(cpu_ratio)),
        "cpu_ci95": [float(cpu_ci.low), float(cpu_ci.high)],
        "ppobr_callback_share": float(np.median(np.array(ppobr_callback[1:]) / t_p)),
        "ppobr_callback_seconds_median": float(np.median(ppobr_callback[1:])),
        "null_rollout_end_share": float(np.median(np.array(null_rollout_end[1:]) / t_c)),
        "constant_iteration_seconds_median": float(np.median(t_c)),
        "ppobr_eps_range": [min(ppobr_eps), max(ppobr_eps)],
        "null_eps": float(null.epsilon),
        "load_average_1min": {
            "min": min(load),
            "median": float(np.median(load)),
            "max": max(load),
        },
        "cpu_count": os.cpu_count(),
        "torch_threads": args.threads,
        "torch": torch.__version__,
    }
    print(json.dumps(summary, indent=2))
    if args.summary:
        with open(args.summary, "w") as f:
            raw = {
                "iter_sec": times,
                "iter_cpu_sec": cpu_times,
                "null_rollout_end_sec": null_rollout_end,
                "ppobr_callback_sec": ppobr_callback,
                "load_average_1min": load,
            }
            json.dump({**summary, **raw}, f, indent=2)


if __name__ == "__main__":
    main()
