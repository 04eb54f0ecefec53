"""EpsilonController: any ppobr_core controller, fed with tensors, identical on every rank."""

from __future__ import annotations

from typing import Any, Optional, Union

import numpy as np
import torch
from torch import Tensor

import ppobr_core
from ppobr_torch._input_rules import (
    check_per_step_values,
    per_step_type_error,
    real_number,
    require_controller,
    require_real_dtype,
)
from ppobr_torch._loss import ENTROPY, SurrogateOutput
from ppobr_torch._stats import StatsAccumulator, comm_device, distributed_ready


def _mean_pair(x, name: str) -> Optional[tuple[Any, float]]:
    """(sum, count) of a signal, so that ranks can add theirs before dividing; None if absent.

    - a real number or a 0-d tensor / array: a mean already (sum x, count 1);
    - a 1-D tensor, array, list or tuple of per-step values: their float64 sum (NumPy's) and
      number, so that sum / count is their arithmetic mean (docs/SPEC.md §3.5); an empty
      one is an InvalidArgumentError (no mean to take);
    - a StatsAccumulator / SurrogateOutput: its weighted entropy sum and count.
    """
    if x is None:
        return None
    if isinstance(x, StatsAccumulator):
        if x.sums is None:
            return None
        return x.sums[ENTROPY], x.counts[ENTROPY]
    if isinstance(x, SurrogateOutput):
        return x.sums[ENTROPY], x.counts[ENTROPY]
    if isinstance(x, Tensor):
        x = x.detach()
        require_real_dtype(name, x.dtype)
        check_per_step_values(name, x.dim(), x.numel())
        if x.dim() == 0:
            return x.to(torch.float64), 1.0
        # to the host (one transfer per iteration): the sum's order is part of the rule
        return _float64_sum(x.to("cpu", torch.float64).numpy()), float(x.numel())
    if isinstance(x, (list, tuple, np.ndarray)):
        try:
            a = np.asarray(x, dtype=np.float64)
        except (TypeError, ValueError):
            raise per_step_type_error(name, x) from None
        check_per_step_values(name, a.ndim, a.size)
        if a.ndim == 0:
            return float(a), 1.0
        return _float64_sum(a), float(a.size)
    try:
        return real_number(name, x), 1.0
    except TypeError:
        # the core's wording: a per-step array would have been accepted too
        raise per_step_type_error(name, x) from None


def _float64_sum(a: np.ndarray) -> float:
    """sum_t a_t in float64 as numpy.add.reduce adds it: the NumPy API's controllers take the
    same sum, so the same per-step entropies give the same mean, bit for bit (a torch or
    device sum would add in another order)."""
    return float(np.add.reduce(a))


def _returns_array(x) -> np.ndarray:
    if x is None:
        return np.zeros(0, dtype=np.float64)
    if isinstance(x, Tensor):
        return x.detach().to("cpu", torch.float64).reshape(-1).numpy()
    return np.asarray(list(x) if not isinstance(x, np.ndarray) else x, dtype=np.float64).reshape(-1)


_REQUIRED: Any = object()  # tells a missing controller from an explicit None


