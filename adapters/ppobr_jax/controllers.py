"""Clip-range (epsilon) controllers as pure JAX functions (optax style).

Every controller is a frozen config (a NamedTuple of Python numbers, validated when built) and
two pure functions::

    state = init(config)  # a NamedTuple pytree of arrays
    eps, state = update(config, state, entropy, episode_returns, returns_mask, kl=kl)

or, with the config bound (like an ``optax.GradientTransformation``)::

    ctl = ppobr_jax.ppobr(eps0=0.2, lambda1=0.5, lambda2=0.3, window=10, entropy_ref=jnp.log(2.0))
    state = ctl.init()
    eps, state = ctl.update(state, entropy, episode_returns, returns_mask)

The state has fixed shapes (the PPO-BR reward window is a ring buffer of ``window`` slots with
a head and a count), so ``update`` works under ``jit`` (the config is static: changing it
recompiles, changing the state or the inputs does not), ``vmap`` (a batch of states, e.g. one
per seed), ``lax.scan`` (the state as the carry) and ``pmap`` / ``shard_map``.

The epsilon sequence equals ppobr_core's (cpp/src/controllers.cpp) for the same inputs:
float64 (``jax_enable_x64``) follows the C++ operation by operation with exactly rounded
arithmetic (see _ieee.py for what that takes under XLA); float32 evaluates the same steps in
float32. See README.md in this folder for the one difference in tanh.

Inputs of ``update``:

- ``entropy``: the rollout's mean policy entropy (a number), the per-step entropies (a 1-D
  array, at least one; their arithmetic mean is used), or a :class:`Mean` (sum, count) pair
  (then the mean is sum / count, and with ``axis_name`` the sums and counts of all devices are
  added first). None or a non-finite mean rejects the update as in the core (docs/SPEC.md,
  rule R4).
- ``episode_returns``: returns of the episodes that finished in the rollout, any shape
  (flattened in row-major order = the order they enter the window), with ``returns_mask``
  (same shape, bool) marking which entries are real. With ``axis_name`` the returns of all
  devices are gathered (in device order) so every device inserts the same returns.
- ``kl`` (KL-adaptive only): the measured KL, a number or a :class:`Mean`.

The configs are checked when built (and again by init / update, for a NamedTuple built
directly) with the core's rules and messages: see _input_rules.py.

Where the core raises (the PPO-BR reference entropy is the first entropy seen and it is not
above ``entropy_floor``), a jitted function cannot: the update is rejected instead (epsilon and
state unchanged) and counted in ``state.rejected_entropy_ref``. Give ``entropy_ref`` to avoid it.
"""

from __future__ import annotations

import functools
from typing import Any, Callable, NamedTuple, Optional, Union

import jax
import jax.numpy as jnp
import numpy as np
from jax import lax

from ppobr_jax import _input_rules as rules
from ppobr_jax._ieee import div, mul, tanh
from ppobr_jax._numpy_sum import numpy_sum
from ppobr_jax.collectives import Mean, all_gather_flat, global_mean

Array = Any

_UNROLL_WINDOW = 64  # sums over a window up to this size are unrolled; larger ones loop


def default_float_dtype():
    """float64 when jax_enable_x64 is on, else float32."""
    return jnp.dtype(jnp.float64) if jax.config.jax_enable_x64 else jnp.dtype(jnp.float32)


def _fdtype(dtype):
    dt = default_float_dtype() if dtype is None else jnp.dtype(dtype)
    if dt not in (jnp.dtype(jnp.float32), jnp.dtype(jnp.float64)):
        raise TypeError(f"dtype: expected float32 or float64, got {dt}")
    if dt == jnp.float64 and not jax.config.jax_enable_x64:
        raise TypeError("dtype: float64 needs jax.config.update('jax_enable_x64', True)")
    return dt


# ---------------------------------------------------------------------------------------------
# Configs (static, hashable) and states (pytrees)


