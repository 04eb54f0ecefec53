#!/usr/bin/env python3
"""Benchmark of the fused PPO clipped-surrogate kernel against NumPy, PyTorch and JAX.

Every implementation computes the same thing, for float32 inputs of N samples:

    d = logp_new - logp_old,  r = exp(d),  A = advantages,  H = entropy (given), eps = 0.2
    loss  = -mean(min(r A, clamp(r, 1 - eps, 1 + eps) A))          (token-mean, no mask)
    grad  = d loss / d logp_new
    stats = entropy mean; ratio mean, min, max; clip fraction (symmetric, low, high);
            dual-clip fraction (0: dual-clip is off); KL k1 = -log r, k2 = (log r)^2 / 2,
            k3 = (r - 1) - log r (means)

Implementations (columns):
  ppobr-1t    ppobr_core.clipped_surrogate(..., num_threads=1) through the Python API
  ppobr-auto  the same with the default num_threads=0 (automatic)
  numpy       a careful vectorised NumPy version (one exp, analytic grad, reused buffers,
              cache blocking)
  torch       PyTorch eager, autograd (loss.backward()), stats under no_grad
  compile     torch.compile of forward + backward + stats (torch.func.grad_and_value)
  jax         jax.jit of value_and_grad + stats in one function, block_until_ready()

Competitors run on one thread (torch.set_num_threads(1); XLA's CPU thread pool limited with
NPROC=1; NumPy elementwise ops are single-threaded and OPENBLAS_NUM_THREADS=1 covers np.dot).
The cpu/wall figure checks it: CPU time over wall time while timing, ~1.0 for one thread
(lower when the machine is busy, above 1 with more threads).

All implementations are checked against a float64 reference before they are timed (at
--verify-n strictly: a mismatch aborts; at every timed N as a reported check). See
benchmarks/README.md for the method and results.

Usage:
    python benchmarks/kernels.py                    # all sizes, all implementations
    python benchmarks/kernels.py --quick --markdown
    python benchmarks/kernels.py --sizes 1e3,1e5 --skip jax,compile
"""

from __future__ import annotations

import os
import sys

# Thread pinning must happen before NumPy / JAX are imported.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # np.dot (OpenBLAS) on one thread
# The classic JAX recipe (jax-ml/jax#743). With jaxlib 0.10 it alone does NOT pin XLA's CPU
# client (measured cpu/wall ~1.9 on 2 cores); the token without "--" is ignored by XLA.
_XLA_SINGLE = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
if "--xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _XLA_SINGLE).strip()
# What does pin it: NPROC sizes the XLA CPU client's thread pool (tsl port::MaxParallelism).
os.environ.setdefault("NPROC", "1")

import argparse  # noqa: E402
import ctypes  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import math  # noqa: E402
import platform  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import warnings  # noqa: E402

import numpy as np  # noqa: E402

EPS = 0.2
LO = 1.0 - EPS
HI = 1.0 + EPS

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

ALL_IMPLS = ("ppobr-1t", "ppobr-auto", "numpy", "torch", "compile", "jax")
COMPETITORS = ("numpy", "torch", "compile", "jax")
LABELS = {
    "ppobr-1t": "ppobr (1 thread)",
    "ppobr-auto": "ppobr (auto threads)",
    "numpy": "NumPy",
    "torch": "torch eager",
    "compile": "torch.compile",
    "jax": "jax.jit",
}

# The bars from the issue.
BAR_SMALL_N = 1000
BAR_SMALL_US = 4.0
BAR_NS_PER_EL = 0.7
BAR_NS_MIN_N = 100_000
BAR_VS_COMPILE = 1.5
BAR_VS_NUMPY = 5.0


# ------------------------------------------------------------------------------------------
# Inputs and the float64 reference


def make_inputs(n: int, seed: int):
    """Realistic float32 PPO batch: |log r| ~ 0.15 so that ~18 % of samples are clipped."""
    rng = np.random.default_rng(seed)
    logp_old = (-np.abs(rng.normal(0.0, 1.5, n)) - 0.05).astype(np.float32)
    logp_new = (logp_old + rng.normal(0.0, 0.15, n)).astype(np.float32)
    adv = rng.normal(0.0, 1.0, n).astype(np.float32)
    ent = rng.uniform(0.5, 2.0, n).astype(np.float32)
    return logp_new, logp_old, adv, ent


def reference(lpn, lpo, adv, ent):
    """float64 reference from the same float32 inputs, plus what the tolerances need."""
    lpn, lpo, adv, ent = (x.astype(np.float64) for x in (lpn, lpo, adv, ent))
    n = lpn.size
    d = lpn - lpo
    r = np.exp(d)
    u = r * adv
    c = np.clip(r, LO, HI) * adv
    obj = np.minimum(u, c)
    grad = np.where(u <= c, -u / n, 0.0)
    low = r < LO
    high = r > HI
    stats = {
        "entropy": ent.mean(),
        "ratio_mean": r.mean(),
        "ratio_min": r.min(),
        "ratio_max": r.max(),
        "clip_fraction": np.mean(low | high),
        "clip_fraction_low": np.mean(low & (adv < 0)),
        "clip_fraction_high": np.mean(high & (adv > 0)),
        "dual_clip_fraction": 0.0,
        "kl_k1": np.mean(-d),
        "kl_k2": np.mean(0.5 * d * d),
        "kl_k3": np.mean((r - 1.0) - d),
    }
    # Samples whose ratio sits within float32 rounding of a clip bound: implementations may
    # legitimately disagree on which side they fall (different exp), nowhere else.
    near = (np.abs(r - LO) < 1e-5) | (np.abs(r - HI) < 1e-5)
    return {
        "loss": -obj.mean(),
        "grad": grad,
        "stats": stats,
        "near": near,
        "obj_scale": np.abs(obj).mean(),
        "d_scale": np.abs(d).mean(),
    }


