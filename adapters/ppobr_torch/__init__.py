"""ppobr_torch: PPO-BR's adaptive trust region for PyTorch training loops (docs/SPEC.md).

A thin adapter over ppobr_core (the C++ core): importing it imports ppobr_core and torch;
``import ppobr_core`` alone never imports torch.

- :func:`clipped_surrogate_loss` / :class:`ClippedSurrogateLoss`: PPO's clipped surrogate with
  autograd and statistics. CPU tensors run the fused C++ kernel inside a
  ``torch.autograd.Function`` (the kernel's gradient is kept; backward only scales it); CUDA,
  other devices and torch.compile run the equivalent torch expression, with ε as a runtime
  (0-d tensor) value. Both give the core's loss and gradient, also where the ratio overflows
  (never NaN from finite input).
- :class:`StatsAccumulator`: statistics as on-device (sum, count) vectors across minibatches;
  read once per iteration, all-reduced across ranks under torch.distributed.
- :class:`EpsilonController`: a required ppobr_core controller fed with tensors or floats
  (per-step entropies reduce to their float64 mean), identical ε on every rank,
  ``state_dict()`` / ``load_state_dict()`` for checkpoints.

Input rules (docs/SPEC.md §3): array arguments are torch.Tensors (a NumPy array or list is a
TypeError: converting it would lose the gradient), float inputs float32 or float64 in
logp_new's dtype; bad shapes and configurations raise what ``ppobr_core`` raises for the same
input (``ppobr_core.InvalidArgumentError`` naming the argument, or TypeError). NaN / Inf and
other value checks run on the C++ path; the torch-expression path skips them (each would be a
host-device sync).

    ctl = ppobr_torch.EpsilonController(ppobr_core.PPOBRController(entropy_ref=math.log(n)))
    for it in range(iterations):
        ...rollout...
        eps = ctl.update(rollout_entropy, finished_episode_returns)
        acc = ppobr_torch.StatsAccumulator()
        for mb in minibatches:
            out = ppobr_torch.clipped_surrogate_loss(newlogp, mb.logp, mb.adv, eps, entropy=ent)
            (out.loss + value_loss - ent_coef * ent.mean()).backward(); ...
            acc.add(out)
        stats = acc.compute()          # one host transfer; all-reduced when distributed
"""

from ppobr_torch._controller import EpsilonController
from ppobr_torch._input_rules import AGGREGATIONS
from ppobr_torch._loss import (
    STAT_NAMES,
    ClippedSurrogateLoss,
    SurrogateOutput,
    clipped_surrogate_loss,
    stats_from_sums,
    torch_surrogate,
)
from ppobr_torch._stats import StatsAccumulator, all_reduce_stats

__all__ = [
    "AGGREGATIONS",
    "STAT_NAMES",
    "ClippedSurrogateLoss",
    "EpsilonController",
    "StatsAccumulator",
    "SurrogateOutput",
    "all_reduce_stats",
    "clipped_surrogate_loss",
    "stats_from_sums",
    "torch_surrogate",
]
