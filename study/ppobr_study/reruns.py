"""`ppobr reruns`: are the runs that were run twice the same, to the last bit?

    ppobr reruns docs/results docs/results/repro

A run is a pure function of (task, controller, seed, budget) and the library versions: the
trainer seeds everything and runs torch deterministically on one thread. So when a later
session reruns a seed that an earlier session summarised (its per-run files lost, or on a
different machine), the learning numbers must come out identical. This module checks that
claim of docs/RESULTS.md from the summaries alone: every ``*/summary.json`` under the folders
lists its runs' per-run metrics (``protocol.run_metrics``); a run recorded by two or more
summaries is compared on the numbers that depend on learning only — exact float equality,
no tolerance, since any difference means the run is not reproducible. Timings
(``*_seconds*``) differ between machines by nature and are not compared.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Dict, List, NamedTuple, Sequence, Tuple

# The per-run numbers that learning alone decides (protocol.run_metrics).
LEARNING_METRICS = (
    "episodes",
    "steps_to_threshold",
    "reached",
    "final_return",
    "late_variance",
    "iterations",
)

RunKey = Tuple[str, int, str, int]  # (env, steps, controller, seed)


class Record(NamedTuple):
    path: str  # the summary.json that recorded the run
    metrics: dict


class Mismatch(NamedTuple):
    key: RunKey
    metric: str
    values: Dict[str, object]  # summary path -> value


def _same(a, b) -> bool:
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def collect(folders: Sequence[Path]) -> Dict[RunKey, List[Record]]:
    """Every run each ``FOLDER/*/summary.json`` records, keyed by (env, steps, controller, seed)."""
    records: Dict[RunKey, List[Record]] = {}
    for folder in folders:
        for path in sorted(Path(folder).glob("*/summary.json")):
            s = json.loads(path.read_text())
            for controller, runs in s.get("runs", {}).items():
                for run in runs:
                    key = (s["env"], int(s["steps"]), controller, int(run["seed"]))
                    records.setdefault(key, []).append(Record(str(path), run))
    return records


def check(records: Dict[RunKey, List[Record]]) -> Tuple[List[RunKey], List[Mismatch]]:
    """(the runs recorded more than once, the learning metrics on which their records differ)."""
    repeated = sorted(k for k, recs in records.items() if len({r.path for r in recs}) > 1)
    mismatches = []
    for key in repeated:
        recs = records[key]
        for metric in LEARNING_METRICS:
            values = {r.path: r.metrics.get(metric) for r in recs}
            first = next(iter(values.values()))
            if not all(_same(first, v) for v in values.values()):
                mismatches.append(Mismatch(key, metric, values))
    return repeated, mismatches


def format_report(repeated: Sequence[RunKey], mismatches: Sequence[Mismatch]) -> str:
    """A one-line verdict, then a line per repeated run (env, budget, controller: seeds)."""
    bad = {m.key for m in mismatches}
    lines = [
        f"ppobr reruns: {len(repeated)} run(s) recorded more than once, "
        f"{len(repeated) - len(bad)} identical, {len(bad)} differ"
    ]
    groups: Dict[Tuple[str, int, str], List[str]] = {}
    for env, steps, controller, seed in repeated:
        mark = "" if (env, steps, controller, seed) not in bad else " (DIFFERS)"
        groups.setdefault((env, steps, controller), []).append(f"{seed}{mark}")
    for (env, steps, controller), seeds in groups.items():
        lines.append(f"  {env} {steps} {controller}: seeds {', '.join(seeds)}")
    for m in mismatches:
        env, steps, controller, seed = m.key
        vals = "; ".join(f"{v!r} in {p}" for p, v in m.values.items())
        lines.append(f"  differs: {env} {steps} {controller} seed {seed} {m.metric}: {vals}")
    return "\n".join(lines)
