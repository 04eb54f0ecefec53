"""JAX-native environments behind one small interface, batched over a run's environments.

    env = make_env("CartPole-v1")                 # gymnax
    env = make_env("hopper", brax_backend="spring")   # Brax
    obs, state = env.reset(key, num_envs)
    obs, state, reward, terminated, truncated = env.step(key, state, action)

Both reset an environment whose episode ended inside ``step`` (auto-reset), so ``obs`` is
already the next episode's first observation where ``terminated | truncated``; the trainer
treats a truncation like a termination (no bootstrap), as CleanRL and ``ppobr compare`` do.

- gymnax: ``env.step`` of gymnax (its own time limit, its own auto-reset).
- Brax: the raw environment of ``brax.envs.get_environment(name, backend=...)`` with a
  1000-step time limit (gymnasium's for the MuJoCo v5 tasks) and an auto-reset to a freshly
  sampled initial state written here; Brax's own AutoResetWrapper would return to the episode's
  first state every time, which removes the initial-state noise between episodes.
  Actions are clipped to the action bounds [-1, 1] (CleanRL's ClipAction).
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple, Optional

import jax
import jax.numpy as jnp

from ppobr_study.jax.config import BRAX_TASKS, GYMNAX_TASKS

BRAX_EPISODE_STEPS = 1000


class Env(NamedTuple):
    name: str  # the task name given
    backend: str  # "gymnax" or "brax-<backend>"
    obs_dim: int
    discrete: bool
    num_actions: Optional[int]  # categorical policies
    action_dim: Optional[int]  # Gaussian policies
    reset: Callable[[jax.Array, int], Any]  # (key, num_envs) -> (obs [n, obs_dim], state)
    step: Callable[..., Any]  # (key, state, action [n, ...]) -> (obs, state, r, term, trunc)


def make_env(task: str, brax_backend: str = "spring") -> Env:
    if task in GYMNAX_TASKS:
        return _gymnax_env(task)
    if task in BRAX_TASKS:
        return _brax_env(task, brax_backend)
    raise ValueError(f"task: unknown {task!r}; choose from {', '.join(GYMNAX_TASKS + BRAX_TASKS)}")


def _gymnax_env(task: str) -> Env:
    import gymnax

    env, params = gymnax.make(task)
    space = env.action_space(params)

    def reset(key, n):
        return jax.vmap(env.reset, in_axes=(0, None))(jax.random.split(key, n), params)

    def step(key, state, action):
        n = action.shape[0]
        obs, state, reward, term, trunc, _ = jax.vmap(env.step, in_axes=(0, 0, 0, None))(
            jax.random.split(key, n), state, action, params
        )
        return obs, state, reward.astype(jnp.float32), term, trunc

    return Env(
        task,
        "gymnax",
        int(env.observation_space(params).shape[0]),
        True,
        int(space.n),
        None,
        reset,
        step,
    )


class BraxState(NamedTuple):
    inner: Any  # brax.envs.State
    t: jax.Array  # int32: steps into the episode


def _brax_env(task: str, backend: str) -> Env:
    from brax import envs as brax_envs

    env = brax_envs.get_environment(task, backend=backend)

    def reset_one(key):
        s = env.reset(key)
        return s.obs, BraxState(s, jnp.zeros((), jnp.int32))

    def step_one(key, state: BraxState, action):
        s = env.step(state.inner, jnp.clip(action, -1.0, 1.0))
        t = state.t + 1
        term = s.done > 0.5
        trunc = ~term & (t >= BRAX_EPISODE_STEPS)
        done = term | trunc
        # auto-reset to a fresh random initial state (computed always; selected where done)
        obs0, fresh = reset_one(key)
        # Brax's step writes metrics into the state; keep the pytree structure of a reset one
        s = s.replace(done=jnp.zeros_like(s.done))
        nxt = jax.tree.map(lambda a, b: jnp.where(done, a, b), fresh, BraxState(s, t))
        obs = jnp.where(done, obs0, s.obs)
        return obs, nxt, s.reward, term, trunc

    def reset(key, n):
        return jax.vmap(reset_one)(jax.random.split(key, n))

    def step(key, state, action):
        return jax.vmap(step_one)(jax.random.split(key, action.shape[0]), state, action)

    return Env(
        task,
        f"brax-{backend}",
        int(env.observation_size),
        False,
        None,
        int(env.action_size),
        reset,
        step,
    )
