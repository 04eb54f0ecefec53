"""protocol.py on synthetic data with known answers (docs/PROTOCOL.md)."""

import math

import numpy as np
import pytest
from scipy import stats

from ppobr_study import protocol as P


def test_moving_average_full_windows_only():
    np.testing.assert_allclose(P.moving_average(np.arange(1, 13), 10), [5.5, 6.5, 7.5])
    assert P.moving_average([1.0] * 9, 10).size == 0


def test_steps_to_threshold_first_full_window_reaching_it():
    # 9 episodes of 10, then episodes of 500; the 10-episode mean is 10 + 49k with k fives-hundreds:
    # it reaches 475 only at k = 10, i.e. at the 19th episode, which ends at step 1900.
    returns = [10.0] * 9 + [500.0] * 10
    steps = [100 * (i + 1) for i in range(len(returns))]
    assert P.steps_to_threshold(steps, returns, 475.0) == 1900.0
    # ≥, not >: a window averaging exactly the threshold counts.
    assert P.steps_to_threshold(steps, returns, 500.0) == 1900.0
    assert P.steps_to_threshold(steps, returns, 500.5) is None
    # The average needs 10 episodes: 9 perfect episodes never count.
    assert P.steps_to_threshold(steps[:9], [500.0] * 9, 475.0) is None
    # A single early high window: the first one wins.
    r = [500.0] * 10 + [0.0] * 10 + [500.0] * 10
    assert P.steps_to_threshold(list(range(1, 31)), r, 475.0) == 10.0


def test_final_return_and_late_variance_use_the_last_ten_percent():
    r = list(range(20))  # last 10%: the last 2 episodes
    assert P.final_return(r) == pytest.approx(18.5)
    assert P.late_variance(r) == pytest.approx(0.5)  # var([18, 19], ddof=1)
    assert P.final_return(list(range(25))) == pytest.approx(23.0)  # ceil(2.5) = 3 episodes
    assert P.late_variance(list(range(25))) == pytest.approx(1.0)  # var([22, 23, 24], ddof=1)
    assert P.final_return([7.0, 9.0, 5.0]) == 5.0  # at least one episode
    assert math.isnan(P.late_variance([7.0, 9.0, 5.0]))  # one episode: no variance
    assert math.isnan(P.final_return([]))


def test_iqm_is_scipys_25_percent_trimmed_mean():
    assert P.iqm(np.arange(1, 9)) == pytest.approx(4.5)  # mean of 3, 4, 5, 6
    x = np.array([-1000.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 1e6])
    assert P.iqm(x) == pytest.approx(3.5)  # outliers do not move it
    assert P.iqm(x) == stats.trim_mean(x, 0.25)


def test_iqm_bootstrap_ci_covers_the_truth_and_is_reproducible():
    rng = np.random.default_rng(0)
    x = rng.normal(10.0, 1.0, size=200)
    lo, hi = P.iqm_ci(x)
    assert lo < 10.0 < hi
    assert hi - lo < 0.6
    assert P.iqm_ci(x) == (lo, hi)  # fixed bootstrap seed
    assert P.iqm_ci([1.0, 1.0, 1.0]) == (1.0, 1.0)  # nothing varies
    assert all(math.isnan(v) for v in P.iqm_ci([1.0]))  # one seed: no interval


def test_stratified_bootstrap_resamples_within_each_task():
    # Task A: ten 0s; task B: nine 100s and one 101. The pooled IQM of 20 values keeps the middle
    # 10: five 0s and five B values, so every stratified resample gives 50..50.5. An unstratified
    # bootstrap would often draw more 0s than 100s and fall far outside.
    a = [0.0] * 10
    b = [100.0] * 9 + [101.0]
    point, (lo, hi) = P.stratified_iqm_ci([a, b])
    assert point == pytest.approx(50.0)
    assert 50.0 <= lo <= hi <= 50.5


def test_censoring_ranks_failures_last():
    assert np.array_equal(P.censored([5.0, None]), [5.0, math.inf])
    assert P.censored_median([1.0, 2.0, None]) == 2.0
    assert P.censored_median([1.0, None, None]) == math.inf  # median not observed
    # Complete separation of 3 vs 3 runs: exact two-sided p = 2 / C(6, 3) = 0.1.
    assert P.mann_whitney_p([1.0, 2.0, 3.0], [4.0, 5.0, 6.0]) == pytest.approx(0.1)
    # Censored runs behave as values larger than every reached one (tied among themselves).
    p_cens = P.mann_whitney_p([100.0, 200.0, 300.0], P.censored([None, None, None]))
    p_big = stats.mannwhitneyu([100.0, 200.0, 300.0], [1e12] * 3, alternative="two-sided").pvalue
    assert p_cens == pytest.approx(p_big)
    assert P.mann_whitney_p(P.censored([None, None]), P.censored([None, None])) == 1.0


def _run(steps=None, final=0.0, late=1.0, ctrl=1e-5, it=0.1):
    return {
        "steps_to_threshold": steps,
        "reached": steps is not None,
        "final_return": final,
        "late_variance": late,
        "late_std": math.sqrt(late),
        "controller_seconds_per_iteration": ctrl,
        "seconds_per_iteration": it,
    }


