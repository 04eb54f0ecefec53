"""The statistics of docs/PROTOCOL.md, fixed before any result was seen.

Per run (one env, controller, seed):
  - steps to threshold: the environment step at which the 10-episode moving average of the
    episodic return first reaches the task's threshold (``TASKS``); the average is defined once
    10 episodes have finished. ``None`` when it never does (censored at the budget).
  - final return: the mean return of the last 10% of the run's episodes (at least one episode).
  - late within-run variance: the sample variance (ddof 1) of those same episodes' returns.
  - overhead: seconds in the controller update per iteration, and seconds per iteration
    (medians over the run's iterations).

Across seeds (per env and controller) and between a controller and the baseline (plain PPO):
  - IQM (interquartile mean, ``scipy.stats.trim_mean(x, 0.25)``) with a 95% percentile
    bootstrap CI; across several tasks the bootstrap is stratified (runs resampled within each
    task, ``scipy.stats.bootstrap`` with one sample per task);
  - across-seed variance of the final returns (ddof 1);
  - variance ratios baseline / controller (> 1: the controller has the lower variance), within-run
    and across-seed, with bootstrap CIs;
  - Mann–Whitney U (two-sided) for steps to threshold, censored runs ranked after every run that
    reached the threshold (all tied with each other); Mann–Whitney U for the late within-run
    variances; Brown–Forsythe (Levene, median-centred) for the across-seed variance;
  - overhead per iteration: the controller-update time PPO-BR adds per iteration over the
    baseline's, relative to the baseline's mean iteration time (direct), and the ratio of mean
    iteration times (end to end), in wall-clock and in CPU seconds, all from runs of the same
    comparison.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import Callable, Dict, Iterable, List, Mapping, Optional, Sequence

import numpy as np
from scipy import stats

MOVING_AVERAGE_WINDOW = 10
FINAL_FRACTION = 0.10
CONFIDENCE = 0.95
N_RESAMPLES = 10_000
BOOTSTRAP_SEED = 12345


@dataclass(frozen=True)
class Task:
    threshold: float  # for steps to threshold
    budget: int  # environment steps of the reproduction
    paper_steps: Optional[tuple] = None  # the paper's "steps to convergence" PPO -> PPO-BR
    paper_variance: Optional[tuple] = None  # the paper's "reward variance" PPO -> PPO-BR


# Thresholds, fixed in docs/PROTOCOL.md before any run (see there for the reasons).
TASKS: Dict[str, Task] = {
    "CartPole-v1": Task(475.0, 500_000, (150, 130), (35, 30)),
    "LunarLander-v3": Task(200.0, 1_000_000, (300, 250), (120, 60)),
    "Hopper-v5": Task(1500.0, 1_000_000, (600, 500), (180, 100)),
    "HalfCheetah-v5": Task(1200.0, 1_000_000, (800, 620), (250, 120)),
    "Walker2d-v5": Task(2000.0, 1_000_000, (700, 580), (230, 110)),
    "Humanoid-v5": Task(500.0, 1_000_000, (1000, 700), (300, 150)),
}


# The JAX trainer's other tasks (ppobr_study.jax), kept apart from the paper's TASKS above.
# Budgets: CleanRL ppo.py's default total_timesteps (500k) for the classic-control tasks, the
# paper's 1M for locomotion. Thresholds and where each comes from:
#   Acrobot-v1      -100  gymnasium's reward_threshold for Acrobot-v1 (gymnax re-implements it:
#                         same dynamics, reward -1 per step, 500-step limit)
#   MountainCar-v0  -110  gymnasium's reward_threshold for MountainCar-v0 (gymnax: same dynamics,
#                         reward -1 per step, 200-step limit); the sparse-reward task
#   brax-hopper, brax-halfcheetah, brax-walker2d, brax-humanoid: the thresholds of Hopper-v5,
#                         HalfCheetah-v5, Walker2d-v5, Humanoid-v5 above (docs/PROTOCOL.md), because
#                         Brax's envs compute the same reward terms with the same weights as
#                         gymnasium's v5 tasks (brax/envs/hopper.py etc.: forward velocity, healthy
#                         reward, control cost) and the study cuts episodes at the same 1000 steps.
#                         The physics backends differ from MuJoCo, so absolute returns are
#                         comparable only roughly; the thresholds were not tuned on any run.
JAX_TASKS: Dict[str, Task] = {
    "Acrobot-v1": Task(-100.0, 500_000),
    "MountainCar-v0": Task(-110.0, 500_000),
    "brax-hopper": Task(TASKS["Hopper-v5"].threshold, 1_000_000),
    "brax-halfcheetah": Task(TASKS["HalfCheetah-v5"].threshold, 1_000_000),
    "brax-walker2d": Task(TASKS["Walker2d-v5"].threshold, 1_000_000),
    "brax-humanoid": Task(TASKS["Humanoid-v5"].threshold, 1_000_000),
}


def task(env_id: str) -> Task:
    """The registered task ``env_id``: the paper's (TASKS), else the JAX study's (JAX_TASKS)."""
    try:
        return TASKS[env_id] if env_id in TASKS else JAX_TASKS[env_id]
    except KeyError:
        raise ValueError(
            f"env: no threshold is registered for {env_id!r} in ppobr_study.protocol.TASKS "
            f"(known: {', '.join(TASKS)}; JAX study: {', '.join(JAX_TASKS)}); pass --threshold"
        ) from None


# ---------------------------------------------------------------------------------------------
# Per run.


def moving_average(returns: Sequence[float], window: int = MOVING_AVERAGE_WINDOW) -> np.ndarray:
    """Mean of each full window of ``window`` consecutive episodes: length n - window + 1
    (empty when fewer than ``window`` episodes finished)."""
    x = np.asarray(returns, dtype=np.float64)
    if x.size < window:
        return np.zeros(0)
    c = np.cumsum(np.concatenate([[0.0], x]))
    return (c[window:] - c[:-window]) / window


def steps_to_threshold(
    episode_steps: Sequence[float],
    returns: Sequence[float],
    threshold: float,
    window: int = MOVING_AVERAGE_WINDOW,
) -> Optional[float]:
    """The environment step (at the end of the episode that completes the window) at which the
    ``window``-episode moving average first reaches ``threshold``; None if it never does."""
    ma = moving_average(returns, window)
    hit = np.nonzero(ma >= threshold)[0]
    if hit.size == 0:
        return None
    return float(np.asarray(episode_steps, dtype=np.float64)[hit[0] + window - 1])


def last_fraction(returns: Sequence[float], fraction: float = FINAL_FRACTION) -> np.ndarray:
    """The last ``fraction`` of the episodes (ceil, at least one)."""
    x = np.asarray(returns, dtype=np.float64)
    if x.size == 0:
        return x
    n = max(1, int(math.ceil(fraction * x.size)))
    return x[-n:]


def final_return(returns: Sequence[float], fraction: float = FINAL_FRACTION) -> float:
    tail = last_fraction(returns, fraction)
    return float(tail.mean()) if tail.size else math.nan


def late_variance(returns: Sequence[float], fraction: float = FINAL_FRACTION) -> float:
    """Sample variance (ddof 1) of the returns of the last ``fraction`` of the episodes."""
    tail = last_fraction(returns, fraction)
    return float(np.var(tail, ddof=1)) if tail.size >= 2 else math.nan


def bound_share(clip_fraction: Sequence[float]) -> float:
    """The share of a run's iterations in which the clip bound at all: clip fraction > 0, i.e.
    at least one sample's ratio left [1 − ε, 1 + ε] in some minibatch. Where it is 0 in every
    iteration, ε never entered a gradient, so no clip-range controller can change the run."""
    cf = np.asarray(clip_fraction, dtype=np.float64)
    cf = cf[~np.isnan(cf)]
    return float(np.mean(cf > 0)) if cf.size else math.nan


def run_metrics(
    episodes: Mapping[str, Sequence],
    iterations: Mapping[str, Sequence],
    threshold: Optional[float],
) -> dict:
    """The per-run numbers of the protocol from a run's episode and iteration columns.
    ``threshold`` None (a task without one): steps to threshold is None and ``reached`` False
    for every run; the statistics that need no threshold are unaffected."""
    steps = np.asarray(episodes.get("global_step", []), dtype=np.float64)
    rets = np.asarray(episodes.get("return", []), dtype=np.float64)
    ctrl = np.asarray(iterations.get("controller_seconds", []), dtype=np.float64)
    it_s = np.asarray(iterations.get("iteration_seconds", []), dtype=np.float64)
    it_cpu = np.asarray(iterations.get("iteration_cpu_seconds", []), dtype=np.float64)
    stt = None if threshold is None else steps_to_threshold(steps, rets, threshold)
    lv = late_variance(rets)
    return {
        "episodes": int(rets.size),
        "steps_to_threshold": stt,
        "reached": stt is not None,
        "bound_share": bound_share(iterations.get("clip_fraction", [])),
        "final_return": final_return(rets),
        "late_variance": lv,
        "late_std": math.sqrt(lv) if lv == lv else math.nan,
        "iterations": int(it_s.size),
        # medians over the run's iterations: robust to a first-call warm-up and to preemption
        "controller_seconds_per_iteration": float(np.median(ctrl)) if ctrl.size else math.nan,
        "seconds_per_iteration": float(np.median(it_s)) if it_s.size else math.nan,
        "cpu_seconds_per_iteration": float(np.median(it_cpu)) if it_cpu.size else math.nan,
    }


# ---------------------------------------------------------------------------------------------
# Across seeds.


def iqm(x: Iterable[float], axis=None) -> float:
    """Interquartile mean: the mean of the middle 50% (scipy.stats.trim_mean, 25% cut each side)."""
    return stats.trim_mean(np.asarray(x, dtype=np.float64), 0.25, axis=axis)


def bootstrap_ci(
    samples: Sequence[Sequence[float]],
    statistic: Callable[..., float],
    confidence: float = CONFIDENCE,
    n_resamples: int = N_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
) -> tuple:
    """Percentile bootstrap CI of ``statistic(*samples, axis=-1)`` with every sample resampled
    on its own (scipy.stats.bootstrap, paired=False, vectorised): one sample per task makes it
    the stratified bootstrap of rliable; two samples (baseline, controller) give a CI for a
    ratio. (nan, nan) when a sample has fewer than two values."""
    arrays = [np.asarray(s, dtype=np.float64) for s in samples]
    if any(a.size < 2 for a in arrays):
        return (math.nan, math.nan)
    if all(np.all(a == a[0]) for a in arrays):  # nothing varies: the CI is the point
        with np.errstate(all="ignore"):
            v = float(statistic(*arrays, axis=-1))
        return (v, v)
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        # A resample can make the statistic undefined (a variance ratio over a resample of
        # identical values); scipy then warns and the interval is NaN, reported as missing.
        warnings.simplefilter("ignore")
        res = stats.bootstrap(
            tuple(arrays),
            statistic,
            vectorized=True,
            axis=-1,
            paired=False,
            confidence_level=confidence,
            n_resamples=n_resamples,
            method="percentile",
            random_state=np.random.default_rng(seed),
        )
    return (float(res.confidence_interval.low), float(res.confidence_interval.high))


def iqm_ci(x: Sequence[float], **kw) -> tuple:
    return bootstrap_ci([x], iqm, **kw)


def _pooled_iqm(*per_task, axis=-1):
    return iqm(np.concatenate(per_task, axis=axis), axis=axis)


def stratified_iqm_ci(per_task: Sequence[Sequence[float]], **kw) -> tuple:
    """IQM over the pooled runs of several tasks (scores already normalised per task) and its
    stratified bootstrap CI."""
    arrays = [np.asarray(t, dtype=np.float64) for t in per_task]
    return float(_pooled_iqm(*arrays)), bootstrap_ci(arrays, _pooled_iqm, **kw)


def within_variance_ratio(baseline_late_var, other_late_var, axis=-1):
    """mean late within-run variance of the baseline / the controller's (vectorised)."""
    with np.errstate(all="ignore"):
        return np.divide(np.mean(baseline_late_var, axis=axis), np.mean(other_late_var, axis=axis))


