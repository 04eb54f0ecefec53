"""PPO-BR's overhead on the update phase of one PPO iteration, PPO and PPO-BR in alternation.

    python benchmarks/ppo_update_overhead.py               # 30 rounds, CPU, one thread
    python benchmarks/ppo_update_overhead.py --rounds 5 --json out.json

CleanRL's CartPole update phase without the environment (4 epochs x 4 minibatches of 128, a
2 x 64 MLP actor and critic, Adam, gradient clipping) plus the per-step bookkeeping, once as
CleanRL writes it (fixed ε, eager loss, clip fraction read per minibatch with .item()) and once
with what examples/cleanrl_ppo_torch.py adds (entropy store, EpsilonController(PPOBRController)
update, ppobr_torch's loss, statistics accumulated on the device and read once). The whole
training loop's overhead, environment included, is benchmarks/controller_overhead.py's job.
"""

from __future__ import annotations

import argparse
import copy
import json
import math
import statistics
import time

import torch

import ppobr_core
import ppobr_torch as pt


def ppo_iteration_overhead(rounds=30, num_envs=4, num_steps=128, minibatches=4, epochs=4, seed=0):
    """CleanRL's CartPole iteration minus the environment: the update phase (4 epochs x 4
    minibatches of 128, a 2x64 MLP actor and critic, Adam, grad clipping) plus the
    per-step bookkeeping. "plain" is CleanRL's fixed-ε loss (its clip fraction logged per
    minibatch with .item()); "ppobr" adds what examples/cleanrl_ppo_torch.py adds: the per-step
    entropy store, EpsilonController(PPOBRController).update once per iteration, the adapter loss
    and a StatsAccumulator read once. The two run in alternation (same machine state), each on
    its own copy of the same agent; the environment steps, identical in both, are left out, so
    the overhead is relative to the update phase alone (an upper bound on the share of a whole
    iteration)."""
    torch.set_num_threads(1)
    g = torch.Generator().manual_seed(seed)
    batch = num_envs * num_steps
    mb = batch // minibatches

    def mlp(out, std):
        net = torch.nn.Sequential(
            torch.nn.Linear(4, 64),
            torch.nn.Tanh(),
            torch.nn.Linear(64, 64),
            torch.nn.Tanh(),
            torch.nn.Linear(64, out),
        )
        torch.nn.init.orthogonal_(net[-1].weight, std)
        return net

    torch.manual_seed(seed)
    base = torch.nn.ModuleDict({"actor": mlp(2, 0.01), "critic": mlp(1, 1.0)})
    obs = torch.randn(batch, 4, generator=g)
    act = torch.randint(0, 2, (batch,), generator=g)
    with torch.no_grad():
        old = torch.distributions.Categorical(logits=base["actor"](obs)).log_prob(act)
        values = base["critic"](obs).view(-1)
    adv = torch.randn(batch, generator=g)
    rets = values + adv
    step_entropy = torch.rand(num_envs, generator=g)

    def update(agent, opt, use_ppobr, ctl):
        entropies = torch.zeros(num_steps, num_envs)
        eps = 0.2
        if use_ppobr:
            for step in range(num_steps):  # the rollout's extra store
                entropies[step] = step_entropy
            eps = ctl.update(entropies.flatten(), [float(100 + torch.rand(1, generator=g))])
            stats = pt.StatsAccumulator()
        clipfracs, kls = [], []
        inds = torch.randperm(batch, generator=g)
        for _ in range(epochs):
            for start in range(0, batch, mb):
                i = inds[start : start + mb]
                dist = torch.distributions.Categorical(logits=agent["actor"](obs[i]))
                newlogprob, entropy = dist.log_prob(act[i]), dist.entropy()
                newvalue = agent["critic"](obs[i]).view(-1)
                a = adv[i]
                a = (a - a.mean()) / (a.std() + 1e-8)
                if use_ppobr:
                    out = pt.clipped_surrogate_loss(newlogprob, old[i], a, eps)
                    pg_loss = out.loss
                    stats.add(out)
                else:
                    logratio = newlogprob - old[i]
                    ratio = logratio.exp()
                    with torch.no_grad():
                        kls.append(((ratio - 1) - logratio).mean())  # CleanRL computes it
                        clipfracs.append(((ratio - 1.0).abs() > eps).float().mean().item())
                    pg_loss = torch.max(
                        -a * ratio, -a * torch.clamp(ratio, 1 - eps, 1 + eps)
                    ).mean()
                v_unclipped = (newvalue - rets[i]) ** 2
                v_clipped = values[i] + torch.clamp(newvalue - values[i], -0.2, 0.2)
                v_loss = 0.5 * torch.max(v_unclipped, (v_clipped - rets[i]) ** 2).mean()
                loss = pg_loss - 0.01 * entropy.mean() + 0.5 * v_loss
                opt.zero_grad()
                loss.backward()
                torch.nn.utils.clip_grad_norm_(agent.parameters(), 0.5)
                opt.step()
        if use_ppobr:
            stats.compute()

    agents = {k: copy.deepcopy(base) for k in ("plain", "ppobr")}
    opts = {k: torch.optim.Adam(a.parameters(), lr=2.5e-4, eps=1e-5) for k, a in agents.items()}
    ctl = pt.EpsilonController(ppobr_core.PPOBRController(entropy_ref=math.log(2)))
    times = {"plain": [], "ppobr": []}
    for r in range(rounds + 2):
        order = ("plain", "ppobr") if r % 2 == 0 else ("ppobr", "plain")
        for k in order:
            t0 = time.perf_counter()
            update(agents[k], opts[k], k == "ppobr", ctl)
            if r >= 2:  # warm-up rounds
                times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    # paired: each round's two runs are adjacent in time, so their ratio cancels slow drifts of a
    # shared machine's load; the median of the ratios is the estimate
    paired = statistics.median(b / a for a, b in zip(times["plain"], times["ppobr"])) - 1
    return {
        "rounds": rounds,
        "plain_s_median": med["plain"],
        "ppobr_s_median": med["ppobr"],
        "overhead_paired_median": paired,
        "overhead_of_medians": med["ppobr"] / med["plain"] - 1,
        "overhead_of_best": min(times["ppobr"]) / min(times["plain"]) - 1,
    }


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument("--rounds", type=int, default=30, help="timed rounds (after 2 warm-up ones)")
    ap.add_argument("--json", type=str, default=None, help="also write the result here")
    args = ap.parse_args(argv)
    o = ppo_iteration_overhead(args.rounds)
    print(
        f"PPO iteration (CleanRL CartPole update phase, 1 thread), {o['rounds']} alternating rounds:"
    )
    print(
        f"plain {o['plain_s_median'] * 1e3:.1f} ms, PPO-BR {o['ppobr_s_median'] * 1e3:.1f} ms "
        f"(medians); PPO-BR overhead {100 * o['overhead_paired_median']:+.2f}% (median of paired "
        f"rounds), {100 * o['overhead_of_medians']:+.2f}% (ratio of medians), "
        f"{100 * o['overhead_of_best']:+.2f}% (ratio of best rounds)"
    )
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"torch": torch.__version__, "ppo_iteration": o}, f, indent=2)


if __name__ == "__main__":
    main()
