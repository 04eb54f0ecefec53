"""ppobr_torchrl: PPO-BR's adaptive clip range in TorchRL's ClipPPOLoss.

::

    loss_module = ClipPPOLoss(actor, critic, clip_epsilon=0.2)
    clip = ppobr_torchrl.ControlledClipEpsilon(
        loss_module, ppobr_core.PPOBRController(entropy_ref=math.log(n_actions)), actor
    )
    for batch in collector:               # the env has a RewardSum() transform
        eps = clip.step(batch)            # once per iteration, before the update epochs
        ...                               # the usual advantage and update loops

- :func:`set_clip_epsilon`: a new ε written into the loss's ``clip_epsilon`` buffer in place.
- :func:`rollout_signals`: per-step entropies and finished episodes' returns of a batch.
- :class:`ControlledClipEpsilon`: the two, driven by any controller, once per batch.
"""

from ppobr_torchrl._clip_epsilon import set_clip_epsilon
from ppobr_torchrl._controlled_clip import ControlledClipEpsilon
from ppobr_torchrl._rollout_signals import rollout_signals

__all__ = ["ControlledClipEpsilon", "rollout_signals", "set_clip_epsilon"]
