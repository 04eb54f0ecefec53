"""The ``ppobr_study`` controller presets as ``ppobr_jax`` controllers, and all of a program's
controllers behind one jittable update.

The presets' numbers are ``ppobr_study.controllers``' own (EPS0, LAMBDA1, LAMBDA2, WINDOW, the
entropy reference of ``TaskInfo``, ``ppobr_starting_epsilon``): nothing is redefined here, so
a change of a preset changes both studies. A test checks every preset's config against the core
controller the PyTorch study builds.

Vmapping over controllers: a controller's config is static (a Python NamedTuple), so runs with
different controllers cannot share a traced config. Instead every run carries the states of all
the program's controllers, updates all of them (scalar work on a window of 10 returns) and uses
the ε of its own controller, selected by a traced index. The program therefore has one shape
for every (controller, seed) and vmaps over both.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence, Tuple

import jax
import jax.numpy as jnp

import ppobr_jax
from ppobr_study import controllers as presets


def make(name: str, task: presets.TaskInfo) -> ppobr_jax.EpsilonController:
    """The ppobr_jax controller of preset ``name`` (ppobr_study.controllers' table)."""
    ppobr = lambda l1, l2: ppobr_jax.ppobr(eps0=presets.EPS0, lambda1=l1, lambda2=l2,  # noqa: E731
                                           window=presets.WINDOW, entropy_ref=task.entropy_ref)  # fmt: skip
    if name == "ppo":
        return ppobr_jax.constant(presets.EPS0)
    if name == "ppobr":
        return ppobr(presets.LAMBDA1, presets.LAMBDA2)
    if name == "ppobr-entropy":
        return ppobr(presets.LAMBDA1, 0.0)
    if name == "ppobr-reward":
        return ppobr(0.0, presets.LAMBDA2)
    if name == "linear-decay":
        return ppobr_jax.linear_decay(presets.EPS0, 0.0, total_updates=max(1, task.num_iterations))
    if name == "kl-adaptive":
        return ppobr_jax.kl_adaptive(eps0=presets.EPS0)
    if name == "ppo-wide":
        return ppobr_jax.constant(presets.ppobr_starting_epsilon(task))
    raise ValueError(f"controllers: the JAX study has no preset {name!r}")


class Signals(NamedTuple):
    """What a controller may read, once per rollout."""

    entropy: jax.Array  # mean policy entropy of the rollout
    returns: jax.Array  # [num_steps, num_envs] returns of the episodes ended at each step
    returns_mask: jax.Array  # [num_steps, num_envs] bool: an episode ended there
    kl: jax.Array  # k3 KL of the previous iteration's update (NaN before the first update)


class Diagnostics(NamedTuple):
    epsilon: jax.Array
    phi: jax.Array  # NaN for controllers without it (as ppobr compare writes them)
    psi: jax.Array
    z: jax.Array


class ControllerSet(NamedTuple):
    names: Tuple[str, ...]
    controllers: Tuple[ppobr_jax.EpsilonController, ...]

    def init(self):
        return tuple(c.init() for c in self.controllers)

    def update(self, states, index, sig: Signals):
        """All controllers' updates; ε and diagnostics of controller ``index`` (traced)."""
        outs = [_update_one(c, s, sig) for c, s in zip(self.controllers, states)]
        new_states = tuple(s for _, s in outs)
        diags = [d for d, _ in outs]
        pick = lambda *xs: jnp.stack(xs)[index]  # noqa: E731
        return jax.tree.map(pick, *diags), new_states


def make_set(names: Sequence[str], task: presets.TaskInfo) -> ControllerSet:
    return ControllerSet(tuple(names), tuple(make(n, task) for n in names))


def _update_one(ctl: ppobr_jax.EpsilonController, state, sig: Signals):
    nan = jnp.full((), jnp.nan, jnp.float32)
    if isinstance(ctl.config, ppobr_jax.KLAdaptiveConfig):
        # No policy update has happened before the first rollout, so there is no KL to adapt to:
        # keep ε0 then (what ppobr compare's trainer does), later adapt to the last update's KL.
        eps, new = ctl.update(state, kl=jnp.where(jnp.isnan(sig.kl), 0.0, sig.kl))
        first = jnp.isnan(sig.kl)
        new = jax.tree.map(lambda old, n: jnp.where(first, old, n), state, new)
        return Diagnostics(new.epsilon.astype(jnp.float32), nan, nan, nan), new
    eps, new = ctl.update(state, sig.entropy, sig.returns, sig.returns_mask)
    if isinstance(ctl.config, ppobr_jax.PPOBRConfig):
        d = ctl.diagnostics(new)
        f = lambda x: x.astype(jnp.float32)  # noqa: E731
        return Diagnostics(f(eps), f(d["phi"]), f(d["psi"]), f(d["z"])), new
    return Diagnostics(eps.astype(jnp.float32), nan, nan, nan), new
