"""The computation every column of benchmarks/kernels.py performs, and its input batch.

For float32 inputs of N samples (token-mean aggregation, symmetric eps, entropy given, no mask,
no dual-clip):

    d = logp_new - logp_old,  r = exp(d),  A = advantages,  H = entropy
    loss  = -mean(min(r A, clamp(r, 1 - eps, 1 + eps) A))
    grad  = d loss / d logp_new
    stats = entropy mean; ratio mean, min, max; clip fraction (symmetric, low, high);
            dual-clip fraction (0: dual-clip is off); KL k1 = -log r, k2 = (log r)^2 / 2,
            k3 = (r - 1) - log r (means)

The semantics are ppobr_core.clipped_surrogate's (docs/SPEC.md); this file only fixes the case
being timed.
"""

from __future__ import annotations

import numpy as np

EPS = 0.2
LO = 1.0 - EPS
HI = 1.0 + EPS

# The order in which the torch and jax competitors stack their statistics.
STAT_NAMES = (
    "entropy",
    "ratio_mean",
    "ratio_min",
    "ratio_max",
    "clip_fraction",
    "clip_fraction_low",
    "clip_fraction_high",
    "dual_clip_fraction",
    "kl_k1",
    "kl_k2",
    "kl_k3",
)


def make_inputs(n: int, seed: int):
    """A realistic float32 PPO batch: |log r| ~ 0.15, so that ~18 % of samples are clipped.

    logp_old = -|N(0, 1.5)| - 0.05, logp_new = logp_old + N(0, 0.15), A ~ N(0, 1),
    H ~ U(0.5, 2)."""
    rng = np.random.default_rng(seed)
    logp_old = (-np.abs(rng.normal(0.0, 1.5, n)) - 0.05).astype(np.float32)
    logp_new = (logp_old + rng.normal(0.0, 0.15, n)).astype(np.float32)
    adv = rng.normal(0.0, 1.0, n).astype(np.float32)
    ent = rng.uniform(0.5, 2.0, n).astype(np.float32)
    return logp_new, logp_old, adv, ent