class PPOBRConfig(NamedTuple):
    """PPO-BR's config (the core's PPOBRConfig). Build it with :func:`ppobr_config` to validate."""

    eps0: float = 0.2
    lambda1: float = 0.5
    lambda2: float = 0.3
    window: int = 10
    psi_mode: str = "plateau"
    entropy_ref: Optional[float] = None
    entropy_floor: float = 0.0
    eps_min: Optional[float] = None
    eps_max: Optional[float] = None

    @property
    def eps_min_effective(self) -> float:
        return rules.ppobr_eps_bounds(
            self.eps0, self.lambda1, self.lambda2, self.eps_min, self.eps_max
        )[0]

    @property
    def eps_max_effective(self) -> float:
        return rules.ppobr_eps_bounds(
            self.eps0, self.lambda1, self.lambda2, self.eps_min, self.eps_max
        )[1]


class PPOBRState(NamedTuple):
    epsilon: Array  # float: the current clip range (eps0 before the first update)
    entropy_ref: Array  # float: H_ref in use (NaN until set)
    has_entropy_ref: Array  # bool
    returns: Array  # float[window]: the ring buffer
    head: Array  # int32: next write position
    count: Array  # int32: returns held (<= window)
    updates: Array  # int32: accepted updates
    rejected_entropy: Array  # int32: updates rejected for a missing / non-finite entropy
    dropped_returns: Array  # int32: non-finite returns dropped
    rejected_entropy_ref: Array  # int32: updates rejected because H_ref <= entropy_floor
    last_phi: Array
    last_psi: Array
    last_entropy: Array
    last_z: Array


class ConstantConfig(NamedTuple):
    eps: float = 0.2


class ConstantState(NamedTuple):
    epsilon: Array
    updates: Array


class LinearDecayConfig(NamedTuple):
    eps_start: float
    eps_end: float
    total_updates: int


class LinearDecayState(NamedTuple):
    epsilon: Array
    updates: Array


class KLAdaptiveConfig(NamedTuple):
    eps0: float = 0.2
    kl_target: float = 0.01
    tolerance: float = 1.5
    rate: float = 1.5
    eps_min: float = 0.02
    eps_max: float = 0.5


class KLAdaptiveState(NamedTuple):
    epsilon: Array
    updates: Array
    rejected_kl: Array
    last_kl: Array


Config = Union[PPOBRConfig, ConstantConfig, LinearDecayConfig, KLAdaptiveConfig]
State = Union[PPOBRState, ConstantState, LinearDecayState, KLAdaptiveState]


def ppobr_config(
    eps0=0.2,
    lambda1=0.5,
    lambda2=0.3,
    window=10,
    psi_mode="plateau",
    entropy_ref=None,
    entropy_floor=0.0,
    eps_min=None,
    eps_max=None,
) -> PPOBRConfig:
    """A validated :class:`PPOBRConfig`: the core's validate(), same fields, rules and messages."""
    return PPOBRConfig(
        *rules.ppobr_values(
            eps0, lambda1, lambda2, window, psi_mode, entropy_ref, entropy_floor, eps_min, eps_max
        )
    )


def constant_config(eps=0.2) -> ConstantConfig:
    """A validated :class:`ConstantConfig` (eps >= 0; ε = 0 is a valid clip range)."""
    return ConstantConfig(*rules.constant_values(eps))


def linear_decay_config(eps_start=0.2, eps_end=0.0, total_updates=None) -> LinearDecayConfig:
    """A validated :class:`LinearDecayConfig` (eps_start, eps_end >= 0; total_updates required)."""
    return LinearDecayConfig(*rules.linear_decay_values(eps_start, eps_end, total_updates))


def kl_adaptive_config(
    eps0=0.2, kl_target=0.01, tolerance=1.5, rate=1.5, eps_min=0.02, eps_max=0.5
) -> KLAdaptiveConfig:
    """A validated :class:`KLAdaptiveConfig` (eps0 > 0 and eps_min > 0: ε is scaled by rate)."""
    return KLAdaptiveConfig(
        *rules.kl_adaptive_values(eps0, kl_target, tolerance, rate, eps_min, eps_max)
    )


