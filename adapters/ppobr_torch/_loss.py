"""The clipped surrogate for torch tensors: the fused C++ kernel on CPU, a torch expression elsewhere.

Semantics (cpp/include/ppobr/surrogate.hpp): with d = logp_new - logp_old, r = exp(d),
clip(r) = clamp(r, 1 - eps_low, 1 + eps_high) and weights w (the mask, 1 if absent):

    obj_i  = min(r_i A_i, clip(r_i) A_i)        dual-clip c: obj_i = max(obj_i, c A_i) where A_i < 0
    loss   = -sum_i s_i obj_i                   s_i from the aggregation (token-mean, seq-mean-*)
    dloss/dlogp_new_i = -s_i A_i r_i where the unclipped term is selected (ties: unclipped), else 0

and the statistics come back as (sum, count) vectors in ``STAT_NAMES`` order, float64, on the
inputs' device (ratio_min / ratio_max hold the min / max in ``sums``).
"""

from __future__ import annotations

import math
from typing import NamedTuple, Optional, Union

import numpy as np
import torch
from torch import Tensor

import ppobr_core

STAT_NAMES = tuple(ppobr_core.STAT_NAMES)
NUM_STATS = len(STAT_NAMES)
(
    ENTROPY,
    RATIO_MEAN,
    RATIO_MIN,
    RATIO_MAX,
    CLIP_FRACTION,
    CLIP_FRACTION_LOW,
    CLIP_FRACTION_HIGH,
    DUAL_CLIP_FRACTION,
    KL_K1,
    KL_K2,
    KL_K3,
) = range(11)
_EXPECTED = (
    "entropy", "ratio_mean", "ratio_min", "ratio_max", "clip_fraction", "clip_fraction_low",
    "clip_fraction_high", "dual_clip_fraction", "kl_k1", "kl_k2", "kl_k3",
)  # fmt: skip
if STAT_NAMES != _EXPECTED:  # pragma: no cover - guards against a core/adapter version skew
    raise ImportError(f"ppobr_torch expects ppobr_core.STAT_NAMES == {_EXPECTED}, got {STAT_NAMES}")

AGGREGATIONS = ("token-mean", "seq-mean-token-mean", "seq-mean-token-sum")
Eps = Union[float, Tensor]


def _invalid(message: str) -> ppobr_core.InvalidArgumentError:
    """The core's error type for a message "argument: what is wrong", with ``.argument`` set as
    the core sets it (so callers can tell which argument was bad without parsing text)."""
    err = ppobr_core.InvalidArgumentError(message)
    err.argument = message.split(":", 1)[0]
    return err


def stats_from_sums(sums: Tensor, counts: Tensor) -> dict[str, float]:
    """Weighted means from (sum, count) vectors, as floats: one device-to-host transfer.

    ratio_min / ratio_max are the values held in ``sums``; a statistic with count 0 is NaN
    (as the core's ``SurrogateResult.stats``)."""
    sums = sums.detach().to(torch.float64)
    counts = counts.detach().to(torch.float64)
    means = sums / counts
    means[RATIO_MIN] = sums[RATIO_MIN]
    means[RATIO_MAX] = sums[RATIO_MAX]
    means = torch.where(counts > 0, means, torch.full_like(means, float("nan")))
    return dict(zip(STAT_NAMES, means.tolist()))


class SurrogateOutput(NamedTuple):
    """What :func:`clipped_surrogate_loss` returns.

    loss:   0-d tensor in the inputs' dtype, differentiable with respect to logp_new.
    sums:   [11] float64 tensor of weighted sums (ratio_min / ratio_max: the min / max), on device.
    counts: [11] float64 tensor of the total weight behind each statistic, on device.
    """

    loss: Tensor
    sums: Tensor
    counts: Tensor

    def stats(self) -> dict[str, float]:
        """Weighted means by name (one host transfer; call it once per iteration, not per step)."""
        return stats_from_sums(self.sums, self.counts)


