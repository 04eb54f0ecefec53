"""PNG plots of a comparison group (matplotlib, headless Agg backend).

- learning_curves.png: per controller, the mean over seeds of the 10-episode moving average
  of the episodic return against environment steps, with a 95% percentile-bootstrap band over
  seeds (protocol.mean_band), and the task's threshold as a dashed line.
- epsilon.png: per controller, the mean over seeds of ε per iteration with the same band.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

from ppobr_study import protocol
from ppobr_study.runfolder import atomic_write_bytes

GRID_POINTS = 200


def _plt():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _finish(plt, fig, ax, path: Path, *, ylabel: str, title: str) -> None:
    """Labels, legend and grid shared by both plots; writes the PNG atomically and closes."""
    ax.set_xlabel("environment steps")
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.legend(loc="best", fontsize=8)
    ax.grid(alpha=0.3)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=120, bbox_inches="tight")
    atomic_write_bytes(path, buf.getvalue())
    plt.close(fig)


def learning_curves(
    runs: Dict[str, List[dict]],
    steps: int,
    path: Path,
    *,
    title: str,
    threshold: Optional[float] = None,
) -> None:
    plt = _plt()
    grid = np.linspace(0, steps, GRID_POINTS + 1)[1:]
    fig, ax = plt.subplots(figsize=(7, 4.2))
    for i, (name, rs) in enumerate(runs.items()):
        if not rs:
            continue
        curves = np.stack(
            [
                protocol.curve_on_grid(r["episodes"]["global_step"], r["episodes"]["return"], grid)
                for r in rs
            ]
        )
        mean, lo, hi = protocol.mean_band(curves)
        color = f"C{i}"
        ax.plot(grid, mean, color=color, label=f"{name} (n={len(rs)})")
        ax.fill_between(grid, lo, hi, color=color, alpha=0.2, linewidth=0)
    if threshold is not None:
        ax.axhline(
            threshold, color="gray", linestyle="--", linewidth=1, label=f"threshold {threshold:g}"
        )
    _finish(
        plt,
        fig,
        ax,
        path,
        ylabel="episodic return (10-episode moving average)",
        title=f"{title}: mean over seeds, 95% bootstrap band",
    )


def epsilon_curves(runs: Dict[str, List[dict]], path: Path, *, title: str) -> None:
    plt = _plt()
    fig, ax = plt.subplots(figsize=(7, 3.6))
    for i, (name, rs) in enumerate(runs.items()):
        if not rs:
            continue
        n = min(len(r["iterations"]["epsilon"]) for r in rs)
        if n == 0:
            continue
        eps = np.stack([r["iterations"]["epsilon"][:n] for r in rs])
        x = rs[0]["iterations"]["global_step"][:n]
        mean, lo, hi = protocol.mean_band(eps)
        color = f"C{i}"
        ax.plot(x, mean, color=color, label=name)
        ax.fill_between(x, lo, hi, color=color, alpha=0.2, linewidth=0)
    _finish(
        plt,
        fig,
        ax,
        path,
        ylabel="clip range ε",
        title=f"{title}: ε per iteration, mean over seeds, 95% bootstrap band",
    )
