"""The clipped surrogate for torch tensors: the fused C++ kernel on CPU, a torch expression elsewhere.

Semantics (docs/SPEC.md §2): with d = logp_new - logp_old, r = exp(d),
clip(r) = clamp(r, 1 - eps_low, 1 + eps_high) and weights w (the mask, 1 if absent):

    obj_i  = min(r_i A_i, clip(r_i) A_i)        dual-clip c: obj_i = max(obj_i, c A_i) where A_i < 0
    loss   = -sum_i s_i obj_i                   s_i from the aggregation (token-mean, seq-mean-*)
    dloss/dlogp_new_i = -s_i A_i r_i where the unclipped term is selected (ties: unclipped), else 0

Where r_i overflows the dtype (float32: d_i > ~88.7) the loss and gradient are the formula's with
r_i = +inf, exactly as the core: A_i > 0 selects the clipped term (gradient 0); A_i < 0 gives
+inf without dual-clip, the bound c A_i (gradient 0) with it; A_i = 0 gives obj_i = 0. No path
returns NaN from finite input. The statistics come back as (sum, count) vectors in
``STAT_NAMES`` order, float64, on the inputs' device (ratio_min / ratio_max hold the min / max
in ``sums``).

Input rules (docs/SPEC.md §3, checked in ``_input_rules`` on both paths): array arguments are
torch.Tensors, float inputs float32 or float64 and all of logp_new's dtype, shapes and the
configuration as the core checks them, with the core's messages. Value checks that need the data
(NaN / Inf, negative or all-zero mask weights, segment id range) run in the core on the C++ path
and are skipped on the torch-expression path, where each would cost a host-device sync.
"""

from __future__ import annotations

from typing import NamedTuple, Optional

import numpy as np
import torch
from torch import Tensor

import ppobr_core
from ppobr_torch import _input_rules as rules
from ppobr_torch._input_rules import Eps

