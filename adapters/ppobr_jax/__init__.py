"""ppobr_jax: PPO-BR's adaptive trust region for JAX (jit, vmap, scan, pmap / shard_map).

Pure JAX; importing it does not need the native core (``ppobr_core``), which it uses only for
the optional fused CPU kernel (``impl="ffi"``) and shares its error type with when present.

Controllers, optax style (config bound, state a NamedTuple pytree with fixed shapes)::

    ctl = ppobr_jax.ppobr(eps0=0.2, lambda1=0.5, lambda2=0.3, window=10, entropy_ref=jnp.log(n))
    ctl_state = ctl.init()
    ...inside a jitted / scanned / vmapped training step:
    eps, ctl_state = ctl.update(ctl_state, mean_entropy, episode_returns, returns_mask)

or unbound: ``cfg = ppobr_jax.ppobr_config(...)``; ``state = ppobr_jax.init(cfg)``;
``eps, state = ppobr_jax.update(cfg, state, entropy, episode_returns, returns_mask)``.
Also :func:`constant`, :func:`linear_decay`, :func:`kl_adaptive` (``kl=...``).

The loss::

    (loss, stats), grads = jax.value_and_grad(
        lambda p: ppobr_jax.clipped_surrogate(logp(p), logp_old, adv, eps, entropy=ent),
        has_aux=True)(params)
    stats.mean("kl_k3"), stats.pair("kl_k3")   # a mean, or a Mean(sum, count) for a controller

``axis_name=`` in both: statistics and controller inputs are reduced over a pmap / shard_map
axis as (sum, count) pairs, so every device computes the same epsilon.

The epsilon sequence equals ppobr_core's for the same inputs: float64 bit for bit (given the
portable tanh, see README.md here), float32 within 1 ulp of the float32 evaluation.
"""

from ppobr_jax._errors import error_type
from ppobr_jax._ieee import tanh as portable_tanh
from ppobr_jax.collectives import Mean, all_gather_flat, allreduce_sum, global_mean, mean_of
from ppobr_jax.controllers import (
    ConstantConfig,
    ConstantState,
    EpsilonController,
    KLAdaptiveConfig,
    KLAdaptiveState,
    LinearDecayConfig,
    LinearDecayState,
    PPOBRConfig,
    PPOBRState,
    constant,
    constant_config,
    diagnostics,
    init,
    kl_adaptive,
    kl_adaptive_config,
    linear_decay,
    linear_decay_config,
    ppobr,
    ppobr_config,
    update,
)
from ppobr_jax.surrogate import (
    AGGREGATIONS,
    STAT_NAMES,
    SurrogateOutput,
    SurrogateStats,
    clipped_surrogate,
    jnp_surrogate,
)

InvalidArgumentError = error_type()


def ffi_available() -> bool:
    """Whether the fused C++ kernel can be used through the XLA FFI (ppobr_core._jax_ffi built)."""
    from ppobr_jax import _ffi

    return _ffi.available()


__all__ = [
    "AGGREGATIONS",
    "STAT_NAMES",
    "ConstantConfig",
    "ConstantState",
    "EpsilonController",
    "InvalidArgumentError",
    "KLAdaptiveConfig",
    "KLAdaptiveState",
    "LinearDecayConfig",
    "LinearDecayState",
    "Mean",
    "PPOBRConfig",
    "PPOBRState",
    "SurrogateOutput",
    "SurrogateStats",
    "all_gather_flat",
    "allreduce_sum",
    "clipped_surrogate",
    "constant",
    "constant_config",
    "diagnostics",
    "ffi_available",
    "global_mean",
    "init",
    "jnp_surrogate",
    "kl_adaptive",
    "kl_adaptive_config",
    "linear_decay",
    "linear_decay_config",
    "mean_of",
    "portable_tanh",
    "ppobr",
    "ppobr_config",
    "update",
]
