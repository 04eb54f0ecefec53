"""The JAX trainer's config validation and shipped configs, its command run from another
folder, its hyper-parameters and presets against the PyTorch trainer's (one table each), and the
Brax path."""

import json
import math

import numpy as np
import pytest

import ppobr_core
from ppobr_study import cleanrl_defaults, presets, protocol
from ppobr_study.jax import config as K
from ppobr_study.jax import controllers as C

BASE = {"tasks": ["CartPole-v1"], "seeds": 2, "steps": 1024}


@pytest.mark.parametrize(
    "patch, field",
    [
        ({"seeds": 0}, "seeds"),
        ({"seeds": [1, 1]}, "seeds"),
        ({"tasks": ["Pong-v5"]}, "tasks"),
        ({"tasks": []}, "tasks"),
        ({"controllers": ["ppo", "nope"]}, "controllers"),
        ({"brax_backend": "physx"}, "brax_backend"),
        ({"steps": -5}, "steps"),
        ({"steps": "budget", "task_steps": {"Acrobot-v1": 10}}, "task_steps"),
        ({"ppo": {"discrete": {"num_minibatches": 3}}}, "ppo.discrete.num_minibatches"),
        ({"ppo": {"discrete": {"learning_rate": 0}}}, "ppo.discrete.learning_rate"),
        ({"ppo": {"discrete": {"lr": 1e-3}}}, "ppo.discrete.lr"),
        ({"throughput": {"tasks": ["hopper"]}}, "throughput.tasks"),
        ({"typo": 1}, "typo"),
    ],
)
def test_bad_config_values_raise_value_error_naming_the_field(patch, field):
    with pytest.raises(ValueError, match=f"^{field.replace('.', '[.]')}:"):
        K.parse({**BASE, **patch})


def test_config_files_parse(tmp_path):
    assert set(K.bundled_configs()) == {"cpu_small", "gpu_full"}
    assert K.resolve("gpu_full.toml") == K.resolve("gpu_full") == K.bundled_configs()["gpu_full"]
    full = K.load("gpu_full")
    assert len(full.tasks) == 7 and len(full.seeds) >= 128
    assert set(full.controllers) == {"ppo", "ppobr"}
    assert full.steps["CartPole-v1"] == protocol.task("CartPole-v1").budget
    assert full.steps["hopper"] == protocol.task("brax-hopper").budget
    assert K.task_id("hopper", full.brax_backend) == f"brax-{full.brax_backend}-hopper"
    (tmp_path / "c.json").write_text(json.dumps(BASE))
    assert K.load(tmp_path / "c.json").seeds == (0, 1)
    with pytest.raises(ValueError, match="^config: no such file: .*bundled configs: cpu_small"):
        K.load(tmp_path / "missing.toml")
    # a file of a shipped config's name in the working folder wins over the shipped one
    (tmp_path / "cpu_small.toml").write_text('tasks = ["Acrobot-v1"]\nsteps = 512\n')
    assert K.load(tmp_path / "cpu_small.toml").tasks == ("Acrobot-v1",)


def test_command_runs_from_any_folder(tmp_path, pinned_python):
    """``python -m ppobr_study.jax`` outside the repository: the shipped configs are package
    data, and a missing --config names the shipped ones."""
    run = "import runpy\nrunpy.run_module('ppobr_study.jax', run_name='__main__', alter_sys=True)\n"
    listing = pinned_python(run, "--list-configs", cwd=tmp_path)
    assert listing.returncode == 0, listing.stderr[-4000:]
    assert "cpu_small" in listing.stdout and "gpu_full" in listing.stdout
    missing = pinned_python(run, cwd=tmp_path)
    assert missing.returncode == 2 and "--config: is required" in missing.stderr
    bad = pinned_python(run, "--config", "nope", cwd=tmp_path)
    assert bad.returncode == 2 and "config nope: config: no such file: nope" in bad.stderr


def test_thresholds_of_the_new_tasks():
    assert protocol.task("Acrobot-v1").threshold == -100.0  # gymnasium's reward_threshold
    assert protocol.task("MountainCar-v0").threshold == -110.0
    for brax, mujoco in (
        ("hopper", "Hopper-v5"),
        ("halfcheetah", "HalfCheetah-v5"),
        ("walker2d", "Walker2d-v5"),
        ("humanoid", "Humanoid-v5"),
    ):
        assert protocol.task(K.protocol_key(brax)).threshold == protocol.TASKS[mujoco].threshold
    assert "Acrobot-v1" not in protocol.TASKS  # the paper's table is unchanged


@pytest.mark.parametrize("discrete", [True, False])
def test_ppo_defaults_are_cleanrl_defaults_as_the_torch_trainer_reads_them(discrete):
    """Both trainers take CleanRL's hyper-parameters from ppobr_study.cleanrl_defaults: the JAX
    trainer's PPOParams and the PyTorch trainer's Config agree on every field they share."""
    defaults = cleanrl_defaults.for_action_space(discrete)
    p = K.parse(BASE).ppo_params(discrete)
    for field in p._fields:
        assert getattr(p, field) == defaults[field], field
    train = pytest.importorskip("ppobr_study.train", reason="ppobr compare's trainer needs torch")
    env_id = "CartPole-v1" if discrete else "Pendulum-v1"
    cfg = train.defaults_for(train.Config(env_id=env_id))
    shared = [f for f in p._fields if hasattr(cfg, f)]
    assert {"learning_rate", "num_envs", "num_steps", "ent_coef", "gamma", "vf_coef"} <= set(shared)
    for field in shared:
        assert getattr(cfg, field) == getattr(p, field), field


