"""Hyper-parameter files for the sb3 trainer (ppobr_study.hyperparams) and the expressions in
them (ppobr_study.kwargs_expression): what rl-baselines3-zoo files contain, read without eval,
refused with the key and the file named, and reaching SB3's real PPO."""

from __future__ import annotations

import json
import keyword
import math

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from stable_baselines3.common.vec_env import VecNormalize

import ppobr_core
from ppobr_study import hyperparams
from ppobr_study.kwargs_expression import ExpressionError, evaluate
from ppobr_study.sb3_trainer import SB3Config, make_model, train

ZOO_POLICY_KWARGS = "dict(ortho_init=False, activation_fn=nn.ReLU, net_arch=dict(pi=[64], vf=[64]))"
# the shape of rl-baselines3-zoo's hyperparams/ppo.yml: a section per env id
ZOO_YAML = f"""\
atari:
  policy: 'CnnPolicy'
  n_envs: 8
Pendulum-v1:
  n_envs: 4
  n_timesteps: !!float 1e5
  n_steps: 1024
CartPole-v1:
  n_envs: 2
  n_timesteps: !!float 256
  policy: 'MlpPolicy'
  n_steps: 64
  batch_size: 64
  n_epochs: 2
  gamma: 0.98
  learning_rate: lin_0.001
  policy_kwargs: "{ZOO_POLICY_KWARGS}"
  normalize: "{{'norm_obs': True, 'norm_reward': True}}"
"""
CARTPOLE_SECTION = {
    "n_envs": 2,
    "policy": "MlpPolicy",
    "n_steps": 64,
    "batch_size": 64,
    "n_epochs": 2,
    "gamma": 0.98,
    "learning_rate": "lin_0.001",
    "policy_kwargs": ZOO_POLICY_KWARGS,
    "normalize": "{'norm_obs': True, 'norm_reward': True}",
}


def write(tmp_path, name: str, text: str):
    path = tmp_path / name
    path.write_text(text)
    return path


# -- expressions ----------------------------------------------------------------------------


def test_the_zoos_policy_kwargs_string():
    assert evaluate(ZOO_POLICY_KWARGS) == {
        "ortho_init": False,
        "activation_fn": torch.nn.ReLU,
        "net_arch": {"pi": [64], "vf": [64]},
    }
    assert evaluate("dict(log_std_init=-2, activation_fn=torch.nn.Tanh, net_arch=[8, 8])") == {
        "log_std_init": -2,
        "activation_fn": torch.nn.Tanh,
        "net_arch": [8, 8],
    }
    assert evaluate("dict(activation_fn=th.nn.ELU, betas=(0.9, 0.99), x=None)")["betas"] == (
        0.9,
        0.99,
    )
    assert evaluate("{'norm_obs': True, 'clip_obs': 10.0}") == {"norm_obs": True, "clip_obs": 10.0}


@pytest.mark.parametrize(
    "text, what",
    [
        ("__import__('os').system('true')", "only dict(...) may be called, not __import__("),
        ("os.system('true')", "only dict(...) may be called, not os.system"),
        ("dict(f=open('x'))", "only dict(...) may be called, not open"),
        ("dict(a=nn.Module.__subclasses__())", "only dict(...) may be called"),
        ("nn.functional", "torch.nn has no module class 'functional'"),
        ("dict(activation_fn=nn.NoSuchLayer)", "torch.nn has no module class 'NoSuchLayer'"),
        ("dict(a=nn.init)", "torch.nn has no module class 'init'"),
        ("dict(a=torch.tensor)", "unknown name torch.tensor"),
        ("dict(a=np.pi)", "unknown name np.pi"),
        ("dict(a=x)", "unknown name x"),
        ("dict(**other)", "** unpacking"),
        ("{**other}", "** unpacking"),
        ("dict([('a', 1)])", "keyword arguments only"),
        ("dict(a=1 + 2)", "unsupported BinOp"),
        ("dict(a=-x)", "a sign applies to a number only"),
        ("[i for i in (1, 2)]", "unsupported ListComp"),
        ("lambda: 0", "unsupported Lambda"),
        ("dict(a=b'bytes')", "unsupported constant"),
        ("dict(a=", "not a Python expression"),
        ("x = 1", "not a Python expression"),
    ],
)
def test_anything_but_the_grammar_is_refused(text, what):
    with pytest.raises(ExpressionError) as e:
        evaluate(text, "policy_kwargs")
    assert what in str(e.value) and e.value.argument == "policy_kwargs"
    assert str(e.value).startswith("policy_kwargs: ")


