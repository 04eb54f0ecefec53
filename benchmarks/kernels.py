#!/usr/bin/env python3
"""Benchmark of the fused PPO clipped-surrogate kernel against NumPy, PyTorch and JAX.

Every implementation computes the same thing (kernel_case.py): for float32 inputs of N samples,
the token-mean clipped-surrogate loss with eps = 0.2, its gradient with respect to logp_new and
the eleven statistics.

Implementations (columns; kernel_competitors.py):
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

All implementations are checked against ppobr_core in float64 before they are timed
(kernel_check.py; at --verify-n strictly: a mismatch aborts; at every timed N as a reported
check), then timed call by call in interleaved rounds (interleaved_timing.py), next to the
machine's memory-bandwidth floor (bandwidth_floor.py). See benchmarks/README.md.

Usage:
    python benchmarks/kernels.py                    # all sizes, all implementations
    python benchmarks/kernels.py --quick --markdown
    python benchmarks/kernels.py --sizes 1e3,1e5 --skip jax,compile
"""

from __future__ import annotations

import os
import sys

# Thread pinning must happen before NumPy / JAX are imported (the modules below import NumPy).
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # np.dot (OpenBLAS) on one thread
# The classic JAX recipe (jax-ml/jax#743). With jaxlib 0.10 it alone does NOT pin XLA's CPU
# client (measured cpu/wall ~1.9 on 2 cores); the token without "--" is ignored by XLA.
_XLA_SINGLE = "--xla_cpu_multi_thread_eigen=false intra_op_parallelism_threads=1"
if "--xla_cpu_multi_thread_eigen" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = (os.environ.get("XLA_FLAGS", "") + " " + _XLA_SINGLE).strip()
# What does pin it: NPROC sizes the XLA CPU client's thread pool (tsl port::MaxParallelism).
os.environ.setdefault("NPROC", "1")

import argparse  # noqa: E402
import gc  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
from bandwidth_floor import floor_lines, measure_floor  # noqa: E402
from interleaved_timing import time_interleaved, timer_overhead_ns  # noqa: E402
from kernel_case import EPS, make_inputs  # noqa: E402
from kernel_check import ReferenceUnavailable, check, reference  # noqa: E402
from kernel_competitors import (  # noqa: E402
    ALL_IMPLS,
    LABELS,
    NUMPY_CHUNK,
    Missing,
    make_factory,
)
from kernel_report import BAR_SMALL_N, bars, fmt_n, fmt_ns, fmt_us, report  # noqa: E402


def versions():
    """Versions of Python and of the frameworks imported so far."""
    out = {"python": platform.python_version(), "numpy": np.__version__}
    for mod in ("torch", "jax", "jaxlib", "ppobr_core"):
        m = sys.modules.get(mod)
        if m is not None:
            out[mod] = getattr(m, "__version__", "?")
    return out


def parse_sizes(text):
    out = []
    for tok in text.replace(",", " ").split():
        v = float(tok)
        if v < 1 or v != int(v):
            raise argparse.ArgumentTypeError(f"bad size {tok!r}")
        out.append(int(v))
    return out


def cross_check(factories, impls, missing, args):
    """The strict check at --verify-n: every implementation against ppobr_core in float64.

    Drops implementations that raise (recorded in `missing`). Returns (reference, all agree);
    the reference is None when ppobr_core does not import (nothing to check against)."""
    n = args.verify_n
    print(f"\nChecking every implementation against ppobr_core in float64 at N = {fmt_n(n)} ...")
    x = make_inputs(n, args.seed)
    try:
        ref = reference(*x)
    except ReferenceUnavailable as exc:
        print(f"  no reference: {exc}")
        if not args.no_verify:
            print("\nNothing to check against: not timing (use --no-verify to time anyway).")
        return None, False
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
        problems = check(out, ref, n)
        g = np.asarray(out[1], np.float64)
        gerr = np.max(np.abs(g - ref["grad"])) / np.abs(ref["grad"]).max()
        status = "ok" if not problems else "MISMATCH"
        print(
            f"  {LABELS[name]:22s} {status:8s} loss {out[0]:+.7f} (ref {ref['loss']:+.7f}), "
            f"max |grad err| / max |grad| {gerr:.1e}, first call {first:.2f} s"
        )
        for p in problems:
            print(f"      {p}")
        failed |= bool(problems)
    print(
        f"  ({int(ref['near'].sum())} of {n} samples have r within 1e-5 of a clip bound; "
        "their clip decision may differ between implementations)"
    )
    if failed and not args.no_verify:
        print("\nImplementations disagree: not timing them (use --no-verify to time anyway).")
    return ref, not failed


