"""``ppobr compare``: train every (env, controller, seed) run that the run folder does not hold
yet, then summarise every task.

Resumption: every run is written to the run folder (runfolder.py) as soon as it finishes, and a
run whose run.json is there is skipped, so rerunning the same command after a stop runs only
what is missing. The runs are ordered by env, then seed, then controller, so that a stopped
sweep leaves complete (controller × seed) pairs. After the runs, the statistics of
docs/PROTOCOL.md are computed over every finished run of the requested set (summary.py),
printed as tables (tables.py) and written with plots; OUT/comparison.json records the
invocation.
"""

from __future__ import annotations

import os
import platform
import sys
import time
from pathlib import Path
from typing import List, Optional, Sequence

DEFAULT_ENV = "CartPole-v1"
DEFAULT_CONTROLLERS = ("ppo", "ppobr")
DEFAULT_SEEDS = 5
# The embedded default's budget (128 iterations of 512 steps): its 10 runs take about 5 × 30 s
# of CPU per worker, under 5 minutes on a 2-core machine with 2 workers (measured: docs/RESULTS.md).
DEFAULT_STEPS = 65_536
DEFAULT_OUT = "runs/compare"

# The simulators behind the tasks: a run is bit-reproducible only with the same versions of
# these too, so run.json records the ones installed (absent = not installed).
SIMULATOR_DISTRIBUTIONS = ("mujoco", "Box2D")


def steps_for(env_id: str, steps: Optional[str]) -> int:
    """The budget of a run on ``env_id``: ``steps`` (a number, or 'paper' for the protocol's
    budget); when not given, DEFAULT_STEPS for the default task and the protocol's budget for
    the others."""
    from ppobr_study import protocol

    if steps is None and env_id == DEFAULT_ENV:
        return DEFAULT_STEPS
    if steps is None or steps == "paper":
        if env_id not in protocol.TASKS:
            raise SystemExit(f"--steps: no budget is registered for {env_id!r}; pass --steps N")
        return protocol.TASKS[env_id].budget
    try:
        value = int(float(steps))
    except ValueError:
        raise SystemExit(f"--steps: expected a number or 'paper', got {steps!r}") from None
    if value <= 0:
        raise SystemExit("--steps: must be positive")
    return value


def threshold_for(env: str, override: Optional[float]) -> float:
    """The return threshold of steps-to-threshold: ``override``, else the protocol's."""
    from ppobr_study import protocol

    if override is not None:
        return float(override)
    if env not in protocol.TASKS:
        raise SystemExit(
            f"--threshold: no threshold is registered for {env!r} "
            f"(docs/PROTOCOL.md); pass --threshold R"
        )
    return protocol.TASKS[env].threshold