def across_variance_ratio(baseline_final, other_final, axis=-1):
    """across-seed variance (ddof 1) of the baseline's final returns / the controller's."""
    with np.errstate(all="ignore"):
        return np.divide(
            np.var(baseline_final, ddof=1, axis=axis), np.var(other_final, ddof=1, axis=axis)
        )


def censored(steps: Sequence[Optional[float]]) -> np.ndarray:
    """Steps to threshold with the runs that never reached it as +inf (ranked last, tied)."""
    return np.array([math.inf if s is None else float(s) for s in steps], dtype=np.float64)


def censored_median(steps: Sequence[Optional[float]]) -> float:
    """Median steps to threshold; +inf when half or more of the runs never reached it (then the
    median is not observed)."""
    x = censored(steps)
    if x.size == 0:
        return math.nan
    return float(np.median(x))


def mann_whitney_p(a: Sequence[float], b: Sequence[float]) -> float:
    """Two-sided Mann–Whitney U p-value (scipy's default method); nan when either is empty or
    when every value is the same (nothing to rank)."""
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    a, b = a[~np.isnan(a)], b[~np.isnan(b)]
    if a.size == 0 or b.size == 0:
        return math.nan
    both = np.concatenate([a, b])
    if np.all(both == both[0]):
        return 1.0
    return float(stats.mannwhitneyu(a, b, alternative="two-sided").pvalue)


