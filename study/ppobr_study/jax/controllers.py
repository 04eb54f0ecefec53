"""The ``ppobr_study.presets`` as ``ppobr_jax`` controllers, and all of a program's controllers
behind one jittable update.

A preset is built from ``ppobr_study.presets``' table (its kind and parameters) by the
``ppobr_jax`` factory of its kind (:data:`FACTORIES`): nothing of a preset, and nothing of a
controller's rule, is written here, so a change of a preset changes both trainers. A test checks
every preset's ``ppobr_jax`` config against the ``ppobr_core`` controller the PyTorch trainer
builds.

Vmapping over controllers: a controller's config is static (a Python NamedTuple), so runs with
different controllers cannot share a traced config. Instead every run carries the states of all
the program's controllers, updates all of them (scalar work on a window of 10 returns) and uses
the ε of its own controller, selected by a traced index. The program therefore has one shape
for every (controller, seed) and vmaps over both.
"""

from __future__ import annotations

from typing import Callable, Mapping, NamedTuple, Sequence, Tuple

import jax
import jax.numpy as jnp

import ppobr_jax
from ppobr_study import presets

# The ppobr_jax controller of each preset kind (ppobr_study.presets.CORE_FACTORIES' twins: the
# same kinds, the same keyword parameters).
FACTORIES: Mapping[str, Callable[..., ppobr_jax.EpsilonController]] = {
    "constant": ppobr_jax.constant,
    "ppobr": ppobr_jax.ppobr,
    "linear_decay": ppobr_jax.linear_decay,
    "kl_adaptive": ppobr_jax.kl_adaptive,
}


def make(name: str, task: presets.TaskInfo) -> ppobr_jax.EpsilonController:
    """The ppobr_jax controller of preset ``name`` (ppobr_study.presets' table)."""
    return presets.build(name, task, FACTORIES)


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