def check(name, out, ref, n):
    """Compares one implementation's (loss, grad, stats) with the reference.

    Returns a list of problems (empty: agrees within float32 tolerance)."""
    loss, grad, stats = out
    problems = []
    nnear = int(ref["near"].sum())
    # float32 sums of N terms: pairwise/cascade/tree error grows slowly with N.
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


# ------------------------------------------------------------------------------------------
# Implementations. Each factory returns (setup, to_numpy):
#   setup(lpn, lpo, adv, ent) -> fn, a zero-argument callable doing one full computation on
#       inputs already in the framework's own form (conversion is not timed);
#   to_numpy(result of fn) -> (loss float, grad ndarray, stats dict) for the checks.


class Missing(Exception):
    """An implementation that cannot run here (package missing, skipped)."""


def ppobr_factory(num_threads, fresh_grad=False):
    """fresh_grad=False: the gradient goes into one reused buffer (out=), as the careful NumPy
    version does; True: a new array every call."""
    try:
        import ppobr_core
    except Exception as exc:  # ImportError, or an undefined symbol while the kernel is written
        raise Missing(f"ppobr_core does not import: {type(exc).__name__}: {exc}") from None
    surrogate = ppobr_core.clipped_surrogate

    def setup(lpn, lpo, adv, ent):
        if fresh_grad:
            def fn():
                return surrogate(lpn, lpo, adv, eps=EPS, entropy=ent, num_threads=num_threads)
        else:
            buf = np.empty_like(lpn)

            def fn():
                return surrogate(lpn, lpo, adv, eps=EPS, entropy=ent, num_threads=num_threads,
                                 out=buf)

        return fn

    def to_numpy(res):
        return float(res.loss), np.asarray(res.grad), dict(res.stats)

    return setup, to_numpy


def _ufunc_clip():
    # np.clip is a Python wrapper (~3 us of overhead at N = 1e3); its ufunc is not.
    try:
        from numpy._core import umath  # NumPy >= 2
    except ImportError:  # pragma: no cover
        from numpy.core import umath  # type: ignore[no-redef]
    return getattr(umath, "clip", None)


NUMPY_CHUNK = 65536  # elements per cache block (--numpy-chunk); the best of 4K..64K and none here


def numpy_factory(chunk=None, fresh_grad=False):
    """Careful NumPy: one exp, analytic gradient, preallocated buffers, no boolean indexing,
    cache blocking.

    The statistics use exact identities to skip passes: k1 = -mean(d),
    k2 = dot(d, d) / 2N, k3 = mean(r) - 1 - mean(d). The clip decision is made on the scaled
    products: with s = -A / N, g = r s and c = clip(r) s, the objective term is max(g, c)
    (the sign flip turns min into max), the unclipped term is selected where g >= c (ties
    count as unclipped, as in the kernel), and grad = g there, 0 elsewhere.

    Large batches are processed in blocks of `chunk` elements, so that the ~20 passes over the
    temporaries hit L2 instead of DRAM; block results are combined in float64. The grad buffer
    is reused across calls (the returned array is overwritten by the next call), unless
    fresh_grad: then every call allocates it, as ppobr_core does."""
    chunk = chunk or NUMPY_CHUNK
    uclip = _ufunc_clip()
    lo = np.float32(LO)
    hi = np.float32(HI)
    add_reduce = np.add.reduce
    min_reduce = np.minimum.reduce
    max_reduce = np.maximum.reduce
    cnz = np.count_nonzero
    subtract, exp, multiply, dot = np.subtract, np.exp, np.multiply, np.dot
    less, greater, greater_equal, maximum = np.less, np.greater, np.greater_equal, np.maximum
    if uclip is None:  # pragma: no cover

        def uclip(x, a, b, out):
            return np.clip(x, a, b, out=out)

    def setup(lpn, lpo, adv, ent):
        n = lpn.size
        m = min(n, chunk)
        neg_inv_n = np.float32(-1.0 / n)
        work = [np.empty(m, np.float32) for _ in range(3)] + [np.empty(m, np.bool_) for _ in range(4)]
        g_reused = np.empty(n, np.float32)
        blocks = []
        for i in range(0, n, m):
            j = min(n, i + m)
            ws = [w[: j - i] for w in work]
            ins = [x[i:j] for x in (lpn, lpo, adv, ent)] if m < n else [lpn, lpo, adv, ent]
            blocks.append((i, j, *ins, *ws, ws[5].view(np.uint8)))
        whole = m == n

        def fn():
            g = np.empty(n, np.float32) if fresh_grad else g_reused
            sr = sd = sdd = sh = loss = 0.0
            rmin = math.inf
            rmax = -math.inf
            nclip = nkeep = nhb = 0
            for i, j, a, b, aa, h, d, r, s, lowr, highr, keep, hb, keep_u8 in blocks:
                gg = g if whole else g[i:j]
                subtract(a, b, out=d)
                exp(d, out=r)
                sr += float(add_reduce(r))
                rmin = min(rmin, float(min_reduce(r)))
                rmax = max(rmax, float(max_reduce(r)))
                sd += float(add_reduce(d))
                sdd += float(dot(d, d))
                sh += float(add_reduce(h))
                less(r, lo, out=lowr)
                greater(r, hi, out=highr)
                nclip += cnz(lowr) + cnz(highr)
                multiply(aa, neg_inv_n, out=s)  # s = -A / N
                uclip(r, lo, hi, out=d)  # d is free now: d = clip(r)
                multiply(d, s, out=d)  # c = clip(r) s
                multiply(r, s, out=gg)  # g = r s
                greater_equal(gg, d, out=keep)  # the unclipped term is selected
                maximum(gg, d, out=d)
                loss += float(add_reduce(d))
                nkeep += cnz(keep)
                greater(highr, keep, out=hb)  # high side and clipped: the high bound binds
                nhb += cnz(hb)
                multiply(gg, keep_u8, out=gg)  # zero where clipped
            nb = n - nkeep
            stats = {
                "entropy": sh / n,
                "ratio_mean": sr / n,
                "ratio_min": rmin,
                "ratio_max": rmax,
                "clip_fraction": nclip / n,
                "clip_fraction_low": (nb - nhb) / n,
                "clip_fraction_high": nhb / n,
                "dual_clip_fraction": 0.0,
                "kl_k1": -sd / n,
                "kl_k2": 0.5 * sdd / n,
                "kl_k3": sr / n - 1.0 - sd / n,
            }
            return loss, g, stats

        return fn

    def to_numpy(res):
        loss, g, stats = res
        return float(loss), g.copy(), stats

    return setup, to_numpy