NN_CLASSES = [torch.nn.ReLU, torch.nn.Tanh, torch.nn.ELU, torch.nn.LeakyReLU, torch.nn.Identity]
identifiers = st.from_regex(r"[a-z_][a-z0-9_]{0,8}", fullmatch=True).filter(
    lambda s: not keyword.iskeyword(s)
)
scalars = (
    st.integers(-(10**12), 10**12)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.booleans()
    | st.none()
    | st.text(max_size=12)
    | st.sampled_from(NN_CLASSES)
)
values = st.recursive(
    scalars,
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.lists(inner, max_size=4).map(tuple)
        | st.dictionaries(identifiers, inner, max_size=4)
    ),
    max_leaves=20,
)


def to_source(value, nn_alias: str) -> str:
    """Python source for ``value`` in the zoo's style: dicts as dict(k=v), classes as nn.X."""
    if isinstance(value, type):
        return f"{nn_alias}.{value.__name__}"
    if isinstance(value, dict):
        return "dict(" + ", ".join(f"{k}={to_source(v, nn_alias)}" for k, v in value.items()) + ")"
    if isinstance(value, list):
        return "[" + ", ".join(to_source(v, nn_alias) for v in value) + "]"
    if isinstance(value, tuple):
        return "(" + "".join(to_source(v, nn_alias) + ", " for v in value) + ")"
    return repr(value)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(identifiers, values, max_size=5), st.sampled_from(["nn", "torch.nn", "th.nn"])
)
def test_source_of_any_nested_value_evaluates_back_to_it(value, nn_alias):
    assert evaluate(to_source(value, nn_alias)) == value


@settings(max_examples=500, deadline=None)
@given(st.text(max_size=60) | st.from_regex(r"dict\([a-z_=,\[\]().'0-9 -]{0,40}\)"))
def test_any_text_is_a_value_or_an_expression_error(text):
    try:
        result = evaluate(text)
    except ExpressionError as e:
        assert str(e).startswith("policy_kwargs: ")
        return
    assert result is None or isinstance(result, (bool, int, float, str, list, tuple, dict, type))


# -- schedules ------------------------------------------------------------------------------


@given(
    st.floats(0, 1e3, allow_nan=False, allow_infinity=False),
    st.floats(0, 1, allow_nan=False),
)
def test_lin_schedule_falls_linearly_from_x_to_zero(x, progress_remaining):
    schedule = hyperparams.resolve({"learning_rate": f"lin_{x!r}"})["learning_rate"]
    assert schedule == hyperparams.LinearSchedule(x)
    assert schedule(1.0) == x and schedule(0.0) == 0.0
    assert schedule(progress_remaining) == x * progress_remaining
    assert repr(schedule) == f"lin_{x!r}"


def test_schedule_values_the_zoo_writes():
    resolved = hyperparams.resolve(
        {"learning_rate": "lin_2.5e-4", "clip_range_vf": "1e-1", "n_steps": 64}
    )
    assert resolved["learning_rate"] == hyperparams.LinearSchedule(2.5e-4)
    assert resolved["clip_range_vf"] == 0.1  # YAML reads 1e-1 (no dot) as a string
    assert resolved["n_steps"] == 64