@pytest.mark.parametrize("name", presets.names())
@pytest.mark.parametrize("discrete", [True, False])
def test_presets_match_the_core_controllers_of_ppobr_compare(name, discrete):
    """Every preset's ppobr_jax config equals the config of the core controller that
    ppobr_study.presets builds for the same task (no number is redefined)."""
    task = presets.TaskInfo(discrete, 3 if discrete else None, 50)
    core = presets.make_controller(name, task).config
    jax_cfg = C.make(name, task).config._asdict()
    assert set(jax_cfg) <= set(core)
    for k, v in jax_cfg.items():
        if k == "psi_mode":  # the core reports its enum: 0 = plateau
            assert (v, core[k]) == ("plateau", 0.0)
        else:
            cv = core[k]
            if v is None or cv is None or (isinstance(cv, float) and math.isnan(cv)):
                assert (v is None) == (cv is None or (isinstance(cv, float) and math.isnan(cv))), k
            else:
                assert v == pytest.approx(cv, rel=1e-15), k
    if name.startswith("ppobr"):
        assert jax_cfg["entropy_ref"] == (math.log(3) if discrete else None)


def test_both_engines_build_every_kind_of_the_one_preset_table():
    """One table, one factory per kind and engine: the kinds the presets use are exactly the
    kinds both engines build, and each engine's factory gives that kind's controller."""
    kinds = {p.kind for p in presets.PRESETS.values()}
    assert kinds == set(presets.CORE_FACTORIES) == set(C.FACTORIES)
    task = presets.TaskInfo(True, 2, 5)
    for name, preset in presets.PRESETS.items():
        assert presets.make_controller(name, task).name == preset.kind
        assert C.make(name, task).name == preset.kind


def test_a_changed_preset_changes_both_engines(monkeypatch):
    """The torch and JAX controllers come from the same table entry: change the entry and both
    change alike (here ppo's ε and ppobr's window)."""
    monkeypatch.setitem(
        presets.PRESETS, "ppo", presets.Preset("constant", lambda t: {"eps": 0.125}, "")
    )
    ppobr = presets.PRESETS["ppobr"]
    monkeypatch.setitem(
        presets.PRESETS,
        "ppobr",
        presets.Preset("ppobr", lambda t: dict(ppobr.parameters(t), window=4), ""),
    )
    task = presets.TaskInfo(False, None, 5)
    assert (
        presets.make_controller("ppo", task).config["eps"]
        == C.make("ppo", task).config.eps
        == 0.125
    )
    assert presets.make_controller("ppobr", task).config["window"] == 4
    assert C.make("ppobr", task).config.window == 4
    with pytest.raises(ValueError, match="^controller: unknown preset 'nope'"):
        C.make("nope", task)
    assert isinstance(presets.make_controller("ppo", task), ppobr_core.ConstantController)


def test_controller_set_selects_each_runs_own_epsilon():
    import jax.numpy as jnp

    task = presets.TaskInfo(True, 2, 10)
    cs = C.make_set(("ppo", "ppobr", "ppo-wide"), task)
    states = cs.init()
    sig = C.Signals(
        jnp.float32(math.log(2)), jnp.zeros((4, 2)), jnp.zeros((4, 2), bool), jnp.float32(np.nan)
    )
    got = [float(cs.update(states, i, sig)[0].epsilon) for i in range(3)]
    start = presets.ppobr_starting_epsilon(task)  # full entropy, empty window
    assert got == pytest.approx([presets.EPS0, start, start], rel=1e-6)


_BRAX_PROGRAM = """
import numpy as np
import jax
import jax.numpy as jnp
from ppobr_study import presets
from ppobr_study.jax import config as K, controllers as C, envs, ppo

cfg = K.parse({"tasks": ["hopper"], "seeds": 2, "steps": 64, "brax_backend": "positional",
               "ppo": {"continuous": {"num_envs": 2, "num_steps": 16, "num_minibatches": 2,
                                      "update_epochs": 1}}})
env = envs.make_env("hopper", cfg.brax_backend)
assert env.backend == "brax-positional" and not env.discrete
p = cfg.ppo_params(False)
task = presets.TaskInfo(False, None, 2)
train = ppo.make_train(env, p, C.make_set(("ppo", "ppobr"), task), 2)
res = jax.jit(ppo.vmapped(train))(ppo.seed_keys([0, 1]), jnp.arange(2))
eps = np.asarray(res.iterations.epsilon)
assert eps.shape == (2, 2, 2), eps.shape
assert np.all(eps[0] == np.float32(presets.EPS0)), eps
lo, hi = presets.EPS0 * (1 - presets.LAMBDA2), presets.EPS0 * (1 + presets.LAMBDA1)
assert np.all((eps[1] >= lo - 1e-6) & (eps[1] <= hi + 1e-6)), eps
assert np.all(np.isfinite(np.asarray(res.iterations.value_loss)))
print("BRAX OK")
"""


def test_brax_backend_runs_a_tiny_program(pinned_python):
    """The Brax path: hopper on the config's backend, a few iterations, in one jitted program
    (in a subprocess pinned to one core, with a timeout: see conftest.py on XLA CPU hangs)."""
    pytest.importorskip(
        "brax",
        reason="brax is not installed (pip install brax); the Brax tasks "
        "of the JAX study are then unavailable",
    )
    proc = pinned_python(_BRAX_PROGRAM)
    assert proc.returncode == 0 and "BRAX OK" in proc.stdout, proc.stderr[-4000:]
