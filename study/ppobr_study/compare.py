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
from typing import List, Optional, Sequence, Tuple

DEFAULT_ENV = "CartPole-v1"
DEFAULT_CONTROLLERS = ("ppo", "ppobr")
# The embedded default (`ppobr` without --env): CartPole-v1 on the jax trainer, 16 seeds of
# 262,144 steps (512 iterations of 512 steps) per controller. Chosen so that most runs of both
# controllers reach the threshold (on the torch trainer the median run reaches 475 after
# 130-155k steps, docs/results/CartPole-v1_500000) while the 32 runs, one compiled program per
# worker, take well under 3 minutes on 2 cores (measured: README).
DEFAULT_TRAINER = "jax"
DEFAULT_SEEDS = 16
DEFAULT_STEPS = 262_144
# Other tasks: 5 seeds; the budget is the protocol's, else CleanRL's default total_timesteps
# (ppo.py: 500k for discrete actions, ppo_continuous_action.py: 1M for continuous ones).
TASK_SEEDS = 5
CLEANRL_BUDGET = {True: 500_000, False: 1_000_000}
DEFAULT_OUT = "runs/compare"

# The simulators behind the tasks: a run is bit-reproducible only with the same versions of
# these too, so run.json records the ones installed (absent = not installed).
SIMULATOR_DISTRIBUTIONS = ("mujoco", "Box2D")


def check_env(env_id: str, trainer: str = "torch") -> None:
    """Fails in one line, before any run starts, when ``env_id`` names no task the trainer
    can run: for torch and sb3, a gymnasium id (``module:Env-vN`` imports ``module`` first,
    as gymnasium.make does); for jax, a JAX-native task."""
    if trainer == "jax":
        from ppobr_study.jax.config import BRAX_TASKS, GYMNAX_TASKS

        if env_id not in GYMNAX_TASKS + BRAX_TASKS:
            raise SystemExit(
                f"--env: the jax trainer has no task {env_id!r}; choose from "
                f"{', '.join(GYMNAX_TASKS + BRAX_TASKS)} (or --trainer torch)"
            )
        return
    import gymnasium as gym

    try:
        env_spec(env_id)
    except Exception as e:  # gymnasium's NameNotFound, VersionNotFound, ModuleNotFoundError...
        raise SystemExit(f"--env: unknown environment {env_id!r}: {_first_line(e)}") from None
    try:  # a registered task whose simulator is missing fails here too, not in every worker
        gym.make(env_id).close()
    except Exception as e:
        raise SystemExit(f"--env: {env_id!r} cannot be made: {_first_line(e)}") from None


def env_spec(env_id: str):
    """gymnasium's EnvSpec of ``env_id``; a ``module:Env-vN`` id imports ``module`` first
    (which registers the task), as gymnasium.make does."""
    import importlib

    import gymnasium as gym

    if ":" in env_id:
        module, env_id = env_id.split(":", 1)
        importlib.import_module(module)
    return gym.spec(env_id)


def _first_line(e: BaseException) -> str:
    text = str(e).strip()
    return f"{type(e).__name__}: {text.splitlines()[0]}" if text else type(e).__name__


def _is_discrete(env_id: str, trainer: str) -> bool:
    if trainer == "jax":
        from ppobr_study.jax.config import GYMNAX_TASKS

        return env_id in GYMNAX_TASKS
    from ppobr_study.train import is_discrete

    return is_discrete(env_id)


def steps_for(env_id: str, steps: Optional[str], trainer: str = "torch") -> int:
    """The budget of a run on ``env_id``: ``steps`` (a number, or 'paper' for the protocol's
    budget); when not given, the protocol's budget (docs/PROTOCOL.md, or the JAX study's
    tasks), else CleanRL's default for the action space (CLEANRL_BUDGET)."""
    from ppobr_study import protocol
    from ppobr_study.jax.config import protocol_key

    if steps is None or steps == "paper":
        key = protocol_key(env_id) if trainer == "jax" else env_id
        if key in protocol.TASKS:
            return protocol.TASKS[key].budget
        if key in protocol.JAX_TASKS:
            return protocol.JAX_TASKS[key].budget
        if steps == "paper":
            raise SystemExit(f"--steps: no budget is registered for {env_id!r}; pass --steps N")
        return CLEANRL_BUDGET[_is_discrete(env_id, trainer)]
    try:
        value = int(float(steps))
    except ValueError:
        raise SystemExit(f"--steps: expected a number or 'paper', got {steps!r}") from None
    if value <= 0:
        raise SystemExit("--steps: must be positive")
    return value


