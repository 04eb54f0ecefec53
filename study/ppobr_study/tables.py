"""The results of one group (summary.py's summary) as Markdown tables, also readable as plain
text: one row per controller, then one table per comparison (against the baseline, and against
``ppo-wide`` when the group has it)."""

from __future__ import annotations

from ppobr_study import markdown as md


def _controller_row(c: str, s: dict) -> str:
    lb = "≥ " if s["steps_iqm_is_lower_bound"] else ""
    ctl_s = s["controller_seconds_per_iteration"]
    ctl_us = ctl_s * 1e6 if ctl_s is not None else None
    cells = [
        c,
        str(s["runs"]),
        f"{s['reached']}/{s['runs']}",
        md.kilo_steps(s["steps_median"]),
        f"{lb}{md.kilo_steps(s['steps_iqm'])}{md.kilo_steps_interval(s['steps_iqm_ci'])}",
        f"{md.number(s['final_return_iqm'])}{md.interval(s['final_return_iqm_ci'])}",
        md.number(s["late_std_mean"]),
        md.number(s["across_seed_std"]),
        md.number(s["seconds_per_iteration"], "{:.3f}"),
        md.number(ctl_us, "{:.0f}"),
    ]
    return "| " + " | ".join(cells) + " |"


def _versus_row(c: str, v: dict) -> str:
    cells = [
        c,
        md.number(md.percent(v["fewer_steps_fraction"]), "{:+.1f}%"),
        md.number(v["steps_mannwhitney_p"], "{:.3g}"),
        md.number(v["within_variance_ratio"], "{:.2f}")
        + md.interval(v["within_variance_ratio_ci"], "{:.2f}"),
        md.number(v["within_variance_mannwhitney_p"], "{:.3g}"),
        md.number(v["across_variance_ratio"], "{:.2f}")
        + md.interval(v["across_variance_ratio_ci"], "{:.2f}"),
        md.number(v["across_variance_brown_forsythe_p"], "{:.3g}"),
        md.number(v["final_return_mannwhitney_p"], "{:.3g}"),
        md.number(md.percent(v["overhead_direct"]), "{:+.4f}%"),
        md.number(md.percent(v["overhead_end_to_end"]), "{:+.1f}%"),
        md.number(md.percent(v.get("overhead_end_to_end_cpu")), "{:+.1f}%"),
    ]
    return "| " + " | ".join(cells) + " |"


def format_table(summary: dict) -> str:
    """The results of one group as Markdown tables (also readable as plain text)."""
    env, steps, thr = summary["env"], summary["steps"], summary["threshold"]
    lines = [
        f"### {env}, {steps:,} steps per run, threshold {thr:g} (baseline: {summary['baseline']})",
        "",
        "| controller | runs | reached | steps to threshold, median | steps, IQM [95% CI] "
        "| final return, IQM [95% CI] | late within-run std | across-seed std "
        "| s / iteration | ε update µs / iteration |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c, s in summary["controllers"].items():
        lines.append(_controller_row(c, s))
    comparisons = (
        (summary["baseline"], summary["versus_baseline"]),
        ("ppo-wide", summary.get("versus_ppo_wide") or {}),
    )
    for b, versus in comparisons:
        if not versus:
            continue
        lines += [
            "",
            f"| vs {b} | fewer steps to threshold (median) | p (Mann–Whitney) "
            f"| within-run variance ratio {b}/controller [95% CI] | p (M–W) "
            f"| across-seed variance ratio [95% CI] | p (Brown–Forsythe) | final return p (M–W) "
            f"| overhead / iteration: direct | end to end (wall) | end to end (CPU) |",
            "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
        ]
        for c, v in versus.items():
            lines.append(_versus_row(c, v))
    return "\n".join(lines)