class EpsilonController:
    """Holds a core clip-range controller: a required ``ppobr_core.Controller`` (PPOBRController,
    ConstantController, LinearDecayController, KLAdaptiveController); None or anything else is
    a TypeError, never a silent default (docs/SPEC.md §3.6).

    ``update(entropy, episode_returns, kl=None)`` takes the rollout's policy entropy, the
    returns of the episodes that finished in it (a list, array or tensor, oldest first) and,
    for KL-adaptive, the measured KL; it returns ε as a float and writes it into the 0-d tensors
    handed out by :meth:`epsilon_tensor` (in place: compiled steps and CUDA graphs see the new
    value). The entropy (and kl) is a real number, a 0-d tensor, a 1-D tensor / array / list of
    per-step values whose float64 arithmetic mean H = (1/n) sum_t H_t is used (summed on the
    host as the NumPy API sums it, so both give the same bits; an empty one is an
    InvalidArgumentError), or a
    StatsAccumulator / SurrogateOutput (its weighted entropy mean). The wrapper reduces it to
    one float itself; the core controller sees a number. A non-finite mean follows the
    controller's NaN policy (ε unchanged, counted in diagnostics).

    With torch.distributed initialised (and ``distributed=True``), the signals are combined
    across ranks first — entropy and KL as global (sum, count) means, the episode returns
    gathered in rank order — so every rank feeds the controller the same observation and gets
    the same ε. ``state_dict()`` / ``load_state_dict()`` checkpoint the controller
    (``torch.save`` / ``torch.load(weights_only=True)`` compatible).
    """

    def __init__(
        self, controller: ppobr_core.Controller = _REQUIRED, *, distributed: bool = True, group=None
    ) -> None:
        if controller is _REQUIRED:
            raise TypeError("controller: is required")
        require_controller(controller)
        self.controller = controller
        self.distributed = distributed
        self.group = group
        self._tensors: dict[tuple[torch.device, torch.dtype], Tensor] = {}

    # --- the update ---------------------------------------------------------------------------
    def update(self, entropy=None, episode_returns=None, *, kl=None) -> float:
        ent = _mean_pair(entropy, "entropy")
        klp = _mean_pair(kl, "kl")
        rets = _returns_array(episode_returns)
        if self.distributed and distributed_ready():
            ent, klp, rets = self._all_reduce(ent, klp, rets)
        ent_v = _pair_mean(ent)
        kl_v = _pair_mean(klp)
        eps = float(self.controller.update(ent_v, rets if rets.size else None, kl=kl_v))
        self._sync_tensors(eps)
        return eps

    def _all_reduce(self, ent, klp, rets):
        dist = torch.distributed
        dev = comm_device(self.group)
        f64 = torch.float64

        def t(v):
            return (
                v.to(dev, f64)
                if isinstance(v, Tensor)
                else torch.tensor(float(v), dtype=f64, device=dev)
            )

        zero = torch.tensor(0.0, dtype=f64, device=dev)
        flags = torch.tensor([ent is not None, klp is not None], dtype=f64, device=dev)
        vec = torch.stack(
            [
                t(ent[0]) if ent else zero,
                t(ent[1]) if ent else zero,
                t(klp[0]) if klp else zero,
                t(klp[1]) if klp else zero,
                torch.tensor(float(rets.size), dtype=f64, device=dev),
            ]
            + list(flags)
        )
        dist.all_reduce(vec, op=dist.ReduceOp.SUM, group=self.group)
        world = dist.get_world_size(self.group)
        lens = [torch.zeros(1, dtype=f64, device=dev) for _ in range(world)]
        dist.all_gather(
            lens, torch.tensor([float(rets.size)], dtype=f64, device=dev), group=self.group
        )
        lens_i = [int(x.item()) for x in lens]
        longest = max(lens_i)
        gathered = np.zeros(0, dtype=np.float64)
        if longest > 0:
            buf = torch.zeros(longest, dtype=f64, device=dev)
            buf[: rets.size] = torch.from_numpy(rets).to(dev)
            parts = [torch.empty(longest, dtype=f64, device=dev) for _ in range(world)]
            dist.all_gather(parts, buf, group=self.group)
            gathered = np.concatenate([p[:n].cpu().numpy() for p, n in zip(parts, lens_i)])
        v = vec.tolist()
        ent_g = (v[0], v[1]) if v[5] > 0 else None
        kl_g = (v[2], v[3]) if v[6] > 0 else None
        return ent_g, kl_g, gathered

    # --- ε as a tensor --------------------------------------------------------------------------
    @property
    def epsilon(self) -> float:
        return float(self.controller.epsilon)

    def epsilon_tensor(
        self, device: Union[str, torch.device, None] = None, dtype: torch.dtype = torch.float32
    ) -> Tensor:
        """A persistent 0-d tensor holding ε on ``device``, updated in place by every update():
        pass it as the loss's ``eps`` inside a compiled step or CUDA graph."""
        dev = torch.device(device) if device is not None else torch.device("cpu")
        key = (dev, dtype)
        t = self._tensors.get(key)
        if t is None:
            t = torch.tensor(self.epsilon, dtype=dtype, device=dev)
            self._tensors[key] = t
        return t

    def _sync_tensors(self, eps: float) -> None:
        for t in self._tensors.values():
            t.fill_(eps)

    # --- pass-through ---------------------------------------------------------------------------
    @property
    def diagnostics(self) -> dict[str, float]:
        return self.controller.diagnostics

    @property
    def name(self) -> str:
        return self.controller.name

    @property
    def config(self) -> dict[str, float]:
        return self.controller.config

    def state_dict(self) -> dict[str, Any]:
        """{'controller': name, 'state': bytes}: the core's versioned, checksummed state."""
        return dict(self.controller.state_dict())

    def load_state_dict(self, state_dict) -> None:
        """Restores the controller (same type) from state_dict(); ε tensors follow."""
        self.controller.load_state_dict(dict(state_dict))
        self._sync_tensors(self.epsilon)

    def __repr__(self) -> str:
        return f"EpsilonController({self.controller!r})"


def _pair_mean(p) -> Optional[float]:
    if p is None:
        return None
    s, c = p
    s = float(s)
    c = float(c)
    return s / c if c > 0 else None