def brown_forsythe_p(a: Sequence[float], b: Sequence[float]) -> float:
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.size < 3 or b.size < 3:
        # With two values per group the median-centred deviations are equal by construction,
        # the test's within-group variance is 0 and its p-value meaningless.
        return math.nan
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        p = float(stats.levene(a, b, center="median").pvalue)
    return p


def _nanmean(x) -> float:
    a = np.asarray(x, dtype=np.float64)
    a = a[~np.isnan(a)]
    return float(a.mean()) if a.size else math.nan


def _var(x) -> float:
    return float(np.var(x, ddof=1))


def _ratio(num: float, den: float) -> float:
    if den == 0:
        return math.inf if num > 0 else math.nan
    return num / den


def controller_summary(runs: List[dict], budget: int) -> dict:
    """Across-seed numbers of one (env, controller) from its runs' ``run_metrics``."""
    final = np.array([r["final_return"] for r in runs], dtype=np.float64)
    steps = [r["steps_to_threshold"] for r in runs]
    cens = censored(steps)
    capped = np.where(
        np.isinf(cens), float(budget), cens
    )  # IQM of steps: a lower bound if any capped
    late = np.array([r["late_variance"] for r in runs], dtype=np.float64)
    late_ok = late[~np.isnan(late)]
    bound = np.array([r.get("bound_share", math.nan) for r in runs], dtype=np.float64)
    return {
        "runs": len(runs),
        "reached": int(sum(r["reached"] for r in runs)),
        # mean over runs of the share of iterations in which the clip bound (bound_share)
        "bound_share_mean": _nanmean(bound),
        "steps_median": censored_median(steps),
        "steps_iqm": float(iqm(capped)) if capped.size else math.nan,
        "steps_iqm_ci": iqm_ci(capped),
        "steps_iqm_is_lower_bound": bool(np.isinf(cens).any()),
        "final_return_iqm": float(iqm(final)) if final.size else math.nan,
        "final_return_iqm_ci": iqm_ci(final),
        "final_return_mean": float(final.mean()) if final.size else math.nan,
        "late_variance_mean": float(late_ok.mean()) if late_ok.size else math.nan,
        "late_std_mean": float(np.sqrt(late_ok).mean()) if late_ok.size else math.nan,
        "across_seed_variance": _var(final) if final.size >= 2 else math.nan,
        "across_seed_std": math.sqrt(_var(final)) if final.size >= 2 else math.nan,
        "controller_seconds_per_iteration": float(
            np.mean([r["controller_seconds_per_iteration"] for r in runs])
        )
        if runs
        else math.nan,
        "seconds_per_iteration": float(np.mean([r["seconds_per_iteration"] for r in runs]))
        if runs
        else math.nan,
        "cpu_seconds_per_iteration": _nanmean(
            [r.get("cpu_seconds_per_iteration", math.nan) for r in runs]
        ),
    }


