"""The per-micro-step clip statistics and their running totals: folding steps one by one
equals one kernel call over all their samples; a step without tokens is neutral; a non-finite
value at a padding position is ignored, at a counted position refused."""

import math

import numpy as np
import pytest
import torch
from ppobr_trl._clip_stats import RunningStats, empty_stats, statistics_of
from ppobr_trl._ratio_inputs import grpo_token_level, joined

import ppobr_core
from ppobr_torch import STAT_NAMES, stats_from_sums


def _steps(seed, n=3, shape=(4, 5)):
    """Micro-steps as TRL's GRPO loss has them: (loss inputs, per-token log-probs)."""
    g = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(n):
        inputs = {
            "completion_mask": (torch.rand(shape, generator=g) > 0.2).long(),
            "advantages": torch.randn(shape[0], generator=g),
            "old_per_token_logps": 0.1 * torch.randn(shape, generator=g),
        }
        out.append((inputs, 0.3 * torch.randn(shape, generator=g)))
    return out


def _ratio(step):
    return grpo_token_level(*step)


def _means(totals):
    return stats_from_sums(*(torch.as_tensor(t) for t in totals))


def _same(a, b):
    # float32 inputs: the kernel rounds per call, so split and whole sums agree to ~1e-7
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-7) or (
            math.isnan(a[k]) and math.isnan(b[k])
        ), k


def test_joined_and_running_totals_equal_one_core_call_over_all_steps():
    steps = _steps(0)
    running = RunningStats()
    for step in steps:
        running.add(*statistics_of(_ratio(step), 0.2, 0.28))
    folded = _means(running.take())
    _same(_means(statistics_of(grpo_token_level(*joined(steps)), 0.2, 0.28)), folded)
    whole = ppobr_core.clipped_surrogate(
        np.concatenate([logps.numpy() for _, logps in steps]),
        np.concatenate([i["old_per_token_logps"].numpy() for i, _ in steps]),
        np.concatenate([np.repeat(i["advantages"].numpy()[:, None], 5, 1) for i, _ in steps]),
        eps_low=0.2,
        eps_high=0.28,
        mask=np.concatenate([i["completion_mask"].numpy() for i, _ in steps]).astype(np.float32),
    ).stats
    _same(folded, whole)
    assert running.take() is None  # take() starts afresh


def test_step_without_tokens_is_neutral():
    steps = [_ratio(step) for step in _steps(1, n=2)]
    empty = steps[0]._replace(mask=torch.zeros_like(steps[0].mask))
    alone, mixed = RunningStats(), RunningStats()
    alone.add(*statistics_of(steps[1], 0.2, 0.2))
    mixed.add(*statistics_of(empty, 0.2, 0.2))
    mixed.add(*statistics_of(steps[1], 0.2, 0.2))
    _same(_means(alone.take()), _means(mixed.take()))
    only_empty = RunningStats()
    only_empty.add(*empty_stats(np.zeros(1)))
    assert all(math.isnan(v) for v in _means(only_empty.take()).values())
    sums, counts = empty_stats(torch.zeros(1))
    assert sums.dtype == torch.float64 and not counts.any()


def test_non_finite_padding_is_ignored_and_counted_value_refused():
    step = _ratio(_steps(2, n=1)[0])
    clean = _means(statistics_of(step, 0.2, 0.2))
    padded = step.new.clone()
    hole = (step.mask == 0).nonzero()[0]
    padded[tuple(hole)] = math.nan
    _same(_means(statistics_of(step._replace(new=padded), 0.2, 0.2)), clean)
    counted = step.new.clone()
    counted[tuple((step.mask == 1).nonzero()[0])] = math.inf
    with pytest.raises(ppobr_core.InvalidArgumentError, match="logp_new"):
        statistics_of(step._replace(new=counted), 0.2, 0.2)
    assert len(clean) == len(STAT_NAMES)