def test_compare_known_ratios_speedup_and_overhead():
    base = [
        _run(100.0, 0.0, 4.0, 1e-6, 0.1),
        _run(200.0, 2.0, 4.0, 1e-6, 0.1),
        _run(300.0, 4.0, 4.0, 1e-6, 0.1),
    ]
    other = [
        _run(50.0, 0.0, 2.0, 2e-6, 0.1),
        _run(100.0, 1.0, 2.0, 2e-6, 0.1),
        _run(150.0, 2.0, 2.0, 2e-6, 0.1),
    ]
    c = P.compare(base, other)
    assert c["fewer_steps_fraction"] == pytest.approx(0.5)  # median 100 vs 200
    assert c["steps_median_ratio"] == pytest.approx(0.5)
    assert c["within_variance_ratio"] == pytest.approx(2.0)  # 4 / 2
    assert c["within_variance_ratio_ci"] == (pytest.approx(2.0), pytest.approx(2.0))
    assert c["across_variance_ratio"] == pytest.approx(4.0)  # var(0,2,4) / var(0,1,2)
    lo, hi = c["across_variance_ratio_ci"]
    assert lo <= 4.0 <= hi or math.isnan(lo)
    assert c["overhead_direct"] == pytest.approx(1e-5)  # (2e-6 - 1e-6) / 0.1
    assert c["overhead_end_to_end"] == pytest.approx(0.0)
    assert 0.0 < c["steps_mannwhitney_p"] <= 1.0


def test_compare_no_speedup_when_half_never_reach():
    base = [_run(100.0), _run(200.0), _run(300.0)]
    other = [_run(50.0), _run(None), _run(None)]
    c = P.compare(base, other)
    assert math.isnan(c["fewer_steps_fraction"])  # the median of `other` is not observed
    s = P.controller_summary(other, budget=1000)
    assert s["reached"] == 1 and s["runs"] == 3
    assert s["steps_median"] == math.inf
    assert s["steps_iqm_is_lower_bound"]
    # IQM of (50, 1000, 1000): trim_mean cuts floor(0.25·3) = 0 values, so the plain mean
    assert s["steps_iqm"] == pytest.approx(2050.0 / 3)


def test_run_metrics_from_columns():
    returns = [10.0] * 9 + [500.0] * 11  # 20 episodes
    episodes = {"global_step": [100.0 * (i + 1) for i in range(20)], "return": returns}
    iterations = {"controller_seconds": [1.0, 2e-6, 3e-6], "iteration_seconds": [0.5, 0.1, 0.2]}
    m = P.run_metrics(episodes, iterations, 475.0)
    assert m["episodes"] == 20
    assert m["steps_to_threshold"] == 1900.0 and m["reached"]
    assert m["final_return"] == 500.0 and m["late_variance"] == 0.0
    assert m["controller_seconds_per_iteration"] == pytest.approx(3e-6)  # median: warm-up ignored
    assert m["seconds_per_iteration"] == pytest.approx(0.2)


def test_curve_on_grid_is_the_trailing_mean_of_finished_episodes():
    steps = [10.0, 20.0, 30.0]
    rets = [1.0, 2.0, 3.0]
    out = P.curve_on_grid(steps, rets, [5.0, 10.0, 25.0, 100.0], window=2)
    assert math.isnan(out[0])
    np.testing.assert_allclose(out[1:], [1.0, 1.5, 2.5])


def test_mean_band_brackets_the_mean():
    rng = np.random.default_rng(1)
    curves = rng.normal(0, 1, size=(8, 5))
    curves[:, 0] = 3.0  # a column without spread: the band is the point
    curves[0, 4] = np.nan  # a column with a missing value: no band
    mean, lo, hi = P.mean_band(curves)
    assert lo[0] == hi[0] == 3.0
    assert np.all(lo[1:4] <= mean[1:4]) and np.all(mean[1:4] <= hi[1:4])
    assert np.isnan(lo[4]) and np.isnan(hi[4])
    m1, l1, h1 = P.mean_band(curves[:1])
    assert np.isnan(l1).all()  # one seed: no band


def test_registered_tasks_cover_the_paper():
    assert set(P.TASKS) == {
        "CartPole-v1",
        "LunarLander-v3",
        "Hopper-v5",
        "HalfCheetah-v5",
        "Walker2d-v5",
        "Humanoid-v5",
    }
    assert P.task("CartPole-v1").threshold == 475.0 and P.task("CartPole-v1").budget == 500_000
    with pytest.raises(ValueError, match="threshold"):
        P.task("Pong-v5")


def test_cpu_overhead_uses_the_runs_that_have_cpu_times():
    base = [dict(_run(), cpu_seconds_per_iteration=0.2), _run()]  # the second predates the column
    other = [dict(_run(), cpu_seconds_per_iteration=0.21), _run()]
    assert P.compare(base, other)["overhead_end_to_end_cpu"] == pytest.approx(0.05)
    assert math.isnan(P.compare([_run()], [_run()])["overhead_end_to_end_cpu"])


def test_brown_forsythe_needs_three_runs_per_group():
    assert math.isnan(P.brown_forsythe_p([0.0, 10.0], [0.0, 1.0]))  # degenerate with n = 2
    a, b = [0.0, 5.0, 10.0, 15.0], [0.0, 0.5, 1.0, 1.5]
    assert P.brown_forsythe_p(a, b) == pytest.approx(stats.levene(a, b, center="median").pvalue)
