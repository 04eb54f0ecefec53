"""Hyper-parameter files for ``ppobr compare --trainer sb3 --hyperparams FILE``.

The format is rl-baselines3-zoo's (``hyperparams/ppo.yml``): a YAML mapping whose top-level keys
are env ids, each holding that task's PPO hyper-parameters; the run takes the section of its
task. A file without env-id sections (its top-level keys are hyper-parameters) holds the
hyper-parameters of every task. JSON (``.json``) and TOML (``.toml``) files of the same shape
are read too::

    CartPole-v1:
      n_envs: 8
      n_timesteps: !!float 1e5
      policy: 'MlpPolicy'
      n_steps: 32
      batch_size: 256
      learning_rate: lin_0.001
      policy_kwargs: "dict(ortho_init=False, activation_fn=nn.ReLU, net_arch=dict(pi=[64], vf=[64]))"

Keys (:data:`PPO_KEYS` are SB3 ``PPO(...)`` keywords, passed on):

- ``n_timesteps``: the run's budget when ``--steps`` is not given (else ignored, and said so);
- ``policy`` (default ``"MlpPolicy"``), ``n_envs`` (default 1);
- ``normalize``: ``true``, or ``VecNormalize`` keywords as a mapping or as the zoo's string
  ``"{'norm_obs': True, 'norm_reward': False}"`` (as in the zoo, ``gamma`` is passed on to
  ``VecNormalize`` unless the keywords set it);
- ``learning_rate`` and ``clip_range_vf``: a number or ``lin_<x>``, the zoo's linear schedule
  x · p, p = SB3's remaining progress, which falls from 1 at the start of ``learn`` to 0 at its
  end (:class:`LinearSchedule`);
- ``policy_kwargs``: the zoo's string of Python source, evaluated by
  ``ppobr_study.kwargs_expression`` (literals, ``dict(...)``, ``nn.<Module>``; never ``eval``),
  or a mapping in which a string ``"nn.<Module>"`` names that module class;
- ``clip_range`` is refused: the controller preset sets ε.

Any other key is an error naming the key and the file. :func:`load` returns a section as the file
wrote it (numbers, strings, lists, mappings: what run.json records, and what two run folders'
runs are compared by); :func:`resolve` turns it into SB3's arguments (schedules, module classes)
in the process that trains.
"""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any, Dict, Optional, Tuple

import ppobr_core
from ppobr_study.kwargs_expression import ExpressionError, evaluate

# The keywords of stable_baselines3.PPO that a file may set. Left out: env, seed, device and
# verbose (the trainer's), tensorboard_log and rollout_buffer_class (no file can give a class).
PPO_KEYS = (
    "learning_rate",
    "n_steps",
    "batch_size",
    "n_epochs",
    "gamma",
    "gae_lambda",
    "clip_range_vf",
    "normalize_advantage",
    "ent_coef",
    "vf_coef",
    "max_grad_norm",
    "use_sde",
    "sde_sample_freq",
    "rollout_buffer_kwargs",
    "target_kl",
    "stats_window_size",
    "policy_kwargs",
)
TRAINER_KEYS = ("policy", "n_envs", "normalize")  # the trainer's, not PPO keywords
BUDGET_KEY = "n_timesteps"
SCHEDULE_KEYS = ("learning_rate", "clip_range_vf")
KNOWN_KEYS = PPO_KEYS + TRAINER_KEYS + (BUDGET_KEY, "clip_range")
CLIP_RANGE_REFUSED = "clip_range is set by the controller preset; remove it from the file"
LINEAR_PREFIX = "lin_"
FORMATS = {".yml": "yaml", ".yaml": "yaml", ".json": "json", ".toml": "toml"}


class LinearSchedule:
    """rl-baselines3-zoo's ``lin_<x>``: value(p) = x · p, where p is SB3's remaining progress
    (1 at the start of ``learn``, 0 at its end), so the value falls linearly from x to 0."""

    def __init__(self, initial: float):
        self.initial = float(initial)

    def __call__(self, progress_remaining: float) -> float:
        return self.initial * float(progress_remaining)

    def __eq__(self, other: Any) -> bool:
        return isinstance(other, LinearSchedule) and other.initial == self.initial

    def __hash__(self) -> int:
        return hash(("LinearSchedule", self.initial))

    def __repr__(self) -> str:
        return f"{LINEAR_PREFIX}{self.initial!r}"