_BUILDERS = {
    PPOBRConfig: ppobr_config,
    ConstantConfig: constant_config,
    LinearDecayConfig: linear_decay_config,
    KLAdaptiveConfig: kl_adaptive_config,
}


def _validated(config: Config) -> Config:
    """The config checked as its constructor checks it (the core validates on every init and
    update too; a NamedTuple may have been built directly). Hashable configs are checked once."""
    build = _BUILDERS.get(type(config))
    if build is None:
        raise TypeError(
            f"config: expected a ppobr_jax controller config, got {type(config).__name__}"
        )
    try:
        hash(config)
    except TypeError:  # a field holds an array: check it every time
        return build(*config)
    return _validated_cached(config)


@functools.lru_cache(maxsize=256)
def _validated_cached(config: Config) -> Config:
    return _BUILDERS[type(config)](*config)


# ---------------------------------------------------------------------------------------------
# init


def init(config: Config, dtype=None) -> State:
    """The initial state of any controller (float dtype: float64 with x64 enabled, else float32).

    The config is checked as its constructor checks it (for a NamedTuple built directly).
    """
    config = _validated(config)
    dt = _fdtype(dtype)
    i32 = jnp.int32
    zero_i = jnp.zeros((), i32)
    zero_f = jnp.zeros((), dt)
    if isinstance(config, PPOBRConfig):
        ref = config.entropy_ref
        return PPOBRState(
            epsilon=jnp.asarray(config.eps0, dt),
            entropy_ref=jnp.asarray(np.nan if ref is None else ref, dt),
            has_entropy_ref=jnp.asarray(ref is not None),
            returns=jnp.zeros((config.window,), dt),
            head=zero_i,
            count=zero_i,
            updates=zero_i,
            rejected_entropy=zero_i,
            dropped_returns=zero_i,
            rejected_entropy_ref=zero_i,
            last_phi=zero_f,
            last_psi=zero_f,
            last_entropy=zero_f,
            last_z=zero_f,
        )
    if isinstance(config, ConstantConfig):
        return ConstantState(jnp.asarray(config.eps, dt), zero_i)
    if isinstance(config, LinearDecayConfig):
        return LinearDecayState(jnp.asarray(config.eps_start, dt), zero_i)
    if isinstance(config, KLAdaptiveConfig):
        return KLAdaptiveState(jnp.asarray(config.eps0, dt), zero_i, zero_i, zero_f)
    raise TypeError(f"config: expected a ppobr_jax controller config, got {type(config).__name__}")


# ---------------------------------------------------------------------------------------------
# helpers


def _clamp01(x):
    """clamp to [0, 1]; NaN -> 0 (the core's clamp01)."""
    one = jnp.asarray(1.0, x.dtype)
    zero = jnp.asarray(0.0, x.dtype)
    return jnp.where(x > zero, jnp.where(x > one, one, x), zero)


def _clip(x, lo, hi):
    """std::min(std::max(x, lo), hi) for non-NaN x."""
    return jnp.minimum(jnp.maximum(x, lo), hi)


def _scalar_signal(value, dt, axis_name):
    """The mean a controller uses, from a number, a 1-D array of per-step entropies (their
    arithmetic mean, the sum rounded as NumPy's, as the NumPy API takes it) or a Mean pair;
    None -> NaN (the update is rejected).

    With axis_name: a Mean pair or a per-step array adds its sums and counts over the axis (every
    step weighs equally); a number is one device's mean, and every device weighs equally.
    """
    if value is None:
        return jnp.asarray(np.nan, dt)
    if isinstance(value, Mean):
        return global_mean(value, axis_name, dt)
    v = jnp.asarray(value).astype(dt)
    if v.ndim == 1:  # per-step entropies (at least one: checked by update()), summed as NumPy
        return global_mean(Mean(numpy_sum(v), jnp.asarray(v.shape[0], dt)), axis_name, dt)
    if axis_name is not None:
        # every device weighs equally: the mean of the devices' means, summed in device order
        return global_mean(Mean(v, jnp.ones((), dt)), axis_name, dt)
    return v


