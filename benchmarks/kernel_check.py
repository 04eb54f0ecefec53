"""Correctness check of a timed implementation against the core, before its times count.

The reference is ppobr_core.clipped_surrogate itself, run in float64 on the float32 inputs
converted to float64: the benchmark keeps no second copy of the kernel's semantics. An
implementation agrees when its loss, its whole gradient and its eleven statistics match the
reference within float32 tolerance; the only disagreements allowed are samples whose ratio lies
within 1e-5 of a clip bound, where a different exp may put r on either side of it.
"""

from __future__ import annotations

import math

import numpy as np
from kernel_case import EPS, HI, LO, STAT_NAMES


class ReferenceUnavailable(Exception):
    """ppobr_core does not import, so there is nothing to check against."""


def reference(lpn, lpo, adv, ent):
    """The core's float64 result for the float32 inputs, plus what the tolerances need.

    Beyond loss, grad and stats it returns `near` (samples with |r - bound| < 1e-5, r computed
    in float64: their clip decision may legitimately differ) and the scales of the summed terms
    (mean |r A| for the objective, mean |d| for k1) that the sum tolerances are relative to."""
    try:
        import ppobr_core
    except Exception as exc:  # ImportError, or an undefined symbol while the core is rebuilt
        raise ReferenceUnavailable(
            f"ppobr_core does not import: {type(exc).__name__}: {exc}"
        ) from None
    lpn, lpo, adv, ent = (x.astype(np.float64) for x in (lpn, lpo, adv, ent))
    res = ppobr_core.clipped_surrogate(lpn, lpo, adv, eps=EPS, entropy=ent, num_threads=1)
    d = lpn - lpo
    r = np.exp(d)
    near = (np.abs(r - LO) < 1e-5) | (np.abs(r - HI) < 1e-5)
    return {
        "loss": float(res.loss),
        "grad": np.asarray(res.grad, dtype=np.float64),
        "stats": dict(res.stats),
        "near": near,
        "obj_scale": float(np.abs(r * adv).mean()),
        "d_scale": float(np.abs(d).mean()),
    }


def check(out, ref, n):
    """Compares one implementation's (loss, grad, stats) with the reference.

    Returns a list of problems (empty: agrees within float32 tolerance). Sums of N float32
    terms (pairwise, cascade or tree order) carry a relative error growing like log2 N, hence
    sum_rtol = 2e-6 log2 N + 1e-5; ratio min / max are single values (1e-6 relative)."""
    loss, grad, stats = out
    problems = []
    nnear = int(ref["near"].sum())
    sum_rtol = 2e-6 * max(1.0, math.log2(n)) + 1e-5
    tol = sum_rtol * ref["obj_scale"] * 10
    if not abs(loss - ref["loss"]) <= tol:
        problems.append(f"loss {loss!r} vs reference {ref['loss']!r} (tolerance {tol:.2g})")
    g = np.asarray(grad, dtype=np.float64).reshape(-1)
    if g.shape != ref["grad"].shape:
        problems.append(f"grad shape {g.shape} vs {ref['grad'].shape}")
    else:
        gref = ref["grad"]
        bad = np.abs(g - gref) > (1e-5 * np.abs(gref) + 1e-6 * np.abs(gref).max())
        bad_far = bad & ~ref["near"]
        if bad_far.any():
            i = int(np.flatnonzero(bad_far)[0])
            problems.append(
                f"grad differs at {int(bad_far.sum())} samples away from the clip bounds "
                f"(first: [{i}] {g[i]!r} vs {gref[i]!r})"
            )
    for k in STAT_NAMES:
        v = float(stats[k])
        rv = float(ref["stats"][k])
        if k == "dual_clip_fraction":
            # dual-clip is off: 0 (nothing bound) or NaN (nothing counted) are both right.
            if not (v == 0.0 or math.isnan(v)):
                problems.append(f"{k} {v!r}, expected 0 (dual-clip off)")
            continue
        if k.startswith("clip_fraction"):
            t = (nnear + 0.5) / n
        elif k in ("ratio_min", "ratio_max"):
            t = 1e-6 * abs(rv)
        elif k == "kl_k1":
            t = 1e-6 + sum_rtol * ref["d_scale"] * 10
        elif k in ("kl_k2", "kl_k3"):
            t = 1e-6 + 1e-4 * abs(rv)
        else:
            t = 1e-6 + sum_rtol * 10 * abs(rv)
        if not abs(v - rv) <= t:
            problems.append(f"{k} {v!r} vs reference {rv!r} (tolerance {t:.2g})")
    return problems