def run_versions() -> dict:
    """The versions a run's numbers depend on, for its run.json."""
    import importlib.metadata

    import gymnasium
    import numpy
    import torch

    import ppobr_core

    versions = {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "numpy": numpy.__version__,
        "gymnasium": gymnasium.__version__,
        "ppobr_core": ppobr_core.__version__,
    }
    for dist in SIMULATOR_DISTRIBUTIONS:
        try:
            versions[dist.lower()] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def compare(
    envs: Sequence[str],
    controllers: Sequence[str],
    seeds: Sequence[int],
    steps: Optional[str] = None,
    *,
    workers: Optional[int] = None,
    out: str = DEFAULT_OUT,
    ray_address: Optional[str] = None,
    threshold: Optional[float] = None,
    plots: bool = True,
    progress: bool = True,
    compact: bool = False,
    summarize_only: bool = False,
    command: str = "",
    stream=None,
) -> dict:
    """Runs the missing runs, then summarises every group. Returns the comparison dict.
    ``compact``: write each run compactly (runfolder.py), for a run folder kept in git.
    ``summarize_only``: run nothing; the statistics of the runs finished so far."""
    from tqdm import tqdm

    from ppobr_study import presets, runfolder, runner
    from ppobr_study.summary import summarize_group
    from ppobr_study.tables import format_table

    stream = stream or sys.stdout
    for c in controllers:
        if c not in presets.PRESETS:
            raise SystemExit(
                f"--controllers: unknown {c!r}; choose from {', '.join(presets.PRESETS)}"
            )
    if len(set(controllers)) != len(controllers):
        raise SystemExit("--controllers: a controller is named twice")
    out_path = Path(out)
    budgets = {env: steps_for(env, steps) for env in envs}
    thresholds = {env: threshold_for(env, threshold) for env in envs}

    jobs: List[dict] = []
    finished = 0
    for env in envs:  # interleaved by seed: a stopped sweep leaves complete seed pairs
        for seed in seeds:
            for c in controllers:
                job = {"env": env, "controller": c, "seed": int(seed), "steps": budgets[env]}
                if runfolder.is_finished(runfolder.run_dir(out_path, env, budgets[env], c, seed)):
                    finished += 1
                else:
                    jobs.append(job)
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, len(jobs) or 1))
    header = (
        f"ppobr compare: {len(envs)} task(s) × {len(controllers)} controller(s) × "
        f"{len(seeds)} seed(s) in {out_path}/: {finished} finished run(s)"
    )
    if summarize_only:
        print(f"{header}, {len(jobs)} not run (--summarize-only)", file=stream, flush=True)
        jobs = []
    else:
        where = ""
        if jobs:
            where = f" on Ray ({ray_address})" if ray_address else f" with {workers} worker(s)"
        print(f"{header} skipped, {len(jobs)} to run{where}", file=stream, flush=True)

    failures: List[str] = []
    cpu = [0.0]
    t0 = time.perf_counter()
    bar = tqdm(
        total=sum(j["steps"] for j in jobs),
        unit="step",
        unit_scale=True,
        dynamic_ncols=True,
        disable=not progress or not jobs,
        desc="runs 0/%d" % len(jobs),
        file=sys.stderr,
    )
    done = [0]

    def on_result(job, res):
        meta = {
            "env": job["env"],
            "controller": job["controller"],
            "seed": job["seed"],
            "steps": job["steps"],
            "versions": run_versions(),
        }
        run_dir = runfolder.run_dir(
            out_path, job["env"], job["steps"], job["controller"], job["seed"]
        )
        runfolder.write_run(run_dir, res, meta, compact=compact)
        done[0] += 1
        cpu[0] += float(res.get("cpu_seconds", 0.0))
        bar.set_description(f"runs {done[0]}/{len(jobs)}")

    def on_error(job, tb):
        name = f"{job['env']} {job['controller']} seed {job['seed']}"
        failures.append(f"{name}:\n{tb}")
        bar.write(f"FAILED {name}: {tb.strip().splitlines()[-1]}")

    try:
        runner.run_jobs(jobs, workers, on_result, on_error, bar, ray_address=ray_address)
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0

    groups = [
        summarize_group(
            out_path,
            env,
            budgets[env],
            controllers,
            seeds,
            thresholds[env],
            plots=plots,
            command=command,
        )
        for env in envs
    ]
    for g in groups:
        print("", file=stream)
        print(format_table(g), file=stream)
    if jobs:
        print(
            f"\n{len(jobs) - len(failures)} run(s) in {elapsed:.1f} s wall-clock; "
            f"run folder: {out_path}/",
            file=stream,
        )
    comparison = {
        "command": command,
        "envs": list(envs),
        "controllers": list(controllers),
        "seeds": list(seeds),
        "budgets": budgets,
        "wall_seconds": elapsed,
        "workers": workers if jobs and not ray_address else None,
        "run_cpu_seconds": cpu[0],
        "runs_executed": len(jobs) - len(failures),
        "runs_skipped": finished,
        "failures": failures,
        "groups": groups,
    }
    runfolder.atomic_write_json(out_path / "comparison.json", comparison)
    if failures:
        print(f"\n{len(failures)} run(s) failed:\n" + "\n".join(failures), file=sys.stderr)
    return comparison