def _import_torch():
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            import torch
    except Exception as exc:
        raise Missing(f"torch does not import: {type(exc).__name__}: {exc}") from None
    torch.set_num_threads(1)
    return torch


def _torch_stats(torch, d, r, adv, ent):
    """The statistics, as 0-d tensors (no autograd: called on detached tensors)."""
    low = r < LO
    high = r > HI
    n = r.numel()
    rmin, rmax = torch.aminmax(r)
    return (
        ent.mean(),
        r.mean(),
        rmin,
        rmax,
        (torch.count_nonzero(low) + torch.count_nonzero(high)) / n,
        torch.count_nonzero(low & (adv < 0)) / n,
        torch.count_nonzero(high & (adv > 0)) / n,
        torch.zeros((), dtype=r.dtype),
        -d.mean(),
        0.5 * (d * d).mean(),  # not torch.dot: MKL's float32 sdot is 2e-4 off at N = 1e7
        (r - 1.0 - d).mean(),
    )


def _torch_to_numpy(res):
    loss, g, stats = res
    return (
        float(loss),
        g.detach().numpy().copy(),
        {k: float(v) for k, v in zip(STAT_NAMES, stats)},
    )


def torch_eager_factory():
    torch = _import_torch()

    def setup(lpn, lpo, adv, ent):
        x = torch.from_numpy(lpn.copy()).requires_grad_(True)
        lpo_t, adv_t, ent_t = (torch.from_numpy(a) for a in (lpo, adv, ent))

        def fn():
            x.grad = None
            d = x - lpo_t
            r = torch.exp(d)
            obj = torch.minimum(r * adv_t, torch.clamp(r, LO, HI) * adv_t)
            loss = -obj.mean()
            loss.backward()
            with torch.no_grad():
                stats = _torch_stats(torch, d.detach(), r.detach(), adv_t, ent_t)
            return loss.detach(), x.grad, stats

        return fn

    return setup, _torch_to_numpy


def torch_compile_factory(mode):
    torch = _import_torch()
    try:
        import torch._dynamo

        torch._dynamo.config.cache_size_limit = max(torch._dynamo.config.cache_size_limit, 64)
    except Exception:  # pragma: no cover
        pass

    def loss_and_stats(x, lpo, adv, ent):
        d = x - lpo
        r = torch.exp(d)
        obj = torch.minimum(r * adv, torch.clamp(r, LO, HI) * adv)
        loss = -obj.mean()
        stats = torch.stack(_torch_stats(torch, d.detach(), r.detach(), adv, ent))
        return loss, stats

    if mode == "func":
        # forward + backward + stats in one compiled graph.
        def step(x, lpo, adv, ent):
            g, (loss, stats) = torch.func.grad_and_value(
                lambda y: loss_and_stats(y, lpo, adv, ent), has_aux=True
            )(x)
            return loss.detach(), g, stats

        compiled = torch.compile(step, dynamic=False)
    elif mode == "autograd":
        # compiled forward (AOTAutograd compiles the backward too), then autograd.grad.
        fwd = torch.compile(loss_and_stats, dynamic=False)

        def compiled(x, lpo, adv, ent):
            loss, stats = fwd(x, lpo, adv, ent)
            (g,) = torch.autograd.grad(loss, x)
            return loss.detach(), g, stats

    elif mode == "analytic":
        # hand-written gradient, compiled: no autograd at all (the most favourable to torch).
        def analytic(x, lpo, adv, ent):
            n = x.numel()
            d = x - lpo
            r = torch.exp(d)
            u = r * adv
            c = torch.clamp(r, LO, HI) * adv
            g = torch.where(u <= c, u * (-1.0 / n), torch.zeros((), dtype=u.dtype))
            loss = -torch.minimum(u, c).mean()
            return loss, g, torch.stack(_torch_stats(torch, d, r, adv, ent))

        compiled = torch.compile(analytic, dynamic=False)
    else:  # pragma: no cover
        raise ValueError(mode)

    def setup(lpn, lpo, adv, ent):
        x = torch.from_numpy(lpn.copy())
        if mode == "autograd":
            x.requires_grad_(True)
        lpo_t, adv_t, ent_t = (torch.from_numpy(a) for a in (lpo, adv, ent))

        def fn():
            return compiled(x, lpo_t, adv_t, ent_t)

        return fn

    return setup, _torch_to_numpy


def jax_factory():
    try:
        import jax
        import jax.numpy as jnp
    except Exception as exc:
        raise Missing(f"jax does not import: {type(exc).__name__}: {exc}") from None

    def loss_fn(x, lpo, adv):
        d = x - lpo
        r = jnp.exp(d)
        obj = jnp.minimum(r * adv, jnp.clip(r, LO, HI) * adv)
        return -jnp.mean(obj), (d, r)

    def step(x, lpo, adv, ent):
        (loss, (d, r)), g = jax.value_and_grad(loss_fn, has_aux=True)(x, lpo, adv)
        n = x.size
        low = r < LO
        high = r > HI
        stats = jnp.stack(
            [
                jnp.mean(ent),
                jnp.mean(r),
                jnp.min(r),
                jnp.max(r),
                jnp.count_nonzero(low | high) / n,
                jnp.count_nonzero(low & (adv < 0)) / n,
                jnp.count_nonzero(high & (adv > 0)) / n,
                jnp.zeros((), r.dtype),
                -jnp.mean(d),
                0.5 * jnp.dot(d, d) / n,
                jnp.mean((r - 1.0) - d),
            ]
        )
        return loss, g, stats

    jitted = jax.jit(step)

    def setup(lpn, lpo, adv, ent):
        args = [jax.device_put(a) for a in (lpn, lpo, adv, ent)]

        def fn():
            return jax.block_until_ready(jitted(*args))

        return fn

    def to_numpy(res):
        loss, g, stats = res
        st = np.asarray(stats)
        return float(loss), np.asarray(g).copy(), {k: float(v) for k, v in zip(STAT_NAMES, st)}

    return setup, to_numpy