def _invalid(where: str, what: str) -> ppobr_core.InvalidArgumentError:
    err = ppobr_core.InvalidArgumentError(f"hyperparameters: {where}{what}")
    err.argument = "hyperparameters"  # SB3Config's field; `ppobr compare` says --hyperparams
    return err


def read_file(path: Any) -> Dict[str, Any]:
    """The mapping a YAML, JSON or TOML file holds (by its suffix)."""
    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise _invalid(f"{path}: ", "expected a .yml, .yaml, .json or .toml file")
    try:
        text = path.read_text()
    except OSError as e:
        raise _invalid(f"{path}: ", f"cannot be read ({e.strerror or e})") from None
    try:
        if kind == "yaml":
            try:
                import yaml
            except ImportError:
                raise _invalid(f"{path}: ", "reading YAML needs PyYAML (pip install pyyaml)")
            data = yaml.safe_load(text)
        elif kind == "json":
            data = json.loads(text)
        else:
            import tomllib

            data = tomllib.loads(text)
    except ppobr_core.InvalidArgumentError:
        raise
    except Exception as e:  # yaml.YAMLError, json.JSONDecodeError, tomllib.TOMLDecodeError
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise _invalid(f"{path}: ", f"not valid {kind.upper()}: {first}") from None
    if not isinstance(data, dict):
        raise _invalid(f"{path}: ", f"expected a mapping at the top, got {type(data).__name__}")
    return data


def has_env_sections(data: Dict[str, Any]) -> bool:
    """True when the top-level keys are env ids: none is a hyper-parameter and every value is a
    mapping (rl-baselines3-zoo's layout); False for a file of hyper-parameters alone."""
    return (
        bool(data)
        and not any(k in KNOWN_KEYS for k in data)
        and all(isinstance(v, dict) or v is None for v in data.values())
    )


def section(data: Dict[str, Any], env_id: str, path: Any) -> Tuple[str, Dict[str, Any]]:
    """(the section's name, its mapping) for ``env_id``: the env-id section (a custom id
    ``module:Env-vN`` also finds ``Env-vN``), or ("", the whole file) when it has no sections."""
    if not has_env_sections(data):
        return "", data
    for name in (env_id, env_id.split(":", 1)[-1]):
        if name in data:
            return name, data[name] or {}
    raise _invalid(
        f"{path}: ",
        f"no section for {env_id!r} (sections: {', '.join(map(str, data))}); a file without "
        "env-id sections holds the hyper-parameters of every task",
    )


def _number(value: Any) -> Optional[float]:
    """A number, or a string the zoo's YAML left unparsed (``1e-3`` without a dot), as float."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def _schedule(value: Any, key: str, where: str) -> Any:
    """A schedule key's value resolved: ``lin_<x>`` to LinearSchedule(x), a number to float."""
    if isinstance(value, str) and value.startswith(LINEAR_PREFIX):
        x = _number(value[len(LINEAR_PREFIX) :])
        if x is None or not math.isfinite(x) or x < 0:
            raise _invalid(where, f"{key}: expected lin_<x> with a finite x ≥ 0, got {value!r}")
        return LinearSchedule(x)
    if isinstance(value, str):
        x = _number(value)
        if x is None:
            raise _invalid(where, f"{key}: expected a number or lin_<x>, got {value!r}")
        return x
    return value  # a number, or a schedule already built (a callable): SB3 checks it


def _nn_name(value: str) -> Any:
    """The torch.nn module class a string ``nn.<Module>`` names, else the string itself."""
    if re.fullmatch(r"(?:(?:torch|th)\.)?nn\.[A-Za-z_]\w*", value.strip()):
        return evaluate(value, "policy_kwargs")
    return value


