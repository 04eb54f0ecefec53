"""Runs a study config: per task, one compiled program per chunk of seeds (every controller and
seed of the chunk vmapped), the runs written in ``ppobr compare``'s run-folder format and
summarised by its code (``ppobr_study.runfolder``, ``protocol``, ``summary.summarize_group``,
``tables.format_table``, ``plots``); then the throughput of PPO-BR against plain PPO.

    OUT/comparison.json                  the invocation: config, wall time, groups, throughput
    OUT/<task id>_<steps>/<controller>/seed<k>/{episodes.csv, iterations.csv, run.json}
    OUT/<task id>_<steps>/{summary.json, results.md, learning_curves.png, epsilon.png}

A rerun skips a chunk whose runs are all finished (run.json present), as ``ppobr compare`` does.
The timing columns of ``ppobr compare``'s iterations.csv (controller_seconds, ...) are absent:
inside one compiled program an iteration cannot be timed, so the table shows "–" there and the
controller's cost is measured as throughput instead (``measure_throughput``).
"""

from __future__ import annotations

import platform
import statistics
import time
from importlib import metadata
from pathlib import Path
from typing import Callable, Dict, List, Optional, Sequence

import jax
import jax.numpy as jnp
import numpy as np

from ppobr_study import protocol, runfolder
from ppobr_study.jax import config as K
from ppobr_study.jax import controllers as ctl_lib
from ppobr_study.jax import envs as env_lib
from ppobr_study.jax import ppo
from ppobr_study.presets import TaskInfo
from ppobr_study.summary import summarize_group
from ppobr_study.tables import format_table

ENGINE = "ppobr_study.jax (jitted PPO, ppobr_jax)"


