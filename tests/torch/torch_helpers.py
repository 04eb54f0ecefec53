"""Random PPO minibatches and the core's answers, shared by the torch adapter tests."""

from __future__ import annotations

import numpy as np
import torch

import ppobr_core

STAT_NAMES = tuple(ppobr_core.STAT_NAMES)


def batch(
    n=257,
    dtype=torch.float64,
    *,
    shape=None,
    seed=0,
    spread=0.3,
    margin=0.0,
    eps=0.2,
    dual_clip=None,
):
    """(logp_new, logp_old, advantages, entropy) with ratios spread around 1 so that some clip.

    margin > 0 keeps every ratio at least that far from the clip bounds 1 -/+ eps and from the
    dual-clip switch (for finite-difference checks)."""
    g = torch.Generator().manual_seed(seed)
    shape = shape or (n,)
    lpo = -torch.rand(shape, generator=g, dtype=torch.float64) * 3 - 0.1
    d = torch.randn(shape, generator=g, dtype=torch.float64) * spread
    adv = torch.randn(shape, generator=g, dtype=torch.float64)
    if margin > 0:
        r = d.exp()
        for b in (1 - eps, 1 + eps):
            near = (r - b).abs() < margin
            r = torch.where(near, b + torch.sign(r - b + 1e-300) * margin * 2, r)
        if dual_clip is not None:  # keep r*A away from c*A for A < 0 (r far from c)
            r = torch.where((r - dual_clip).abs() < margin, dual_clip - 2 * margin, r)
        d = r.log()
    lpn = lpo + d
    ent = torch.rand(shape, generator=g, dtype=torch.float64) * 1.5
    return tuple(x.to(dtype) for x in (lpn, lpo, adv, ent))


def core(lpn, lpo, adv, **kw):
    """ppobr_core.clipped_surrogate on NumPy copies of the tensors."""
    conv = {
        k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v) for k, v in kw.items()
    }
    return ppobr_core.clipped_surrogate(
        lpn.detach().cpu().numpy(), lpo.detach().cpu().numpy(), adv.detach().cpu().numpy(), **conv
    )


def vec(d: dict) -> np.ndarray:
    return np.array([d[k] for k in STAT_NAMES], dtype=np.float64)


def dtype_name(dtype: torch.dtype) -> str:
    """torch.float16 -> "float16", as the core names a dtype in its messages."""
    return str(dtype).removeprefix("torch.")


def tol(dtype):
    return dict(rtol=2e-5, atol=2e-6) if dtype == torch.float32 else dict(rtol=1e-10, atol=1e-12)