# ---------------------------------------------------------------------------------------------
# The C++ path (CPU tensors): the core computes loss, grad and statistics in one pass.


def _np(t: Optional[Tensor]):
    if t is None:
        return None
    return t.detach().numpy() if t.requires_grad else t.numpy()


def _stat_tensors(res) -> tuple[Tensor, Tensor]:
    # The binding's float64 arrays in STAT_NAMES order: no dict, no copy into a list.
    return torch.from_numpy(res.sums_array), torch.from_numpy(res.counts_array)


def _core_call(logp_new, logp_old, advantages, opts):
    # opts: (kwargs of the options that are set, entropy, mask, segment_ids). Only arguments that
    # are given are passed: the binding's keyword parsing is a visible share of a small call.
    kw, entropy, mask, segment_ids = opts
    if entropy is not None:
        kw = dict(kw, entropy=_np(entropy))
    if mask is not None:
        kw = dict(kw, mask=_np(mask))
    if segment_ids is not None:
        kw = dict(kw, segment_ids=_np(segment_ids))
    return ppobr_core.clipped_surrogate(_np(logp_new), _np(logp_old), _np(advantages), **kw)


class _CoreSurrogate(torch.autograd.Function):
    """Forward runs the fused kernel on NumPy views of the CPU tensors (no copies) and keeps its
    gradient; backward only scales that gradient by grad_output (no second pass). The
    statistics leave through ``box`` (they are not differentiable outputs)."""

    @staticmethod
    def forward(ctx, logp_new, logp_old, advantages, opts, box):  # type: ignore[override]
        res = _core_call(logp_new, logp_old, advantages, opts)
        ctx.kernel_grad = torch.from_numpy(res.grad)
        box.append(res)
        return torch.scalar_tensor(res.loss, dtype=logp_new.dtype)

    @staticmethod
    def backward(ctx, grad_loss):  # type: ignore[override]
        if torch.is_grad_enabled():  # backward(create_graph=True): the kernel's gradient is a constant
            raise RuntimeError(
                "ppobr_torch: the C++ kernel's loss is differentiable once; for higher-order "
                "gradients use backend='torch'"
            )
        grad = ctx.kernel_grad
        # grad_loss lives on the CPU here: reading it costs no device sync.
        if grad_loss.item() != 1.0:
            grad = grad * grad_loss
        return grad, None, None, None, None


def _core_surrogate(logp_new, logp_old, advantages, opts) -> SurrogateOutput:
    if logp_new.requires_grad and torch.is_grad_enabled():
        box: list = []
        loss = _CoreSurrogate.apply(logp_new, logp_old, advantages, opts, box)
        res = box[0]
    else:
        res = _core_call(logp_new, logp_old, advantages, opts)
        loss = torch.scalar_tensor(res.loss, dtype=logp_new.dtype)
    sums, counts = _stat_tensors(res)
    return SurrogateOutput(loss, sums, counts)


def _check_core_dict_order() -> None:
    one = np.zeros(1)
    res = ppobr_core.clipped_surrogate(one, one, one, eps=0.2)
    if tuple(res.sums) != STAT_NAMES or tuple(res.counts) != STAT_NAMES:  # pragma: no cover
        raise ImportError("ppobr_torch: ppobr_core's statistics dicts are not in STAT_NAMES order")


_check_core_dict_order()


# ---------------------------------------------------------------------------------------------
# The torch path (CUDA and other devices, torch.compile, dtypes the core lacks).


def _as_bound(x: Eps, like: Tensor) -> Eps:
    if isinstance(x, Tensor):
        return x.to(device=like.device, dtype=like.dtype)
    return float(x)


