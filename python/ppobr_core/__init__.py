"""ppobr_core: PPO-BR's adaptive trust region as a framework-agnostic component.

The NumPy API over the C++ core (cpp/):

- :func:`clipped_surrogate` — PPO's clipped surrogate, its gradient with respect to the new
  log-probs and its statistics (entropy, ratio, clip fractions, KL k1/k2/k3) in one fused pass.
- Clip-range controllers sharing one interface (``update(entropy, episode_returns, kl=...) -> eps``,
  where entropy is a number or per-step entropies whose float64 mean is used,
  ``.epsilon``, ``.diagnostics``, ``state_dict()`` / ``load_state_dict()``):
  :class:`PPOBRController` (where epsilon is computed: cpp/src/controllers.cpp),
  :class:`ConstantController`, :class:`LinearDecayController`, :class:`KLAdaptiveController`.
- Fused policy helpers: :func:`categorical_logprob_entropy`, :func:`gaussian_entropy`.

Bad input raises :class:`InvalidArgumentError` (a ``ValueError`` whose ``.argument`` names the
argument; message ``"<argument>: <what is wrong>"``) or ``TypeError`` for a wrong type or dtype
or a missing argument (same message form); docs/SPEC.md states the input rules. Importing this
package never imports torch or jax.
"""

from ppobr_core._core import (
    STAT_NAMES,
    ConstantController,
    Controller,
    InvalidArgumentError,
    KLAdaptiveController,
    LinearDecayController,
    PPOBRController,
    SurrogateResult,
    __version__,
    categorical_logprob_entropy,
    clipped_surrogate,
    gaussian_entropy,
    load_controller,
)

__all__ = [
    "STAT_NAMES",
    "ConstantController",
    "Controller",
    "InvalidArgumentError",
    "KLAdaptiveController",
    "LinearDecayController",
    "PPOBRController",
    "SurrogateResult",
    "__version__",
    "categorical_logprob_entropy",
    "clipped_surrogate",
    "gaussian_entropy",
    "load_controller",
]
