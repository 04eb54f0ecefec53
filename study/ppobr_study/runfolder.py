"""The run folder of `ppobr compare`: what is written where, atomically, and what a rerun skips.

    OUT/
      comparison.json                     the last invocation: its settings and every group's summary
      <env>_<steps>/                      one group per task and step budget
        <controller>/seed<k>/
          episodes.csv                    every finished episode: global_step, iteration, return, length
          iterations.csv                  every iteration: epsilon, phi, psi, entropy, clip fraction,
                                          KL (k1, k3), losses, timings (see train.py)
            (compact runs, `--compact`: episodes.csv.gz and iterations.csv.gz instead, the latter
             with COMPACT_ITERATION_COLUMNS only)
          run.json                        the run's settings, versions and per-run statistics;
                                          written last: its presence marks the run finished
        summary.json                      the protocol's statistics for the group (docs/PROTOCOL.md)
        results.md                        the results table
        learning_curves.png, epsilon.png

Every file is written to a temporary name in the same directory and renamed into place
(``os.replace``), so a crash never leaves a half-written file under a final name, and a run
without run.json (interrupted) is simply run again. A rerun skips every
(env, controller, seed) whose run.json exists for the same step budget.

Compact runs are for a run folder kept in git (the reproduction's, docs/results/repro/), so
that a sweep spread over many sessions resumes from a clean checkout: every episode, and of
each iteration what the statistics and plots read plus the controller's signals, all values
exact (repr), gzipped without a timestamp (the bytes depend on the values alone). About 80 bytes
per iteration and 10–15 per episode: ~90 kB for a 1M-step MuJoCo run.
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import math
import os
import tempfile
from pathlib import Path
from typing import Dict, List, Optional

import numpy as np

EPISODE_COLUMNS = ("global_step", "iteration", "return", "length")
# What a compact run keeps of each iteration: the statistics' inputs (protocol.run_metrics: the
# three timings), the plots' (global_step, epsilon) and the controller's signals.
COMPACT_ITERATION_COLUMNS = (
    "iteration",
    "global_step",
    "epsilon",
    "phi",
    "psi",
    "rollout_entropy",
    "clip_fraction",
    "kl_k3",
    "controller_seconds",
    "iteration_seconds",
    "iteration_cpu_seconds",
)
RUN_FILE = "run.json"


def group_name(env_id: str, steps: int) -> str:
    return f"{env_id}_{int(steps)}"


def group_dir(out: Path, env_id: str, steps: int) -> Path:
    return Path(out) / group_name(env_id, steps)


def run_dir(out: Path, env_id: str, steps: int, controller: str, seed: int) -> Path:
    return group_dir(out, env_id, steps) / controller / f"seed{int(seed)}"


# ---------------------------------------------------------------------------------------------
# Atomic writes.


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise


def atomic_write_text(path: Path, text: str) -> None:
    atomic_write_bytes(path, text.encode("utf-8"))


def _json_default(o):
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, Path):
        return str(o)
    raise TypeError(f"not JSON serialisable: {type(o).__name__}")


def _clean(o):
    """NaN / ±inf become None (JSON has no such numbers); tuples become lists."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (float, np.floating)):
        return float(o) if math.isfinite(o) else None
    return o


def atomic_write_gzip(path: Path, text: str) -> None:
    # mtime=0: no timestamp in the gzip header, so the bytes depend on the text alone
    atomic_write_bytes(path, gzip.compress(text.encode("utf-8"), 9, mtime=0))


def open_text(path: Path):
    """A CSV file for reading as text, gunzipped on the fly where its name ends in .gz."""
    path = Path(path)
    return gzip.open(path, "rt", newline="") if path.suffix == ".gz" else open(path, newline="")


def atomic_write_json(path: Path, obj) -> None:
    atomic_write_text(path, json.dumps(_clean(obj), indent=2, default=_json_default) + "\n")


def _csv_text(rows: List[dict], columns) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=list(columns), lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow({k: (repr(float(v)) if isinstance(v, float) else v) for k, v in r.items()})
    return buf.getvalue()


# ---------------------------------------------------------------------------------------------
# Runs.


def is_finished(path: Path) -> bool:
    f = Path(path) / RUN_FILE
    if not f.is_file():
        return False
    try:
        return bool(json.loads(f.read_text()).get("finished"))
    except (OSError, ValueError):
        return False


