"""``ppobr compare --trainer jax`` (``--engine jax``): the runs of a comparison on the JAX
trainer, every controller and seed of a shard of seeds in one compiled program.

The seeds still to run of each task are split into one shard per worker; each shard runs in
its own process (``python -m ppobr_study.jax.engine ...``), which compiles the task's program
once (all controllers × up to SEED_BATCH seeds) and writes every run into the run folder as
soon as its chunk returns (``study.run_task``), so a stopped comparison resumes where it was.

XLA's CPU runtime and the hang it showed on 2 cores: with its multithreaded Eigen pool, a
vmapped program's execution sometimes never returned (every XLA thread idle, the caller waiting
in ``block_until_ready``), while the same program pinned to one core always did. The cause was
not found inside XLA (a wedged Eigen thread pool: its threads are invisible to Python's
faulthandler); it is contained here in two ways, without pinning anything to one core:

- every shard process runs with ``--xla_cpu_multi_thread_eigen=false`` (XLA_FLAGS): each
  program uses one thread, and the cores are used by running one shard process per worker;
- a watchdog: a shard whose next chunk has not returned within ``chunk_limit`` seconds (a
  generous multiple of the expected time) is killed and started again; its finished chunks are
  on disk and skipped, so only the hung chunk is recomputed (the runs depend on their seed
  alone, so the rerun gives the same numbers). After MAX_RESTARTS the shard's runs fail.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

SEED_BATCH = 16  # seeds per program call: bounds memory and the watchdog's granularity
XLA_FLAGS = "--xla_cpu_multi_thread_eigen=false"
MAX_RESTARTS = 3
# The watchdog's limit for a chunk before one has returned: compilation plus the chunk at
# SLOW_STEPS_PER_SECOND (well below the slowest task measured on a loaded core); afterwards
# SLACK × the slowest chunk seen.
SLOW_STEPS_PER_SECOND = 5_000
FIRST_CHUNK_EXTRA_SECONDS = 300.0
SLACK = 5.0


def shards(seeds: Sequence[int], workers: int) -> List[List[int]]:
    """``seeds`` split into at most ``workers`` contiguous shards of near-equal size."""
    seeds = list(seeds)
    n = max(1, min(workers, len(seeds)))
    size, extra = divmod(len(seeds), n)
    out, i = [], 0
    for k in range(n):
        step = size + (1 if k < extra else 0)
        out.append(seeds[i : i + step])
        i += step
    return [s for s in out if s]


def chunk_limit(runs: int, steps: int, slowest_chunk: Optional[float]) -> float:
    """Seconds a shard may take for its next chunk of ``runs`` runs before the watchdog kills it."""
    if slowest_chunk is None:
        return FIRST_CHUNK_EXTRA_SECONDS + runs * steps / SLOW_STEPS_PER_SECOND
    return max(60.0, SLACK * slowest_chunk)


def _command(task: str, controllers, seeds, steps: int, out: Path, backend: str, compact: bool):
    cmd = [
        sys.executable,
        "-m",
        "ppobr_study.jax.engine",
        "--task",
        task,
        "--controllers",
        ",".join(controllers),
        "--seeds",
        ",".join(str(s) for s in seeds),
        "--steps",
        str(steps),
        "--out",
        str(out),
        "--brax-backend",
        backend,
    ]
    return cmd + (["--compact"] if compact else [])


def _environment() -> dict:
    env = dict(os.environ)
    flags = env.get("XLA_FLAGS", "")
    if XLA_FLAGS not in flags:
        env["XLA_FLAGS"] = f"{flags} {XLA_FLAGS}".strip()
    # the child imports the packages this process imported (installed or in-tree)
    paths = [p for p in sys.path if p]
    env["PYTHONPATH"] = os.pathsep.join(paths)
    return env


class _Shard:
    """One shard process, its progress lines read by a thread, and the watchdog's clock."""

    def __init__(self, cmd, runs_per_chunk: int, steps: int, bar, log):
        self.cmd, self.runs_per_chunk, self.steps = cmd, runs_per_chunk, steps
        self.bar, self.log = bar, log
        self.restarts, self.slowest, self.tail = 0, None, []
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            self.cmd,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env=_environment(),
            start_new_session=True,
        )
        self.last = time.monotonic()
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self) -> None:
        for line in self.proc.stdout:
            line = line.rstrip("\n")
            if line.startswith("CHUNK "):
                _, runs, seconds = line.split()
                now = time.monotonic()
                self.slowest = max(self.slowest or 0.0, now - self.last)
                self.last = now
                if self.bar is not None:
                    self.bar.update(int(runs) * self.steps)
            else:
                self.tail = (self.tail + [line])[-40:]

    def overdue(self) -> bool:
        limit = chunk_limit(self.runs_per_chunk, self.steps, self.slowest)
        return time.monotonic() - self.last > limit

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.reader.join(timeout=5)