def torch_surrogate(
    logp_new: Tensor,
    logp_old: Tensor,
    advantages: Tensor,
    eps_low: Eps,
    eps_high: Eps,
    dual_clip: Optional[float] = None,
    entropy: Optional[Tensor] = None,
    mask: Optional[Tensor] = None,
    segment_ids: Optional[Tensor] = None,
    num_segments: Optional[int] = None,
    aggregation: str = "token-mean",
) -> SurrogateOutput:
    """The same loss, gradient and statistics as the C++ kernel, as torch operations.

    Traceable by torch.compile (eps_low / eps_high may be 0-d tensors: changing their values does
    not recompile), no host-device synchronisation (except computing num_segments from
    segment_ids when it is not given), runs on any device. It does not validate values (NaN,
    negative or all-zero masks) as the core does: that would need a sync."""
    dtype = logp_new.dtype
    d = logp_new - logp_old
    w = None
    if mask is not None:
        w = mask.to(dtype)
        # as the kernel: a masked-out sample's log-ratio is 0 (padding cannot make inf * 0 = NaN)
        d = torch.where(w > 0, d, torch.zeros_like(d))
    r = torch.exp(d)
    lo = 1 - _as_bound(eps_low, r)
    hi = 1 + _as_bound(eps_high, r)
    with torch.no_grad():
        rd = r.detach()
        if isinstance(lo, Tensor) or isinstance(hi, Tensor):
            # torch.full, not torch.tensor: a fill kernel, no host-to-device copy
            lo_t = lo if isinstance(lo, Tensor) else torch.full((), lo, dtype=dtype, device=r.device)
            hi_t = hi if isinstance(hi, Tensor) else torch.full((), hi, dtype=dtype, device=r.device)
            rc = torch.clamp(rd, lo_t, hi_t)
        else:
            rc = torch.clamp(rd, lo, hi)
        t2 = rc * advantages
    t1 = r * advantages
    unclipped = t1.detach() <= t2  # ties count as unclipped (the kernel's rule)
    obj = torch.where(unclipped, t1, t2)
    dual = None
    if dual_clip is not None:
        ca = dual_clip * advantages.detach()
        dual = (advantages < 0) & (ca > obj.detach())
        obj = torch.where(dual, ca, obj)

    wobj = obj * w if w is not None else obj

    # Loss aggregation.
    if aggregation == "token-mean":
        loss = -(wobj.sum() / w.sum()) if w is not None else -obj.mean()
    else:
        if logp_new.dim() == 2:
            per_seq = wobj.sum(1)
            weight = w.sum(1) if w is not None else None
        elif segment_ids is not None:
            seg = segment_ids.to(device=r.device, dtype=torch.long)
            if num_segments is None:
                num_segments = int(seg.max()) + 1  # a sync; pass num_segments to avoid it
            per_seq = torch.zeros(num_segments, dtype=dtype, device=r.device).index_add(0, seg, wobj)
            ones = w if w is not None else torch.ones_like(obj)
            weight = torch.zeros(num_segments, dtype=dtype, device=r.device).index_add(0, seg, ones)
        else:  # a 1-D batch without ids is one sequence
            per_seq = wobj.sum().reshape(1)
            weight = w.sum().reshape(1) if w is not None else None
        if weight is None:
            ntok = logp_new.shape[-1] if logp_new.dim() == 2 else logp_new.numel()
            weight = torch.full_like(per_seq, float(ntok))
        nonempty = weight > 0
        if aggregation == "seq-mean-token-mean":
            per_seq = per_seq / torch.where(nonempty, weight, torch.ones_like(weight))
        elif aggregation != "seq-mean-token-sum":
            raise _invalid(f"aggregation: unknown {aggregation!r}")
        per_seq = torch.where(nonempty, per_seq, torch.zeros_like(per_seq))
        loss = -(per_seq.sum() / nonempty.sum().to(dtype))

    # Statistics (no grad), summed in float64.
    with torch.no_grad():
        dd = d.detach()
        low_out = rd < lo
        high_out = rd > hi
        neg = advantages < 0
        zero = torch.zeros_like(rd)
        rows = [
            entropy.detach().to(dtype) if entropy is not None else zero,
            rd,
            low_out | high_out,
            neg & low_out,
            (advantages > 0) & high_out,
            dual if dual is not None else zero,
            -dd,
            0.5 * dd * dd,
            (rd - 1) - dd,
        ]
        q = torch.stack([x.to(dtype) for x in rows])
        if w is not None:
            q = q * w
            wsum = w.sum(dtype=torch.float64)
            inf = torch.full_like(rd, float("inf"))
            pos = w > 0
            rmin = torch.where(pos, rd, inf).amin()
            rmax = torch.where(pos, rd, -inf).amax()
        else:
            wsum = torch.full((), rd.numel(), dtype=torch.float64, device=rd.device)
            rmin = rd.amin()
            rmax = rd.amax()
        s9 = q.reshape(9, -1).sum(1, dtype=torch.float64)
        sums = torch.cat(
            [s9[0:2], torch.stack([rmin, rmax]).to(torch.float64), s9[2:]]
        )
        # every statistic counts the total weight, except entropy when none was given (built
        # from device values only: no host-to-device copy, so CUDA-graph capturable)
        nothing = torch.zeros_like(wsum)
        counts = torch.stack([nothing if entropy is None else wsum] + [wsum] * (NUM_STATS - 1))
    return SurrogateOutput(loss, sums, counts)