def make_factory(name, args):
    if name == "ppobr-1t":
        return ppobr_factory(1, args.fresh_grad)
    if name == "ppobr-auto":
        return ppobr_factory(0, args.fresh_grad)
    if name == "numpy":
        return numpy_factory(args.numpy_chunk if args.numpy_chunk > 0 else 1 << 62,
                             args.fresh_grad)
    if name == "torch":
        return torch_eager_factory()
    if name == "compile":
        return torch_compile_factory(args.compile_mode)
    if name == "jax":
        return jax_factory()
    raise ValueError(name)


def versions():
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("torch", "jax", "jaxlib", "ppobr_core"):
        m = sys.modules.get(mod)
        if m is not None:
            out[mod] = getattr(m, "__version__", "?")
    return out


# ------------------------------------------------------------------------------------------
# Timing


def calibrate(fn, target_s):
    """Warms fn up (at least 3 calls and ~50 ms) and returns how many calls last about
    target_s (at least 1)."""
    w_end = time.perf_counter() + 0.05
    for _ in range(3):
        fn()
    while time.perf_counter() < w_end:
        fn()
    single = float("inf")
    for _ in range(3):
        t0 = time.perf_counter_ns()
        fn()
        single = min(single, (time.perf_counter_ns() - t0) * 1e-9)
    return max(1, int(target_s / max(single, 1e-9)))


