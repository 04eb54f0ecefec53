"""The tables and verdicts printed at the end of benchmarks/kernels.py.

Times come from interleaved_timing.time_interleaved (per implementation and N: median_s, min_s);
speedups are competitor time / ppobr time from the same statistic (> 1: ppobr is faster).
"""

from __future__ import annotations

import math

from kernel_competitors import COMPETITORS, LABELS

# The bars from the issue.
BAR_SMALL_N = 1000
BAR_SMALL_US = 4.0
BAR_NS_PER_EL = 0.7
BAR_NS_MIN_N = 100_000
BAR_VS_COMPILE = 1.5
BAR_VS_NUMPY = 5.0


def fmt_us(s):
    """Seconds as microseconds with 3 significant digits (more above 1000)."""
    us = s * 1e6
    if us >= 1000:
        return f"{us:,.0f}"
    if us >= 100:
        return f"{us:.0f}"
    if us >= 10:
        return f"{us:.1f}"
    return f"{us:.2f}"


def fmt_ns(s, n):
    """Seconds per call of N elements as nanoseconds per element."""
    ns = s * 1e9 / n
    return f"{ns:.3f}" if ns < 1 else f"{ns:.2f}" if ns < 100 else f"{ns:.0f}"


def fmt_n(n):
    """1000 -> "1e3"; sizes that are not powers of ten as they are."""
    e = math.log10(n)
    return f"1e{int(round(e))}" if abs(e - round(e)) < 1e-9 else str(n)


def render_table(header, rows, markdown):
    """A right-aligned plain-text table, or a Markdown one."""
    if markdown:
        lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---:" for _ in header) + "|"]
        lines += ["| " + " | ".join(r) + " |" for r in rows]
        return "\n".join(lines)
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(header)
    ]
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