# ---------------------------------------------------------------------------------------------
# The public function and module.


def _clip_range(eps, eps_low, eps_high, default: Optional[float] = None):
    """(eps_low, eps_high) from either way of giving the clip range: ``eps`` (symmetric) or both
    ``eps_low`` and ``eps_high``; ``default`` stands in for eps when nothing is given.

    Values on the host (numbers, CPU tensors outside tracing) are checked as the core checks
    them: finite, 0 <= eps_low < 1, eps_high >= 0. A tensor on another device is not read (that
    would be a host-device sync); the pure-torch path then trusts it."""
    if eps is not None and (eps_low is not None or eps_high is not None):
        raise _invalid(
            "eps: give either eps (symmetric) or eps_low and eps_high, not both"
        )
    if eps is None and eps_low is None and eps_high is None:
        if default is None:
            raise _invalid(
                "eps: the clip range is required: pass eps, or eps_low and eps_high"
            )
        eps = default
    if eps is not None:
        _check_bound("eps", eps, upper=1.0)
        return eps, eps
    if eps_high is None:
        raise _invalid("eps_high: eps_low was given without eps_high")
    if eps_low is None:
        raise _invalid("eps_low: eps_high was given without eps_low")
    _check_bound("eps_low", eps_low, upper=1.0)
    _check_bound("eps_high", eps_high, upper=None)
    return eps_low, eps_high


def _check_bound(name: str, x: Eps, upper: Optional[float]) -> None:
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise _invalid(f"{name}: expected a number or a 0-d tensor, got shape {tuple(x.shape)}")
        if not x.is_cpu or _tracing():
            return
    v = float(x)
    if not (math.isfinite(v) and v >= 0.0 and (upper is None or v < upper)):
        rule = "finite and in [0, 1)" if upper is not None else "finite and >= 0"
        raise _invalid(f"{name}: must be {rule}, got {v}")


try:  # torch >= 2.3
    _is_compiling = torch.compiler.is_compiling
except AttributeError:  # pragma: no cover - older torch
    import torch._dynamo

    _is_compiling = torch._dynamo.is_compiling


def _tracing() -> bool:
    return _is_compiling() or torch.jit.is_tracing() or torch.jit.is_scripting()


_CORE_DTYPES = (torch.float32, torch.float64)


