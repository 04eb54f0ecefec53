"""The statistics of one group (a task at one budget, its controllers and seeds): the metrics
of docs/PROTOCOL.md over the group's finished runs, written next to them as summary.json,
results.md (the tables) and the plots. ``ppobr compare`` and the JAX trainer both summarise
through :func:`summarize_group`.
"""

from __future__ import annotations

from pathlib import Path
from typing import Optional, Sequence

from ppobr_study import protocol, runfolder
from ppobr_study.tables import format_table


def summarize_group(
    out: Path,
    env: str,
    steps: int,
    controllers: Sequence[str],
    seeds: Sequence[int],
    threshold: float,
    *,
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
    to results.md."""
    runs = runfolder.load_group(out, env, steps, controllers, seeds)
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
    summary = {
        "env": env,
        "steps": steps,
        "threshold": threshold,
        "baseline": baseline,
        "command": command,
        "controllers": {c: protocol.controller_summary(m, steps) for c, m in metrics.items() if m},
        "versus_baseline": {
            c: protocol.compare(metrics[baseline], m)
            for c, m in metrics.items()
            if c != baseline and m and metrics[baseline]
        },
        # PPO-BR and its ablations against the larger fixed ε (adaptive vs simply larger)
        "versus_ppo_wide": {
            c: protocol.compare(metrics["ppo-wide"], metrics[c])
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

            title = f"{env}, {steps:,} steps"
            p.learning_curves(
                runs, steps, gdir / "learning_curves.png", title=title, threshold=threshold
            )
            p.epsilon_curves(runs, gdir / "epsilon.png", title=title)
        runfolder.atomic_write_json(gdir / "summary.json", summary)
        note = f"\n\nCommand: `{command}`\n" if command else "\n"
        text = format_table(summary) + (f"\n\n{notes}" if notes else "") + note
        runfolder.atomic_write_text(gdir / "results.md", text)
    return summary
