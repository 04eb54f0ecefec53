"""Jitted loss + gradient of ppobr_jax's clipped surrogate against the same loss written plainly
in jnp, on the CPU, N = 1e3 ... 1e7 samples.

    PYTHONPATH=adapters python benchmarks/jax_adapter.py                  # float32, all sizes
    PYTHONPATH=adapters python benchmarks/jax_adapter.py --dtype float64 --sizes 1e5 1e6

Each variant is ``jax.jit(jax.value_and_grad(loss, has_aux=True))`` in logp_new, returning the
loss, d loss / d logp_new and the statistics (entropy, ratio mean/min/max, clip fractions,
KL k1/k2/k3), with ε passed as a traced scalar:

- plain jnp:      the textbook expression (min(rA, clip(r)A), jnp.mean, per-statistic means)
- adapter jnp:    ppobr_jax.clipped_surrogate(impl="jnp") (the core's semantics: tie rule,
                  dual-clip, masks, overflow-safe gradient, (sum, count) statistics)
- adapter ffi:    ppobr_jax.clipped_surrogate(impl="ffi"): the fused C++ kernel through the XLA
                  FFI, one pass (only when ppobr_core._jax_ffi is built; PPOBR_JAX_FFI_MODULE may
                  point at a built .so)

Reports the median time per call (after warm-up; compile excluded), ns per element, and the
FFI path's speed-up over plain jax.jit. The bar: >= 3x at N >= 1e5.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time

import jax
import jax.numpy as jnp
import numpy as np


def plain_loss(lpn, lpo, adv, ent, eps):
    """The clipped surrogate and its statistics as one would write them in jnp."""
    d = lpn - lpo
    r = jnp.exp(d)
    clipped = jnp.clip(r, 1.0 - eps, 1.0 + eps)
    obj = jnp.minimum(r * adv, clipped * adv)
    loss = -jnp.mean(obj)
    rs, ds = jax.lax.stop_gradient(r), jax.lax.stop_gradient(d)
    below, above = rs < 1.0 - eps, rs > 1.0 + eps
    stats = jnp.stack(
        [
            jnp.mean(ent),
            jnp.mean(rs),
            jnp.min(rs),
            jnp.max(rs),
            jnp.mean(below | above),
            jnp.mean(below & (adv < 0)),
            jnp.mean(above & (adv > 0)),
            jnp.zeros((), lpn.dtype),
            jnp.mean(-ds),
            jnp.mean(0.5 * ds * ds),
            jnp.mean((rs - 1.0) - ds),
        ]
    )
    return loss, stats


def adapter_loss(impl):
    import ppobr_jax

    def f(lpn, lpo, adv, ent, eps):
        out = ppobr_jax.clipped_surrogate(lpn, lpo, adv, eps, entropy=ent, impl=impl)
        return out.loss, out.stats

    return f


def bench(fn, args, repeats, min_time):
    jfn = jax.jit(jax.value_and_grad(fn, has_aux=True))
    jax.block_until_ready(jfn(*args))  # compile + warm-up
    jax.block_until_ready(jfn(*args))
    times = []
    t_end = time.perf_counter() + min_time
    while len(times) < repeats or time.perf_counter() < t_end:
        t0 = time.perf_counter()
        jax.block_until_ready(jfn(*args))
        times.append(time.perf_counter() - t0)
        if len(times) >= 10 * repeats:
            break
    return statistics.median(times)


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--sizes", nargs="+", type=float, default=[1e3, 1e4, 1e5, 1e6, 1e7])
    ap.add_argument("--dtype", choices=["float32", "float64"], default="float32")
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--min-time", type=float, default=0.5, help="seconds per measurement, at least")
    ap.add_argument("--json", help="also write the results to this file")
    args = ap.parse_args(argv)
    if args.dtype == "float64":
        jax.config.update("jax_enable_x64", True)
    import ppobr_jax

    dtype = np.dtype(args.dtype)
    variants = {"plain jnp": plain_loss, "adapter jnp": adapter_loss("jnp")}
    if ppobr_jax.ffi_available():
        variants["adapter ffi"] = adapter_loss("ffi")
    print(
        f"jax {jax.__version__}, {jax.devices()[0].platform}, {os.cpu_count()} CPUs, {dtype}; "
        f"ffi path: {'yes' if 'adapter ffi' in variants else 'not built'}"
    )
    header = f"{'N':>10} " + " ".join(f"{k + ' (ns/el)':>20}" for k in variants)
    if "adapter ffi" in variants:
        header += f" {'ffi vs plain':>13}"
    print(header)
    rows = []
    rng = np.random.default_rng(0)
    for n in (int(s) for s in args.sizes):
        lpo = rng.uniform(-3.0, -0.1, size=n).astype(dtype)
        lpn = (lpo + rng.normal(0.0, 0.3, size=n)).astype(dtype)
        adv = rng.normal(size=n).astype(dtype)
        ent = rng.uniform(0.0, 1.5, size=n).astype(dtype)
        a = tuple(jnp.asarray(x) for x in (lpn, lpo, adv, ent)) + (jnp.asarray(0.2, dtype),)
        reps = args.repeats if n < 10**7 else max(3, args.repeats // 2)
        res = {name: bench(fn, a, reps, args.min_time) for name, fn in variants.items()}
        line = f"{n:>10} " + " ".join(f"{res[k] * 1e9 / n:>20.2f}" for k in variants)
        row = {"n": n, **{k: res[k] for k in variants}}
        if "adapter ffi" in res:
            sp = res["plain jnp"] / res["adapter ffi"]
            row["ffi_speedup_vs_plain"] = sp
            line += f" {sp:>12.2f}x"
        print(line, flush=True)
        rows.append(row)
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"dtype": str(dtype), "jax": jax.__version__, "rows": rows}, f, indent=1)
    return rows


if __name__ == "__main__":
    main()