def _use_core(backend: str, tensors) -> bool:
    if backend == "torch":
        return False
    if _tracing():
        if backend == "core":
            raise RuntimeError("backend='core' cannot run under torch.compile / tracing; use 'auto'")
        return False
    ok = tensors[0].dtype in _CORE_DTYPES
    for t in tensors:
        if t is not None and not t.is_cpu:
            ok = False
            break
    if backend == "core":
        if not ok:
            raise ValueError("backend='core' needs float32/float64 CPU tensors")
        return True
    if backend != "auto":
        raise ValueError(f"backend must be 'auto', 'core' or 'torch', got {backend!r}")
    return ok


def _float(x: Eps) -> float:
    return float(x.item()) if isinstance(x, Tensor) else float(x)


def clipped_surrogate_loss(
    logp_new: Tensor,
    logp_old: Tensor,
    advantages: Tensor,
    eps: Optional[Eps] = None,
    *,
    eps_low: Optional[Eps] = None,
    eps_high: Optional[Eps] = None,
    dual_clip: Optional[float] = None,
    entropy: Optional[Tensor] = None,
    mask: Optional[Tensor] = None,
    segment_ids: Optional[Tensor] = None,
    num_segments: Optional[int] = None,
    aggregation: str = "token-mean",
    backend: str = "auto",
    num_threads: Optional[int] = None,
) -> SurrogateOutput:
    """PPO's clipped surrogate loss with its statistics, differentiable in ``logp_new``.

    The semantics of ``ppobr_core.clipped_surrogate``: ``eps`` (symmetric) or ``eps_low`` and
    ``eps_high`` ("clip-higher"), optional ``dual_clip`` c > 1, per-sample ``entropy`` (statistics
    only), ``mask`` (bool or weights >= 0), and the aggregations "token-mean",
    "seq-mean-token-mean", "seq-mean-token-sum" over the rows of 2-D [batch, tokens] input or the
    sequences named by 1-D ``segment_ids`` (``num_segments``: max id + 1, optional).

    backend "auto" runs the fused C++ kernel for float32/float64 CPU tensors outside
    torch.compile, and the equivalent torch expression otherwise (CUDA, other dtypes, under
    torch.compile, where ``eps`` should be a 0-d tensor so that changing it does not recompile).
    "core" / "torch" force one path. ``num_threads`` (core only): None follows
    ``torch.get_num_threads()`` (1 stays single-threaded; else the core chooses by batch size).

    Returns :class:`SurrogateOutput` (loss, sums, counts); ``.stats()`` gives the means.
    """
    lo, hi = _clip_range(eps, eps_low, eps_high)
    return _surrogate(logp_new, logp_old, advantages, lo, hi, dual_clip, entropy, mask,
                      segment_ids, num_segments, aggregation, backend, num_threads)  # fmt: skip


def _surrogate(logp_new, logp_old, advantages, lo, hi, dual_clip, entropy, mask, segment_ids,
               num_segments, aggregation, backend, num_threads) -> SurrogateOutput:  # fmt: skip
    """clipped_surrogate_loss with the clip range (lo, hi) = (eps_low, eps_high) already checked."""
    if aggregation not in AGGREGATIONS:
        raise _invalid(
            f"aggregation: expected one of {AGGREGATIONS}, got {aggregation!r}"
        )
    if dual_clip is not None:
        dual_clip = float(dual_clip)
        if not dual_clip > 1.0:
            raise _invalid(
                f"dual_clip: must be > 1 (or None to disable), got {dual_clip}"
            )
    if _use_core(backend, (logp_new, logp_old, advantages, entropy, mask, segment_ids)):
        if num_threads is None:
            num_threads = 1 if torch.get_num_threads() == 1 else 0
        # The kernel differentiates in logp_new only: when logp_old or the advantages need
        # gradients too, the torch expression below runs and autograd handles all three.
        if not (logp_old.requires_grad or advantages.requires_grad):
            lo, hi = _float(lo), _float(hi)
            kw = {"eps": lo} if lo == hi else {"eps_low": lo, "eps_high": hi}
            kw["num_threads"] = num_threads
            if dual_clip is not None:
                kw["dual_clip"] = dual_clip
            if aggregation != "token-mean":
                kw["aggregation"] = aggregation
            return _core_surrogate(logp_new, logp_old, advantages, (kw, entropy, mask, segment_ids))
    _check_shapes(logp_new, logp_old, advantages, entropy, mask, segment_ids)
    return torch_surrogate(
        logp_new, logp_old, advantages, lo, hi, dual_clip, entropy, mask, segment_ids,
        num_segments, aggregation,
    )  # fmt: skip


