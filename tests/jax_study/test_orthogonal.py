"""The trainer's orthogonal initialisation (ppobr_study/jax/orthogonal.py) is jax's, computed
without LAPACK: the same matrix as ``jax.nn.initializers.orthogonal`` up to float32 rounding,
with orthonormal columns (or rows), and the trainer's compiled programs hold no custom call
(a LAPACK custom call under vmap is what deadlocked XLA's CPU thread pool)."""

import re

import jax
import jax.numpy as jnp
import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from ppobr_study.jax import config as K
from ppobr_study.jax import controllers as ctl_lib
from ppobr_study.jax import ppo, study
from ppobr_study.jax.orthogonal import orthogonal

_jitted = {}


def _ours(key, shape, scale):
    if shape not in _jitted:
        _jitted[shape] = jax.jit(lambda k, s: orthogonal(k, shape, s))
    return np.asarray(_jitted[shape](key, scale))


# The trainer's layer shapes (observation sizes 4-17 and 1-3 outputs around hidden 64) and a few
# others; a fixed set so that each shape is compiled once.
SHAPES = [(1, 64), (4, 64), (11, 64), (64, 64), (64, 1), (64, 2), (64, 3), (17, 5), (3, 70)]


@settings(max_examples=30, deadline=None)
@given(
    shape=st.sampled_from(SHAPES),
    seed=st.integers(0, 2**31 - 1),
    scale=st.sampled_from([0.01, 1.0, 2.0**0.5]),
)
def test_equals_jax_initializer(shape, seed, scale):
    rows, cols = shape
    key = jax.random.PRNGKey(seed)
    ours = _ours(key, (rows, cols), scale)
    theirs = np.asarray(jax.nn.initializers.orthogonal(scale)(key, (rows, cols), jnp.float32))
    assert ours.shape == (rows, cols) and ours.dtype == np.float32
    np.testing.assert_allclose(ours, theirs, rtol=0, atol=5e-5 * scale)
    m = ours.astype(np.float64) / scale
    gram = m.T @ m if rows >= cols else m @ m.T
    np.testing.assert_allclose(gram, np.eye(min(rows, cols)), rtol=0, atol=5e-5)


def _custom_calls(task_name: str) -> set:
    cfg = K.load(K.resolve("cpu_small"))._replace(brax_backend="spring")
    task = study.Task(cfg, task_name, steps=4096)
    ctls = ctl_lib.make_set(["ppo", "ppobr"], task.info)
    train = ppo.make_train(task.env, task.params, ctls, 1)
    text = jax.jit(ppo.vmapped(train)).lower(ppo.seed_keys(range(2)), jnp.arange(2)).as_text()
    return set(re.findall(r"custom_call @(\w+)", text))


def test_programs_hold_no_custom_call():
    # the check itself can fail: jax's own initializer under vmap lowers to LAPACK calls
    lapack = jax.jit(jax.vmap(lambda k: jax.nn.initializers.orthogonal()(k, (8, 8))))
    text = lapack.lower(jax.random.split(jax.random.PRNGKey(0), 2)).as_text()
    assert any("geqrf" in c for c in re.findall(r"custom_call @(\w+)", text))
    for task in ("CartPole-v1", "hopper"):
        assert _custom_calls(task) == set(), task
