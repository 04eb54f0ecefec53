"""Running a list of (env, controller, seed) jobs: in this process, in worker processes, or on a
Ray cluster. Each job is one call of its per-run trainer's ``train`` (``ppobr_study.trainers``:
torch's ``ppobr_study.train.train`` or sb3's) with single-threaded torch;
the caller gets every result (or traceback) as soon as its job finishes, so it can write the run
at once and a stopped sweep loses only the runs in flight.

A job is a dict ``{"env", "controller", "seed", "steps"}`` and optionally ``"trainer"`` (default
torch) and, for the sb3 trainer, ``"hyperparameters"`` (a section of a hyper-parameter file,
``ppobr_study.hyperparams``). ``on_result(job, result)`` and
``on_error(job, traceback_text)`` are called in this process; ``bar`` is a tqdm-like progress
bar that receives environment steps (``bar.update(n)``).
"""

from __future__ import annotations

import concurrent.futures as cf
import multiprocessing as mp
import platform
import threading
import traceback
from typing import Callable, List, Optional

OnResult = Callable[[dict, dict], None]
OnError = Callable[[dict, str], None]


def _train(job: dict, progress: Optional[Callable[[int], None]]) -> dict:
    from ppobr_study import trainers
    from ppobr_study.train import Config

    trainer = job.get("trainer", "torch")
    if trainer == "sb3":  # the one trainer whose config carries hyper-parameters
        from ppobr_study.sb3_trainer import SB3Config

        cfg = SB3Config(
            env_id=job["env"],
            controller=job["controller"],
            seed=job["seed"],
            total_timesteps=job["steps"],
            hyperparameters=dict(job.get("hyperparameters") or {}),
        )
    else:
        cfg = Config(
            env_id=job["env"],
            controller=job["controller"],
            seed=job["seed"],
            total_timesteps=job["steps"],
        )
    train = trainers.run_function(trainer)
    result = train(cfg, progress=progress)
    result["host"] = platform.node()
    return result


def _run_job(job: dict, queue=None) -> dict:
    """One job in the current (worker) process, single-threaded torch; progress to ``queue``."""
    import torch

    torch.set_num_threads(1)
    return _train(job, (lambda n: queue.put(n)) if queue is not None else None)


def _worker_init() -> None:
    import torch

    torch.set_num_threads(1)


def _run_job_inline(job: dict, bar) -> dict:
    """One job in this process: single-threaded torch for the run, the caller's setting after."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return _train(job, bar.update)
    finally:
        torch.set_num_threads(threads)


def run_local(jobs: List[dict], workers: int, on_result: OnResult, on_error: OnError, bar) -> None:
    """The jobs in this process (``workers`` ≤ 1) or in a pool of spawned worker processes,
    whose progress reaches ``bar`` through a queue drained by a thread."""
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
            pool = cf.ProcessPoolExecutor(
                max_workers=workers, mp_context=ctx, initializer=_worker_init
            )
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


def _ray_job(job: dict) -> dict:
    return _run_job(job)


def run_ray(
    address: str, jobs: List[dict], workers: int, on_result: OnResult, on_error: OnError, bar
) -> None:
    """The jobs as Ray tasks of one CPU each: on the cluster at ``address`` ('auto', host:port,
    ray://host:10001), or on a local Ray instance of ``workers`` CPUs (``address == 'local'``)."""
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


def run_jobs(
    jobs: List[dict],
    workers: int,
    on_result: OnResult,
    on_error: OnError,
    bar,
    ray_address: Optional[str] = None,
) -> None:
    """Every job, on Ray when ``ray_address`` is given, else locally with ``workers`` processes."""
    if not jobs:
        return
    if ray_address:
        run_ray(ray_address, jobs, workers, on_result, on_error, bar)
    else:
        run_local(jobs, workers, on_result, on_error, bar)