def _returns_and_mask(episode_returns, returns_mask, dt, axis_name):
    if episode_returns is None:
        return jnp.zeros((0,), dt), jnp.zeros((0,), bool)
    x = jnp.asarray(episode_returns).astype(dt).reshape(-1)
    if returns_mask is None:
        m = jnp.ones(x.shape, bool)
    else:
        m = jnp.asarray(returns_mask)
        if m.size != x.size:
            raise ValueError(f"returns_mask: has {m.size} entries, episode_returns has {x.size}")
        m = m.reshape(-1).astype(bool)
    if axis_name is not None:
        x = all_gather_flat(x, axis_name)
        m = all_gather_flat(m, axis_name)
    return x, m


def _seq_sum(values, start: int, stop: int, dt):
    """values[start] + ... + values[stop - 1], left to right from 0.0 (exact C++ order)."""
    acc = jnp.zeros(values.shape[:-1], dt)
    n = stop - start
    if n <= _UNROLL_WINDOW:
        for j in range(start, stop):
            acc = acc + values[..., j]
        return acc
    return lax.fori_loop(start, stop, lambda j, a: a + values[..., j], acc)


def _seq_sumsq(values, mean, dt):
    """sum_j (x_j - mean)**2, left to right, each square rounded before it is added."""
    acc = jnp.zeros(values.shape[:-1], dt)
    k = values.shape[-1]

    def body(j, a):
        d = values[..., j] - mean
        return a + mul(d, d)

    if k <= _UNROLL_WINDOW:
        for j in range(k):
            acc = body(j, acc)
        return acc
    return lax.fori_loop(0, k, body, acc)


# ---------------------------------------------------------------------------------------------
# update