STAT_NAMES = tuple(ppobr_core.STAT_NAMES)
NUM_STATS = len(STAT_NAMES)
# Slots of the (sum, count) vectors, looked up by name in the core's order (docs/SPEC.md §2.2).
_SLOT = {name: i for i, name in enumerate(STAT_NAMES)}
ENTROPY = _SLOT["entropy"]
RATIO_MEAN = _SLOT["ratio_mean"]
RATIO_MIN = _SLOT["ratio_min"]
RATIO_MAX = _SLOT["ratio_max"]
CLIP_FRACTION = _SLOT["clip_fraction"]
CLIP_FRACTION_LOW = _SLOT["clip_fraction_low"]
CLIP_FRACTION_HIGH = _SLOT["clip_fraction_high"]
DUAL_CLIP_FRACTION = _SLOT["dual_clip_fraction"]
KL_K1 = _SLOT["kl_k1"]
KL_K2 = _SLOT["kl_k2"]
KL_K3 = _SLOT["kl_k3"]


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
        # backward(create_graph=True): the kernel's gradient is a constant, not a graph
        if torch.is_grad_enabled():
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
# The torch path (CUDA and other devices, torch.compile).


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

    The bare expression: it checks nothing (use :func:`clipped_surrogate_loss`, which applies
    the input rules first). Traceable by torch.compile (eps_low / eps_high may be 0-d tensors:
    changing their values does not recompile), no host-device synchronisation (except computing
    num_segments from segment_ids when it is not given), runs on any device.

    Which term each sample takes (unclipped r A, clipped clip(r) A, or the dual-clip bound c A)
    is decided on detached values first, as the kernel decides it; the ratio is then rebuilt
    for autograd from d only where the unclipped term is selected, and from 0 elsewhere. A
    ratio that overflows to +inf where its gradient is 0 thus never enters the graph (the
    product 0 * inf in exp's backward would be NaN). Gradients reach the advantages (and
    logp_old) as the formula says: r, clip(r) or c per the selected term.
    """
    dtype = logp_new.dtype
    d = logp_new - logp_old
    w = None
    if mask is not None:
        w = mask.to(dtype)
        # as the kernel: a masked-out sample's log-ratio is 0 (padding cannot make inf * 0 = NaN)
        d = torch.where(w > 0, d, torch.zeros_like(d))
    lo = 1 - _as_bound(eps_low, d)
    hi = 1 + _as_bound(eps_high, d)
    with torch.no_grad():
        dd = d.detach()
        ad = advantages.detach()
        rd = torch.exp(dd)
        if isinstance(lo, Tensor) or isinstance(hi, Tensor):
            # torch.full, not torch.tensor: a fill kernel, no host-to-device copy
            lo_t = (
                lo if isinstance(lo, Tensor) else torch.full((), lo, dtype=dtype, device=d.device)
            )
            hi_t = (
                hi if isinstance(hi, Tensor) else torch.full((), hi, dtype=dtype, device=d.device)
            )
            rc = torch.clamp(rd, lo_t, hi_t)
        else:
            rc = torch.clamp(rd, lo, hi)
        t1 = rd * ad
        t2 = rc * ad
        # ties count as unclipped (the kernel's rule); r A = inf * 0 = NaN (A = 0 with an
        # overflowed ratio) compares False: the clipped term, 0, is taken, as in the kernel
        unclipped = t1 <= t2
        dual = None
        if dual_clip is not None:
            dual = (ad < 0) & (dual_clip * ad > torch.where(unclipped, t1, t2))
            selected = unclipped & ~dual
        else:
            selected = unclipped
    # the masked input: exp sees d only where its gradient is used
    r = torch.exp(torch.where(selected, d, torch.zeros_like(d)))
    obj = torch.where(selected, r * advantages, rc * advantages)
    if dual is not None:
        obj = torch.where(dual, dual_clip * advantages, obj)

    wobj = obj * w if w is not None else obj

    # Loss aggregation.
    if aggregation == "token-mean":
        loss = -(wobj.sum() / w.sum()) if w is not None else -obj.mean()
    else:
        if logp_new.dim() == 2:
            per_seq = wobj.sum(1)
            weight = w.sum(1) if w is not None else None
        elif segment_ids is not None:
            seg = segment_ids.to(device=d.device, dtype=torch.long)
            if num_segments is None:
                num_segments = int(seg.max()) + 1  # a sync; pass num_segments to avoid it
            per_seq = torch.zeros(num_segments, dtype=dtype, device=d.device).index_add(
                0, seg, wobj
            )
            ones = w if w is not None else torch.ones_like(obj)
            weight = torch.zeros(num_segments, dtype=dtype, device=d.device).index_add(0, seg, ones)
        else:  # a 1-D batch without ids is one sequence (the input rules refuse it before)
            per_seq = wobj.sum().reshape(1)
            weight = w.sum().reshape(1) if w is not None else None
        if weight is None:
            ntok = logp_new.shape[-1] if logp_new.dim() == 2 else logp_new.numel()
            weight = torch.full_like(per_seq, float(ntok))
        nonempty = weight > 0
        if aggregation == "seq-mean-token-mean":
            per_seq = per_seq / torch.where(nonempty, weight, torch.ones_like(weight))
        elif aggregation != "seq-mean-token-sum":
            rules.check_aggregation_name(aggregation)
        per_seq = torch.where(nonempty, per_seq, torch.zeros_like(per_seq))
        loss = -(per_seq.sum() / nonempty.sum().to(dtype))

    # Statistics (no grad), summed in float64.
    with torch.no_grad():
        low_out = rd < lo
        high_out = rd > hi
        neg = ad < 0
        zero = torch.zeros_like(rd)
        rows = [
            entropy.detach().to(dtype) if entropy is not None else zero,
            rd,
            low_out | high_out,
            neg & low_out,
            (ad > 0) & high_out,
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
        sums = torch.cat([s9[0:2], torch.stack([rmin, rmax]).to(torch.float64), s9[2:]])
        # every statistic counts the total weight, except entropy when none was given (built
        # from device values only: no host-to-device copy, so CUDA-graph capturable)
        nothing = torch.zeros_like(wsum)
        counts = torch.stack([nothing if entropy is None else wsum] + [wsum] * (NUM_STATS - 1))
    return SurrogateOutput(loss, sums, counts)


# ---------------------------------------------------------------------------------------------
# The public function and module.

_BACKENDS = ("auto", "core", "torch")


def _use_core(backend: str, tensors) -> bool:
    """Whether the C++ kernel runs: backend 'auto' picks it for CPU tensors outside tracing (the
    input rules have made every float input float32 or float64 already)."""
    if backend not in _BACKENDS:
        raise ValueError(f"backend must be 'auto', 'core' or 'torch', got {backend!r}")
    if backend == "torch":
        return False
    if rules.tracing():
        if backend == "core":
            raise RuntimeError(
                "backend='core' cannot run under torch.compile / tracing; use 'auto'"
            )
        return False
    on_cpu = all(t is None or t.is_cpu for t in tensors)
    if backend == "core" and not on_cpu:
        raise ValueError("backend='core' needs float32/float64 CPU tensors")
    return on_cpu


def _float(x: Eps) -> float:
    return float(x.item()) if isinstance(x, Tensor) else float(x)


def clipped_surrogate_loss(
    logp_new: Tensor = rules.REQUIRED,
    logp_old: Tensor = rules.REQUIRED,
    advantages: Tensor = rules.REQUIRED,
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

    With d = logp_new - logp_old, r = exp(d), clip(r) = clamp(r, 1 - eps_low, 1 + eps_high):
    obj_i = min(r_i A_i, clip(r_i) A_i), with dual-clip c max(obj_i, c A_i) where A_i < 0, and
    loss = -sum_i s_i obj_i, s_i the aggregation's weight (token-mean: w_i / sum_j w_j, w the
    mask); dloss/dlogp_new_i = -s_i A_i r_i where the unclipped term is selected, else 0. See
    docs/SPEC.md §2.

    The semantics of ``ppobr_core.clipped_surrogate``: ``eps`` (symmetric, in [0, 1)) or
    ``eps_low`` in [0, 1) and ``eps_high`` >= 0 ("clip-higher"; 0 is a valid clip range),
    optional ``dual_clip`` c > 1, per-sample ``entropy`` (statistics only), ``mask`` (bool or
    weights >= 0), and the aggregations "token-mean", "seq-mean-token-mean",
    "seq-mean-token-sum" over the rows of 2-D [batch, tokens] input or the sequences named by
    1-D ``segment_ids`` (required for a seq-mean-* aggregation of a 1-D batch; ``num_segments``:
    max id + 1, optional, torch path only).

    Input rules (docs/SPEC.md §3), the same on both paths and with the core's messages: the
    three arrays are required ("<argument>: is required"); array arguments must be torch.Tensors (anything else is a TypeError: converting it would detach
    the graph); float inputs float32 or float64, all in logp_new's dtype (else TypeError);
    shapes and the configuration as the core checks them (InvalidArgumentError naming the
    argument). Value checks (NaN / Inf, negative or all-zero mask weights, segment id range)
    run on the C++ path only; the torch-expression path skips them, since each would cost a
    host-device sync. Where r overflows the dtype, both paths return the core's loss and
    gradient (never NaN from finite input).

    backend "auto" runs the fused C++ kernel for CPU tensors outside torch.compile, and the
    equivalent torch expression otherwise (CUDA and other devices, under torch.compile, where
    ``eps`` should be a 0-d tensor so that changing it does not recompile). "core" / "torch"
    force one path. ``num_threads`` (core only): None follows ``torch.get_num_threads()`` (1
    stays single-threaded; else the core chooses by batch size).

    Returns :class:`SurrogateOutput` (loss, sums, counts); ``.stats()`` gives the means.
    """
    rules.check_aggregation_type(aggregation)
    rules.check_surrogate_inputs(
        logp_new, logp_old, advantages, entropy, mask, segment_ids, aggregation
    )
    lo, hi = rules.clip_range(eps, eps_low, eps_high)
    return _surrogate(
        logp_new,
        logp_old,
        advantages,
        lo,
        hi,
        dual_clip,
        entropy,
        mask,
        segment_ids,
        num_segments,
        aggregation,
        backend,
        num_threads,
    )