def run_jobs(
    jobs: List[dict],
    workers: int,
    out: Path,
    controllers: Sequence[str],
    *,
    brax_backend: str = "spring",
    compact: bool = False,
    bar=None,
    on_error: Optional[Callable[[dict, str], None]] = None,
    log: Callable[[str], None] = print,
) -> Dict[str, int]:
    """Runs ``jobs`` (compare's {env, controller, seed, steps}) task by task, each task's seeds
    in ``workers`` shard processes at once; returns {task: restarts by the watchdog}."""
    restarts: Dict[str, int] = {}
    tasks: Dict[str, dict] = {}
    for job in jobs:
        t = tasks.setdefault(job["env"], {"steps": job["steps"], "seeds": set(), "jobs": []})
        t["seeds"].add(job["seed"])
        t["jobs"].append(job)
    for task, t in tasks.items():
        running = []
        for shard in shards(sorted(t["seeds"]), workers):
            per_chunk = min(len(shard), SEED_BATCH) * len(controllers)
            cmd = _command(task, controllers, shard, t["steps"], out, brax_backend, compact)
            running.append(_Shard(cmd, per_chunk, t["steps"], bar, log))
        restarts[task] = 0
        while running:
            time.sleep(0.5)
            for sh in list(running):
                code = sh.proc.poll()
                if code is None and not sh.overdue():
                    continue
                if code == 0:
                    sh.reader.join(timeout=5)
                    running.remove(sh)
                    continue
                if code is None:
                    log(
                        f"[{task}] a shard's chunk has not returned after "
                        f"{time.monotonic() - sh.last:.0f} s: killed and restarted "
                        f"(the XLA CPU hang, see ppobr_study/jax/engine.py)"
                    )
                    sh.kill()
                else:
                    sh.reader.join(timeout=5)
                if sh.restarts < MAX_RESTARTS and code is None:
                    sh.restarts += 1
                    restarts[task] += 1
                    sh.start()
                    continue
                running.remove(sh)
                why = "\n".join(sh.tail) or f"exit status {code}"
                seeds = set(int(s) for s in sh.cmd[sh.cmd.index("--seeds") + 1].split(","))
                for job in t["jobs"]:
                    if job["seed"] in seeds and on_error is not None:
                        on_error(job, why)
    return restarts


def _main(argv: Optional[Sequence[str]] = None) -> int:
    """One shard: the runs of one task for some seeds, every controller, in one program."""
    ap = argparse.ArgumentParser(prog="python -m ppobr_study.jax.engine")
    ap.add_argument("--task", required=True)
    ap.add_argument("--controllers", required=True)
    ap.add_argument("--seeds", required=True)
    ap.add_argument("--steps", type=int, required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--brax-backend", default="spring")
    ap.add_argument("--compact", action="store_true")
    args = ap.parse_args(argv)
    from ppobr_study.jax import config as K
    from ppobr_study.jax import study

    seeds = [int(s) for s in args.seeds.split(",")]
    cfg = K.parse(
        {
            "name": "compare",
            "tasks": [args.task],
            "controllers": args.controllers.split(","),
            "seeds": seeds,
            "seed_batch": min(len(seeds), SEED_BATCH),
            "steps": args.steps,
            "brax_backend": args.brax_backend,
        }
    )
    task = study.Task(cfg, args.task)

    def on_chunk(runs: int) -> None:
        print(f"CHUNK {runs} 0", flush=True)

    study.run_task(
        cfg,
        task,
        Path(args.out),
        lambda s: print(s, flush=True),
        compact=args.compact,
        on_chunk=on_chunk,
    )
    return 0


if __name__ == "__main__":
    sys.exit(_main())