def _update_ppobr(c: PPOBRConfig, s: PPOBRState, entropy, episode_returns, returns_mask, axis_name):
    dt = s.epsilon.dtype
    k = c.window
    i32 = jnp.int32
    f = lambda v: jnp.asarray(v, dt)  # noqa: E731

    H = _scalar_signal(entropy, dt, axis_name)
    x, m = _returns_and_mask(episode_returns, returns_mask, dt, axis_name)

    # 1. entropy gate
    ok_entropy = jnp.isfinite(H)
    Hs = jnp.where(ok_entropy, H, f(0.0))  # keep NaN out of the (discarded) arithmetic

    # 2. H_ref
    if c.entropy_ref is not None:
        href = f(c.entropy_ref)
    else:
        href = jnp.where(s.has_entropy_ref, s.entropy_ref, Hs)
    floor = f(c.entropy_floor)
    ok_ref = href > floor
    accept = ok_entropy & ok_ref

    # 3. the finite returns enter the ring buffer in order (only the last `window` can survive)
    finite = jnp.isfinite(x)
    valid = m & finite
    n_dropped = jnp.sum(m & ~finite, dtype=i32)
    n_valid = jnp.sum(valid, dtype=i32)
    rank = jnp.cumsum(valid.astype(i32)) - 1
    keep = valid & (rank >= n_valid - k)
    pos = jnp.where(keep, (s.head + rank) % k, k)  # k: out of bounds, dropped
    buf = s.returns.at[pos].set(x, mode="drop")
    head = ((s.head + n_valid) % k).astype(i32)
    count = jnp.minimum(s.count + n_valid, k).astype(i32)

    # 4. phi
    phi = _clamp01(div(Hs - floor, href - floor))

    # 5. z and psi
    h = k // 2
    chrono = buf[(head + jnp.arange(k, dtype=i32)) % k]  # oldest first
    sum_old = _seq_sum(chrono, 0, h, dt)
    sum_new = _seq_sum(chrono, k - h, k, dt)
    sum_all = _seq_sum(chrono, 0, k, dt)
    mean_old = div(sum_old, f(h))
    mean_new = div(sum_new, f(h))
    mean = div(sum_all, f(k))
    ss = _seq_sumsq(chrono, mean, dt)
    sd = jnp.sqrt(div(ss, f(k)))
    zz = div(mean_new - mean_old, sd + mul(f(1e-8), 1.0 + jnp.abs(mean)))
    have_z = (count == k) & jnp.isfinite(zz)
    z = jnp.where(have_z, zz, f(0.0))
    if c.psi_mode == "plateau":
        psi = 1.0 - tanh(jnp.abs(z))
    else:
        psi = _clamp01(z)
    psi = jnp.where(have_z, psi, f(0.0))

    # 6. epsilon
    expand = 1.0 + mul(f(c.lambda1), tanh(phi))
    contract = mul(f(c.lambda2), tanh(psi))
    eps = _clip(mul(f(c.eps0), expand - contract), f(c.eps_min_effective), f(c.eps_max_effective))

    # 7. commit (or keep everything but the counters)
    keep_if = lambda new, old: jnp.where(accept, new, old)  # noqa: E731
    new_state = PPOBRState(
        epsilon=keep_if(eps, s.epsilon),
        entropy_ref=keep_if(href, s.entropy_ref),
        has_entropy_ref=s.has_entropy_ref | accept,
        returns=keep_if(buf, s.returns),
        head=keep_if(head, s.head),
        count=keep_if(count, s.count),
        updates=s.updates + accept.astype(i32),
        rejected_entropy=s.rejected_entropy + (~ok_entropy).astype(i32),
        dropped_returns=s.dropped_returns + jnp.where(accept, n_dropped, 0).astype(i32),
        rejected_entropy_ref=s.rejected_entropy_ref + (ok_entropy & ~ok_ref).astype(i32),
        last_phi=keep_if(phi, s.last_phi),
        last_psi=keep_if(psi, s.last_psi),
        last_entropy=keep_if(Hs, s.last_entropy),
        last_z=keep_if(z, s.last_z),
    )
    return new_state.epsilon, new_state


def _update_constant(c: ConstantConfig, s: ConstantState):
    eps = jnp.asarray(c.eps, s.epsilon.dtype)
    return eps, ConstantState(eps, s.updates + 1)


def _update_linear(c: LinearDecayConfig, s: LinearDecayState):
    dt = s.epsilon.dtype
    t = jnp.minimum(s.updates, c.total_updates)
    # Computed from integers and constants only, the product below would be provably never NaN
    # to XLA's LLVM, which then drops mul's NaN guard and fuses the product and the sum into
    # one FMA (one rounding instead of the core's two: 0.2 -> 0 over 3 updates gave
    # 0.13333333333333333, not 0.13333333333333336). Tying the divisor to the state's epsilon
    # (never NaN in a state from init / update) keeps the guard, so each step is rounded.
    total = jnp.where(
        jnp.isnan(s.epsilon), jnp.asarray(np.nan, dt), jnp.asarray(c.total_updates, dt)
    )
    frac = div(t.astype(dt), total)
    npf = np.dtype(dt).type
    span = jnp.asarray(npf(c.eps_end) - npf(c.eps_start), dt)
    eps = jnp.asarray(c.eps_start, dt) + mul(span, frac)
    return eps, LinearDecayState(eps, s.updates + 1)


