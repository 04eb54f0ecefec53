"""(sum, count) statistics and their reduction over a mapped axis.

Everything that feeds a controller is reduced as (sum, count) pairs so that every member of a
pmap / shard_map / named vmap axis gets the same global mean. The reduction is an all-gather
followed by a sum in axis order: it is a psum, with the guarantee that every device adds the
same numbers in the same order and so holds bit-identical results (an all-reduce need not).
"""

from __future__ import annotations

from typing import Any, NamedTuple, Optional

import jax.numpy as jnp
from jax import lax

from ppobr_jax._ieee import div

Array = Any


class Mean(NamedTuple):
    """A weighted mean kept as (sum, count): add both over workers, then divide."""

    sum: Array
    count: Array

    @property
    def value(self):
        return div(jnp.asarray(self.sum), jnp.asarray(self.count, jnp.asarray(self.sum).dtype))


def mean_of(x, mask=None, dtype=None) -> Mean:
    """Mean(sum(w * x), sum(w)) of an array with optional weights or bool mask ``mask``."""
    x = jnp.asarray(x)
    dt = x.dtype if dtype is None else dtype
    x = x.astype(dt)
    if mask is None:
        return Mean(jnp.sum(x), jnp.asarray(x.size, dt))
    w = jnp.asarray(mask).astype(dt)
    return Mean(jnp.sum(w * x), jnp.sum(w))


def allreduce_sum(x, axis_name):
    """psum(x, axis_name), computed as all_gather + a sum in axis order (bit-identical on every
    member). ``axis_name=None``: x itself."""
    if axis_name is None:
        return x
    g = lax.all_gather(x, axis_name)  # [n, ...]
    acc = g[0]
    for i in range(1, g.shape[0]):  # the axis size is static; left to right
        acc = acc + g[i]
    return acc


def allreduce_min(x, axis_name):
    return x if axis_name is None else lax.pmin(x, axis_name)


def allreduce_max(x, axis_name):
    return x if axis_name is None else lax.pmax(x, axis_name)


def all_gather_flat(x, axis_name):
    """The concatenation, in axis order, of every member's 1-D x."""
    if axis_name is None:
        return x
    return lax.all_gather(x, axis_name, tiled=True)


def global_mean(m: Mean, axis_name: Optional[str], dtype) -> Array:
    """sum / count of a Mean after adding sums and counts over axis_name (NaN if count is 0)."""
    s = jnp.asarray(m.sum).astype(dtype)
    c = jnp.asarray(m.count).astype(dtype)
    if s.ndim != 0 or c.ndim != 0:
        raise ValueError(f"Mean: expected scalar sum and count, got shapes {s.shape}, {c.shape}")
    s = allreduce_sum(s, axis_name)
    c = allreduce_sum(c, axis_name)
    return div(s, c)
