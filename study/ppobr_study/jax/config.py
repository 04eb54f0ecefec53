"""The study's configuration: a small TOML (or JSON) file, validated into NamedTuples.

    name = "cpu_small"
    tasks = ["CartPole-v1", "Acrobot-v1", "MountainCar-v0"]   # gymnax ids and Brax names
    controllers = ["ppo", "ppobr"]      # ppobr_study presets; the first is the baseline
    seeds = 4                           # N (seeds 0..N-1) or a list [0, 5, 7]
    seed_batch = 0                      # seeds per compiled program (0: all at once)
    steps = 32768                       # environment steps per run, or "budget" (protocol.TASKS)
    brax_backend = "spring"             # generalized | positional | spring | mjx
    [task_steps]                        # optional per-task step budgets
    "MountainCar-v0" = 65536
    [ppo.discrete]                      # optional overrides of the PPO defaults below
    num_envs = 8
    [ppo.continuous]
    [throughput]
    tasks = ["CartPole-v1"]             # tasks whose PPO vs PPO-BR throughput is measured
    seeds = [3, 1]                      # N or a list; a list can differ from the study's
    steps = 16384
    repeats = 5

Every bad value raises ValueError naming the field (e.g. ``seeds: ...``).

``--config`` takes a file or the name of a config shipped with the package (``configs/``:
``cpu_small``, ``gpu_full``; :func:`resolve`).

PPO's hyper-parameters default to CleanRL's, chosen by the action space, read from
``ppobr_study.cleanrl_defaults`` as ``ppobr compare``'s trainer (ppobr_study/train.py) reads
them, so that the JAX trainer and the PyTorch trainer run the same algorithm. The controllers
are ``ppobr_study.presets``' (every preset runs in both trainers).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Dict, NamedTuple, Optional, Tuple

from ppobr_study import cleanrl_defaults, presets

SHARED = cleanrl_defaults.SHARED
# The seven tasks of the issue. Gymnax ids are the gymnasium ids they re-implement.
GYMNAX_TASKS = ("CartPole-v1", "Acrobot-v1", "MountainCar-v0")
BRAX_TASKS = ("hopper", "halfcheetah", "walker2d", "humanoid")
BRAX_BACKENDS = ("generalized", "positional", "spring", "mjx")


class PPOParams(NamedTuple):
    """One task's PPO hyper-parameters (static under jit)."""

    learning_rate: float
    num_envs: int  # parallel environments per run
    num_steps: int  # steps per environment per rollout
    num_minibatches: int
    update_epochs: int
    ent_coef: float
    normalize: bool  # observation and reward normalisation (CleanRL's continuous wrappers)
    gamma: float = SHARED["gamma"]
    gae_lambda: float = SHARED["gae_lambda"]
    anneal_lr: bool = SHARED["anneal_lr"]
    norm_adv: bool = SHARED["norm_adv"]
    value_clip: float = SHARED["value_clip"]  # CleanRL's clip_coef for the value loss, fixed
    vf_coef: float = SHARED["vf_coef"]
    max_grad_norm: float = SHARED["max_grad_norm"]
    hidden: int = SHARED["hidden"]
    obs_clip: float = SHARED["obs_clip"]
    reward_clip: float = SHARED["reward_clip"]

    @property
    def batch_size(self) -> int:
        return self.num_envs * self.num_steps

    @property
    def minibatch_size(self) -> int:
        return self.batch_size // self.num_minibatches


def default_ppo_params(discrete: bool) -> PPOParams:
    """CleanRL's defaults for the action space (ppobr_study.cleanrl_defaults), as PPOParams."""
    defaults = cleanrl_defaults.for_action_space(discrete)
    return PPOParams(**{k: v for k, v in defaults.items() if k in PPOParams._fields})


class ThroughputConfig(NamedTuple):
    tasks: Tuple[str, ...]
    seeds: Tuple[int, ...]  # N (seeds 0..N-1) or a list in the config
    steps: int
    repeats: int