def timer_overhead_ns():
    """Median cost of the timing itself (two perf_counter_ns calls around a no-op)."""
    pc = time.perf_counter_ns
    noop = lambda: None  # noqa: E731
    ts = []
    for _ in range(20000):
        t0 = pc()
        noop()
        ts.append(pc() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def time_interleaved(fns, repeats, target_s, budget_s):
    """Times several implementations of one size, interleaved, call by call.

    Every call is timed on its own with perf_counter_ns (so a call that the OS preempts on a
    busy machine is one outlier, not a spoiled batch). Round i runs, for each implementation in
    an order rotated by i, as many calls as last about target_s (at least one), so that all
    implementations see the same machine; `repeats` rounds, fewer if the budget of budget_s
    per implementation runs out (at least 3 rounds). Returns per name: median and min seconds
    per call, the number of timed calls, and CPU time over wall time (~1.0: one thread)."""
    number = {}
    errors = {}
    for k in list(fns):
        try:
            number[k] = calibrate(fns[k], target_s)
        except Exception as exc:  # reported, the others still run
            errors[k] = {"error": f"{type(exc).__name__}: {exc}"}
    names = list(number)
    samples = {k: [] for k in names}
    cpu = dict.fromkeys(names, 0.0)
    wall = dict.fromkeys(names, 0.0)
    pc = time.perf_counter_ns
    pt = time.process_time_ns
    gc_was = gc.isenabled()
    gc.disable()
    try:
        start = time.perf_counter()
        for i in range(repeats):
            for j in range(len(names)):
                k = names[(i + j) % len(names)]
                fn, m, out = fns[k], number[k], samples[k]
                append = out.append
                c0 = pt()
                w0 = pc()
                for _ in range(m):
                    t0 = pc()
                    fn()
                    append(pc() - t0)
                cpu[k] += (pt() - c0) * 1e-9
                wall[k] += (pc() - w0) * 1e-9
            if i >= 2 and time.perf_counter() - start > budget_s * len(names):
                break
    finally:
        if gc_was:
            gc.enable()
    out = dict(errors)
    for k in names:
        ts = sorted(samples[k])
        out[k] = {
            "median_s": float(np.median(ts)) * 1e-9,
            "min_s": ts[0] * 1e-9,
            "calls": len(ts),
            "rounds": len(ts) // number[k],
            "cpu_per_wall": cpu[k] / wall[k] if wall[k] > 0 else float("nan"),
        }
    return out


# ------------------------------------------------------------------------------------------
# Memory-bandwidth floor

_FLOOR_C = r"""
#include <stddef.h>
/* 4 float32 streams in, 1 out: the memory traffic of the fused kernel (20 bytes/element). */
void stream4to1(const float* restrict a, const float* restrict b, const float* restrict c,
                const float* restrict d, float* restrict o, long n) {
  for (long i = 0; i < n; ++i) o[i] = (a[i] - b[i]) * c[i] + d[i];
}
/* The same with non-temporal stores where the compiler offers them (x86 AVX): a plain store
   first reads the output line into the cache (read-for-ownership), so the loop above moves
   24 bytes/element; streaming stores skip that read and move the 20 bytes of the floor. */
#if defined(__AVX__)
#include <immintrin.h>
int stream4to1_nt(const float* restrict a, const float* restrict b, const float* restrict c,
                  const float* restrict d, float* restrict o, long n) {
  long i = 0;
  for (; i < n && ((unsigned long)(o + i) & 31u) != 0; ++i) o[i] = (a[i] - b[i]) * c[i] + d[i];
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    x = _mm256_add_ps(_mm256_mul_ps(x, _mm256_loadu_ps(c + i)), _mm256_loadu_ps(d + i));
    _mm256_stream_ps(o + i, x);
  }
  for (; i < n; ++i) o[i] = (a[i] - b[i]) * c[i] + d[i];
  _mm_sfence();
  return 1;
}
#else
int stream4to1_nt(const float* a, const float* b, const float* c, const float* d, float* o,
                  long n) { (void)a; (void)b; (void)c; (void)d; (void)o; (void)n; return 0; }
#endif
/* read-only: 4 bytes/element */
float sum1(const float* restrict a, long n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 += a[i]; s1 += a[i + 1]; s2 += a[i + 2]; s3 += a[i + 3];
    s4 += a[i + 4]; s5 += a[i + 5]; s6 += a[i + 6]; s7 += a[i + 7];
  }
  for (; i < n; ++i) s0 += a[i];
  return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
}
"""


def _build_floor_lib():
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        return None, "no C compiler found"
    tmp = tempfile.mkdtemp(prefix="ppobr_floor_")
    src = os.path.join(tmp, "floor.c")
    lib = os.path.join(tmp, "floor.so")
    with open(src, "w") as f:
        f.write(_FLOOR_C)
    cmd = [cc, "-O3", "-march=native", "-std=c99", "-shared", "-fPIC", src, "-o", lib]
    try:
        subprocess.run(cmd, check=True, capture_output=True, timeout=120)
    except Exception as exc:
        return None, f"{' '.join(cmd)} failed: {exc}"
    dll = ctypes.CDLL(lib)
    fp = ctypes.POINTER(ctypes.c_float)
    dll.stream4to1.argtypes = [fp, fp, fp, fp, fp, ctypes.c_long]
    dll.stream4to1.restype = None
    dll.stream4to1_nt.argtypes = [fp, fp, fp, fp, fp, ctypes.c_long]
    dll.stream4to1_nt.restype = ctypes.c_int
    dll.sum1.argtypes = [fp, ctypes.c_long]
    dll.sum1.restype = ctypes.c_float
    return dll, " ".join(os.path.basename(c) if i == 0 else c for i, c in enumerate(cmd[:4]))


def measure_floor(n, repeats):
    """Single-thread streaming floor at N elements; returns a dict of measurements."""
    rng = np.random.default_rng(1)
    a, b, c, d = (rng.random(n, dtype=np.float32) for _ in range(4))
    o = np.empty(n, np.float32)
    o.fill(0)  # fault the pages in
    big = np.ones(5 * n, np.float32)  # 200 MB at n = 1e7
    res = {"n": n}

    def best(fn, reps):
        fn()
        ts = []
        for _ in range(reps):
            t0 = time.perf_counter_ns()
            fn()
            ts.append(time.perf_counter_ns() - t0)
        ts.sort()
        return ts[0] * 1e-9, float(np.median(ts)) * 1e-9

    reps = max(5, repeats)
    dll, how = _build_floor_lib()
    if dll is not None:
        fp = ctypes.POINTER(ctypes.c_float)
        pa, pb, pc, pd, po = (x.ctypes.data_as(fp) for x in (a, b, c, d, o))
        pbig = big.ctypes.data_as(fp)
        tmin, tmed = best(lambda: dll.stream4to1(pa, pb, pc, pd, po, n), reps)
        res["c_stream_min_s"] = tmin
        res["c_stream_median_s"] = tmed
        if dll.stream4to1_nt(pa, pb, pc, pd, po, n):  # 0: no streaming stores here
            tmin_nt, tmed_nt = best(lambda: dll.stream4to1_nt(pa, pb, pc, pd, po, n), reps)
            res["c_stream_nt_min_s"] = tmin_nt
            res["c_stream_nt_median_s"] = tmed_nt
        tmin_r, _ = best(lambda: dll.sum1(pbig, big.size), reps)
        res["c_read_GBps"] = big.nbytes / tmin_r / 1e9

        def fresh():  # the output freshly allocated each call, as a kernel returning a new array
            out = np.empty(n, np.float32)
            dll.stream4to1(pa, pb, pc, pd, out.ctypes.data_as(fp), n)

        tmin_f, tmed_f = best(fresh, reps)
        res["c_fresh_min_s"] = tmin_f
        res["c_fresh_median_s"] = tmed_f
        res["c_how"] = how
    else:
        res["c_error"] = how
    # NumPy-only estimate: 4 streams read by two BLAS dots (8 B/element each), plus a write
    # stream (memset, 4 B/element): a lower bound, as it runs them in separate passes.
    t_dot, _ = best(lambda: np.dot(a, b), reps)
    t_dot2, _ = best(lambda: np.dot(c, d), reps)
    t_fill, _ = best(lambda: o.fill(1.0), reps)
    res["np_estimate_s"] = t_dot + t_dot2 + t_fill
    t_copy, _ = best(lambda: np.copyto(big[: 2 * n], big[2 * n : 4 * n]), reps)
    res["np_copy_GBps"] = 2 * (2 * n * 4) / t_copy / 1e9  # read + write bytes
    # the floor: the fastest of the C loops (plain or streaming stores), else the NumPy estimate
    candidates = [(res[k], name) for k, name in (("c_stream_min_s", "C stream4to1"),
                                                 ("c_stream_nt_min_s", "C stream4to1, streaming stores"))
                  if k in res]  # fmt: skip
    floor_s, res["floor_source"] = min(candidates) if candidates else (res["np_estimate_s"], "NumPy estimate")
    res["floor_ns_per_el"] = floor_s / n * 1e9
    res["floor_GBps"] = 20 * n / floor_s / 1e9
    return res


# ------------------------------------------------------------------------------------------
# Output


def fmt_us(s):
    us = s * 1e6
    if us >= 1000:
        return f"{us:,.0f}"
    if us >= 100:
        return f"{us:.0f}"
    if us >= 10:
        return f"{us:.1f}"
    return f"{us:.2f}"


def fmt_ns(s, n):
    ns = s * 1e9 / n
    return f"{ns:.3f}" if ns < 1 else f"{ns:.2f}" if ns < 100 else f"{ns:.0f}"


def fmt_n(n):
    e = math.log10(n)
    return f"1e{int(round(e))}" if abs(e - round(e)) < 1e-9 else str(n)


def render_table(header, rows, markdown):
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)]
    out = ["  ".join(h.rjust(w) for h, w in zip(header, widths))]
    out.append("  ".join("-" * w for w in widths))
    out += ["  ".join(c.rjust(w) for c, w in zip(r, widths)) for r in rows]
    return "\n".join(out)


