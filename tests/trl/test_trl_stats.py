"""The statistics a micro-step without completion tokens adds: neutral for every reduction."""

import math

import torch
from ppobr_trl._trainer import _empty_stats

from ppobr_torch import StatsAccumulator, clipped_surrogate_loss


def test_empty_part_changes_no_statistic():
    new = torch.tensor([[0.1, -0.3], [0.5, 0.0]])
    old = torch.zeros(2, 2)
    adv = torch.tensor([[1.0, -1.0], [2.0, -0.5]])
    out = clipped_surrogate_loss(new, old, adv, eps=0.2)
    alone, mixed = StatsAccumulator(), StatsAccumulator()
    alone.add(out)
    mixed.add(_empty_stats(new.device))
    mixed.add(out)
    a, b = alone.compute(), mixed.compute()
    assert a.keys() == b.keys()
    for name in a:  # no entropy was given: both read NaN there
        assert a[name] == b[name] or (math.isnan(a[name]) and math.isnan(b[name])), name
    only_empty = StatsAccumulator()
    only_empty.add(_empty_stats(new.device))
    assert all(math.isnan(v) for v in only_empty.compute().values())
