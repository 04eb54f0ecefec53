"""The statistics of one group (a task at one budget, its controllers and seeds): the metrics
of docs/PROTOCOL.md over the group's finished runs, written next to them as summary.json,
results.md (the tables) and the plots. ``ppobr compare`` and the JAX trainer both summarise
through :func:`summarize_group`.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Dict, List, Optional, Sequence

from ppobr_study import protocol, runfolder
from ppobr_study.tables import format_table


def summarize_group(
    out: Path,
    env: str,
    steps: int,
    controllers: Sequence[str],
    seeds: Sequence[int],
    threshold: Optional[float],
    *,
    threshold_source: str = "",
    plots: bool = True,
    command: str = "",
    extra: Optional[dict] = None,
    notes: str = "",
) -> dict:
    """The protocol's statistics over the finished runs of one group; writes summary.json,
    results.md and the plots into the group's folder. ``controllers[0]`` is the baseline every
    other controller is compared with; PPO-BR and its ablations are also compared with
    ``ppo-wide`` when the group has it (adaptive against simply larger). ``extra``: more
    entries for summary.json (e.g. the JAX trainer's throughput); ``notes``: Markdown appended
    to results.md.

    ``threshold`` None: the task has none; every statistic that needs no threshold is still
    computed. ``threshold_source`` says where it came from (compare.threshold_for).
    ``steps`` is the requested budget (the group's folder name); ``steps_per_run`` in the
    summary is what the runs made (whole iterations: num_iterations × batch), and the tables
    and plots say that."""
    runs = runfolder.load_group(out, env, steps, controllers, seeds)
    steps_run = steps_per_run(runs, steps)
    metrics = {
        c: [
            dict(
                protocol.run_metrics(r["episodes"], r["iterations"], threshold),
                seed=r["meta"]["seed"],
                wall_seconds=r["meta"].get("wall_seconds"),
                cpu_seconds=r["meta"].get("cpu_seconds"),
            )
            for r in rs
        ]
        for c, rs in runs.items()
    }
    baseline = controllers[0]
    has = threshold is not None
    summary = {
        "env": env,
        "steps": steps,
        "steps_per_run": steps_run,
        "threshold": threshold,
        "threshold_source": threshold_source if has else "none",
        "baseline": baseline,
        "command": command,
        "controllers": {
            c: protocol.controller_summary(m, steps_run) for c, m in metrics.items() if m
        },
        "epsilon_never_bound": never_bound(metrics),
        "versus_baseline": {
            c: protocol.compare(metrics[baseline], m, has_threshold=has)
            for c, m in metrics.items()
            if c != baseline and m and metrics[baseline]
        },
        # PPO-BR and its ablations against the larger fixed ε (adaptive vs simply larger)
        "versus_ppo_wide": {
            c: protocol.compare(metrics["ppo-wide"], metrics[c], has_threshold=has)
            for c in ("ppobr", "ppobr-entropy", "ppobr-reward")
            if baseline != "ppo-wide" and metrics.get("ppo-wide") and metrics.get(c)
        },
        "runs": metrics,
        **(extra or {}),
    }
    gdir = runfolder.group_dir(out, env, steps)
    if any(runs.values()):
        if plots:
            from ppobr_study import plots as p

            title = f"{env}, {steps_run:,} steps"
            p.learning_curves(
                runs, steps_run, gdir / "learning_curves.png", title=title, threshold=threshold
            )
            p.epsilon_curves(runs, gdir / "epsilon.png", title=title)
        runfolder.atomic_write_json(gdir / "summary.json", summary)
        note = f"\n\nCommand: `{command}`\n" if command else "\n"
        text = format_table(summary) + (f"\n\n{notes}" if notes else "") + note
        runfolder.atomic_write_text(gdir / "results.md", text)
    return summary


def steps_per_run(runs: Dict[str, List[dict]], requested: int) -> int:
    """The environment steps the group's runs made (run.json's total_steps: whole iterations
    of the trainer's batch, so up to one batch below the requested budget); the requested
    budget when no run records it. Runs of one group share their trainer and so their batch."""
    made = {
        int(r["meta"]["total_steps"])
        for rs in runs.values()
        for r in rs
        if r["meta"].get("total_steps") is not None
    }
    return max(made) if made else int(requested)


def never_bound(metrics: Dict[str, List[dict]]) -> bool:
    """True when the clip bound in no iteration of any run of any controller (every run's
    bound_share is 0): ε never entered a gradient, so the controllers cannot differ and equal
    rows say nothing about them. False when some run bound, or no run records it."""
    shares = [r.get("bound_share", math.nan) for rs in metrics.values() for r in rs]
    known = [x for x in shares if x == x]
    return bool(known) and max(known) == 0.0