@pytest.mark.parametrize(
    "hp, what",
    [
        ({"learning_rate": "lin_"}, "learning_rate: expected lin_<x> with a finite x ≥ 0"),
        ({"learning_rate": "lin_-1"}, "learning_rate: expected lin_<x>"),
        ({"learning_rate": "lin_inf"}, "learning_rate: expected lin_<x>"),
        ({"learning_rate": "fast"}, "learning_rate: expected a number or lin_<x>"),
        ({"n_steps": "lin_64"}, "n_steps: lin_ schedules are supported for learning_rate"),
        ({"clip_range": 0.2}, "clip_range is set by the controller preset"),
        ({"clip_range": "lin_0.2"}, "clip_range is set by the controller preset"),
        ({"frame_stack": 4}, "unknown key 'frame_stack'"),
        ({"n_envs": 0}, "n_envs: expected an integer ≥ 1"),
        ({"n_envs": True}, "n_envs: expected an integer ≥ 1"),
        ({"policy": 3}, "policy: expected a policy name"),
        ({"normalize": 1}, "normalize: expected true, false or VecNormalize keywords"),
        ({"policy_kwargs": "dict(a=os.sep)"}, "policy_kwargs: unknown name os.sep"),
        ({"policy_kwargs": "[64, 64]"}, "policy_kwargs: expected dict"),
    ],
)
def test_resolve_refuses_naming_the_key(hp, what):
    with pytest.raises(ppobr_core.InvalidArgumentError, match=what) as e:
        hyperparams.resolve(hp)
    assert e.value.argument == "hyperparameters"


# -- files ----------------------------------------------------------------------------------


def test_yaml_with_env_sections_takes_the_tasks_section(tmp_path):
    path = write(tmp_path, "ppo.yml", ZOO_YAML)
    hp, budget = hyperparams.load(path, "CartPole-v1")
    assert hp == CARTPOLE_SECTION and budget == 256
    assert hyperparams.load(path, "Pendulum-v1") == ({"n_envs": 4, "n_steps": 1024}, 100_000)
    json.dumps(hp)  # as run.json will hold it
    with pytest.raises(ppobr_core.InvalidArgumentError, match="no section for 'Acrobot-v1'") as e:
        hyperparams.load(path, "Acrobot-v1")
    assert "sections: atari, Pendulum-v1, CartPole-v1" in str(e.value) and str(path) in str(e.value)
    # a custom id module:Env-vN finds the Env-vN section
    assert hyperparams.load(path, "my_pkg.envs:Pendulum-v1")[1] == 100_000


def test_a_file_without_sections_holds_every_tasks_hyperparameters(tmp_path):
    path = write(tmp_path, "flat.yaml", "n_steps: 128\nlearning_rate: !!float 3e-4\n")
    for env in ("CartPole-v1", "Acrobot-v1"):
        assert hyperparams.load(path, env) == ({"n_steps": 128, "learning_rate": 3e-4}, None)


def test_json_and_toml_of_the_same_shape_read_alike(tmp_path):
    section = {**CARTPOLE_SECTION, "n_timesteps": 256}
    json_path = write(tmp_path, "ppo.json", json.dumps({"CartPole-v1": section}))
    toml_lines = ['["CartPole-v1"]'] + [f"{k} = {json.dumps(v)}" for k, v in section.items()]
    toml_path = write(tmp_path, "ppo.toml", "\n".join(toml_lines) + "\n")
    expected = (CARTPOLE_SECTION, 256)
    assert hyperparams.load(json_path, "CartPole-v1") == expected
    assert hyperparams.load(toml_path, "CartPole-v1") == expected
    flat = write(
        tmp_path, "flat.json", json.dumps({"n_steps": 32, "policy_kwargs": {"net_arch": [8]}})
    )
    assert hyperparams.load(flat, "CartPole-v1") == (
        {"n_steps": 32, "policy_kwargs": {"net_arch": [8]}},
        None,
    )


