"""The implementations timed by benchmarks/kernels.py: ppobr_core and its peers.

Each factory returns (setup, to_numpy):
  setup(lpn, lpo, adv, ent) -> fn, a zero-argument callable doing one full computation (loss,
      gradient, statistics; see kernel_case.py) on inputs already converted to the framework's
      own arrays (the conversion is not timed);
  to_numpy(result of fn) -> (loss float, grad ndarray, stats dict), for kernel_check.check.

The competitors are written the way each framework's users write this loss (the idioms being
compared), each as fast as that framework allows; none of them is a reference: every one is
checked against ppobr_core (kernel_check.py) before it is timed.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from kernel_case import EPS, HI, LO, STAT_NAMES

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
                return surrogate(
                    lpn, lpo, adv, eps=EPS, entropy=ent, num_threads=num_threads, out=buf
                )

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
        work = [np.empty(m, np.float32) for _ in range(3)] + [
            np.empty(m, np.bool_) for _ in range(4)
        ]
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
    """PyTorch eager, as a PPO implementation writes it (CleanRL's min / clamp form): forward,
    loss.backward(), then the statistics under no_grad."""
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
    """torch.compile(dynamic=False) of the eager computation, in one of three forms:
    "func" (forward + backward through torch.func.grad_and_value, one graph), "autograd"
    (compiled forward, then torch.autograd.grad) or "analytic" (a hand-written gradient, no
    autograd: the form most favourable to torch)."""
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
    """jax.jit of value_and_grad of the plain jnp loss plus the statistics, in one function,
    inputs already on the device, block_until_ready on the outputs."""
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
    """The factory for one column name of ALL_IMPLS, configured from the command line."""
    if name == "ppobr-1t":
        return ppobr_factory(1, args.fresh_grad)
    if name == "ppobr-auto":
        return ppobr_factory(0, args.fresh_grad)
    if name == "numpy":
        return numpy_factory(args.numpy_chunk if args.numpy_chunk > 0 else 1 << 62, args.fresh_grad)
    if name == "torch":
        return torch_eager_factory()
    if name == "compile":
        return torch_compile_factory(args.compile_mode)
    if name == "jax":
        return jax_factory()
    raise ValueError(name)
