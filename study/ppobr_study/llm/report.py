"""The GRPO study's tables and plots, from the result files of run.py, through the shared
statistics of ppobr_study.protocol.

Mapping to the protocol (docs/PROTOCOL.md): one "episode" is one generation batch, its return
the batch's mean completion reward, its step the optimizer step at which the batch was
generated; so steps to threshold is the optimizer step at which the 10-batch moving average of
the mean reward first reaches the task's threshold, and the final reward is the mean over the
last 10% of the batches. The iteration columns are optimizer steps.
"""

from __future__ import annotations

import glob
import json
import math
import os
from typing import Optional

import numpy as np

from ppobr_study import protocol
from ppobr_study.llm.controllers import BASELINE, RULES
from ppobr_study.llm.tasks import TASKS

# Fixed after one pilot run of the baseline (seed 0) per task, before the study ran: about the
# reward the constant-ε baseline reached midway through its budget.
THRESHOLDS = {"repeat": 0.4, "alternate": 0.2}
# "Entropy collapse": the masked mean token entropy (nats) of a generation batch below this.
COLLAPSE_ENTROPY = 0.5


def load_runs(out: str) -> dict:
    runs: dict = {}
    for path in sorted(glob.glob(os.path.join(out, "*", "*", "seed*.json"))):
        with open(path) as f:
            r = json.load(f)
        runs.setdefault(r["task"], {}).setdefault(r["rule"], []).append(r)
    return runs


def run_metrics(run: dict) -> dict:
    rewards = [b["reward_mean"] for b in run["batches"]]
    m = protocol.run_metrics(
        {"global_step": run["batch_step"], "return": rewards},
        {
            "controller_seconds": run["ppobr_seconds"],
            "iteration_seconds": run["step_seconds"],
            "iteration_cpu_seconds": run["step_cpu_seconds"],
        },
        THRESHOLDS[run["task"]],
    )
    entropy = np.array([b["entropy"] for b in run["batches"]])
    below = np.nonzero(entropy < COLLAPSE_ENTROPY)[0]
    m["collapse_step"] = float(run["batch_step"][below[0]]) if below.size else None
    m["final_entropy"] = float(protocol.last_fraction(entropy).mean())
    m["eps_mean"] = float(np.mean([b["eps_low"] for b in run["batches"]]))
    m["own_fraction"] = float(np.sum(run["ppobr_seconds"]) / np.sum(run["step_seconds"]))
    return m


def _fmt(x, digits=3) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "–"
    return f"{x:.{digits}g}"


def _ci(pair, digits=3) -> str:
    lo, hi = pair
    return f"[{_fmt(lo, digits)}, {_fmt(hi, digits)}]"