def _update_kl(c: KLAdaptiveConfig, s: KLAdaptiveState, kl, axis_name):
    dt = s.epsilon.dtype
    f = lambda v: jnp.asarray(v, dt)  # noqa: E731
    klv = _scalar_signal(kl, dt, axis_name)
    ok = jnp.isfinite(klv)
    eps = s.epsilon
    # constant thresholds, computed here in the state's dtype (NumPy scalars: IEEE, as the core)
    npf = np.dtype(dt).type
    hi_thr = f(npf(c.kl_target) * npf(c.tolerance))
    lo_thr = f(npf(c.kl_target) / npf(c.tolerance))
    shrink = klv > hi_thr
    grow = ~shrink & (klv < lo_thr)
    eps = jnp.where(shrink, div(eps, f(c.rate)), jnp.where(grow, eps * f(c.rate), eps))
    eps = _clip(eps, f(c.eps_min), f(c.eps_max))
    new = KLAdaptiveState(
        epsilon=jnp.where(ok, eps, s.epsilon),
        updates=s.updates + ok.astype(jnp.int32),
        rejected_kl=s.rejected_kl + (~ok).astype(jnp.int32),
        last_kl=jnp.where(ok, klv, s.last_kl),
    )
    return new.epsilon, new


def _update_impl(config, state, entropy, episode_returns, returns_mask, kl, axis_name):
    if isinstance(config, PPOBRConfig):
        return _update_ppobr(config, state, entropy, episode_returns, returns_mask, axis_name)
    if isinstance(config, ConstantConfig):
        return _update_constant(config, state)
    if isinstance(config, LinearDecayConfig):
        return _update_linear(config, state)
    return _update_kl(config, state, kl, axis_name)


# jitted once per (config, input structure): eager calls run as one compiled computation, and
# inside an outer jit / vmap / scan / pmap it is inlined like any other function.
_update_jit = jax.jit(_update_impl, static_argnames=("config", "axis_name"))


def _entropy_signal(value):
    """A Mean pair as it is; a number or per-step entropies checked (rule R4), as an array."""
    return value if isinstance(value, Mean) else rules.entropy_signal(value)


def _kl_signal(value):
    """A Mean pair as it is; a number checked, as an array."""
    return value if isinstance(value, Mean) else rules.scalar_signal(value, "kl")


def update(
    config: Config,
    state: State,
    entropy=None,
    episode_returns=None,
    returns_mask=None,
    *,
    kl=None,
    axis_name=None,
):
    """One controller update (once per rollout, before the update epochs): returns (eps, state).

    ``entropy``, ``episode_returns`` / ``returns_mask`` feed PPO-BR, ``kl`` the KL-adaptive
    controller; the other inputs are ignored (as the core's controllers ignore them).
    ``entropy`` is a number, a 1-D array of per-step entropies whose arithmetic mean is used (an
    empty one raises), or a :class:`Mean` pair (docs/SPEC.md, rule R4); ``kl`` a number or a
    :class:`Mean` pair.
    ``axis_name``: reduce the inputs over that mapped axis (pmap / shard_map / vmap with an
    axis name) so that every member computes the same epsilon: entropy and kl (as Mean pairs)
    by summing sums and counts in axis order, episode returns by gathering them in axis order.
    The config is checked as the core checks it on every update (once per config: cached).
    """
    config = _validated(config)
    entropy = _entropy_signal(entropy)
    kl = _kl_signal(kl)
    episode_returns = rules.returns_signal(episode_returns)
    if isinstance(config, PPOBRConfig):
        if not isinstance(state, PPOBRState):
            raise TypeError("state: expected a PPOBRState (from init(config))")
        if state.returns.shape[-1] != config.window:
            raise rules.invalid(
                "state",
                f"the PPO-BR state holds a window of {state.returns.shape[-1]} returns, the "
                f"config {config.window}; create it with init(config)",
            )
        if episode_returns is not None and returns_mask is not None:
            if np.size(returns_mask) != np.size(episode_returns):
                raise rules.invalid(
                    "returns_mask",
                    f"has {np.size(returns_mask)} entries, episode_returns has "
                    f"{np.size(episode_returns)}",
                )
    elif isinstance(config, KLAdaptiveConfig):
        if kl is None:
            raise rules.invalid(
                "kl",
                "the KL-adaptive controller needs the measured KL of the last policy update "
                "(Observation::kl)",
            )
    return _update_jit(config, state, entropy, episode_returns, returns_mask, kl, axis_name)


