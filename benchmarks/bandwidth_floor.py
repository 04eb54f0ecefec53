"""The single-thread memory-bandwidth floor: builds bandwidth_floor.c and times its loops.

The fused surrogate kernel reads 4 float32 streams (logp_new, logp_old, advantages, entropy) and
writes 1 (grad): 20 bytes per element. The floor is the time of the cheapest loop with that
traffic on one thread, o[i] = (a[i] - b[i]) * c[i] + d[i], with plain stores (which first read
each output line into the cache, so they move 24 B/element) and, on x86 with AVX, streaming
stores (the 20 B); the faster of the two, minimum over the calls. Without a C compiler, a rougher
NumPy-only estimate (separate read and write passes) stands in.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import tempfile
import time

import numpy as np

SOURCE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "bandwidth_floor.c")


def _build_floor_lib():
    """Compiles bandwidth_floor.c into a temporary shared library; returns (ctypes library,
    the compile command's short form) or (None, why not)."""
    cc = os.environ.get("CC") or shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if not cc:
        return None, "no C compiler found"
    tmp = tempfile.mkdtemp(prefix="ppobr_floor_")
    lib = os.path.join(tmp, "floor.so")
    cmd = [cc, "-O3", "-march=native", "-std=c99", "-shared", "-fPIC", SOURCE, "-o", lib]
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
    """Single-thread streaming floor at N elements; returns a dict of measurements.

    Besides the floor (floor_ns_per_el, floor_GBps = 20 B / floor time): the same loop writing
    into a freshly allocated array every call (what a kernel returning a new grad array pays
    for page faults), a read-only sum over 5 N floats (read bandwidth), the NumPy estimate and
    np.copyto bandwidth."""
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
    loops = (
        ("c_stream_min_s", "C stream4to1"),
        ("c_stream_nt_min_s", "C stream4to1, streaming stores"),
    )
    candidates = [(res[k], name) for k, name in loops if k in res]
    if candidates:
        floor_s, res["floor_source"] = min(candidates)
    else:
        floor_s, res["floor_source"] = res["np_estimate_s"], "NumPy estimate"
    res["floor_ns_per_el"] = floor_s / n * 1e9
    res["floor_GBps"] = 20 * n / floor_s / 1e9
    return res


def floor_lines(floor):
    """The floor measurement as the lines kernels.py prints."""
    lines = []
    n = floor["n"]
    if "c_stream_min_s" in floor:
        lines.append(
            f"  C loop o[i] = (a[i]-b[i])*c[i]+d[i] ({floor['c_how']}): "
            f"{floor['c_stream_min_s'] * 1e3:.2f} ms min, "
            f"{floor['c_stream_median_s'] * 1e3:.2f} ms median "
            f"({floor['c_stream_min_s'] * 1e9 / n:.3f} ns/element)"
        )
        if "c_stream_nt_min_s" in floor:
            lines.append(
                "  the same with streaming (non-temporal) stores: "
                f"{floor['c_stream_nt_min_s'] * 1e3:.2f} ms min, "
                f"{floor['c_stream_nt_median_s'] * 1e3:.2f} ms median "
                f"({floor['c_stream_nt_min_s'] * 1e9 / n:.3f} ns/element)"
            )
        lines.append(
            f"  floor ({floor['floor_source']}): {floor['floor_GBps']:.1f} GB/s at 20 B/element "
            f"-> {floor['floor_ns_per_el']:.3f} ns/element"
        )
        lines.append(
            "  same with the output freshly allocated each call (page faults): "
            f"{floor['c_fresh_min_s'] * 1e9 / n:.3f} ns/element min, "
            f"{floor['c_fresh_median_s'] * 1e9 / n:.3f} median"
        )
        lines.append(
            f"  C read-only sum of {5 * n * 4 / 1e6:.0f} MB: {floor['c_read_GBps']:.1f} GB/s"
        )
    else:
        lines.append(f"  C floor unavailable ({floor.get('c_error')}); using the NumPy estimate")
    lines.append(
        "  NumPy estimate (2 x np.dot over 2 arrays + fill of 1): "
        f"{floor['np_estimate_s'] * 1e9 / n:.3f} ns/element; "
        f"np.copyto of {2 * n * 4 / 1e6:.0f} MB: {floor['np_copy_GBps']:.1f} GB/s (read + write)"
    )
    return lines