def tables(runs: dict) -> str:
    lines = []
    for task in TASKS:
        if task not in runs:
            continue
        budget = max(r["budget"]["steps"] for rs in runs[task].values() for r in rs)
        metrics = {rule: [run_metrics(r) for r in rs] for rule, rs in runs[task].items()}
        lines += [
            f"### {task} (threshold {THRESHOLDS[task]}, {budget} optimizer steps)",
            "",
            "| rule | runs | reached | steps to threshold, median | IQM [95% CI] | final reward IQM "
            "[95% CI] | across-seed std | late within-run std | final entropy (nats) | "
            "median step of entropy collapse | mean ε_low | own time / step time |",
            "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for rule in RULES:
            if rule not in metrics:
                continue
            ms = metrics[rule]
            s = protocol.controller_summary(ms, budget)
            lb = "≥ " if s["steps_iqm_is_lower_bound"] else ""
            collapse = protocol.censored_median([m["collapse_step"] for m in ms])
            lines.append(
                f"| {rule} | {s['runs']} | {s['reached']} | {_fmt(s['steps_median'])} | "
                f"{lb}{_fmt(s['steps_iqm'])} {_ci(s['steps_iqm_ci'])} | "
                f"{_fmt(s['final_return_iqm'])} {_ci(s['final_return_iqm_ci'])} | "
                f"{_fmt(s['across_seed_std'])} | {_fmt(s['late_std_mean'])} | "
                f"{_fmt(np.mean([m['final_entropy'] for m in ms]))} | {_fmt(collapse)} | "
                f"{_fmt(np.mean([m['eps_mean'] for m in ms]), 4)} | "
                f"{_fmt(100 * np.mean([m['own_fraction'] for m in ms]), 2)}% |"
            )
        lines += [
            "",
            f"Against {BASELINE} (steps median ratio rule / baseline: < 1 means fewer steps; "
            "variance ratios baseline / rule: > 1 means the rule varies less; p: two-sided "
            "Mann–Whitney U, Brown–Forsythe for the across-seed variance):",
            "",
            "| rule | steps median ratio | steps p | final reward p | across-seed variance ratio "
            "[95% CI] | BF p | within-run variance ratio [95% CI] | mean step time vs "
            "constant (wall, shared machine) |",
            "| --- | --- | --- | --- | --- | --- | --- | --- |",
        ]
        for rule in RULES:
            if rule == BASELINE or rule not in metrics or BASELINE not in metrics:
                continue
            c = protocol.compare(metrics[BASELINE], metrics[rule])
            lines.append(
                f"| {rule} | {_fmt(c['steps_median_ratio'])} | {_fmt(c['steps_mannwhitney_p'])} | "
                f"{_fmt(c['final_return_mannwhitney_p'])} | {_fmt(c['across_variance_ratio'])} "
                f"{_ci(c['across_variance_ratio_ci'])} | "
                f"{_fmt(c['across_variance_brown_forsythe_p'])} | "
                f"{_fmt(c['within_variance_ratio'])} {_ci(c['within_variance_ratio_ci'])} | "
                f"{_fmt(100 * c['overhead_end_to_end'], 2)}% |"
            )
        lines += ["", entropy_table(runs[task]), ""]
    return "\n".join(lines)


def entropy_table(task_runs: dict, points: int = 6) -> str:
    """Mean (over seeds) token entropy of the generation batches at evenly spaced batches."""
    n = min(len(r["batches"]) for rs in task_runs.values() for r in rs)
    at = sorted({int(round(i * (n - 1) / (points - 1))) for i in range(points)})
    step = next(iter(task_runs.values()))[0]["batch_step"]
    head = " | ".join(f"step {step[i]}" for i in at)
    lines = [
        f"Token entropy (nats, mean over seeds) of the generation batch at step: | {head} |",
        "| rule | " + " | ".join(f"step {step[i]}" for i in at) + " |",
        "| --- " * (len(at) + 1) + "|",
    ]
    lines = lines[1:]
    for rule in RULES:
        if rule not in task_runs:
            continue
        ent = np.array([[r["batches"][i]["entropy"] for i in at] for r in task_runs[rule]])
        lines.append(f"| {rule} | " + " | ".join(_fmt(v) for v in ent.mean(0)) + " |")
    return "\n".join(lines)


def plots(runs: dict, folder: str) -> list:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    os.makedirs(folder, exist_ok=True)
    written = []
    for task, by_rule in runs.items():
        fig, axes = plt.subplots(1, 3, figsize=(15, 4))
        for rule, rs in by_rule.items():
            n = min(len(r["batches"]) for r in rs)
            for ax, key in zip(axes, ("reward_mean", "entropy", "eps_low")):
                step = np.asarray(rs[0]["batch_step"][:n])
                y = np.array([[b[key] for b in r["batches"][:n]] for r in rs])
                if key == "reward_mean":  # a centred 5-batch mean, only where the window is full
                    y = np.array([np.convolve(v, np.ones(5) / 5, mode="valid") for v in y])
                    step = step[2:-2]
                mean = y.mean(0)
                sem = y.std(0, ddof=1) / math.sqrt(len(rs)) if len(rs) > 1 else 0 * mean
                ax.plot(step, mean, label=f"{rule} (n={len(rs)})")
                ax.fill_between(step, mean - sem, mean + sem, alpha=0.2)
        for ax, title in zip(axes, ("mean reward (5-batch smoothing)", "token entropy", "ε_low")):
            ax.set_title(f"{task}: {title}")
            ax.set_xlabel("optimizer step")
        axes[0].legend()
        path = os.path.join(folder, f"grpo_{task}.png")
        fig.tight_layout()
        fig.savefig(path, dpi=90)
        plt.close(fig)
        written.append(path)
    return written


def write_report(out: str, plot_folder: Optional[str] = None) -> str:
    runs = load_runs(out)
    text = tables(runs)
    if plot_folder:
        plots(runs, plot_folder)
    return text