def _check_shapes(logp_new, logp_old, advantages, entropy, mask, segment_ids) -> None:
    if logp_new.dim() not in (1, 2):
        raise _invalid(
            "logp_new: expected a 1-D [batch] or 2-D [batch, tokens] tensor, "
            f"got {logp_new.dim()} dimensions"
        )
    if logp_new.numel() == 0:
        raise _invalid("logp_new: the batch is empty")
    for name, t in (("logp_old", logp_old), ("advantages", advantages), ("entropy", entropy),
                    ("mask", mask)):  # fmt: skip
        if t is not None and t.shape != logp_new.shape:
            raise _invalid(
                f"{name}: shape {tuple(t.shape)} does not match logp_new's {tuple(logp_new.shape)}"
            )
    if segment_ids is not None and (
        logp_new.dim() != 1 or segment_ids.shape != logp_new.shape
    ):
        raise _invalid(
            "segment_ids: expected a 1-D integer tensor as long as a 1-D logp_new"
        )


class ClippedSurrogateLoss(torch.nn.Module):
    """:func:`clipped_surrogate_loss` as a module whose clip range lives in 0-d buffers.

    ``set_epsilon`` writes the buffers in place, so a torch.compile'd step or a captured CUDA
    graph that uses this module sees the new value without recompiling or re-capturing.
    ``forward(logp_new, logp_old, advantages, *, entropy=None, mask=None, segment_ids=None,
    num_segments=None)`` returns a :class:`SurrogateOutput`.
    """

    def __init__(
        self,
        eps: Optional[float] = None,
        *,
        eps_low: Optional[float] = None,
        eps_high: Optional[float] = None,
        dual_clip: Optional[float] = None,
        aggregation: str = "token-mean",
        backend: str = "auto",
    ) -> None:
        super().__init__()
        lo, hi = _clip_range(eps, eps_low, eps_high, default=0.2)
        self.register_buffer("eps_low", torch.tensor(float(lo), dtype=torch.float64), persistent=False)
        self.register_buffer("eps_high", torch.tensor(float(hi), dtype=torch.float64), persistent=False)
        self.dual_clip = dual_clip
        self.aggregation = aggregation
        self.backend = backend

    @torch.no_grad()
    def set_epsilon(self, eps: Optional[Eps] = None, *, eps_low=None, eps_high=None) -> None:
        lo, hi = _clip_range(eps, eps_low, eps_high)
        self.eps_low.fill_(lo)
        self.eps_high.fill_(hi)

    def forward(
        self,
        logp_new: Tensor,
        logp_old: Tensor,
        advantages: Tensor,
        *,
        entropy: Optional[Tensor] = None,
        mask: Optional[Tensor] = None,
        segment_ids: Optional[Tensor] = None,
        num_segments: Optional[int] = None,
    ) -> SurrogateOutput:
        # (the buffers were checked when written, so the per-call path skips _clip_range)
        return _surrogate(
            logp_new, logp_old, advantages, self.eps_low, self.eps_high, self.dual_clip, entropy,
            mask, segment_ids, num_segments, self.aggregation, self.backend, None,
        )  # fmt: skip

    def extra_repr(self) -> str:
        return (
            f"eps_low={self.eps_low.item():g}, eps_high={self.eps_high.item():g}, "
            f"dual_clip={self.dual_clip}, aggregation={self.aggregation!r}, backend={self.backend!r}"
        )