def compare(baseline: List[dict], other: List[dict], *, has_threshold: bool = True) -> dict:
    """The controller (``other``) against the baseline (plain PPO), from ``run_metrics`` lists.
    ``has_threshold`` False (a task without a threshold): the steps-to-threshold statistics are
    NaN (not measured) instead of the test of two all-censored samples."""
    sb, so = (
        censored([r["steps_to_threshold"] for r in baseline]),
        censored([r["steps_to_threshold"] for r in other]),
    )
    mb, mo = (
        float(np.median(sb)) if sb.size else math.nan,
        float(np.median(so)) if so.size else math.nan,
    )
    if math.isfinite(mb) and math.isfinite(mo) and mb > 0:
        faster = 1.0 - mo / mb  # fraction fewer steps (paper: 0.291)
    else:
        faster = math.nan  # a median was not observed (half or more never reached)
    lb = np.array([r["late_variance"] for r in baseline], dtype=np.float64)
    lo = np.array([r["late_variance"] for r in other], dtype=np.float64)
    lb, lo = lb[~np.isnan(lb)], lo[~np.isnan(lo)]
    fb = np.array([r["final_return"] for r in baseline], dtype=np.float64)
    fo = np.array([r["final_return"] for r in other], dtype=np.float64)

    ok_within = lb.size >= 1 and lo.size >= 1
    ok_across = fb.size >= 2 and fo.size >= 2
    # Overhead per iteration: what the controller update costs beyond the baseline's.
    cb = np.array([r["controller_seconds_per_iteration"] for r in baseline], dtype=np.float64)
    co = np.array([r["controller_seconds_per_iteration"] for r in other], dtype=np.float64)
    ib = np.array([r["seconds_per_iteration"] for r in baseline], dtype=np.float64)
    io = np.array([r["seconds_per_iteration"] for r in other], dtype=np.float64)
    base_iter = float(np.mean(ib)) if ib.size else math.nan
    pb = np.array(
        [r.get("cpu_seconds_per_iteration", math.nan) for r in baseline], dtype=np.float64
    )
    po = np.array([r.get("cpu_seconds_per_iteration", math.nan) for r in other], dtype=np.float64)
    return {
        "steps_median_ratio": _ratio(mo, mb)
        if math.isfinite(mb) and math.isfinite(mo)
        else math.nan,
        "fewer_steps_fraction": faster,
        "steps_mannwhitney_p": mann_whitney_p(sb, so) if has_threshold else math.nan,
        "final_return_mannwhitney_p": mann_whitney_p(fb, fo),
        "within_variance_ratio": float(within_variance_ratio(lb, lo)) if ok_within else math.nan,
        "within_variance_ratio_ci": bootstrap_ci([lb, lo], within_variance_ratio)
        if ok_within
        else (math.nan, math.nan),
        "within_variance_mannwhitney_p": mann_whitney_p(lb, lo),
        "across_variance_ratio": float(across_variance_ratio(fb, fo)) if ok_across else math.nan,
        "across_variance_ratio_ci": bootstrap_ci([fb, fo], across_variance_ratio)
        if ok_across
        else (math.nan, math.nan),
        "across_variance_brown_forsythe_p": brown_forsythe_p(fb, fo),
        "overhead_direct": (float(np.mean(co)) - float(np.mean(cb))) / base_iter
        if ib.size and co.size
        else math.nan,
        "overhead_end_to_end": float(np.mean(io)) / base_iter - 1.0
        if io.size and ib.size
        else math.nan,
        # the same with CPU seconds (time.process_time): little disturbed by a shared machine's load;
        # over the runs that have them (runs recorded before this column existed do not)
        "overhead_end_to_end_cpu": _nanmean(po) / _nanmean(pb) - 1.0,
    }


