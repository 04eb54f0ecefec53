"""``ppobr compare --trainer jax`` (``--engine jax``): the runs of a comparison on the JAX
trainer, every controller and seed of a shard of seeds in one compiled program.

The seeds still to run of each task are split into one shard per worker; each shard runs in
its own process (``python -m ppobr_study.jax.engine ...``), which compiles the task's program
once (all controllers × up to SEED_BATCH seeds) and writes every run into the run folder as
soon as its chunk returns (``study.run_task``), so a stopped comparison resumes where it was.

The hang on 2 cores, its cause and its fix. With jaxlib 0.10.2 on a 2-core VM, a compiled
program's execution could never return (CartPole, 2 controllers × 2 seeds: 11 of 11 unpinned
tries hung; every XLA thread idle, the caller in ``jax::BlockUntilReadyWithCancel``). The
cause, found with gdb on a hung Brax hopper program: both threads of XLA's intra-op pool
(``tf_XLAEigen``) sat in ``lapack_sgeqrf_ffi`` → ``jax::ParallelBatchMap`` →
``BlockingCounter::Wait``. The orthogonal initialisation's batched QR (one network per seed,
under vmap) is LAPACK through a custom call that splits its batch onto the same pool and
blocks its pool thread until the pieces finish; with as many such QRs in flight as the pool
has threads, no thread is left to run the pieces: a thread-pool starvation deadlock, more
likely the fewer cores there are. The trainer now computes the orthogonal init with a
Householder QR in jnp (``orthogonal.py``): its programs contain no custom call (tested), and the
program that hung 11 of 11 times returned 5 of 5 times unpinned with XLA's default flags.

What stays, as defence in depth and for speed:

- every shard process runs with ``--xla_cpu_multi_thread_eigen=false`` (XLA_FLAGS) and with
  its CPU affinity set to one core, a different core per shard (round robin over the cores
  this process may use), so a comparison with N workers uses N cores, one program each;
- a watchdog (``supervise``): a hung program is idle (no thread runs), so a shard process whose
  CPU time has not advanced by IDLE_CPU_SECONDS within IDLE_WINDOW seconds is killed and
  started again (where /proc is missing: one whose next chunk has not returned within
  ``chunk_limit`` seconds). A shard merely slowed by a busy machine keeps using CPU and is
  left alone. Its finished chunks are on disk and skipped, so only the hung chunk is
  recomputed (the runs depend on their seed alone: the rerun gives the same numbers). After
  MAX_RESTARTS the shard's runs fail.
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
IDLE_WINDOW = 120.0
IDLE_CPU_SECONDS = 0.5


def cpu_seconds(pid: int) -> Optional[float]:
    """User + system CPU seconds of process ``pid`` (all its threads), from /proc; None where
    there is no /proc (not Linux) or the process is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


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


def available_cores() -> List[int]:
    """The cores this process may run on (empty where the OS does not say)."""
    try:
        return sorted(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return []


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

    def __init__(self, cmd, runs_per_chunk: int, steps: int, bar, log, core: Optional[int]):
        self.cmd, self.runs_per_chunk, self.steps, self.core = cmd, runs_per_chunk, steps, core
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
        if self.core is not None:  # set at once, while the child is still starting Python
            try:
                os.sched_setaffinity(self.proc.pid, {self.core})
            except OSError:
                pass
        self.last = self.idle_since = time.monotonic()
        self.cpu_mark = 0.0
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
        """Hung: no CPU used for IDLE_WINDOW seconds (or, without /proc, a chunk overdue)."""
        now = time.monotonic()
        cpu = cpu_seconds(self.proc.pid)
        if cpu is None:
            return now - self.last > chunk_limit(self.runs_per_chunk, self.steps, self.slowest)
        if cpu - self.cpu_mark >= IDLE_CPU_SECONDS:
            self.cpu_mark, self.idle_since = cpu, now
        return now - self.idle_since > IDLE_WINDOW

    def kill(self) -> None:
        try:
            os.killpg(self.proc.pid, 9)
        except ProcessLookupError:
            pass
        self.proc.wait()
        self.reader.join(timeout=5)


def supervise(
    running: List[_Shard],
    on_failure: Callable[[_Shard, str], None],
    log: Callable[[str], None],
    label: str,
) -> int:
    """Waits until every shard in ``running`` has ended. A shard that hangs (``overdue``) is
    killed and started again, at most MAX_RESTARTS times; one that exits with an error, or
    still hangs after that, is reported to ``on_failure(shard, its last output lines)``.
    Returns the number of restarts."""
    restarts = 0
    running = list(running)
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
                    f"[{label}] a shard used no CPU for {IDLE_WINDOW:.0f} s: killed and "
                    f"restarted (see ppobr_study/jax/engine.py)"
                )
                sh.kill()
                if sh.restarts < MAX_RESTARTS:
                    sh.restarts += 1
                    restarts += 1
                    sh.start()
                    continue
            else:
                sh.reader.join(timeout=5)
            running.remove(sh)
            on_failure(sh, "\n".join(sh.tail) or f"exit status {code}")
    return restarts


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
        cores = available_cores()
        for k, shard in enumerate(shards(sorted(t["seeds"]), workers)):
            per_chunk = min(len(shard), SEED_BATCH) * len(controllers)
            cmd = _command(task, controllers, shard, t["steps"], out, brax_backend, compact)
            core = cores[k % len(cores)] if cores else None
            running.append(_Shard(cmd, per_chunk, t["steps"], bar, log, core))

        def shard_failed(sh: "_Shard", why: str, task_jobs=t["jobs"]) -> None:
            seeds = set(int(s) for s in sh.cmd[sh.cmd.index("--seeds") + 1].split(","))
            for job in task_jobs:
                if job["seed"] in seeds and on_error is not None:
                    on_error(job, why)

        restarts[task] = supervise(running, shard_failed, log, task)
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
