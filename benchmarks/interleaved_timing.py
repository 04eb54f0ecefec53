"""Call-by-call, interleaved timing of several implementations of one computation.

Every call is timed on its own with time.perf_counter_ns, so that a call the OS preempts on a
busy machine is one outlier instead of a spoiled batch, and the implementations are timed in
interleaved rounds, so that they all see the same machine load. The garbage collector is off
while timing.
"""

from __future__ import annotations

import gc
import time

import numpy as np


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
