"""Statistics across minibatches and workers: (sum, count) vectors that stay on the device.

A training iteration adds each minibatch's ``SurrogateOutput`` to a :class:`StatsAccumulator`
(no host-device sync: the additions are device ops) and reads the means once, after the update
epochs, with ``compute()``. Under torch.distributed, ``compute()`` first all-reduces the sums
and counts (SUM; ratio_min / ratio_max with MIN / MAX), so every rank reports the same,
exact global means.
"""

from __future__ import annotations

from typing import Optional, Union

import torch
from torch import Tensor

from ppobr_torch._loss import NUM_STATS, RATIO_MAX, RATIO_MIN, SurrogateOutput, stats_from_sums


def distributed_ready() -> bool:
    """True when torch.distributed is available and a default process group is initialised."""
    return torch.distributed.is_available() and torch.distributed.is_initialized()


def comm_device(group=None) -> torch.device:
    """The device collectives of ``group`` need: CUDA for NCCL, CPU otherwise (gloo, mpi)."""
    backend = torch.distributed.get_backend(group)
    if backend == "nccl":
        return torch.device("cuda", torch.cuda.current_device())
    return torch.device("cpu")


def all_reduce_stats(sums: Tensor, counts: Tensor, group=None) -> tuple[Tensor, Tensor]:
    """Global (sums, counts) over the ranks of ``group``: + for sums and counts, min / max for
    ratio_min / ratio_max. Returns new tensors on the inputs' device; without an initialised
    process group it returns the inputs unchanged. Two collectives, no host sync beyond them."""
    if not distributed_ready():
        return sums, counts
    dev = comm_device(group)
    s = sums.detach().to(device=dev, dtype=torch.float64)
    c = counts.detach().to(device=dev, dtype=torch.float64)
    minmax = torch.stack([s[RATIO_MIN], -s[RATIO_MAX]])
    flat = torch.cat([s, c])
    flat[RATIO_MIN] = 0.0
    flat[RATIO_MAX] = 0.0
    dist = torch.distributed
    dist.all_reduce(flat, op=dist.ReduceOp.SUM, group=group)
    dist.all_reduce(minmax, op=dist.ReduceOp.MIN, group=group)
    flat[RATIO_MIN] = minmax[0]
    flat[RATIO_MAX] = -minmax[1]
    out_s, out_c = flat[:NUM_STATS], flat[NUM_STATS:]
    return out_s.to(sums.device), out_c.to(counts.device)


class StatsAccumulator:
    """Collects the (sum, count) statistics of many minibatches on their device.

    ``add(out)`` takes a :class:`SurrogateOutput` (or ``(sums, counts)``) and only keeps a
    reference (no device work, never a sync); the parts are reduced on the device when read
    (and every ``fold_every`` adds, to bound memory). ``compute()`` all-reduces across ranks when
    torch.distributed is initialised (``all_reduce=True``), copies the means to the host once and
    (by default) resets.
    """

    fold_every = 1024

    def __init__(self) -> None:
        self._parts: list[tuple[Tensor, Tensor]] = []
        self._n = 0

    def reset(self) -> None:
        self._parts = []
        self._n = 0

    def __len__(self) -> int:  # number of add() calls since the last reset
        return self._n

    def add(self, out: Union[SurrogateOutput, tuple[Tensor, Tensor]]) -> None:
        if isinstance(out, SurrogateOutput):
            sums, counts = out.sums, out.counts
        else:
            sums, counts = out
        self._parts.append((sums.detach(), counts.detach()))
        self._n += 1
        if len(self._parts) >= self.fold_every:
            self._fold()

    @torch.no_grad()
    def _fold(self) -> None:
        if len(self._parts) <= 1:
            return
        sums = torch.stack([p[0] for p in self._parts]).to(torch.float64)
        counts = torch.stack([p[1] for p in self._parts]).to(torch.float64)
        total = sums.sum(0)
        total[RATIO_MIN] = sums[:, RATIO_MIN].amin()
        total[RATIO_MAX] = sums[:, RATIO_MAX].amax()
        self._parts = [(total, counts.sum(0))]

    @property
    def sums(self) -> Optional[Tensor]:
        """The accumulated sums (ratio_min / ratio_max: the min / max), float64, on device."""
        if not self._parts:
            return None
        self._fold()
        return self._parts[0][0].to(torch.float64)

    @property
    def counts(self) -> Optional[Tensor]:
        if not self._parts:
            return None
        self._fold()
        return self._parts[0][1].to(torch.float64)

    def reduced(self, group=None) -> tuple[Tensor, Tensor]:
        """The accumulated (sums, counts), all-reduced over ``group`` when distributed."""
        if not self._parts:
            raise RuntimeError("StatsAccumulator.reduced(): nothing was added")
        return all_reduce_stats(self.sums, self.counts, group)

    def compute(
        self, *, all_reduce: bool = True, group=None, reset: bool = True
    ) -> dict[str, float]:
        """Means by name (NaN where nothing was counted): one host transfer."""
        if not self._parts:
            raise RuntimeError("StatsAccumulator.compute(): nothing was added")
        if all_reduce:
            sums, counts = self.reduced(group)
        else:
            sums, counts = self.sums, self.counts
        out = stats_from_sums(sums, counts)
        if reset:
            self.reset()
        return out