def _surrogate(
    logp_new,
    logp_old,
    advantages,
    lo,
    hi,
    dual_clip,
    entropy,
    mask,
    segment_ids,
    num_segments,
    aggregation,
    backend,
    num_threads,
) -> SurrogateOutput:
    """clipped_surrogate_loss once the arrays and the clip range (lo, hi) = (eps_low, eps_high)
    have passed the input rules."""
    dual_clip = rules.check_dual_clip(dual_clip)
    rules.check_aggregation_name(aggregation)
    rules.check_num_threads(num_threads)
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
    return torch_surrogate(
        logp_new,
        logp_old,
        advantages,
        lo,
        hi,
        dual_clip,
        entropy,
        mask,
        segment_ids,
        num_segments,
        aggregation,
    )


class ClippedSurrogateLoss(torch.nn.Module):
    """:func:`clipped_surrogate_loss` as a module whose clip range lives in 0-d buffers.

    ``set_epsilon`` writes the buffers in place, so a torch.compile'd step or a captured CUDA
    graph that uses this module sees the new value without recompiling or re-capturing. The clip
    range is checked when written (eps in [0, 1), or eps_low in [0, 1) and eps_high >= 0;
    default eps = 0.2); the arrays of every call follow the input rules of
    :func:`clipped_surrogate_loss` (docs/SPEC.md §3). ``forward(logp_new, logp_old, advantages,
    *, entropy=None, mask=None, segment_ids=None, num_segments=None)`` returns a
    :class:`SurrogateOutput`.
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
        lo, hi = rules.clip_range(eps, eps_low, eps_high, default=0.2)
        rules.check_aggregation_type(aggregation)
        rules.check_aggregation_name(aggregation)
        f64 = torch.float64
        self.register_buffer("eps_low", torch.tensor(_float(lo), dtype=f64), persistent=False)
        self.register_buffer("eps_high", torch.tensor(_float(hi), dtype=f64), persistent=False)
        self.dual_clip = rules.check_dual_clip(dual_clip)
        self.aggregation = aggregation
        self.backend = backend

    @torch.no_grad()
    def set_epsilon(self, eps: Optional[Eps] = None, *, eps_low=None, eps_high=None) -> None:
        lo, hi = rules.clip_range(eps, eps_low, eps_high)
        self.eps_low.fill_(lo)
        self.eps_high.fill_(hi)

    def forward(
        self,
        logp_new: Tensor = rules.REQUIRED,
        logp_old: Tensor = rules.REQUIRED,
        advantages: Tensor = rules.REQUIRED,
        *,
        entropy: Optional[Tensor] = None,
        mask: Optional[Tensor] = None,
        segment_ids: Optional[Tensor] = None,
        num_segments: Optional[int] = None,
    ) -> SurrogateOutput:
        # (the buffers were checked when written: no clip-range check per call)
        rules.check_surrogate_inputs(
            logp_new, logp_old, advantages, entropy, mask, segment_ids, self.aggregation
        )
        return _surrogate(
            logp_new,
            logp_old,
            advantages,
            self.eps_low,
            self.eps_high,
            self.dual_clip,
            entropy,
            mask,
            segment_ids,
            num_segments,
            self.aggregation,
            self.backend,
            None,
        )

    def extra_repr(self) -> str:
        return (
            f"eps_low={self.eps_low.item():g}, eps_high={self.eps_high.item():g}, "
            f"dual_clip={self.dual_clip}, aggregation={self.aggregation!r}, backend={self.backend!r}"
        )