@pytest.mark.parametrize(
    "name, text, what",
    [
        (
            "h.yml",
            "CartPole-v1:\n  frame_stack: 4\n",
            r"h\.yml \[CartPole-v1\]: unknown key 'frame_stack'",
        ),
        ("h.yml", "n_steps: 64\nenv_wrapper: x\n", r"h\.yml: unknown key 'env_wrapper'"),
        ("h.yml", "CartPole-v1:\n  clip_range: lin_0.2\n", "clip_range is set by the controller"),
        ("h.yml", "CartPole-v1:\n  n_timesteps: 1.5\n", "n_timesteps: expected a positive whole"),
        ("h.yml", "CartPole-v1:\n  n_timesteps: -5\n", "n_timesteps: expected a positive whole"),
        (
            "h.yml",
            "CartPole-v1:\n  learning_rate: .nan\n",
            "learning_rate: expected a finite number",
        ),
        ("h.yml", "CartPole-v1: [1, 2]\n", "unknown key 'CartPole-v1'"),
        ("h.yml", "- n_steps\n", "expected a mapping at the top, got list"),
        ("h.yml", "a: [1,\n", "not valid YAML"),
        ("h.yml", "n_steps: !!python/name:os.system\n", "not valid YAML"),
        ("h.json", "{'n_steps': 64}", "not valid JSON"),
        ("h.toml", "n_steps = \n", "not valid TOML"),
        ("h.ini", "n_steps=64\n", r"expected a \.yml, \.yaml, \.json or \.toml file"),
    ],
)
def test_bad_files_are_refused_naming_the_file(tmp_path, name, text, what):
    path = write(tmp_path, name, text)
    with pytest.raises(ppobr_core.InvalidArgumentError, match=what) as e:
        hyperparams.load(path, "CartPole-v1")
    assert e.value.argument == "hyperparameters" and str(path) in str(e.value)


def test_a_missing_file_is_refused(tmp_path):
    with pytest.raises(ppobr_core.InvalidArgumentError, match="cannot be read"):
        hyperparams.load(tmp_path / "absent.yml", "CartPole-v1")


# -- into SB3's PPO -------------------------------------------------------------------------


def test_the_zoo_section_reaches_sb3s_ppo(tmp_path):
    hp, budget = hyperparams.load(write(tmp_path, "ppo.yml", ZOO_YAML), "CartPole-v1")
    model = make_model(SB3Config("CartPole-v1", hyperparameters=hp))
    try:
        assert (model.n_envs, model.n_steps, model.batch_size, model.gamma) == (2, 64, 64, 0.98)
        assert isinstance(model.env, VecNormalize)
        assert model.env.norm_reward and model.env.gamma == 0.98  # γ passed on, as the zoo does
        actor = model.policy.mlp_extractor.policy_net
        assert [m.out_features for m in actor if isinstance(m, torch.nn.Linear)] == [64]
        assert any(isinstance(m, torch.nn.ReLU) for m in actor)
        assert model.policy.ortho_init is False
    finally:
        model.env.close()


def test_a_lin_learning_rate_falls_over_the_run(tmp_path):
    hp, budget = hyperparams.load(write(tmp_path, "ppo.yml", ZOO_YAML), "CartPole-v1")
    result = train(SB3Config("CartPole-v1", "ppobr", total_timesteps=budget, hyperparameters=hp))
    # 2 iterations of 2 × 64 steps; SB3 evaluates the schedule after each rollout at the
    # remaining progress 1 − steps / 256: 0.5, then 0
    assert [it["learning_rate"] for it in result["iterations"]] == [0.0005, 0.0]
    assert result["config"]["hyperparameters"] == CARTPOLE_SECTION
    effective = result["config"]["sb3_hyperparameters"]
    assert effective["learning_rate"] == "lin_0.001"
    assert effective["policy_kwargs"]["activation_fn"] == "torch.nn.modules.activation.ReLU"
    assert all(math.isfinite(it["epsilon"]) for it in result["iterations"])