def diagnostics(config: Config, state: State) -> dict:
    """The core's diagnostics (same names and order) as a dict of arrays (jit-friendly)."""
    f = state.epsilon.dtype
    if isinstance(config, PPOBRConfig):
        return {
            "epsilon": state.epsilon,
            "phi": state.last_phi,
            "psi": state.last_psi,
            "entropy": state.last_entropy,
            "z": state.last_z,
            "entropy_ref": state.entropy_ref,
            "num_returns": state.count.astype(f),
            "updates": state.updates.astype(f),
            "rejected_entropy": state.rejected_entropy.astype(f),
            "dropped_returns": state.dropped_returns.astype(f),
            "rejected_entropy_ref": state.rejected_entropy_ref.astype(f),
        }
    if isinstance(config, (ConstantConfig, LinearDecayConfig)):
        return {"epsilon": state.epsilon, "updates": state.updates.astype(f)}
    if isinstance(config, KLAdaptiveConfig):
        return {
            "epsilon": state.epsilon,
            "updates": state.updates.astype(f),
            "kl": state.last_kl,
            "rejected_kl": state.rejected_kl.astype(f),
        }
    raise TypeError(f"config: expected a ppobr_jax controller config, got {type(config).__name__}")


# ---------------------------------------------------------------------------------------------
# Bound controllers (optax style)


class EpsilonController(NamedTuple):
    """A controller with its config bound: ``init(dtype=None) -> state`` and
    ``update(state, entropy=None, episode_returns=None, returns_mask=None, *, kl=None,
    axis_name=None) -> (eps, state)``; ``diagnostics(state) -> dict``."""

    init: Callable[..., State]
    update: Callable[..., Any]
    diagnostics: Callable[[State], dict]
    config: Config
    name: str


def _bind(config: Config, name: str) -> EpsilonController:
    def init_fn(dtype=None):
        return init(config, dtype)

    def update_fn(
        state, entropy=None, episode_returns=None, returns_mask=None, *, kl=None, axis_name=None
    ):
        return update(
            config, state, entropy, episode_returns, returns_mask, kl=kl, axis_name=axis_name
        )

    def diag_fn(state):
        return diagnostics(config, state)

    return EpsilonController(init_fn, update_fn, diag_fn, config, name)


def ppobr(
    eps0=0.2,
    lambda1=0.5,
    lambda2=0.3,
    window=10,
    psi_mode="plateau",
    entropy_ref=None,
    entropy_floor=0.0,
    eps_min=None,
    eps_max=None,
) -> EpsilonController:
    """PPO-BR (docs/SPEC.md's signals; the core's PPOBRController), config bound."""
    config = ppobr_config(
        eps0, lambda1, lambda2, window, psi_mode, entropy_ref, entropy_floor, eps_min, eps_max
    )
    return _bind(config, "ppobr")


def constant(eps=0.2) -> EpsilonController:
    """Plain PPO: a fixed clip range (eps >= 0)."""
    return _bind(constant_config(eps), "constant")


def linear_decay(eps_start=0.2, eps_end=0.0, *, total_updates=None) -> EpsilonController:
    """eps_start + (eps_end - eps_start) * min(t, total_updates) / total_updates at update t.

    ``total_updates`` is required (TypeError "total_updates: is required" without it).
    """
    return _bind(linear_decay_config(eps_start, eps_end, total_updates), "linear_decay")


def kl_adaptive(
    eps0=0.2, kl_target=0.01, tolerance=1.5, rate=1.5, eps_min=0.02, eps_max=0.5
) -> EpsilonController:
    """KL-adaptive: eps /= rate above kl_target * tolerance, *= rate below kl_target / tolerance."""
    config = kl_adaptive_config(eps0, kl_target, tolerance, rate, eps_min, eps_max)
    return _bind(config, "kl_adaptive")