def report(results, impls, sizes, floor, markdown, stat_key):
    """Tables: per-call time, speedups, ratio to the floor."""
    lines = []
    which = "median" if stat_key == "median_s" else "min"
    header = ["N"]
    for name in impls:
        header += [f"{LABELS[name]} µs", "ns/el"]
    rows = []
    for n in sizes:
        row = [fmt_n(n)]
        for name in impls:
            r = results.get(name, {}).get(n)
            if r is None or stat_key not in r:
                row += ["—", "—"]
            else:
                row += [fmt_us(r[stat_key]), fmt_ns(r[stat_key], n)]
        rows.append(row)
    lines.append(f"Per call ({which} of samples), µs and ns/element:")
    lines.append(render_table(header, rows, markdown))

    comps = [c for c in COMPETITORS if c in impls]
    mines = [m for m in ("ppobr-1t", "ppobr-auto") if m in impls]
    if mines and comps:
        header = ["N"]
        for m in mines:
            header += [f"{'1t' if m == 'ppobr-1t' else 'auto'} vs {LABELS[c]}" for c in comps]
        if "ppobr-1t" in mines and floor:
            header.append("1t / floor")
        rows = []
        for n in sizes:
            row = [fmt_n(n)]
            for m in mines:
                rm = results.get(m, {}).get(n)
                for c in comps:
                    rc = results.get(c, {}).get(n)
                    if rm and rc and stat_key in rm and stat_key in rc:
                        row.append(f"{rc[stat_key] / rm[stat_key]:.1f}×")
                    else:
                        row.append("—")
            if "ppobr-1t" in mines and floor:
                rm = results.get("ppobr-1t", {}).get(n)
                if rm and stat_key in rm:
                    row.append(f"{rm[stat_key] * 1e9 / n / floor['floor_ns_per_el']:.2f}×")
                else:
                    row.append("—")
            rows.append(row)
        lines.append("")
        lines.append(f"Speedup of ppobr ({which}; competitor time / ppobr time; >1: ppobr faster):")
        lines.append(render_table(header, rows, markdown))
    return "\n".join(lines)


def bars(results, sizes, key="median_s"):
    """PASS / FAIL / PENDING / SKIPPED per bar, on medians (or on mins with key="min_s")."""
    out = []

    def get(name, n):
        r = results.get(name, {}).get(n)
        return None if r is None or key not in r else r[key]

    def verdict(ok):
        return "PASS" if ok else "FAIL"

    # 1. <= 4 us per call at N = 1e3 through Python (the default call: automatic threads).
    t_auto, t_1 = get("ppobr-auto", BAR_SMALL_N), get("ppobr-1t", BAR_SMALL_N)
    if BAR_SMALL_N not in sizes:
        out.append(("<= 4 µs per call at N = 1e3", "SKIPPED", "N = 1e3 not measured"))
    elif t_auto is None and t_1 is None:
        out.append(("<= 4 µs per call at N = 1e3", "PENDING", "ppobr_core not measured"))
    else:
        t = t_auto if t_auto is not None else t_1
        detail = f"auto {t_auto * 1e6:.2f} µs" if t_auto is not None else ""
        if t_1 is not None:
            detail += f"{'; ' if detail else ''}1 thread {t_1 * 1e6:.2f} µs"
        out.append(("<= 4 µs per call at N = 1e3", verdict(t * 1e6 <= BAR_SMALL_US), detail))
    # 2. <= 0.7 ns/element on one thread at N >= 1e5.
    big = [n for n in sizes if n >= BAR_NS_MIN_N]
    vals = [(n, get("ppobr-1t", n)) for n in big]
    if not big:
        out.append(("<= 0.7 ns/el, 1 thread, N >= 1e5", "SKIPPED", "no N >= 1e5 measured"))
    elif any(v is None for _, v in vals):
        out.append(("<= 0.7 ns/el, 1 thread, N >= 1e5", "PENDING", "ppobr_core not measured"))
    else:
        detail = ", ".join(f"{fmt_n(n)}: {v * 1e9 / n:.3f}" for n, v in vals)
        ok = all(v * 1e9 / n <= BAR_NS_PER_EL for n, v in vals)
        out.append(("<= 0.7 ns/el, 1 thread, N >= 1e5", verdict(ok), detail))
    # 3./4. speedups at every N, single thread vs single thread.
    for comp, need in (("compile", BAR_VS_COMPILE), ("numpy", BAR_VS_NUMPY)):
        title = f">= {need}x faster than {LABELS[comp]}, every N"
        pairs = [(n, get("ppobr-1t", n), get(comp, n)) for n in sizes]
        if all(c is None for _, _, c in pairs):
            out.append((title, "SKIPPED", f"{LABELS[comp]} not measured"))
        elif any(m is None for _, m, c in pairs if c is not None):
            out.append((title, "PENDING", "ppobr_core not measured"))
        else:
            sp = [(n, c / m) for n, m, c in pairs if c is not None]
            detail = ", ".join(f"{fmt_n(n)}: {s:.1f}x" for n, s in sp)
            out.append((title, verdict(all(s >= need for _, s in sp)), detail))
    return out


# ------------------------------------------------------------------------------------------


