"""ppobr_torch: PPO-BR's adaptive trust region for PyTorch training loops.

A thin adapter over ppobr_core (the C++ core): importing it imports ppobr_core and torch;
``import ppobr_core`` alone never imports torch.

- :func:`clipped_surrogate_loss` / :class:`ClippedSurrogateLoss`: PPO's clipped surrogate with
  autograd and statistics. CPU float32/float64 tensors run the fused C++ kernel inside a
  ``torch.autograd.Function`` (the kernel's gradient is kept; backward only scales it); CUDA,
  other devices and torch.compile run the equivalent torch expression, with ε as a runtime
  (0-d tensor) value.
- :class:`StatsAccumulator`: statistics as on-device (sum, count) vectors across minibatches;
  read once per iteration, all-reduced across ranks under torch.distributed.
- :class:`EpsilonController`: any ppobr_core controller fed with tensors or floats, identical ε on
  every rank, ``state_dict()`` / ``load_state_dict()`` for checkpoints.

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