def threshold_for(
    env: str, override: Optional[float], trainer: str = "torch"
) -> Tuple[Optional[float], str]:
    """(threshold, source) of steps-to-threshold: ``override`` ("override"), else the
    protocol's registered threshold ("protocol": docs/PROTOCOL.md, the JAX study's tasks
    included), else the gymnasium spec's reward_threshold ("spec"), else (None, "none"): the
    comparison then reports every statistic that needs no threshold."""
    from ppobr_study import protocol
    from ppobr_study.jax.config import protocol_key

    if override is not None:
        return float(override), "override"
    key = protocol_key(env) if trainer == "jax" else env
    if key in protocol.TASKS or key in protocol.JAX_TASKS:
        return protocol.task(key).threshold, "protocol"
    if trainer == "jax":
        return None, "none"
    spec_threshold = env_spec(env).reward_threshold
    if spec_threshold is not None:
        return float(spec_threshold), "spec"
    return None, "none"


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
    trainer: str = "torch",
    workers: Optional[int] = None,
    out: str = DEFAULT_OUT,
    ray_address: Optional[str] = None,
    threshold: Optional[float] = None,
    plots: bool = True,
    progress: bool = True,
    compact: bool = False,
    summarize_only: bool = False,
    brax_backend: str = "spring",
    hyperparams: Optional[str] = None,
    command: str = "",
    stream=None,
) -> dict:
    """Runs the missing runs, then summarises every group. Returns the comparison dict.
    ``trainer``: a name of ``ppobr_study.trainers`` (torch, jax, sb3). ``compact``: write each
    run compactly (runfolder.py), for a run folder kept in git. ``summarize_only``: run
    nothing; the statistics of the runs finished so far. ``hyperparams``: a hyper-parameter
    file for the sb3 trainer (``ppobr_study.hyperparams``): each task's section goes into its
    runs (and their run.json), and its ``n_timesteps`` is the budget where ``steps`` is None."""
    from tqdm import tqdm

    from ppobr_study import presets, runfolder, runner, trainers
    from ppobr_study.summary import summarize_group
    from ppobr_study.tables import format_table

    stream = stream or sys.stdout
    trainers.get(trainer)
    for c in controllers:
        if c not in presets.PRESETS:
            raise SystemExit(
                f"--controllers: unknown {c!r}; choose from {', '.join(presets.PRESETS)}"
            )
    if len(set(controllers)) != len(controllers):
        raise SystemExit("--controllers: a controller is named twice")
    if hyperparams is not None and trainer != "sb3":
        raise SystemExit(
            f"--hyperparams: only the sb3 trainer reads a hyper-parameter file, not {trainer} "
            "(pass --trainer sb3)"
        )
    if trainer == "jax" and ray_address:
        raise SystemExit("--ray: the jax trainer runs on this machine's worker processes")
    for env in envs:  # every task checked before any run starts
        check_env(env, trainer)
    out_path = Path(out)
    budgets = {env: steps_for(env, steps, trainer) for env in envs}
    hp_by_env: dict = {}
    if hyperparams is not None:
        for env in envs:
            hp_by_env[env], file_budget = load_hyperparameters(hyperparams, env)
            if file_budget is not None and steps is None:
                budgets[env] = file_budget
            elif file_budget is not None:
                print(
                    f"--hyperparams: n_timesteps {file_budget:,} of {hyperparams} for {env} "
                    f"ignored: --steps sets the budget ({budgets[env]:,})",
                    file=stream,
                )
    thresholds = {env: threshold_for(env, threshold, trainer) for env in envs}
    # the name of each task's group in the run folder (the jax trainer's Brax tasks name their
    # physics backend: brax-spring-hopper)
    if trainer == "jax":
        from ppobr_study.jax.config import task_id

        group_env = {env: task_id(env, brax_backend) for env in envs}
    else:
        group_env = {env: env for env in envs}

    jobs: List[dict] = []
    finished = 0
    for env in envs:  # interleaved by seed: a stopped sweep leaves complete seed pairs
        for seed in seeds:
            for c in controllers:
                job = {
                    "env": env,
                    "controller": c,
                    "seed": int(seed),
                    "steps": budgets[env],
                    "trainer": trainer,
                }
                if trainer == "sb3":
                    job["hyperparameters"] = hp_by_env.get(env, {})
                d = runfolder.run_dir(out_path, group_env[env], budgets[env], c, seed)
                if runfolder.is_finished(d):
                    _check_same_trainer(d, trainer)
                    if trainer == "sb3":
                        _check_same_hyperparameters(d, hp_by_env.get(env, {}))
                    finished += 1
                else:
                    jobs.append(job)
    if workers is None:
        workers = max(1, min(os.cpu_count() or 1, len(jobs) or 1))
    header = (
        f"ppobr compare ({trainer} trainer): {len(envs)} task(s) × {len(controllers)} "
        f"controller(s) × {len(seeds)} seed(s) in {out_path}/: {finished} finished run(s)"
    )
    if summarize_only:
        print(f"{header}, {len(jobs)} not run (--summarize-only)", file=stream, flush=True)
        jobs = []
    else:
        where = ""
        if jobs:
            where = f" on Ray ({ray_address})" if ray_address else f" with {workers} worker(s)"
        print(f"{header} skipped, {len(jobs)} to run{where}", file=stream, flush=True)
    for env, hp in hp_by_env.items():
        listed = ", ".join(f"{k}={v}" for k, v in hp.items()) or "SB3's defaults"
        print(f"hyper-parameters of {env} ({hyperparams}): {listed}", file=stream, flush=True)

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
            "trainer": trainer,
            "versions": run_versions(),
            **({"hyperparams_file": str(hyperparams)} if hyperparams is not None else {}),
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
        if trainer == "jax":
            from ppobr_study.jax import engine

            engine.run_jobs(
                jobs,
                workers,
                out_path,
                controllers,
                brax_backend=brax_backend,
                compact=compact,
                bar=bar,
                on_error=on_error,
                log=bar.write,
            )
        else:
            runner.run_jobs(jobs, workers, on_result, on_error, bar, ray_address=ray_address)
    finally:
        bar.close()
    elapsed = time.perf_counter() - t0

    groups = [
        summarize_group(
            out_path,
            group_env[env],
            budgets[env],
            controllers,
            seeds,
            thresholds[env][0],
            threshold_source=thresholds[env][1],
            plots=plots,
            command=command,
            extra={
                "trainer": trainer,
                **({"hyperparameters": hp_by_env[env]} if env in hp_by_env else {}),
            },
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
        "trainer": trainer,
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
        "hyperparams": None if hyperparams is None else str(hyperparams),
        "hyperparameters": hp_by_env,
        "groups": groups,
    }
    runfolder.atomic_write_json(out_path / "comparison.json", comparison)
    if failures:
        print(f"\n{len(failures)} run(s) failed:\n" + "\n".join(failures), file=sys.stderr)
    return comparison


def _check_same_trainer(run_dir: Path, trainer: str) -> None:
    """A run folder holds the runs of one trainer: a finished run of another one is not the
    run asked for, so the comparison stops instead of mixing them."""
    import json

    from ppobr_study import runfolder, trainers

    meta = json.loads((Path(run_dir) / runfolder.RUN_FILE).read_text())
    other = trainers.recorded_trainer(meta)
    if other != trainer:
        raise SystemExit(
            f"--out: {run_dir} holds a run of the {other} trainer, not of {trainer}; "
            f"a run folder holds one trainer's runs: pass another --out"
        )


def load_hyperparameters(path: str, env_id: str) -> Tuple[dict, Optional[int]]:
    """(hyper-parameters, n_timesteps or None) of ``env_id`` in the file at ``path``
    (``ppobr_study.hyperparams.load``), and SB3's PPO built with them once, so that a file
    SB3 refuses fails in one line before any run starts."""
    import ppobr_core
    from ppobr_study import hyperparams, sb3_trainer

    try:
        hp, budget = hyperparams.load(path, env_id)
    except ppobr_core.InvalidArgumentError as e:
        raise SystemExit("--hyperparams: " + str(e).split(": ", 1)[-1]) from None
    try:
        model = sb3_trainer.make_model(sb3_trainer.SB3Config(env_id=env_id, hyperparameters=hp))
    except Exception as e:
        raise SystemExit(
            f"--hyperparams: {path}: SB3's PPO refuses the hyper-parameters for {env_id}: "
            f"{_first_line(e)}"
        ) from None
    model.env.close()
    return hp, budget


def recorded_hyperparameters(meta: dict) -> dict:
    """The hyper-parameters a sb3 run was made with, from its run.json (SB3's defaults: {})."""
    return dict((meta.get("config") or {}).get("hyperparameters") or {})


def _check_same_hyperparameters(run_dir: Path, hp: dict) -> None:
    """A run folder holds runs made with one set of hyper-parameters per task: a finished
    run made with others is not the run asked for, so the comparison stops instead of
    mixing them."""
    import json

    from ppobr_study import runfolder

    meta = json.loads((Path(run_dir) / runfolder.RUN_FILE).read_text())
    there = recorded_hyperparameters(meta)
    if there != hp:
        keys = sorted(k for k in set(there) | set(hp) if there.get(k) != hp.get(k))
        raise SystemExit(
            f"--out: {run_dir} holds a run made with other hyper-parameters (differing: "
            f"{', '.join(keys)}); a run folder holds runs of one set of hyper-parameters per "
            "task: pass another --out"
        )
