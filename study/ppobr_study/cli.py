"""`ppobr`: the console command. `ppobr compare` answers "does PPO-BR beat PPO on my task?".

    ppobr                      # = ppobr compare: the embedded default (CartPole-v1, ppo vs ppobr,
                               #   5 seeds each, DEFAULT_STEPS steps), a few minutes on 2 cores
    ppobr compare --env LunarLander-v3 --controllers ppo,ppobr,ppo-wide --seeds 10 --workers 8
    ppobr compare --env CartPole-v1 --steps paper --seeds 10 --out runs/repro
    ppobr compare ... --ray auto     # the same runs spread over a Ray cluster
    ppobr controllers          # the controller presets
    ppobr compact runs/repro docs/results/repro   # compact copies of finished runs, for git
    ppobr report docs/results docs/results/repro  # the paper's three claims over its six tasks
    ppobr reruns docs/results docs/results/repro  # runs recorded twice: identical to the last bit?

Every (env, controller, seed) run is written to the run folder (see runfolder.py) as soon as it
finishes; rerunning the same command skips the finished runs, so a long sweep can be stopped
and continued. After the runs, the statistics of docs/PROTOCOL.md are computed over every
finished run of the requested set, printed as a table and written with plots.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import multiprocessing as mp
import os
import platform
import shlex
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import List, Optional, Sequence

DEFAULT_ENV = "CartPole-v1"
DEFAULT_CONTROLLERS = ("ppo", "ppobr")
DEFAULT_SEEDS = 5
# The embedded default's budget (128 iterations of 512 steps): its 10 runs take about 5 × 30 s
# of CPU per worker, under 5 minutes on a 2-core machine with 2 workers (measured: docs/RESULTS.md).
DEFAULT_STEPS = 65_536
DEFAULT_OUT = "runs/compare"


# ---------------------------------------------------------------------------------------------
# Running jobs (in this process, in worker processes, or on Ray).


def _run_job(job: dict, queue=None) -> dict:
    """One (env, controller, seed) run in the current process, single-threaded torch."""
    import torch

    torch.set_num_threads(1)
    from ppobr_study.train import Config, train

    progress = (lambda n: queue.put(n)) if queue is not None else None
    cfg = Config(env_id=job["env"], controller=job["controller"], seed=job["seed"],
                 total_timesteps=job["steps"])  # fmt: skip
    result = train(cfg, progress=progress)
    result["host"] = platform.node()
    return result


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _run_local(jobs: List[dict], workers: int, on_result, on_error, bar) -> None:
    if workers <= 1:
        for job in jobs:
            try:
                res = _run_job_inline(job, bar)
            except Exception:
                on_error(job, traceback.format_exc())
                continue
            on_result(job, res)
        return
    ctx = mp.get_context("spawn")
    with ctx.Manager() as manager:
        queue = manager.Queue()
        stop = threading.Event()

        def drain():
            while not stop.is_set() or not queue.empty():
                try:
                    n = queue.get(timeout=0.2)
                except Exception:
                    continue
                bar.update(n)

        t = threading.Thread(target=drain, daemon=True)
        t.start()
        try:
            pool = cf.ProcessPoolExecutor(max_workers=workers, mp_context=ctx, initializer=_worker_init)
            try:
                futures = {pool.submit(_run_job, job, queue): job for job in jobs}
                for fut in cf.as_completed(futures):
                    job = futures[fut]
                    try:
                        res = fut.result()
                    except Exception:
                        on_error(job, traceback.format_exc())
                        continue
                    on_result(job, res)
            except KeyboardInterrupt:  # finished runs are already written; drop the rest
                pool.shutdown(wait=False, cancel_futures=True)
                raise
            pool.shutdown()
        finally:
            stop.set()
            t.join(timeout=5)


def _run_job_inline(job: dict, bar) -> dict:
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        from ppobr_study.train import Config, train

        cfg = Config(env_id=job["env"], controller=job["controller"], seed=job["seed"],
                     total_timesteps=job["steps"])  # fmt: skip
        res = train(cfg, progress=bar.update)
        res["host"] = platform.node()
        return res
    finally:
        torch.set_num_threads(threads)


def _ray_job(job: dict) -> dict:
    return _run_job(job)


def _run_ray(address: str, jobs: List[dict], workers: int, on_result, on_error, bar) -> None:
    try:
        import ray  # optional: pip install ray
    except ImportError:
        raise SystemExit("--ray needs Ray: pip install ray (and ppobr-core[compare] on every node)")
    if address == "local":
        ray.init(num_cpus=max(1, workers), include_dashboard=False, log_to_driver=False)
    else:
        ray.init(address=address, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1)(_ray_job)
        pending = {remote.remote(job): job for job in jobs}
        while pending:
            done, _ = ray.wait(list(pending), num_returns=1)
            for ref in done:
                job = pending.pop(ref)
                try:
                    res = ray.get(ref)
                except Exception:
                    on_error(job, traceback.format_exc())
                    continue
                bar.update(job["steps"])
                on_result(job, res)
    finally:
        ray.shutdown()


# ---------------------------------------------------------------------------------------------
# The comparison.


def parse_seeds(text: str) -> List[int]:
    """"5" -> 0..4; "3-7" -> 3..7; "0,2,4" -> those."""
    text = str(text).strip()
    try:
        if "," in text:
            return sorted({int(s) for s in text.split(",") if s.strip()})
        if "-" in text[1:]:
            a, b = text.split("-", 1)
            return list(range(int(a), int(b) + 1))
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"--seeds: expected N, A-B or a,b,c; got {text!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError("--seeds: at least one seed")
    return list(range(n))


def steps_for(env_id: str, steps: Optional[str]) -> int:
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

    from ppobr_study import controllers as presets
    from ppobr_study import runfolder

    stream = stream or sys.stdout
    for c in controllers:
        if c not in presets.PRESETS:
            raise SystemExit(f"--controllers: unknown {c!r}; choose from {', '.join(presets.PRESETS)}")
    if len(set(controllers)) != len(controllers):
        raise SystemExit("--controllers: a controller is named twice")
    out_path = Path(out)
    budgets = {env: steps_for(env, steps) for env in envs}
    thresholds = {env: _threshold(env, threshold) for env in envs}

    jobs, finished = [], 0
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
    header = (f"ppobr compare: {len(envs)} task(s) × {len(controllers)} controller(s) × {len(seeds)} seed(s) "
              f"in {out_path}/: {finished} finished run(s)")  # fmt: skip
    if summarize_only:
        print(f"{header}, {len(jobs)} not run (--summarize-only)", file=stream, flush=True)
        jobs = []
    else:
        print(
            f"{header} skipped, {len(jobs)} to run"
            + (f" on Ray ({ray_address})" if ray_address and jobs else f" with {workers} worker(s)" if jobs else ""),
            file=stream,
            flush=True,
        )

    failures: List[str] = []
    cpu = [0.0]
    t0 = time.perf_counter()
    bar = tqdm(total=sum(j["steps"] for j in jobs), unit="step", unit_scale=True, dynamic_ncols=True,
               disable=not progress or not jobs, desc="runs 0/%d" % len(jobs), file=sys.stderr)  # fmt: skip
    done = [0]

    def on_result(job, res):
        meta = {"env": job["env"], "controller": job["controller"], "seed": job["seed"],
                "steps": job["steps"], "versions": _versions()}  # fmt: skip
        runfolder.write_run(runfolder.run_dir(out_path, job["env"], job["steps"], job["controller"], job["seed"]),
                            res, meta, compact=compact)  # fmt: skip
        done[0] += 1
        cpu[0] += float(res.get("cpu_seconds", 0.0))
        bar.set_description(f"runs {done[0]}/{len(jobs)}")

    def on_error(job, tb):
        failures.append(f"{job['env']} {job['controller']} seed {job['seed']}:\n{tb}")
        bar.write(f"FAILED {job['env']} {job['controller']} seed {job['seed']}: {tb.strip().splitlines()[-1]}")

    try:
        if jobs:
            if ray_address:
                _run_ray(ray_address, jobs, workers, on_result, on_error, bar)
            else:
                _run_local(jobs, workers, on_result, on_error, bar)
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0

    groups = []
    for env in envs:
        groups.append(summarize_group(out_path, env, budgets[env], controllers, seeds, thresholds[env],
                                      plots=plots, command=command))  # fmt: skip
    for g in groups:
        print("", file=stream)
        print(format_table(g), file=stream)
    if jobs:
        print(f"\n{len(jobs) - len(failures)} run(s) in {elapsed:.1f} s wall-clock; run folder: {out_path}/",
              file=stream)  # fmt: skip
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


def _threshold(env: str, override: Optional[float]) -> float:
    from ppobr_study import protocol

    if override is not None:
        return float(override)
    if env not in protocol.TASKS:
        raise SystemExit(f"--threshold: no threshold is registered for {env!r} "
                         f"(docs/PROTOCOL.md); pass --threshold R")
    return protocol.TASKS[env].threshold


# The simulators behind the tasks: a run is bit-reproducible only with the same versions of
# these too, so run.json records the ones installed (absent = not installed).
SIMULATOR_DISTRIBUTIONS = ("mujoco", "Box2D")


def _versions() -> dict:
    import importlib.metadata

    import gymnasium
    import numpy
    import torch

    import ppobr_core

    versions = {"python": platform.python_version(), "torch": torch.__version__, "numpy": numpy.__version__,
                "gymnasium": gymnasium.__version__, "ppobr_core": ppobr_core.__version__}  # fmt: skip
    for dist in SIMULATOR_DISTRIBUTIONS:
        try:
            versions[dist.lower()] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            pass
    return versions


def summarize_group(out: Path, env: str, steps: int, controllers: Sequence[str], seeds: Sequence[int],
                    threshold: float, *, plots: bool = True, command: str = "",
                    extra: Optional[dict] = None, notes: str = "") -> dict:  # fmt: skip
    """The protocol's statistics over the finished runs of one group; writes summary.json,
    results.md and the plots into the group's folder. ``extra``: more entries for summary.json
    (e.g. the JAX study's throughput); ``notes``: Markdown appended to results.md."""
    from ppobr_study import protocol, runfolder

    runs = runfolder.load_group(out, env, steps, controllers, seeds)
    metrics = {
        c: [dict(protocol.run_metrics(r["episodes"], r["iterations"], threshold), seed=r["meta"]["seed"],
                 wall_seconds=r["meta"].get("wall_seconds"), cpu_seconds=r["meta"].get("cpu_seconds"))
            for r in rs]
        for c, rs in runs.items()
    }  # fmt: skip
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
            p.learning_curves(runs, steps, gdir / "learning_curves.png", title=title, threshold=threshold)
            p.epsilon_curves(runs, gdir / "epsilon.png", title=title)
        runfolder.atomic_write_json(gdir / "summary.json", summary)
        note = f"\n\nCommand: `{command}`\n" if command else "\n"
        runfolder.atomic_write_text(gdir / "results.md", format_table(summary) + (f"\n\n{notes}" if notes else "") + note)
    return summary


# ---------------------------------------------------------------------------------------------
# The results table.


def format_table(summary: dict) -> str:
    """The results of one group as Markdown tables (also readable as plain text)."""
    from ppobr_study import markdown as md

    env, steps, thr = summary["env"], summary["steps"], summary["threshold"]
    lines = [f"### {env}, {steps:,} steps per run, threshold {thr:g} (baseline: {summary['baseline']})", ""]
    lines.append(
        "| controller | runs | reached | steps to threshold, median | steps, IQM [95% CI] "
        "| final return, IQM [95% CI] | late within-run std | across-seed std "
        "| s / iteration | ε update µs / iteration |"
    )
    lines.append("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
    for c, s in summary["controllers"].items():
        lb = "≥ " if s["steps_iqm_is_lower_bound"] else ""
        lines.append(
            f"| {c} | {s['runs']} | {s['reached']}/{s['runs']} | {md.kilo_steps(s['steps_median'])} "
            f"| {lb}{md.kilo_steps(s['steps_iqm'])}{md.kilo_steps_interval(s['steps_iqm_ci'])} "
            f"| {md.number(s['final_return_iqm'])}{md.interval(s['final_return_iqm_ci'])} "
            f"| {md.number(s['late_std_mean'])} | {md.number(s['across_seed_std'])} "
            f"| {md.number(s['seconds_per_iteration'], '{:.3f}')} "
            f"| {md.number(s['controller_seconds_per_iteration'] * 1e6 if s['controller_seconds_per_iteration'] is not None else None, '{:.0f}')} |"
        )  # fmt: skip
    for b, versus in ((summary["baseline"], summary["versus_baseline"]),
                      ("ppo-wide", summary.get("versus_ppo_wide") or {})):
        if not versus:
            continue
        lines += [
            "",
            f"| vs {b} | fewer steps to threshold (median) | p (Mann–Whitney) "
            f"| within-run variance ratio {b}/controller [95% CI] | p (M–W) "
            f"| across-seed variance ratio [95% CI] | p (Brown–Forsythe) | final return p (M–W) "
            f"| overhead / iteration: direct | end to end (wall) | end to end (CPU) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for c, v in versus.items():
            lines.append(
                f"| {c} | {md.number(md.percent(v['fewer_steps_fraction']), '{:+.1f}%')} | {md.number(v['steps_mannwhitney_p'], '{:.3g}')} "
                f"| {md.number(v['within_variance_ratio'], '{:.2f}')}{md.interval(v['within_variance_ratio_ci'], '{:.2f}')} "
                f"| {md.number(v['within_variance_mannwhitney_p'], '{:.3g}')} "
                f"| {md.number(v['across_variance_ratio'], '{:.2f}')}{md.interval(v['across_variance_ratio_ci'], '{:.2f}')} "
                f"| {md.number(v['across_variance_brown_forsythe_p'], '{:.3g}')} "
                f"| {md.number(v['final_return_mannwhitney_p'], '{:.3g}')} "
                f"| {md.number(md.percent(v['overhead_direct']), '{:+.4f}%')} | {md.number(md.percent(v['overhead_end_to_end']), '{:+.1f}%')} "
                f"| {md.number(md.percent(v.get('overhead_end_to_end_cpu')), '{:+.1f}%')} |"
            )  # fmt: skip
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# The command line.


def build_parser() -> argparse.ArgumentParser:
    from ppobr_study.controllers import names

    parser = argparse.ArgumentParser(
        prog="ppobr",
        description="PPO-BR's adaptive clip range: does it beat PPO on your task? "
        "Without a subcommand, runs `ppobr compare` with its embedded default.",
    )
    sub = parser.add_subparsers(dest="command")
    c = sub.add_parser(
        "compare",
        help="train PPO with several clip-range controllers over seeds and compare them",
        description="Train PPO (CleanRL defaults) with each controller and seed, write the run folder, "
        "and print the statistics of docs/PROTOCOL.md. Reruns skip finished (env, controller, seed) runs.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
    )
    c.add_argument("--env", default=DEFAULT_ENV,
                   help="gymnasium task id(s), comma-separated (e.g. CartPole-v1,LunarLander-v3)")
    c.add_argument("--controllers", default=",".join(DEFAULT_CONTROLLERS),
                   help=f"comma-separated presets, the first is the baseline; one of: {', '.join(names())}")
    c.add_argument("--seeds", default=str(DEFAULT_SEEDS), type=parse_seeds,
                   help="N (seeds 0..N-1), A-B, or a,b,c")
    c.add_argument("--steps", default=None,
                   help=f"environment steps per run, or 'paper' for the reproduction budget "
                        f"(CartPole 500k, others 1M). Default: {DEFAULT_STEPS} for {DEFAULT_ENV}, "
                        f"the paper budget for other tasks")
    c.add_argument("--workers", type=int, default=None,
                   help="parallel worker processes, each with torch.set_num_threads(1) "
                        "(default: one per CPU core)")
    c.add_argument("--out", default=DEFAULT_OUT, help="the run folder")
    c.add_argument("--ray", default=None, metavar="ADDRESS",
                   help="run on a Ray cluster: 'auto', host:port or ray://host:10001; 'local' starts "
                        "a local Ray instance. Every node needs this package installed")
    c.add_argument("--threshold", type=float, default=None,
                   help="return threshold for steps-to-threshold (default: the task's, docs/PROTOCOL.md)")
    c.add_argument("--no-plots", action="store_true", help="skip the PNG plots")
    c.add_argument("--no-progress", action="store_true", help="no progress bar")
    c.add_argument("--compact", action="store_true",
                   help="write each run's CSVs gzipped, keeping of each iteration only what the "
                        "statistics and plots read and the controller's signals (for a run folder "
                        "kept in git, like the reproduction's docs/results/repro)")
    c.add_argument("--summarize-only", action="store_true",
                   help="run nothing: the statistics, table and plots of the runs finished so far "
                        "(an interim look at a sweep that another process is running)")
    sub.add_parser("controllers", help="list the controller presets")
    k = sub.add_parser("compact", help="copy the finished runs of a run folder compactly into another",
                       description="Compact copies (gzipped, the iteration columns of --compact) of "
                       "every finished run under SRC that DST does not hold yet; DST can then be "
                       "passed to `ppobr compare --out`, which resumes from it.")
    k.add_argument("src", help="a run folder (ppobr compare --out)")
    k.add_argument("dst", help="the run folder to copy into")
    r = sub.add_parser("report", help="the paper's three claims over its six tasks, from compare's summaries",
                       description="Reads every FOLDER/*/summary.json, takes per paper task the one with "
                       "the most PPO and PPO-BR runs, and prints the verdicts of docs/PROTOCOL.md as "
                       "Markdown tables.")
    r.add_argument("folders", nargs="+", help="run folders (or folders of copied groups)")
    r.add_argument("--update", metavar="FILE", default=None,
                   help="write the tables into FILE between its two `ppobr report` marker lines "
                        "instead of printing them")
    u = sub.add_parser("reruns", help="check that runs recorded by several summaries are bit-identical",
                       description="Reads every FOLDER/*/summary.json and compares, for each run "
                       "(env, budget, controller, seed) that more than one of them records, the "
                       "per-run numbers that learning decides (exactly; timings are not compared). "
                       "Exit status 1 if any differ.")
    u.add_argument("folders", nargs="+", help="run folders (or folders of copied groups)")
    return parser


def main(argv: Optional[Sequence[str]] = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    command = "ppobr " + " ".join(shlex.quote(a) for a in argv) if argv else "ppobr"
    parser = build_parser()
    if not argv:
        argv = ["compare"]
    args = parser.parse_args(argv)
    if args.command == "controllers":
        from ppobr_study.controllers import DESCRIPTIONS

        for name, desc in DESCRIPTIONS.items():
            print(f"{name:15s} {desc}")
        return 0
    if args.command == "compact":
        from ppobr_study import runfolder

        if not Path(args.src).is_dir():
            parser.error(f"src: no such run folder: {args.src}")
        copied = runfolder.compact_folder(Path(args.src), Path(args.dst))
        print(f"ppobr compact: {len(copied)} finished run(s) copied from {args.src}/ to {args.dst}/")
        return 0
    if args.command == "report":
        from ppobr_study import report

        missing = [f for f in args.folders if not Path(f).is_dir()]
        if missing:
            parser.error(f"folders: no such folder: {', '.join(missing)}")
        text = report.report([Path(f) for f in args.folders])
        if args.update:
            try:
                report.update_file(Path(args.update), text)
            except (OSError, ValueError) as e:
                parser.error(str(e))
            print(f"ppobr report: tables written into {args.update}")
        else:
            print(text)
        return 0
    if args.command == "reruns":
        from ppobr_study import reruns

        missing = [f for f in args.folders if not Path(f).is_dir()]
        if missing:
            parser.error(f"folders: no such folder: {', '.join(missing)}")
        repeated, mismatches = reruns.check(reruns.collect([Path(f) for f in args.folders]))
        print(reruns.format_report(repeated, mismatches))
        return 1 if mismatches else 0
    if args.command != "compare":
        parser.print_help()
        return 2
    envs = [e.strip() for e in args.env.split(",") if e.strip()]
    controllers = [c.strip() for c in args.controllers.split(",") if c.strip()]
    if args.workers is not None and args.workers < 1:
        parser.error("--workers: at least 1")
    result = compare(
        envs, controllers, args.seeds, args.steps, workers=args.workers, out=args.out,
        ray_address=args.ray, threshold=args.threshold, plots=not args.no_plots,
        progress=not args.no_progress, compact=args.compact,
        summarize_only=args.summarize_only, command=command,
    )  # fmt: skip
    return 1 if result["failures"] else 0


if __name__ == "__main__":
    sys.exit(main())