def _resolve_mapping(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _resolve_mapping(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_resolve_mapping(v) for v in value]
    if isinstance(value, str):
        return _nn_name(value)
    return value


def _policy_kwargs(value: Any, where: str) -> Dict[str, Any]:
    if isinstance(value, str):
        try:
            out = evaluate(value, "policy_kwargs")
        except ExpressionError as e:
            raise _invalid(where, str(e)) from None
    elif isinstance(value, dict):
        try:
            out = _resolve_mapping(value)
        except ExpressionError as e:
            raise _invalid(where, str(e)) from None
    else:
        raise _invalid(where, f"policy_kwargs: expected a string or a mapping, got {value!r}")
    if not isinstance(out, dict):
        raise _invalid(where, f"policy_kwargs: expected dict(...) or a mapping, got {value!r}")
    return out


def _normalize(value: Any, where: str) -> Any:
    """``normalize``: False, True, or VecNormalize's keywords (a mapping)."""
    if isinstance(value, str):
        try:
            value = evaluate(value, "normalize")
        except ExpressionError as e:
            raise _invalid(where, str(e)) from None
    if isinstance(value, bool) or isinstance(value, dict):
        return value
    raise _invalid(
        where, f"normalize: expected true, false or VecNormalize keywords, got {value!r}"
    )


def resolve(hyperparameters: Dict[str, Any], where: str = "") -> Dict[str, Any]:
    """SB3's arguments from a section: ``lin_<x>`` schedules, ``policy_kwargs`` and
    ``normalize`` evaluated; values already resolved (objects) pass through unchanged.
    ``where`` prefixes errors (``FILE [section]: ``)."""
    out: Dict[str, Any] = {}
    for key, value in hyperparameters.items():
        if key == "clip_range":
            raise _invalid(where, CLIP_RANGE_REFUSED)
        if key not in PPO_KEYS + TRAINER_KEYS:
            if key == BUDGET_KEY:
                raise _invalid(where, "n_timesteps is the budget: give it as the run's steps")
            raise _invalid(
                where,
                f"unknown key {key!r}; known: {', '.join(KNOWN_KEYS[:-1])} "
                "(clip_range is set by the controller)",
            )
        if key in SCHEDULE_KEYS:
            value = _schedule(value, key, where)
        elif isinstance(value, str) and value.startswith(LINEAR_PREFIX):
            raise _invalid(
                where, f"{key}: lin_ schedules are supported for {', '.join(SCHEDULE_KEYS)} only"
            )
        elif key == "policy_kwargs":
            value = _policy_kwargs(value, where)
        elif key == "normalize":
            value = _normalize(value, where)
        elif key == "n_envs":
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise _invalid(where, f"n_envs: expected an integer ≥ 1, got {value!r}")
        elif key == "policy" and not isinstance(value, str):
            raise _invalid(
                where, f"policy: expected a policy name such as 'MlpPolicy', got {value!r}"
            )
        out[key] = value
    return out


def _json_value(value: Any, key: str, where: str) -> None:
    """A file's value must survive run.json unchanged (numbers, strings, lists, mappings)."""
    if value is None or isinstance(value, (bool, int, str)):
        return
    if isinstance(value, float):
        if not math.isfinite(value):
            raise _invalid(where, f"{key}: expected a finite number, got {value!r}")
        return
    if isinstance(value, (list, tuple)):
        for v in value:
            _json_value(v, key, where)
        return
    if isinstance(value, dict):
        for k, v in value.items():
            if not isinstance(k, str):
                raise _invalid(where, f"{key}: mapping keys must be strings, got {k!r}")
            _json_value(v, key, where)
        return
    raise _invalid(where, f"{key}: unsupported value {value!r} ({type(value).__name__})")


def load(path: Any, env_id: str) -> Tuple[Dict[str, Any], Optional[int]]:
    """(hyper-parameters, n_timesteps or None) of ``env_id`` in the file at ``path``, checked
    (every key known, schedules and expressions valid) and as the file wrote them, less
    ``n_timesteps``: JSON-safe, for run.json and the job that carries them to a worker."""
    data = read_file(path)
    name, hp = section(data, env_id, path)
    where = f"{path} [{name}]: " if name else f"{path}: "
    if not isinstance(hp, dict):
        raise _invalid(where, f"expected a mapping of hyper-parameters, got {type(hp).__name__}")
    hp = dict(hp)
    budget = None
    if BUDGET_KEY in hp:
        raw = hp.pop(BUDGET_KEY)
        steps = _number(raw)
        if steps is None or not math.isfinite(steps) or steps < 1 or steps != int(steps):
            raise _invalid(where, f"n_timesteps: expected a positive whole number, got {raw!r}")
        budget = int(steps)
    for key, value in hp.items():
        _json_value(value, key, where)
    resolve(hp, where)  # every error now, before any run starts
    return json.loads(json.dumps(hp)), budget