# ---------------------------------------------------------------------------------------------
# Learning curves for the plots.


def curve_on_grid(
    episode_steps: Sequence[float],
    returns: Sequence[float],
    grid: Sequence[float],
    window: int = MOVING_AVERAGE_WINDOW,
) -> np.ndarray:
    """At each grid step, the mean return of the last ``window`` episodes finished by then
    (fewer at the start; NaN before the first episode)."""
    steps = np.asarray(episode_steps, dtype=np.float64)
    x = np.asarray(returns, dtype=np.float64)
    c = np.cumsum(np.concatenate([[0.0], x]))
    n = np.searchsorted(steps, np.asarray(grid, dtype=np.float64), side="right")  # episodes done
    lo = np.maximum(n - window, 0)
    with np.errstate(invalid="ignore", divide="ignore"):
        out = (c[n] - c[lo]) / (n - lo)
    out[n == 0] = np.nan
    return out


def mean_band(
    curves: np.ndarray,
    confidence: float = CONFIDENCE,
    n_resamples: int = 2000,
    seed: int = BOOTSTRAP_SEED,
) -> tuple:
    """Mean across runs (rows) at every column and its percentile-bootstrap band (seeds
    resampled; scipy.stats.bootstrap, vectorised over the columns). Columns with a NaN or with
    fewer than two runs get a NaN band."""
    curves = np.asarray(curves, dtype=np.float64)
    mean = curves.mean(axis=0) if curves.shape[0] else np.full(curves.shape[1], np.nan)
    lo = np.full(curves.shape[1], np.nan)
    hi = np.full(curves.shape[1], np.nan)
    if curves.shape[0] < 2:
        return mean, lo, hi
    ok = ~np.isnan(curves).any(axis=0)
    flat = ok & (np.ptp(np.where(np.isnan(curves), 0, curves), axis=0) == 0)
    lo[flat], hi[flat] = mean[flat], mean[flat]
    var = ok & ~flat
    if var.any():
        res = stats.bootstrap(
            (curves[:, var],),
            np.mean,
            axis=0,
            vectorized=True,
            confidence_level=confidence,
            n_resamples=n_resamples,
            method="percentile",
            random_state=np.random.default_rng(seed),
        )
        lo[var] = res.confidence_interval.low
        hi[var] = res.confidence_interval.high
    return mean, lo, hi