def versions(backend: str) -> dict:
    def v(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return None

    dev = jax.devices()[0]
    out = {
        "python": platform.python_version(),
        "jax": jax.__version__,
        "jaxlib": v("jaxlib"),
        "numpy": np.__version__,
        "optax": v("optax"),
        "gymnax": v("gymnax"),
        "ppobr_core": v("ppobr-core"),
        "device": f"{dev.platform}: {dev.device_kind}",
    }
    if backend.startswith("brax"):
        out["brax"] = v("brax")
    return out


class Task:
    """Everything about one task that the programs and the run folder need."""

    def __init__(self, cfg: K.StudyConfig, name: str, steps: Optional[int] = None):
        self.name = name
        self.env = env_lib.make_env(name, cfg.brax_backend)
        self.params = cfg.ppo_params(self.env.discrete)
        self.steps = steps or cfg.steps[name]  # the requested budget: the group's name
        self.num_iterations = max(1, self.steps // self.params.batch_size)
        self.steps_run = self.num_iterations * self.params.batch_size
        self.id = K.task_id(name, cfg.brax_backend)
        self.threshold = protocol.task(K.protocol_key(name)).threshold
        self.info = TaskInfo(self.env.discrete, self.env.num_actions, self.num_iterations)

    def program(self, controllers: Sequence[str], num_seeds: int):
        """The compiled ``[controllers] x [seeds]`` program and its compile seconds."""
        ctls = ctl_lib.make_set(controllers, self.info)
        train = ppo.make_train(self.env, self.params, ctls, self.num_iterations)
        keys = ppo.seed_keys(range(num_seeds))
        t0 = time.perf_counter()
        compiled = jax.jit(ppo.vmapped(train)).lower(keys, jnp.arange(len(controllers))).compile()
        return compiled, time.perf_counter() - t0


# ---------------------------------------------------------------------------------------------
# From program outputs to ppobr compare's per-run result (episodes and iterations as rows).


def run_result(out: ppo.RunOutput, c: int, s: int, task: Task) -> dict:
    """Run (controller c, seed s) of a program's host-side outputs as train.py's result dict."""
    p = task.params
    length = out.ep_length[c, s]  # [iterations, steps, envs]
    it, t, e = np.nonzero(length > 0)  # C order = chronological, envs in index order
    rets = out.ep_return[c, s][it, t, e]
    gsteps = (it * p.num_steps + t + 1) * p.num_envs  # train.py: counted before the step's episodes
    episodes = [
        {"global_step": int(g), "iteration": int(i) + 1, "return": float(r), "length": int(n)}
        for g, i, r, n in zip(gsteps, it, rets, length[it, t, e])
    ]
    cols = {k: np.asarray(v)[c, s] for k, v in out.iterations._asdict().items()}
    iterations = []
    for i in range(task.num_iterations):
        row = {"iteration": i + 1, "global_step": (i + 1) * p.batch_size}
        row.update({k: float(v[i]) for k, v in cols.items()})
        row["episodes"] = int(cols["episodes"][i])
        iterations.append(row)
    return {"episodes": episodes, "iterations": iterations, "total_steps": task.steps_run}


# ---------------------------------------------------------------------------------------------
# The study.


def _chunks(seeds: Sequence[int], size: int) -> List[List[int]]:
    size = size or len(seeds)
    return [list(seeds[i : i + size]) for i in range(0, len(seeds), size)]


def run_task(
    cfg: K.StudyConfig,
    task: Task,
    out: Path,
    log: Callable[[str], None],
    *,
    compact: bool = False,
    on_chunk: Optional[Callable[[int], None]] = None,
) -> dict:
    """Runs the missing chunks of one task; returns what was run (wall and compile seconds).
    ``compact``: the runs written compactly (runfolder.write_run); ``on_chunk(runs)``: called
    after each chunk's runs are written."""
    size = min(cfg.seed_batch or len(cfg.seeds), len(cfg.seeds))
    compiled, compile_s, ran, wall = None, 0.0, 0, 0.0
    ver = versions(task.env.backend)
    for chunk in _chunks(cfg.seeds, size):
        dirs = [
            runfolder.run_dir(out, task.id, task.steps, c, s)
            for c in cfg.controllers
            for s in chunk
        ]
        if all(runfolder.is_finished(d) for d in dirs):
            log(f"[{task.id}] seeds {chunk[0]}..{chunk[-1]}: finished, skipped")
            continue
        if compiled is None:
            compiled, compile_s = task.program(cfg.controllers, size)
            log(
                f"[{task.id}] compiled {len(cfg.controllers)} controllers x {size} seeds in {compile_s:.1f} s"
            )
        padded = chunk + [chunk[-1]] * (size - len(chunk))  # same shapes: the last chunk is padded
        t0 = time.perf_counter()
        res = jax.block_until_ready(
            compiled(ppo.seed_keys(padded), jnp.arange(len(cfg.controllers)))
        )
        seconds = time.perf_counter() - t0
        host = jax.device_get(res)
        wall += seconds
        ran += len(chunk) * len(cfg.controllers)
        sps = len(padded) * len(cfg.controllers) * task.steps_run / seconds
        log(f"[{task.id}] seeds {chunk[0]}..{chunk[-1]}: {seconds:.1f} s, {sps:,.0f} env steps/s")
        for ci, name in enumerate(cfg.controllers):
            ctl = ctl_lib.make(name, task.info)
            for si, seed in enumerate(chunk):
                result = run_result(host, ci, si, task)
                result.update(
                    {
                        "config": task.params._asdict(),
                        "controller": {"name": ctl.name, "config": ctl.config._asdict()},
                        "program_seconds": seconds,  # the whole chunk's program, shared by its runs
                        "program_runs": len(padded) * len(cfg.controllers),
                    }
                )
                meta = {
                    "env": task.id,
                    "controller": name,
                    "seed": seed,
                    "steps": task.steps,
                    "task": task.name,
                    "backend": task.env.backend,
                    "trainer": "jax",
                    "engine": ENGINE,
                    "versions": ver,
                }
                runfolder.write_run(
                    runfolder.run_dir(out, task.id, task.steps, name, seed),
                    result,
                    meta,
                    compact=compact,
                )
        if on_chunk is not None:
            on_chunk(len(chunk) * len(cfg.controllers))
    return {"runs_executed": ran, "program_seconds": wall, "compile_seconds": compile_s}


def measure_throughput(
    cfg: K.StudyConfig,
    name: str,
    seeds: Sequence[int],
    steps: int,
    repeats: int,
    controllers=("ppo", "ppobr"),
    log=print,
) -> dict:
    """Environment steps per second of PPO (constant ε) and PPO-BR in the same process.

    Two compiled programs with the same shapes (one run per seed in ``seeds``, ``steps`` steps
    each, one controller each), each called once to warm up, then called ``repeats`` times in
    alternating order (A B, B A, ...) so that a drift of the machine's load hits both alike. The
    ratio of each repeat, sps(PPO-BR) / sps(PPO), is taken from the same repeat; its median is
    reported and overhead = 1 − median ratio (≤ 0.01 is the bar).

    Also returned, per controller and seed: the run's ε sequence, episode count and return sum.
    These programs hold one controller and other seeds than the study's, so comparing them with
    the study's runs of the same seed checks that a run depends only on its seed.
    """
    base, other = controllers
    sub = Task(cfg, name, steps=steps)
    keys, idx = ppo.seed_keys(seeds), jnp.arange(1)
    progs, compile_s, outputs = {}, {}, {}
    for ctl in controllers:
        progs[ctl], compile_s[ctl] = sub.program((ctl,), len(seeds))
        outputs[ctl] = jax.device_get(jax.block_until_ready(progs[ctl](keys, idx)))  # warm-up
    times: Dict[str, List[float]] = {base: [], other: []}
    for r in range(repeats):
        for ctl in controllers if r % 2 == 0 else controllers[::-1]:
            t0 = time.perf_counter()
            jax.block_until_ready(progs[ctl](keys, idx))
            times[ctl].append(time.perf_counter() - t0)
    steps_total = len(seeds) * sub.steps_run
    sps = {n: [steps_total / t for t in ts] for n, ts in times.items()}
    ratios = [b / a for a, b in zip(sps[base], sps[other])]
    ratio = statistics.median(ratios)
    runs = {}
    for ctl, o in outputs.items():
        runs[ctl] = {}
        for si, seed in enumerate(seeds):
            ret, length = o.ep_return[0, si], o.ep_length[0, si]
            runs[ctl][str(seed)] = {
                "epsilon": o.iterations.epsilon[0, si].tolist(),
                "episodes": int((length > 0).sum()),
                "return_sum": float(np.nansum(ret.astype(np.float64))),
            }
    res = {
        "task": sub.id,
        "baseline": base,
        "controller": other,
        "seeds": list(seeds),
        "steps_per_run": sub.steps_run,
        "repeats": repeats,
        "steps_per_second": {n: statistics.median(v) for n, v in sps.items()},
        "steps_per_second_all": sps,
        "ratio_per_repeat": ratios,
        "ratio_median": ratio,
        "overhead": 1.0 - ratio,
        "within_1_percent": bool(1.0 - ratio <= 0.01),
        # a 1% bar needs repeats that agree to about 1%: on a busy machine they do not
        "ratio_range": [min(ratios), max(ratios)],
        "resolves_1_percent": bool(max(ratios) - min(ratios) <= 0.02),
        "compile_seconds": compile_s,
        "device": versions(sub.env.backend)["device"],
        "runs": runs,
    }
    log(
        f"[{sub.id}] throughput: {base} {res['steps_per_second'][base]:,.0f} env steps/s, "
        f"{other} {res['steps_per_second'][other]:,.0f} env steps/s; median ratio {ratio:.4f} "
        f"(overhead {100 * (1 - ratio):+.2f}%) over {repeats} interleaved repeats"
    )
    return res


def throughput_note(tp: dict) -> str:
    sps = tp["steps_per_second"]
    return (
        f"Throughput ({tp['device']}, {len(tp['seeds'])} seed(s) x {tp['steps_per_run']:,} steps, "
        f"median of {tp['repeats']} interleaved repeats): {tp['baseline']} {sps[tp['baseline']]:,.0f} "
        f"env steps/s, {tp['controller']} {sps[tp['controller']]:,.0f} env steps/s, ratio "
        f"{tp['ratio_median']:.4f}, overhead {100 * tp['overhead']:+.2f}% "
        f"({'within' if tp['within_1_percent'] else 'NOT within'} the 1% bar; per-repeat ratios "
        f"{tp['ratio_range'][0]:.3f}..{tp['ratio_range'][1]:.3f}"
        + ("" if tp["resolves_1_percent"] else ": too noisy to resolve 1%")
        + ")"
    )


def run(
    cfg: K.StudyConfig,
    out,
    *,
    command: str = "",
    plots: bool = True,
    log: Callable[[str], None] = print,
) -> dict:
    """Runs the study; returns the comparison dict written to OUT/comparison.json."""
    out = Path(out)
    t_start = time.perf_counter()
    dev = jax.devices()[0]
    log(
        f"jax study {cfg.name!r}: {len(cfg.tasks)} task(s) x {len(cfg.controllers)} controller(s) x "
        f"{len(cfg.seeds)} seed(s) on {dev.platform} ({dev.device_kind}); jax {jax.__version__}; "
        f"Brax backend {cfg.brax_backend!r}; run folder {out}/"
    )
    groups, executed, throughput = [], {}, {}
    for name in cfg.tasks:
        task = Task(cfg, name)
        executed[task.id] = run_task(cfg, task, out, log)
        tp = None
        if cfg.throughput and name in cfg.throughput.tasks:
            t = cfg.throughput
            tp = throughput[task.id] = measure_throughput(
                cfg, name, t.seeds, t.steps, t.repeats, log=log
            )
        extra = {
            "engine": ENGINE,
            "task": name,
            "backend": task.env.backend,
            "steps_per_run": task.steps_run,
            "ppo": task.params._asdict(),
            "throughput": tp,
        }
        summary = summarize_group(
            out,
            task.id,
            task.steps,
            cfg.controllers,
            cfg.seeds,
            task.threshold,
            plots=plots,
            command=command,
            extra=extra,
            notes=throughput_note(tp) if tp else "",
        )
        groups.append(summary)
        log("\n" + format_table(summary) + ("\n\n" + throughput_note(tp) if tp else "") + "\n")
    wall = time.perf_counter() - t_start
    comparison = {
        "command": command,
        "engine": ENGINE,
        "config": cfg.name,
        "envs": [g["env"] for g in groups],
        "controllers": list(cfg.controllers),
        "seeds": list(cfg.seeds),
        "budgets": {g["env"]: g["steps"] for g in groups},
        "brax_backend": cfg.brax_backend,
        "device": versions("")["device"],
        "wall_seconds": wall,
        "executed": executed,
        "runs_executed": sum(e["runs_executed"] for e in executed.values()),
        "failures": [],
        "throughput": throughput,
        "groups": groups,
    }
    runfolder.atomic_write_json(out / "comparison.json", comparison)
    log(f"study wall time {wall:.1f} s; run folder {out}/")
    return comparison