def main(argv=None):
    ap = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    ap.add_argument(
        "--sizes",
        type=parse_sizes,
        default=None,
        help="batch sizes, e.g. '1e3,1e4,1e5' (default 1e3..1e7)",
    )
    ap.add_argument(
        "--repeats",
        type=int,
        default=None,
        help="interleaved timing rounds per size (default 25; --quick 7)",
    )
    ap.add_argument("--quick", action="store_true", help="fewer, shorter samples")
    ap.add_argument("--markdown", action="store_true", help="also print Markdown tables")
    ap.add_argument(
        "--skip",
        default="",
        help="comma list of implementations to skip: "
        "ppobr, numpy, torch, compile, jax (or ppobr-1t, ppobr-auto)",
    )
    ap.add_argument(
        "--compile-mode",
        choices=("func", "autograd", "analytic"),
        default="func",
        help="torch.compile variant: torch.func.grad_and_value compiled whole "
        "(default), compiled forward + autograd.grad, or a hand-written grad",
    )
    ap.add_argument(
        "--numpy-chunk",
        type=int,
        default=NUMPY_CHUNK,
        help=f"NumPy cache-block size in elements (default {NUMPY_CHUNK}; 0: no blocking)",
    )
    ap.add_argument(
        "--fresh-grad",
        action="store_true",
        help="ppobr and NumPy allocate a new grad array every call instead of "
        "reusing one (ppobr: out=)",
    )
    ap.add_argument(
        "--verify-n",
        type=int,
        default=200_000,
        help="size of the strict startup cross-check (default 2e5: above the size where ppobr starts threads)",
    )
    ap.add_argument(
        "--no-verify",
        action="store_true",
        help="time even if an implementation disagrees with the reference",
    )
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
    print(
        f"sizes {', '.join(fmt_n(n) for n in sizes)}; every call timed on its own, in {repeats} "
        f"interleaved rounds of ~{target_s * 1e3:.0f} ms per implementation; median per call "
        f"(min in the second table); timer overhead {timer_overhead_ns()} ns per call (included)"
    )
    print(
        f"cpu: {platform.processor() or platform.machine()}, {os.cpu_count()} logical CPUs; "
        f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"env: OPENBLAS_NUM_THREADS={os.environ.get('OPENBLAS_NUM_THREADS')} "
        f"NPROC={os.environ.get('NPROC')} XLA_FLAGS='{os.environ.get('XLA_FLAGS')}' "
        f"OPENBLAS_CORETYPE={os.environ.get('OPENBLAS_CORETYPE', '(unset)')}"
    )

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

    ref, agreed = cross_check(factories, impls, missing, args)
    if not agreed and not args.no_verify:
        return 2

    floor = None
    if not args.no_floor:
        print(f"\nMemory-bandwidth floor, one thread, N = {fmt_n(args.floor_n)} ...")
        floor = measure_floor(args.floor_n, repeats)
        print("\n".join(floor_lines(floor)))

    # Timing: per size, check every implementation's first call, then time them interleaved.
    results = {name: {} for name in impls}
    checks = {}
    for n in sizes:
        print(f"\nN = {fmt_n(n)}")
        x = make_inputs(n, args.seed)
        if ref is None or n == args.verify_n:
            ref_n = ref
        else:
            ref_n = reference(*x)
        fns = {}
        for name in impls:
            setup, to_numpy = factories[name]
            try:
                fn = setup(*x)
                t0 = time.perf_counter()
                out = to_numpy(fn())
                first = time.perf_counter() - t0
                if ref_n is not None:
                    checks[(name, n)] = check(out, ref_n, n)
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
            print(
                f"  {LABELS[name]:22s} {fmt_us(r['median_s']):>9s} µs  {fmt_ns(r['median_s'], n):>7s} ns/el"
                f"  (min {fmt_us(r['min_s'])} µs; {r['calls']} calls in {r['rounds']} rounds;"
                f" cpu/wall {r['cpu_per_wall']:.2f}){flag}",
                flush=True,
            )
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
            print(
                f"\n(not in the ppobr times: reading result.stats, which builds a dict of the 11 "
                f"means, costs {t_stats:.2f} µs per read, median)"
            )
        except Exception as exc:  # pragma: no cover
            print(f"\n(could not time result.stats: {exc})")

    print("\n" + "=" * 100)
    for md in [False, True] if args.markdown else [False]:
        if md:
            print("\nMarkdown:\n")
        print(report(results, impls, sizes, floor, md, "median_s"))
        print()
        print(report(results, impls, sizes, floor, md, "min_s").split("\n\nSpeedup")[0])
        if floor:
            print(
                f"\nfloor: {floor['floor_ns_per_el']:.3f} ns/element ({floor['floor_source']}, "
                f"{floor['floor_GBps']:.1f} GB/s, 20 B/element, one thread, N = {fmt_n(floor['n'])})"
            )
    bad_checks = [(k, v) for k, v in checks.items() if v]
    if bad_checks:
        print("\nCHECK MISMATCHES (results above compare different numbers for these):")
        for (name, n), probs in bad_checks:
            print(f"  {LABELS[name]} at N = {fmt_n(n)}: {'; '.join(probs)}")
    for name, why in missing.items():
        print(f"not measured: {LABELS[name]}: {why}")

    print(
        f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
        f"({os.cpu_count()} logical CPUs)"
    )
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