# ---------------------------------------------------------------------------------------------
# Verdicts on the paper's three claims (docs/PROTOCOL.md, "Verdicts", decided in advance).

ALPHA = 0.05
MIN_SEEDS = 10  # a task counts towards an overall verdict once both sides have this many runs
OVERHEAD_CLAIM = 0.018  # the paper's "< 1.8%"
OVERHEAD_BAR = 0.005  # the project's bar


def _finite(x) -> bool:
    return isinstance(x, (int, float)) and math.isfinite(x)


def claim_verdicts(versus: Mapping[str, object]) -> Dict[str, bool]:
    """Whether each claim holds on one task, from ``compare(ppo_runs, ppobr_runs)`` (or its JSON
    form in summary.json, where NaN is None):

    - ``faster``: the controller's median steps to threshold is below the baseline's
      (``fewer_steps_fraction`` > 0, defined only when both medians are observed) and the
      Mann–Whitney p < 0.05;
    - ``lower_variance``: the within-run variance ratio baseline / controller has a 95% CI whose
      lower end is above 1 (``lower_across_variance``: the same for the across-seed ratio,
      reported beside it);
    - ``overhead``: the direct overhead per iteration is below 1.8%; ``overhead_bar``: ≤ 0.5%.
    """
    fewer, p = versus.get("fewer_steps_fraction"), versus.get("steps_mannwhitney_p")
    within = versus.get("within_variance_ratio_ci") or (None, None)
    across = versus.get("across_variance_ratio_ci") or (None, None)
    direct = versus.get("overhead_direct")
    return {
        "faster": _finite(fewer) and fewer > 0 and _finite(p) and p < ALPHA,
        "lower_variance": _finite(within[0]) and within[0] > 1.0,
        "lower_across_variance": _finite(across[0]) and across[0] > 1.0,
        "overhead": _finite(direct) and direct < OVERHEAD_CLAIM,
        "overhead_bar": _finite(direct) and direct <= OVERHEAD_BAR,
    }


def overall_verdict(holds: Sequence[bool], tasks_total: int) -> str:
    """A claim over the paper's tasks: "supported" if it holds on a majority of all
    ``tasks_total`` tasks, "not supported" once it can no longer reach a majority, otherwise
    "undecided" (``holds``: one entry per task with complete data)."""
    need = tasks_total // 2 + 1
    yes = sum(bool(h) for h in holds)
    if yes >= need:
        return "supported"
    if yes + (tasks_total - len(holds)) < need:
        return "not supported"
    return "undecided"
