"""Type stub of the native module ppobr_core._core (see cpp/include/ppobr/ for the math and
docs/SPEC.md for the input rules)."""

from typing import Any, Iterable, Mapping, Optional, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

__version__: str
STAT_NAMES: Tuple[str, ...]

class InvalidArgumentError(ValueError):
    argument: str

ArrayLike = npt.ArrayLike
Real = Union[float, int, np.floating, np.integer]

class SurrogateResult:
    @property
    def loss(self) -> float: ...
    @property
    def grad(self) -> np.ndarray: ...
    @property
    def aggregation(self) -> str: ...
    @property
    def stats(self) -> dict[str, float]: ...
    @property
    def sums(self) -> dict[str, float]: ...
    @property
    def counts(self) -> dict[str, float]: ...
    @property
    def sums_array(self) -> np.ndarray: ...
    @property
    def counts_array(self) -> np.ndarray: ...

def clipped_surrogate(
    logp_new: ArrayLike,
    logp_old: ArrayLike,
    advantages: ArrayLike,
    *,
    eps: Optional[float] = None,
    eps_low: Optional[float] = None,
    eps_high: Optional[float] = None,
    dual_clip: Optional[float] = None,
    entropy: Optional[ArrayLike] = None,
    mask: Optional[ArrayLike] = None,
    segment_ids: Optional[ArrayLike] = None,
    aggregation: str = "token-mean",
    num_threads: int = 0,
    out: Optional[np.ndarray] = None,
) -> SurrogateResult: ...
def categorical_logprob_entropy(
    logits: ArrayLike, actions: ArrayLike, *, num_threads: int = 0
) -> Tuple[np.ndarray, np.ndarray]: ...
def gaussian_entropy(log_std: ArrayLike) -> np.ndarray: ...

StateDict = Mapping[str, Any]

class Controller:
    def update(
        self,
        entropy: Optional[Union[Real, Sequence[Real], ArrayLike]] = None,  # per-step: their mean
        episode_returns: Optional[Union[Iterable[Real], ArrayLike]] = None,
        *,
        kl: Optional[Real] = None,
    ) -> float: ...
    @property
    def epsilon(self) -> float: ...
    @property
    def name(self) -> str: ...
    @property
    def diagnostics(self) -> dict[str, float]: ...
    @property
    def config(self) -> dict[str, float]: ...
    def state_dict(self) -> dict[str, Any]: ...
    def load_state_dict(self, state_dict: Union[StateDict, bytes]) -> None: ...

class PPOBRController(Controller):
    def __init__(
        self,
        eps0: float = 0.2,
        lambda1: float = 0.5,
        lambda2: float = 0.3,
        window: int = 10,
        psi_mode: str = "plateau",
        entropy_ref: Optional[float] = None,
        entropy_floor: float = 0.0,
        eps_min: Optional[float] = None,
        eps_max: Optional[float] = None,
    ) -> None: ...

class ConstantController(Controller):
    def __init__(self, eps: float = 0.2) -> None: ...

class LinearDecayController(Controller):
    def __init__(
        self, eps_start: float = 0.2, eps_end: float = 0.0, *, total_updates: int
    ) -> None: ...

class KLAdaptiveController(Controller):
    def __init__(
        self,
        eps0: float = 0.2,
        kl_target: float = 0.01,
        tolerance: float = 1.5,
        rate: float = 1.5,
        eps_min: float = 0.02,
        eps_max: float = 0.5,
    ) -> None: ...

def load_controller(state_dict: Union[StateDict, bytes]) -> Controller: ...
