"""The clip statistics of kept micro-steps and their running totals: folding steps one by one
equals one call over the joined steps and one core call over all their samples; a step without
tokens is neutral; a non-finite value at a padding position is ignored, at a counted position
refused."""

import math

import numpy as np
import pytest
import torch
from ppobr_trl._clip_stats import RunningStats, empty_stats, statistics_of
from ppobr_trl._ratio_inputs import grpo_token_level, joined

import ppobr_core
from ppobr_torch import STAT_NAMES


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
        out.append((inputs, 0.3 * torch.randn(shape, generator=g, requires_grad=True)))
    return out


def _ratio(steps):
    return grpo_token_level(*joined(steps))


def _means(*parts):
    running = RunningStats()
    for sums, counts in parts:
        running.add(sums, counts)
    return running.take_means(distributed=False)


def _same(a, b):
    # float32 inputs: the kernel rounds per call, so split and whole sums agree to ~1e-7
    assert a.keys() == b.keys()
    for k in a:
        assert a[k] == pytest.approx(b[k], rel=1e-6, abs=1e-7) or (
            math.isnan(a[k]) and math.isnan(b[k])
        ), k


def test_joined_and_running_totals_equal_one_core_call_over_all_steps():
    steps = _steps(0)
    folded = _means(*(statistics_of(_ratio([s]), 0.2, 0.28) for s in steps))
    _same(_means(statistics_of(_ratio(steps), 0.2, 0.28)), folded)
    whole = ppobr_core.clipped_surrogate(
        np.concatenate([logps.detach().numpy() for _, logps in steps]),
        np.concatenate([i["old_per_token_logps"].numpy() for i, _ in steps]),
        np.concatenate([np.repeat(i["advantages"].numpy()[:, None], 5, 1) for i, _ in steps]),
        eps_low=0.2,
        eps_high=0.28,
        mask=np.concatenate([i["completion_mask"].numpy() for i, _ in steps]).astype(np.float32),
    ).stats
    _same(folded, whole)
    running = RunningStats()
    running.add(*statistics_of(_ratio(steps), 0.2, 0.2))
    assert running.take_means(distributed=False) is not None
    assert running.take_means(distributed=False) is None  # taking starts afresh


def test_step_without_tokens_is_neutral():
    steps = _steps(1, n=2)
    full = _ratio(steps[1:])
    empty = full._replace(mask=np.zeros_like(full.mask))
    alone = _means(statistics_of(full, 0.2, 0.2))
    mixed = _means(statistics_of(empty, 0.2, 0.2), statistics_of(full, 0.2, 0.2))
    _same(alone, mixed)
    assert all(math.isnan(v) for v in _means(empty_stats()).values())


def test_non_finite_padding_is_ignored_and_counted_value_refused():
    step = _ratio(_steps(2, n=1))
    clean = _means(statistics_of(step, 0.2, 0.2))
    padded = step.new.copy()
    padded[tuple(np.argwhere(step.mask == 0)[0])] = math.nan
    _same(_means(statistics_of(step._replace(new=padded), 0.2, 0.2)), clean)
    counted = step.new.copy()
    counted[tuple(np.argwhere(step.mask == 1)[0])] = math.inf
    with pytest.raises(ppobr_core.InvalidArgumentError, match="logp_new"):
        statistics_of(step._replace(new=counted), 0.2, 0.2)
    assert len(clean) == len(STAT_NAMES)