def write_run(path: Path, result: dict, meta: dict, *, compact: bool = False) -> None:
    """Writes one finished run: the two CSVs, then run.json (``meta`` plus the result's
    settings) — the marker that the run is complete. ``compact``: gzipped CSVs, the iterations
    cut to COMPACT_ITERATION_COLUMNS (see the module's docstring)."""
    path = Path(path)
    iterations = result["iterations"]
    it_cols = list(iterations[0].keys()) if iterations else ["iteration", "global_step", "epsilon"]
    episodes_csv = _csv_text(result["episodes"], EPISODE_COLUMNS)
    if compact:
        it_cols = [c for c in COMPACT_ITERATION_COLUMNS if c in it_cols]
        atomic_write_gzip(path / "episodes.csv.gz", episodes_csv)
        atomic_write_gzip(path / "iterations.csv.gz", _csv_text(iterations, it_cols))
    else:
        atomic_write_text(path / "episodes.csv", episodes_csv)
        atomic_write_text(path / "iterations.csv", _csv_text(iterations, it_cols))
    info = {k: v for k, v in result.items() if k not in ("episodes", "iterations")}
    atomic_write_json(path / RUN_FILE, {**meta, **info, "compact": compact, "finished": True})


def _csv_path(path: Path, name: str) -> Path:
    """``name``.csv in a run folder, or ``name``.csv.gz in a compact one."""
    plain = Path(path) / f"{name}.csv"
    return plain if plain.is_file() else plain.with_name(f"{name}.csv.gz")


def compact_run(src: Path, dst: Path) -> None:
    """Writes a compact copy of the finished run folder ``src`` to ``dst``: the CSVs' text is
    copied, not re-formatted, so every kept value stays exactly as it was written."""
    src, dst = Path(src), Path(dst)
    if not is_finished(src):
        raise ValueError(f"src: {src} holds no finished run (no run.json marked finished)")
    for name, keep in (("episodes", EPISODE_COLUMNS), ("iterations", COMPACT_ITERATION_COLUMNS)):
        with open_text(_csv_path(src, name)) as f:
            rows = list(csv.reader(f))
        header = rows[0] if rows else []
        idx = [header.index(c) for c in keep if c in header]
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\n").writerows([[r[i] for i in idx] for r in rows if r])
        atomic_write_gzip(dst / f"{name}.csv.gz", buf.getvalue())
    meta = json.loads((src / RUN_FILE).read_text())
    atomic_write_json(dst / RUN_FILE, {**meta, "compact": True})


def compact_folder(src: Path, dst: Path) -> List[Path]:
    """Compact copies, under ``dst``, of every finished run under the run folder ``src`` that
    ``dst`` does not already hold finished; returns the runs copied (their paths in ``dst``)."""
    src, dst = Path(src), Path(dst)
    copied = []
    for marker in sorted(src.glob(f"*/*/seed*/{RUN_FILE}")):
        rel = marker.parent.relative_to(src)
        if is_finished(marker.parent) and not is_finished(dst / rel):
            compact_run(marker.parent, dst / rel)
            copied.append(dst / rel)
    return copied


def read_csv_columns(path: Path) -> Dict[str, np.ndarray]:
    """A CSV (or a gzipped one: ``*.gz``) as {column: float array}."""
    with open_text(path) as f:
        reader = csv.reader(f)
        header = next(reader, None)
        if header is None:
            return {}
        rows = [r for r in reader if r]
    if not rows:
        return {h: np.zeros(0) for h in header}
    data = np.array(rows, dtype=object).T
    out = {}
    for h, col in zip(header, data):
        try:
            out[h] = col.astype(np.float64)
        except ValueError:
            out[h] = col
    return out


def load_run(path: Path) -> Optional[dict]:
    """{"meta": run.json, "episodes": columns, "iterations": columns} of a finished run, or None."""
    path = Path(path)
    if not is_finished(path):
        return None
    meta = json.loads((path / RUN_FILE).read_text())
    return {
        "meta": meta,
        "episodes": read_csv_columns(_csv_path(path, "episodes")),
        "iterations": read_csv_columns(_csv_path(path, "iterations")),
    }


def load_group(out: Path, env_id: str, steps: int, controllers, seeds) -> Dict[str, List[dict]]:
    """The finished runs of one group: {controller: [run, ...]} in seed order (unfinished
    runs are left out)."""
    runs: Dict[str, List[dict]] = {}
    for c in controllers:
        runs[c] = []
        for s in seeds:
            r = load_run(run_dir(out, env_id, steps, c, s))
            if r is not None:
                runs[c].append(r)
    return runs
