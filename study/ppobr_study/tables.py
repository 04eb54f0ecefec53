"""The results of one group (summary.py's summary) as Markdown tables, also readable as plain
text: one row per controller, then one table per comparison (against the baseline, and against
``ppo-wide`` when the group has it).

The header says the steps the runs made and where the threshold came from; a task without a
threshold shows "no threshold" in the steps-to-threshold cells. The column "ε bound" is the
mean share of iterations in which the clip bound at all (clip fraction > 0); when it is 0 in
every run, a warning line says that the controllers could not differ."""

from __future__ import annotations

from ppobr_study import markdown as md

NO_THRESHOLD = "no threshold"
THRESHOLD_SOURCES = {
    "override": "--threshold",
    "protocol": "docs/PROTOCOL.md",
    "spec": "the gymnasium spec's reward_threshold",
}


def _controller_row(c: str, s: dict, has_threshold: bool) -> str:
    lb = "≥ " if s["steps_iqm_is_lower_bound"] else ""
    ctl_s = s["controller_seconds_per_iteration"]
    ctl_us = ctl_s * 1e6 if ctl_s is not None else None
    if has_threshold:
        steps = [
            f"{s['reached']}/{s['runs']}",
            md.kilo_steps(s["steps_median"]),
            f"{lb}{md.kilo_steps(s['steps_iqm'])}{md.kilo_steps_interval(s['steps_iqm_ci'])}",
        ]
    else:
        steps = ["–", NO_THRESHOLD, NO_THRESHOLD]
    cells = [
        c,
        str(s["runs"]),
        *steps,
        _share(s.get("bound_share_mean")),
        f"{md.number(s['final_return_iqm'])}{md.interval(s['final_return_iqm_ci'])}",
        md.number(s["late_std_mean"]),
        md.number(s["across_seed_std"]),
        md.number(s["seconds_per_iteration"], "{:.3f}"),
        md.number(ctl_us, "{:.0f}"),
    ]
    return "| " + " | ".join(cells) + " |"


def _share(x) -> str:
    """A share as a percentage with two significant digits below 10% (a clip that bound in
    0.013% of the iterations is not one that never bound)."""
    pct = md.percent(x)
    if pct is None or pct != pct:
        return "–"
    return f"{pct:.0f}%" if pct >= 10 else f"{pct:.2g}%"


def _versus_row(c: str, v: dict, has_threshold: bool) -> str:
    cells = [
        c,
        md.number(md.percent(v["fewer_steps_fraction"]), "{:+.1f}%")
        if has_threshold
        else NO_THRESHOLD,
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
    lines = [header(summary), ""]
    has = summary["threshold"] is not None
    if summary.get("epsilon_never_bound"):
        lines += [never_bound_warning(summary), ""]
    lines += [
        "| controller | runs | reached | steps to threshold, median | steps, IQM [95% CI] "
        "| ε bound (share of iterations) | final return, IQM [95% CI] | late within-run std "
        "| across-seed std | s / iteration | ε update µs / iteration |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for c, s in summary["controllers"].items():
        lines.append(_controller_row(c, s, has))
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
            lines.append(_versus_row(c, v, has))
    return "\n".join(lines)


def header(summary: dict) -> str:
    """The group's title line: task, the steps each run made (and the budget asked for when it
    differs), the threshold and its source, the baseline, and the engine where recorded."""
    env, made = summary["env"], summary.get("steps_per_run") or summary["steps"]
    asked = summary["steps"]
    steps = f"{made:,} steps per run" + (f" ({asked:,} requested)" if asked != made else "")
    thr = summary["threshold"]
    if thr is None:
        threshold = "no threshold (none registered in docs/PROTOCOL.md or the env's spec)"
    else:
        source = THRESHOLD_SOURCES.get(summary.get("threshold_source", ""), "")
        threshold = f"threshold {thr:g}" + (f" ({source})" if source else "")
    engine = f", trainer: {summary['trainer']}" if summary.get("trainer") else ""
    return f"### {env}, {steps}, {threshold} (baseline: {summary['baseline']}{engine})"


def never_bound_warning(summary: dict) -> str:
    return (
        "**ε never bound**: the clip fraction was 0 in every iteration of every run, so ε never "
        "entered a gradient and the controllers could not differ; equal rows below say nothing "
        "about them (a longer budget or a task where the policy moves further per update may)."
    )