class StudyConfig(NamedTuple):
    name: str
    tasks: Tuple[str, ...]
    controllers: Tuple[str, ...]
    seeds: Tuple[int, ...]
    seed_batch: int  # 0: all seeds in one program
    steps: Dict[str, int]  # per task
    brax_backend: str
    ppo_overrides: Dict[str, dict]  # {"discrete": {...}, "continuous": {...}}
    throughput: Optional[ThroughputConfig]

    def ppo_params(self, discrete: bool) -> PPOParams:
        kind = "discrete" if discrete else "continuous"
        params = default_ppo_params(discrete)._replace(**self.ppo_overrides.get(kind, {}))
        return validate_ppo(params, f"ppo.{kind}")


def is_brax(task: str) -> bool:
    return task in BRAX_TASKS


def _fail(field: str, msg: str):
    raise ValueError(f"{field}: {msg}")


def _int(value, field: str, lo: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < lo:
        _fail(field, f"expected an integer >= {lo}, got {value!r}")
    return int(value)


def validate_ppo(p: PPOParams, field: str = "ppo") -> PPOParams:
    """Checks the hyper-parameters; the batch must split into equal minibatches."""
    for name in ("num_envs", "num_steps", "num_minibatches", "update_epochs", "hidden"):
        _int(getattr(p, name), f"{field}.{name}")
    for name in (
        "learning_rate",
        "gamma",
        "gae_lambda",
        "vf_coef",
        "max_grad_norm",
        "value_clip",
        "obs_clip",
        "reward_clip",
    ):
        v = getattr(p, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not v > 0:
            _fail(f"{field}.{name}", f"expected a number > 0, got {v!r}")
    if not 0 <= p.ent_coef < float("inf"):
        _fail(f"{field}.ent_coef", f"expected a number >= 0, got {p.ent_coef!r}")
    if p.gamma > 1 or p.gae_lambda > 1:
        _fail(f"{field}.gamma", "gamma and gae_lambda must be <= 1")
    if p.batch_size % p.num_minibatches:
        _fail(
            f"{field}.num_minibatches",
            f"{p.num_minibatches} does not divide the batch num_envs * num_steps = {p.batch_size}",
        )
    return p


def _seeds(value, field: str = "seeds") -> Tuple[int, ...]:
    if isinstance(value, list):
        seeds = tuple(_int(s, field, lo=0) for s in value)
        if not seeds or len(set(seeds)) != len(seeds):
            _fail(field, "expected a non-empty list of distinct seeds")
        return seeds
    return tuple(range(_int(value, field)))


def parse(raw: dict) -> StudyConfig:
    """A validated StudyConfig from the parsed TOML/JSON mapping."""
    from ppobr_study import protocol

    known = {
        "name",
        "tasks",
        "controllers",
        "seeds",
        "seed_batch",
        "steps",
        "brax_backend",
        "task_steps",
        "ppo",
        "throughput",
    }
    for k in raw:
        if k not in known:
            _fail(k, f"unknown field; expected one of {', '.join(sorted(known))}")
    tasks = raw.get("tasks")
    if not isinstance(tasks, list) or not tasks:
        _fail("tasks", "expected a non-empty list of task names")
    for t in tasks:
        if t not in GYMNAX_TASKS + BRAX_TASKS:
            _fail(
                "tasks", f"unknown task {t!r}; choose from {', '.join(GYMNAX_TASKS + BRAX_TASKS)}"
            )
    if len(set(tasks)) != len(tasks):
        _fail("tasks", "a task is named twice")
    controllers = raw.get("controllers", ["ppo", "ppobr"])
    if not isinstance(controllers, list) or not controllers:
        _fail("controllers", "expected a non-empty list of preset names")
    for c in controllers:
        if c not in presets.PRESETS:
            _fail("controllers", f"unknown {c!r}; choose from {', '.join(presets.PRESETS)}")
    if len(set(controllers)) != len(controllers):
        _fail("controllers", "a controller is named twice")
    backend = raw.get("brax_backend", "spring")
    if backend not in BRAX_BACKENDS:
        _fail(
            "brax_backend", f"unknown backend {backend!r}; choose from {', '.join(BRAX_BACKENDS)}"
        )

    steps_default = raw.get("steps", "budget")
    task_steps = raw.get("task_steps", {})
    if not isinstance(task_steps, dict):
        _fail("task_steps", "expected a table {task = steps}")
    steps = {}
    for t in tasks:
        v = task_steps.get(t, steps_default)
        if v == "budget":
            v = protocol.task(protocol_key(t)).budget
        steps[t] = _int(v, f"task_steps.{t}" if t in task_steps else "steps")
    for t in task_steps:
        if t not in tasks:
            _fail("task_steps", f"{t!r} is not in tasks")

    ppo = raw.get("ppo", {})
    if not isinstance(ppo, dict):
        _fail("ppo", "expected a table")
    overrides = {}
    for kind, table in ppo.items():
        if kind not in ("discrete", "continuous") or not isinstance(table, dict):
            _fail(f"ppo.{kind}", "expected the tables [ppo.discrete] and/or [ppo.continuous]")
        for k in table:
            if k not in PPOParams._fields:
                _fail(
                    f"ppo.{kind}.{k}",
                    f"unknown hyper-parameter; expected one of {', '.join(PPOParams._fields)}",
                )
        overrides[kind] = dict(table)

    tp = raw.get("throughput")
    throughput = None
    if tp is not None:
        if not isinstance(tp, dict):
            _fail("throughput", "expected a table")
        tp_tasks = tp.get("tasks", tasks)
        for t in tp_tasks:
            if t not in tasks:
                _fail("throughput.tasks", f"{t!r} is not in tasks")
        throughput = ThroughputConfig(
            tasks=tuple(tp_tasks),
            seeds=_seeds(tp.get("seeds", 8), "throughput.seeds"),
            steps=_int(tp.get("steps", 65536), "throughput.steps"),
            repeats=_int(tp.get("repeats", 5), "throughput.repeats"),
        )

    cfg = StudyConfig(
        name=str(raw.get("name", "study")),
        tasks=tuple(tasks),
        controllers=tuple(controllers),
        seeds=_seeds(raw.get("seeds", 4)),
        seed_batch=_int(raw.get("seed_batch", 0), "seed_batch", lo=0),
        steps=steps,
        brax_backend=backend,
        ppo_overrides=overrides,
        throughput=throughput,
    )
    for kind in overrides:  # validate the overridden hyper-parameters now, not mid-study
        cfg.ppo_params(kind == "discrete")
    return cfg


def bundled_configs() -> Dict[str, Path]:
    """The configs shipped in the package (``configs/*.toml``), by name."""
    from importlib import resources

    folder = resources.files("ppobr_study.jax") / "configs"
    return {Path(f.name).stem: Path(str(f)) for f in folder.iterdir() if f.name.endswith(".toml")}


def resolve(path_or_name) -> Path:
    """A config file: ``path_or_name`` itself when it is a file, else the bundled config of
    that name (``cpu_small`` or ``cpu_small.toml``)."""
    path = Path(path_or_name)
    if path.is_file():
        return path
    bundled = bundled_configs()
    name = path.stem if path.suffix == ".toml" and path.parent == Path(".") else str(path_or_name)
    if name in bundled:
        return bundled[name]
    _fail("config", f"no such file: {path} (bundled configs: {', '.join(sorted(bundled))})")


def load(path) -> StudyConfig:
    """Reads a .toml or .json config file, or a bundled config by name (:func:`resolve`)."""
    path = resolve(path)
    text = path.read_text()
    if path.suffix == ".json":
        raw = json.loads(text)
    elif path.suffix == ".toml":
        try:
            import tomllib  # Python >= 3.11
        except ImportError:  # pragma: no cover - Python < 3.11
            import tomli as tomllib
        raw = tomllib.loads(text)
    else:
        _fail("config", f"expected a .toml or .json file, got {path.name}")
    if not isinstance(raw, dict):
        _fail("config", "expected a table at the top level")
    return parse(raw)


def task_id(task: str, backend: str) -> str:
    """The task's name in run folders and tables: gymnax tasks keep their gymnasium id
    (the thresholds of protocol.TASKS apply), Brax tasks name their backend, e.g.
    ``brax-spring-hopper``."""
    return f"brax-{backend}-{task}" if is_brax(task) else task


def protocol_key(task: str) -> str:
    """The task's entry in ppobr_study.protocol (TASKS or JAX_TASKS): the same for every Brax
    backend (the thresholds there say why)."""
    return f"brax-{task}" if is_brax(task) else task