def parse_sizes(text):
    out = []
    for tok in text.replace(",", " ").split():
        v = float(tok)
        if v < 1 or v != int(v):
            raise argparse.ArgumentTypeError(f"bad size {tok!r}")
        out.append(int(v))
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=parse_sizes, default=None,
                    help="batch sizes, e.g. '1e3,1e4,1e5' (default 1e3..1e7)")
    ap.add_argument("--repeats", type=int, default=None,
                    help="interleaved timing rounds per size (default 25; --quick 7)")
    ap.add_argument("--quick", action="store_true", help="fewer, shorter samples")
    ap.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    ap.add_argument("--skip", default="",
                    help="comma list of implementations to skip: "
                         "ppobr, numpy, torch, compile, jax (or ppobr-1t, ppobr-auto)")
    ap.add_argument("--compile-mode", choices=("func", "autograd", "analytic"), default="func",
                    help="torch.compile variant: torch.func.grad_and_value compiled whole "
                         "(default), compiled forward + autograd.grad, or a hand-written grad")
    ap.add_argument("--numpy-chunk", type=int, default=NUMPY_CHUNK,
                    help=f"NumPy cache-block size in elements (default {NUMPY_CHUNK}; 0: no blocking)")
    ap.add_argument("--fresh-grad", action="store_true",
                    help="ppobr and NumPy allocate a new grad array every call instead of "
                         "reusing one (ppobr: out=)")
    ap.add_argument("--verify-n", type=int, default=200_000,
                    help="size of the strict startup cross-check (default 2e5: above the size where ppobr starts threads)")
    ap.add_argument("--no-verify", action="store_true",
                    help="time even if an implementation disagrees with the reference")
    ap.add_argument("--no-floor", action="store_true", help="skip the memory-bandwidth floor")
    ap.add_argument("--floor-n", type=int, default=10_000_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--json", metavar="PATH", help="write all measurements as JSON")
    args = ap.parse_args(argv)

    sizes = args.sizes or [10**3, 10**4, 10**5, 10**6, 10**7]
    repeats = args.repeats or (7 if args.quick else 25)
    target_s = 0.001 if args.quick else 0.002
    budget_s = 1.5 if args.quick else 5.0

    skip = {s.strip() for s in args.skip.split(",") if s.strip()}
    if "ppobr" in skip:
        skip |= {"ppobr-1t", "ppobr-auto"}
    unknown = skip - set(ALL_IMPLS) - {"ppobr"}
    if unknown:
        ap.error(f"--skip: unknown {sorted(unknown)}; choose from ppobr, {', '.join(ALL_IMPLS)}")

    print(f"ppobr-core surrogate benchmark: float32, token-mean, eps={EPS}, entropy given, no mask")
    print(f"sizes {', '.join(fmt_n(n) for n in sizes)}; every call timed on its own, in {repeats} "
          f"interleaved rounds of ~{target_s * 1e3:.0f} ms per implementation; median per call "
          f"(min in the second table); timer overhead {timer_overhead_ns()} ns per call (included)")
    print(f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; "
          f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    print(f"env: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} "
          f"NPROC={os.environ.get('NPROC')} XLA_FLAGS='{os.environ.get('XLA_FLAGS')}' "
          f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}")

    # Build the implementations; missing packages are reported, not fatal.
    factories = {}
    missing = {}
    for name in ALL_IMPLS:
        if name in skip:
            missing[name] = "skipped (--skip)"
            continue
        try:
            factories[name] = make_factory(name, args)
        except Missing as exc:
            missing[name] = str(exc)
        except Exception as exc:  # a broken install must not stop the others
            missing[name] = f"{type(exc).__name__}: {exc}"
    print("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()))
    if args.compile_mode != "func" and "compile" in factories:
        print(f"torch.compile mode: {args.compile_mode}")
    for name, why in missing.items():
        print(f"  not measured: {LABELS[name]}: {why}")
    impls = [n for n in ALL_IMPLS if n in factories]
    if not impls:
        print("nothing to measure")
        return 1

    # Strict cross-check at one N.
    print(f"\nChecking every implementation against a float64 reference at N = {fmt_n(args.verify_n)} ...")
    x = make_inputs(args.verify_n, args.seed)
    ref = reference(*x)
    failed = False
    for name in list(impls):
        setup, to_numpy = factories[name]
        try:
            t0 = time.perf_counter()
            out = to_numpy(setup(*x)())
            first = time.perf_counter() - t0
        except Exception as exc:
            print(f"  {LABELS[name]:22s} ERROR {type(exc).__name__}: {exc}")
            missing[name] = f"failed at the check: {type(exc).__name__}: {exc}"
            impls.remove(name)
            continue
        problems = check(name, out, ref, args.verify_n)
        dev = abs(out[0] - ref["loss"]) / max(ref["obj_scale"], 1e-30)
        gerr = np.max(np.abs(np.asarray(out[1], np.float64) - ref["grad"])) / np.abs(ref["grad"]).max()
        status = "ok" if not problems else "MISMATCH"
        print(f"  {LABELS[name]:22s} {status:8s} loss {out[0]:+.7f} (ref {ref['loss']:+.7f}), "
              f"max |grad err| / max |grad| {gerr:.1e}, first call {first:.2f} s")
        for p in problems:
            print(f"      {p}")
        failed |= bool(problems)
    print(f"  ({int(ref['near'].sum())} of {args.verify_n} samples have r within 1e-5 of a clip bound; "
          f"their clip decision may differ between implementations)")
    if failed and not args.no_verify:
        print("\nImplementations disagree: not timing them (use --no-verify to time anyway).")
        return 2

    floor = None
    if not args.no_floor:
        print(f"\nMemory-bandwidth floor, one thread, N = {fmt_n(args.floor_n)} ...")
        floor = measure_floor(args.floor_n, repeats)
        if "c_stream_min_s" in floor:
            n_f = floor["n"]
            print(f"  C loop o[i] = (a[i]-b[i])*c[i]+d[i] ({floor['c_how']}): "
                  f"{floor['c_stream_min_s'] * 1e3:.2f} ms min, {floor['c_stream_median_s'] * 1e3:.2f} ms median "
                  f"({floor['c_stream_min_s'] * 1e9 / n_f:.3f} ns/element)")
            if "c_stream_nt_min_s" in floor:
                print(f"  the same with streaming (non-temporal) stores: {floor['c_stream_nt_min_s'] * 1e3:.2f} ms min, "
                      f"{floor['c_stream_nt_median_s'] * 1e3:.2f} ms median "
                      f"({floor['c_stream_nt_min_s'] * 1e9 / n_f:.3f} ns/element)")
            print(f"  floor ({floor['floor_source']}): {floor['floor_GBps']:.1f} GB/s at 20 B/element "
                  f"-> {floor['floor_ns_per_el']:.3f} ns/element")
            print(f"  same with the output freshly allocated each call (page faults): "
                  f"{floor['c_fresh_min_s'] * 1e9 / floor['n']:.3f} ns/element min, "
                  f"{floor['c_fresh_median_s'] * 1e9 / floor['n']:.3f} median")
            print(f"  C read-only sum of {5 * floor['n'] * 4 / 1e6:.0f} MB: {floor['c_read_GBps']:.1f} GB/s")
        else:
            print(f"  C floor unavailable ({floor.get('c_error')}); using the NumPy estimate")
        print(f"  NumPy estimate (2 x np.dot over 2 arrays + fill of 1): "
              f"{floor['np_estimate_s'] * 1e9 / floor['n']:.3f} ns/element; "
              f"np.copyto of {2 * floor['n'] * 4 / 1e6:.0f} MB: {floor['np_copy_GBps']:.1f} GB/s (read + write)")

    # Timing: per size, check every implementation's first call, then time them interleaved.
    results = {name: {} for name in impls}
    checks = {}
    for n in sizes:
        print(f"\nN = {fmt_n(n)}")
        x = make_inputs(n, args.seed)
        ref_n = reference(*x) if n != args.verify_n else ref
        fns = {}
        for name in impls:
            setup, to_numpy = factories[name]
            try:
                fn = setup(*x)
                t0 = time.perf_counter()
                out = to_numpy(fn())
                first = time.perf_counter() - t0
                checks[(name, n)] = check(name, out, ref_n, n)
                fns[name] = fn
                results[name][n] = {"first_call_s": first}
            except Exception as exc:
                results[name][n] = {"error": f"{type(exc).__name__}: {exc}"}
                print(f"  {LABELS[name]:22s} ERROR {type(exc).__name__}: {exc}")
        out = None
        del ref_n
        gc.collect()
        timed = time_interleaved(fns, repeats, target_s, budget_s) if fns else {}
        for name in impls:
            if name not in timed:
                continue
            r = results[name][n]
            r.update(timed[name])
            if "error" in r:
                print(f"  {LABELS[name]:22s} ERROR {r['error']}")
                continue
            problems = checks.get((name, n)) or []
            flag = "" if not problems else "  CHECK: " + "; ".join(problems)
            print(f"  {LABELS[name]:22s} {fmt_us(r['median_s']):>9s} µs  {fmt_ns(r['median_s'], n):>7s} ns/el"
                  f"  (min {fmt_us(r['min_s'])} µs; {r['calls']} calls in {r['rounds']} rounds;"
                  f" cpu/wall {r['cpu_per_wall']:.2f}){flag}", flush=True)
        fns = None
        gc.collect()

    # What the timed ppobr call leaves out: reading result.stats builds a Python dict.
    if "ppobr-1t" in impls and BAR_SMALL_N in sizes:
        try:
            res = factories["ppobr-1t"][0](*make_inputs(BAR_SMALL_N, args.seed))()
            pc = time.perf_counter_ns
            ts = []
            for _ in range(5000):
                t0 = pc()
                res.stats
                ts.append(pc() - t0)
            t_stats = float(np.median(ts)) / 1e3
            print(f"\n(not in the ppobr times: reading result.stats, which builds a dict of the 11 "
                  f"means, costs {t_stats:.2f} µs per read, median)")
        except Exception as exc:  # pragma: no cover
            print(f"\n(could not time result.stats: {exc})")

    print("\n" + "=" * 100)
    for md in ([False, True] if args.markdown else [False]):
        if md:
            print("\nMarkdown:\n")
        print(report(results, impls, sizes, floor, md, "median_s"))
        print()
        print(report(results, impls, sizes, floor, md, "min_s").split("\n\nSpeedup")[0])
        if floor:
            print(f"\nfloor: {floor['floor_ns_per_el']:.3f} ns/element ({floor['floor_source']}, "
                  f"{floor['floor_GBps']:.1f} GB/s, 20 B/element, one thread, N = {fmt_n(floor['n'])})")
    bad_checks = [(k, v) for k, v in checks.items() if v]
    if bad_checks:
        print("\nCHECK MISMATCHES (results above compare different numbers for these):")
        for (name, n), probs in bad_checks:
            print(f"  {LABELS[name]} at N = {fmt_n(n)}: {'; '.join(probs)}")
    for name, why in missing.items():
        print(f"not measured: {LABELS[name]}: {why}")

    print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          f"({os.cpu_count()} logical CPUs)")
    verdicts = bars(results, sizes)
    verdicts_min = bars(results, sizes, "min_s")
    print("\nBars (on medians; ppobr 1 thread vs competitors on 1 thread; the min-based verdict,")
    print("less sensitive to a shared machine, in parentheses):")
    for (title, v, detail), (_, vmin, _) in zip(verdicts, verdicts_min):
        print(f"  {v:8s} ({vmin:7s}) {title}" + (f"  [{detail}]" if detail else ""))

    if args.json:
        payload = {
            "sizes": sizes,
            "versions": versions(),
            "missing": missing,
            "floor": floor,
            "results": {k: {str(n): r for n, r in v.items()} for k, v in results.items()},
            "checks": {f"{k[0]}@{k[1]}": v for k, v in checks.items()},
            "bars": verdicts,
            "bars_on_min": verdicts_min,
            "loadavg": os.getloadavg(),
        }
        with open(args.json, "w") as f:
            json.dump(payload, f, indent=1)
        print(f"\nwrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
