"""ppobr_sb3: PPO-BR's adaptive clip range in Stable-Baselines3's PPO.

One callback, no change to SB3's training loop::

    import math, ppobr_core
    from stable_baselines3 import PPO
    from ppobr_sb3 import PPOBRCallback

    model = PPO("MlpPolicy", "CartPole-v1")
    controller = ppobr_core.PPOBRController(entropy_ref=math.log(2))
    model.learn(100_000, callback=PPOBRCallback(controller))

Once per rollout, before SB3's ``train()``, :class:`PPOBRCallback` updates the controller from the
rollout's per-step policy entropies and the returns of the episodes that finished in it, and
SB3's ``train()`` clips with the new ε through ``model.clip_range`` (a
:class:`ControllerClipRange`). Works with SB3's ``PPO`` and sb3-contrib's ``RecurrentPPO`` and
``MaskablePPO``, on any vectorized environment whose sub-environments are wrapped in ``Monitor``.
"""

from ppobr_sb3._callback import PPOBRCallback
from ppobr_sb3._clip_range import ControllerClipRange, find_clip_range
from ppobr_sb3._rollout_entropy import rollout_entropies

__all__ = ["ControllerClipRange", "PPOBRCallback", "find_clip_range", "rollout_entropies"]
