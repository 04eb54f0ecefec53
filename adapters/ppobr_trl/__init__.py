"""ppobr_trl: PPO-BR's adaptive clip range inside TRL's GRPO and RLOO trainers (docs/SPEC.md §4).

Importing it imports ppobr_core, ppobr_torch, torch, transformers and trl.

- :class:`PPOBRGRPOTrainer`: ``trl.GRPOTrainer`` plus a required ``controller=`` (any
  ``ppobr_core`` controller). ε is recomputed once per generation batch, before that batch's
  optimization steps, from the batch's masked mean token entropy (under π_old), each
  completion's reward as an episode return and, for KL-adaptive, the previous batch's k3 KL;
  (ε_low, ε_high) = (ε, ρ·ε) with ρ = epsilon_high / epsilon from the GRPOConfig.
- :class:`PPOBRRLOOTrainer`: ``trl.RLOOTrainer`` with the same ``controller=`` (its loss reads
  epsilon_low / epsilon_high as GRPO's does; the ratio it clips is per completion).
- :class:`PPOBRMixin`: the mixin both are made of, for a subclass of either trainer.
- Metrics ``ppobr/eps_low``, ``ppobr/eps_high``, ``ppobr/phi``, ``ppobr/psi``, ``ppobr/entropy``
  and the kernel's statistics ``ppobr/clip_fraction{,_low,_high}``, ``ppobr/kl_k{1,2,3}``,
  ``ppobr/ratio_*`` (all-reduced over processes) go through TRL's logs; the controller's
  state goes into every checkpoint (``ppobr_controller.json``) and comes back with
  ``resume_from_checkpoint``.
- Refused: ``use_liger_loss`` (it captures ε at init) and loss types that do not clip the ratio
  to [1 − ε_low, 1 + ε_high]. Warned (:class:`OnPolicyWarning`): a configuration where the
  ratio is always 1.
"""

from ppobr_trl._clip_range import ClipBounds, clip_bounds, clip_higher_ratio
from ppobr_trl._config_checks import SUPPORTED_LOSS_TYPES, OnPolicyWarning, ratio_is_always_one
from ppobr_trl._trainer import PPOBRGRPOTrainer, PPOBRMixin, PPOBRRLOOTrainer

__all__ = [
    "SUPPORTED_LOSS_TYPES",
    "ClipBounds",
    "OnPolicyWarning",
    "PPOBRGRPOTrainer",
    "PPOBRMixin",
    "PPOBRRLOOTrainer",
    "clip_bounds",
    "clip_higher_ratio",
    "ratio_is_always_one",
]
