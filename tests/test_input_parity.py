"""One table of bad (and borderline good) inputs, run through every binding (docs/SPEC.md §3).

The same bad input must give the same exception type, argument name and message from the NumPy
API (ppobr_core), ppobr_torch's C++ path (backend='core') and torch expression
(backend='torch'), and ppobr_jax (impl='jnp' and, where built, impl='ffi'); and likewise from
the controllers' constructors and updates in ppobr_core, ppobr_torch.EpsilonController and
ppobr_jax. The table is data (SURROGATE_ROWS, CONTROLLER_ROWS); each binding is a small adapter
function (BINDINGS) that turns a row's NumPy inputs into its own array type and makes the call.

A row's expectation is ACCEPT, or Raises(type, argument, message) where message is the exact
text (or a regular expression where the rule fixes only its shape); a row may give a different
expectation per binding family ("numpy", "torch", "jax") where the rules differ (R1: the array
types each binding takes; R8: value checks only where they cost no device sync).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable, Dict, Optional, Tuple, Union

import numpy as np
import pytest
from batches import PAIRWISE_SUM_ENTROPIES
from reference import RefPPOBR

import ppobr_core as pc

InvalidArgumentError = pc.InvalidArgumentError


@dataclass(frozen=True)
class Raises:
    type: type
    argument: str
    message: Union[str, "re.Pattern[str]"]


ACCEPT = None
Expect = Optional[Raises]


class AsIs:
    """An input every binding receives exactly as given (not converted to its array type)."""

    def __init__(self, value):
        self.value = value


DROP = object()  # removes the argument from the base inputs


@dataclass(frozen=True)
class Row:
    id: str
    rule: str
    inputs: Dict[str, Any]
    expect: Union[Expect, Dict[str, Expect]]
    only: Tuple[str, ...] = ()  # binding families or bindings the row applies to; () = all

    def expectation(self, binding: str) -> Expect:
        if isinstance(self.expect, dict):
            family = binding.split("-")[0]
            return self.expect.get(binding, self.expect.get(family))
        return self.expect

    def applies_to(self, binding: str) -> bool:
        if self.only and binding not in self.only and binding.split("-")[0] not in self.only:
            return False
        return (
            not isinstance(self.expect, dict)
            or self.expect.get(binding, self.expect.get(binding.split("-")[0], "n/a")) != "n/a"
        )


def invalid(argument: str, message: str) -> Raises:
    return Raises(InvalidArgumentError, argument, f"{argument}: {message}")


def type_error(argument: str, message: Union[str, "re.Pattern[str]"]) -> Raises:
    if isinstance(message, str):
        return Raises(TypeError, argument, f"{argument}: {message}")
    return Raises(TypeError, argument, re.compile(re.escape(argument + ": ") + message.pattern))


# ---------------------------------------------------------------------------------------------
# The surrogate's table

LPN = np.array([-1.0, -0.5, -2.0, -1.2, -0.7, -0.3])
LPO = np.array([-1.1, -0.45, -1.8, -1.25, -0.9, -0.3])
ADV = np.array([0.5, -1.0, 1.5, -0.2, 0.8, -0.6])
BASE = {"logp_new": LPN, "logp_old": LPO, "advantages": ADV, "eps": 0.2}
SEQ_MEAN_MESSAGE = (
    "is required for aggregation '{}' on a 1-D batch (pass segment_ids, or a 2-D [batch, tokens] "
    "batch whose rows are the sequences)"
)
MIXED = (
    "dtype float64 differs from logp_new's; pass all float inputs in one dtype (float32 or float64)"
)
FLOAT_DTYPE = "expected a float32 or float64 array, got {}"
TENSOR = "expected a torch.Tensor, got {}"
NAN = [math.nan, -0.5, -2.0, -1.2, -0.7, -0.3]
VALUE_CHECKED = ("numpy", "torch-core")  # R8: the paths that check values
UNCHECKED = ("torch-torch", "jax-jnp")  # R8: the expression paths that skip them

SURROGATE_ROWS = [
    # R1 array types
    Row(
        "list_logp_new",
        "R1",
        {"logp_new": AsIs(list(LPN))},
        {"numpy": ACCEPT, "torch": type_error("logp_new", TENSOR.format("list"))},
        only=("numpy", "torch"),
    ),
    Row(
        "numpy_advantages",
        "R1",
        {"advantages": AsIs(ADV)},
        {
            "numpy": ACCEPT,
            "torch": type_error("advantages", TENSOR.format("numpy.ndarray")),
            "jax": ACCEPT,
        },
    ),
    Row(
        "numpy_mask",
        "R1",
        {"mask": AsIs(np.ones(6))},
        {
            "numpy": ACCEPT,
            "torch": type_error("mask", TENSOR.format("numpy.ndarray")),
            "jax": ACCEPT,
        },
    ),
    # R2 dtypes
    Row(
        "int64_logp_new",
        "R2",
        {"logp_new": np.array([-1, 0, -2, -1, 0, 0], np.int64)},
        type_error("logp_new", FLOAT_DTYPE.format("int64")),
    ),
    Row(
        "float16_logp_new",
        "R2",
        {k: BASE[k].astype(np.float16) for k in ("logp_new", "logp_old", "advantages")},
        type_error("logp_new", FLOAT_DTYPE.format("float16")),
    ),
    Row(
        "bool_advantages",
        "R2",
        {"advantages": ADV > 0},
        type_error("advantages", FLOAT_DTYPE.format("bool")),
    ),
    Row(
        "int64_entropy",
        "R2",
        {"entropy": np.ones(6, np.int64)},
        type_error("entropy", FLOAT_DTYPE.format("int64")),
    ),
    Row(
        "mixed_float32_float64",
        "R2",
        {"logp_new": LPN.astype(np.float32)},
        type_error("logp_old", MIXED),
    ),
    Row(
        "float_segment_ids",
        "R2",
        {"aggregation": "seq-mean-token-mean", "segment_ids": np.zeros(6)},
        type_error("segment_ids", "expected an integer array, got float64"),
    ),
    Row(
        "float32_everywhere",
        "R2",
        {k: BASE[k].astype(np.float32) for k in ("logp_new", "logp_old", "advantages")},
        ACCEPT,
    ),
    # shapes
    Row(
        "logp_old_shape_mismatch",
        "shape",
        {"logp_old": LPO[:4]},
        invalid("logp_old", "shape (4,) does not match logp_new's (6,)"),
    ),
    Row(
        "entropy_shape_mismatch",
        "shape",
        {"entropy": np.ones(4)},
        invalid("entropy", "shape (4,) does not match logp_new's (6,)"),
    ),
    Row(
        "mask_shape_mismatch",
        "shape",
        {"mask": np.ones(4)},
        invalid("mask", "shape (4,) does not match logp_new's (6,)"),
    ),
    Row(
        "three_dimensional",
        "shape",
        {k: BASE[k].reshape(1, 2, 3) for k in ("logp_new", "logp_old", "advantages")},
        invalid(
            "logp_new", "expected a 1-D [batch] or 2-D [batch, tokens] array, got 3 dimensions"
        ),
    ),
    Row(
        "empty_batch",
        "shape",
        {"logp_new": np.zeros(0), "logp_old": np.zeros(0), "advantages": np.zeros(0)},
        invalid("logp_new", "empty batch [1, 0]"),
    ),
    # R3 clip range
    Row(
        "eps_negative",
        "R3",
        {"eps": -0.1},
        invalid("eps", "must be finite and in [0, 1), got -0.100000"),
    ),
    Row(
        "eps_one", "R3", {"eps": 1.0}, invalid("eps", "must be finite and in [0, 1), got 1.000000")
    ),
    Row(
        "eps_nan", "R3", {"eps": math.nan}, invalid("eps", "must be finite and in [0, 1), got nan")
    ),
    Row("eps_str", "R5", {"eps": "x"}, type_error("eps", "expected a real number, got str")),
    Row("eps_zero", "R3", {"eps": 0.0}, ACCEPT),
    Row("eps_low_high_zero", "R3", {"eps": DROP, "eps_low": 0.0, "eps_high": 0.0}, ACCEPT),
    Row(
        "eps_low_without_eps_high",
        "R3",
        {"eps": DROP, "eps_low": 0.2},
        invalid("eps_high", "eps_low was given without eps_high"),
    ),
    Row(
        "eps_high_negative",
        "R3",
        {"eps": DROP, "eps_low": 0.2, "eps_high": -0.1},
        invalid("eps_high", "must be finite and >= 0, got -0.100000"),
    ),
    Row(
        "eps_missing",
        "R3",
        {"eps": DROP},
        invalid("eps", "the clip range is required: pass eps, or eps_low and eps_high"),
    ),
    Row(
        "dual_clip_half",
        "R3",
        {"dual_clip": 0.5},
        invalid("dual_clip", "must be > 1 (or None to disable), got 0.500000"),
    ),
    # R6 aggregation
    Row(
        "unknown_aggregation",
        "R6",
        {"aggregation": "nope"},
        invalid(
            "aggregation",
            "unknown aggregation 'nope'; expected 'token-mean', 'seq-mean-token-mean' or "
            "'seq-mean-token-sum'",
        ),
    ),
    Row(
        "seq_mean_token_mean_1d_without_segment_ids",
        "R6",
        {"aggregation": "seq-mean-token-mean"},
        invalid("segment_ids", SEQ_MEAN_MESSAGE.format("seq-mean-token-mean")),
    ),
    Row(
        "seq_mean_token_sum_1d_without_segment_ids",
        "R6",
        {"aggregation": "seq-mean-token-sum"},
        invalid("segment_ids", SEQ_MEAN_MESSAGE.format("seq-mean-token-sum")),
    ),
    Row(
        "seq_mean_token_mean_1d_with_segment_ids",
        "R6",
        {
            "aggregation": "seq-mean-token-mean",
            "segment_ids": np.array([0, 0, 1, 1, 1, 2], np.int64),
        },
        ACCEPT,
    ),
    Row(
        "seq_mean_token_mean_2d",
        "R6",
        {
            "logp_new": LPN.reshape(2, 3),
            "logp_old": LPO.reshape(2, 3),
            "advantages": ADV.reshape(2, 3),
            "aggregation": "seq-mean-token-mean",
        },
        ACCEPT,
    ),
    # R8 values: checked by the NumPy API and ppobr_torch's C++ path, skipped by the expression paths
    Row(
        "nan_logp_new",
        "R8",
        {"logp_new": np.array(NAN)},
        invalid("logp_new", "contains NaN or Inf"),
        only=VALUE_CHECKED,
    ),
    Row(
        "inf_advantages",
        "R8",
        {"advantages": np.array([0.5, -np.inf, 1.5, -0.2, 0.8, -0.6])},
        invalid("advantages", "contains NaN or Inf"),
        only=VALUE_CHECKED,
    ),
    Row(
        "all_zero_mask",
        "R8",
        {"mask": np.zeros(6)},
        invalid("mask", "all weights are zero (nothing to average over)"),
        only=VALUE_CHECKED,
    ),
    Row(
        "negative_mask",
        "R8",
        {"mask": np.array([-1.0, 1, 1, 1, 1, 1])},
        invalid("mask", "contains a negative weight at index 0"),
        only=VALUE_CHECKED,
    ),
    Row(
        "negative_segment_id",
        "R8",
        {
            "aggregation": "seq-mean-token-mean",
            "segment_ids": np.array([0, 0, 1, 1, 1, -1], np.int64),
        },
        invalid("segment_ids", "ids must be in [0, 2^63), got -1"),
        only=VALUE_CHECKED,
    ),
    Row("nan_logp_new_unchecked", "R8", {"logp_new": np.array(NAN)}, ACCEPT, only=UNCHECKED),
]


# ---------------------------------------------------------------------------------------------
# The controllers' table: ("construct", kind, args, kwargs) or ("update", kind, kwargs, entropy)


@dataclass(frozen=True)
class Ctl:
    kind: str  # ppobr, constant, linear_decay, kl_adaptive, epsilon_controller
    args: tuple = ()
    kwargs: Dict[str, Any] = field(default_factory=dict)
    entropy: Any = "no update"  # an update's entropy (a NumPy array: converted per binding)


KL_SCALES = "(the KL-adaptive rule scales eps by rate, and a product with 0 stays 0)"

CONTROLLER_ROWS = [
    Row(
        "ppobr_eps0_below_eps_min",
        "R3",
        {"ctl": Ctl("ppobr", kwargs=dict(eps0=0.1, eps_min=0.15, eps_max=0.3))},
        invalid(
            "eps0",
            "eps0 (0.10000000000000001) must lie in [eps_min, eps_max] = [0.14999999999999999, "
            "0.29999999999999999]",
        ),
    ),
    Row(
        "ppobr_eps0_above_eps_max",
        "R3",
        {"ctl": Ctl("ppobr", kwargs=dict(eps0=0.4, eps_min=0.1, eps_max=0.3))},
        invalid(
            "eps0",
            "eps0 (0.40000000000000002) must lie in [eps_min, eps_max] = [0.10000000000000001, "
            "0.29999999999999999]",
        ),
    ),
    Row(
        "ppobr_eps0_zero",
        "R3",
        {"ctl": Ctl("ppobr", kwargs=dict(eps0=0.0))},
        invalid(
            "eps0",
            "must be finite and > 0 (PPO-BR scales eps0, and a product with 0 stays 0; use "
            "ConstantController(eps=0) for a fixed clip range of 0), got 0",
        ),
    ),
    Row("ppobr_eps_min_zero", "R3", {"ctl": Ctl("ppobr", kwargs=dict(eps_min=0.0))}, ACCEPT),
    Row(
        "ppobr_lambda1_negative",
        "R3",
        {"ctl": Ctl("ppobr", kwargs=dict(lambda1=-1.0))},
        invalid("lambda1", "must be finite and >= 0, got -1"),
    ),
    Row(
        "ppobr_window_1",
        "R3",
        {"ctl": Ctl("ppobr", kwargs=dict(window=1))},
        invalid("window", "the reward window must hold at least 2 returns, got 1"),
    ),
    Row(
        "kl_adaptive_eps0_zero",
        "R3",
        {"ctl": Ctl("kl_adaptive", kwargs=dict(eps0=0.0))},
        invalid("eps0", "must be finite and > 0 " + KL_SCALES + ", got 0"),
    ),
    Row(
        "kl_adaptive_eps_min_zero",
        "R3",
        {"ctl": Ctl("kl_adaptive", kwargs=dict(eps_min=0.0))},
        invalid("eps_min", "must be finite and > 0 " + KL_SCALES + ", got 0"),
    ),
    Row("constant_zero", "R3", {"ctl": Ctl("constant", args=(0,))}, ACCEPT),
    Row("constant_zero_keyword", "R3", {"ctl": Ctl("constant", kwargs=dict(eps=0.0))}, ACCEPT),
    Row(
        "linear_decay_from_zero",
        "R3",
        {"ctl": Ctl("linear_decay", (0.0, 0.0), dict(total_updates=3))},
        ACCEPT,
    ),
    Row(
        "linear_decay_to_zero",
        "R3",
        {"ctl": Ctl("linear_decay", (0.2, 0.0), dict(total_updates=3))},
        ACCEPT,
    ),
    Row(
        "linear_decay_without_total_updates",
        "R5",
        {"ctl": Ctl("linear_decay", (0.2, 0.0))},
        type_error("total_updates", "is required"),
    ),
    Row(
        "linear_decay_total_updates_str",
        "R5",
        {"ctl": Ctl("linear_decay", (0.2, 0.0), dict(total_updates="x"))},
        type_error("total_updates", re.compile(r"expected .+, got str")),
    ),
    Row(
        "constant_eps_str",
        "R5",
        {"ctl": Ctl("constant", args=("a",))},
        type_error("eps", re.compile(r"expected .+, got str")),
    ),
    Row(
        "update_per_step_entropies",
        "R4",
        {"ctl": Ctl("ppobr", kwargs=dict(entropy_ref=1.0), entropy=np.array([0.5, 1.0, 0.25]))},
        ACCEPT,
    ),
    Row(
        "update_per_step_entropies_list",
        "R4",
        {"ctl": Ctl("ppobr", kwargs=dict(entropy_ref=1.0), entropy=AsIs([0.5, 1.0]))},
        ACCEPT,
    ),
    Row(
        "update_per_step_entropies_pairwise_sum",
        "R4",
        {
            "ctl": Ctl(
                "ppobr",
                kwargs=dict(entropy_ref=1.5),
                entropy=np.array(PAIRWISE_SUM_ENTROPIES),
            )
        },
        ACCEPT,
    ),  # the mean of NumPy's pairwise sum, which differs here from the sum left to right
    Row(
        "update_empty_entropy",
        "R4",
        {"ctl": Ctl("ppobr", entropy=np.zeros(0))},
        invalid("entropy", "empty array (pass a number or at least one per-step entropy)"),
    ),
    Row(
        "update_two_dimensional_entropy",
        "R4",
        {"ctl": Ctl("ppobr", entropy=np.ones((2, 2)))},
        invalid("entropy", "expected a number or a 1-D array of per-step values, got 2 dimensions"),
    ),
    Row(
        "update_entropy_str",
        "R5",
        {"ctl": Ctl("ppobr", entropy=AsIs("x"))},
        type_error("entropy", "expected a real number or a 1-D array of them, got str"),
    ),
    Row(
        "kl_adaptive_update_without_kl",
        "R5",
        {"ctl": Ctl("kl_adaptive", entropy=AsIs(0.5))},
        invalid(
            "kl",
            "the KL-adaptive controller needs the measured KL of the last policy update (Observation::kl)",
        ),
    ),
    Row(
        "ppobr_window_float",
        "R5",
        {"ctl": Ctl("ppobr", kwargs=dict(window=2.5))},
        type_error("window", "expected an integer, got float"),
    ),
    Row(
        "ppobr_unknown_psi_mode",
        "R5",
        {"ctl": Ctl("ppobr", kwargs=dict(psi_mode="nope"))},
        invalid(
            "psi_mode",
            "unknown psi_mode 'nope'; expected 'plateau' (psi = 1 - tanh|z|, contract when returns "
            "stop moving) or 'progress' (psi = clip(z, 0, 1), contract while returns rise)",
        ),
    ),
    Row(
        "update_nan_mean_entropy",
        "R4",
        {"ctl": Ctl("ppobr", entropy=np.array([0.5, math.nan]))},
        ACCEPT,
    ),
    Row(
        "epsilon_controller_none",
        "R7",
        {"ctl": Ctl("epsilon_controller", args=(None,))},
        type_error(
            "controller",
            "expected a ppobr_core controller (e.g. ppobr_core.PPOBRController()), got NoneType",
        ),
        only=("torch",),
    ),
    Row(
        "epsilon_controller_str",
        "R7",
        {"ctl": Ctl("epsilon_controller", args=("ppobr",))},
        type_error(
            "controller",
            "expected a ppobr_core controller (e.g. ppobr_core.PPOBRController()), got str",
        ),
        only=("torch",),
    ),
]


# ---------------------------------------------------------------------------------------------
# Binding adapters


def _inputs(row: Row) -> Dict[str, Any]:
    args = dict(BASE)
    for k, v in row.inputs.items():
        if v is DROP:
            args.pop(k, None)
        else:
            args[k] = v
    return args


def _convert(args: Dict[str, Any], to_array: Callable) -> Dict[str, Any]:
    return {
        k: (v.value if isinstance(v, AsIs) else to_array(v) if isinstance(v, np.ndarray) else v)
        for k, v in args.items()
    }


def _call_surrogate(fn, args, **extra):
    lpn, lpo, adv = args.pop("logp_new"), args.pop("logp_old"), args.pop("advantages")
    return fn(lpn, lpo, adv, **args, **extra)


def numpy_surrogate(args):
    return _call_surrogate(pc.clipped_surrogate, _convert(args, lambda a: a))


def torch_surrogate(backend):
    def run(args):
        torch = pytest.importorskip("torch")
        import ppobr_torch

        return _call_surrogate(
            ppobr_torch.clipped_surrogate_loss,
            _convert(args, lambda a: torch.from_numpy(a.copy())),
            backend=backend,
        )

    return run


def _x64():
    import jax

    if hasattr(jax, "enable_x64"):
        return jax.enable_x64(True)
    from jax import experimental

    return experimental.enable_x64()


def jax_surrogate(impl):
    def run(args):
        pytest.importorskip("jax")
        import jax.numpy as jnp

        import ppobr_jax

        if impl == "ffi" and not ppobr_jax.ffi_available():
            pytest.skip("the FFI kernel (ppobr_core._jax_ffi) is not built")
        with _x64():
            out = _call_surrogate(
                ppobr_jax.clipped_surrogate, _convert(args, jnp.asarray), impl=impl
            )
            float(out.loss)  # run it
            return out

    return run


def _core_controller(ctl: Ctl):
    cls = {
        "ppobr": pc.PPOBRController,
        "constant": pc.ConstantController,
        "linear_decay": pc.LinearDecayController,
        "kl_adaptive": pc.KLAdaptiveController,
    }[ctl.kind]
    return cls(*ctl.args, **ctl.kwargs)


def numpy_controller(args):
    ctl = args["ctl"]
    c = _core_controller(ctl)
    if isinstance(ctl.entropy, str):
        return None
    entropy = ctl.entropy.value if isinstance(ctl.entropy, AsIs) else ctl.entropy
    return c.update(entropy, [1.0])


def torch_controller(args):
    torch = pytest.importorskip("torch")
    import ppobr_torch

    ctl = args["ctl"]
    if ctl.kind == "epsilon_controller":
        return ppobr_torch.EpsilonController(*ctl.args)
    c = ppobr_torch.EpsilonController(_core_controller(ctl))
    if isinstance(ctl.entropy, str):
        return None
    entropy = (
        ctl.entropy.value if isinstance(ctl.entropy, AsIs) else torch.from_numpy(ctl.entropy.copy())
    )
    return c.update(entropy, torch.tensor([1.0], dtype=torch.float64))


def jax_controller(args):
    pytest.importorskip("jax")
    import jax.numpy as jnp

    import ppobr_jax

    ctl = args["ctl"]
    make = {
        "ppobr": ppobr_jax.ppobr,
        "constant": ppobr_jax.constant,
        "linear_decay": ppobr_jax.linear_decay,
        "kl_adaptive": ppobr_jax.kl_adaptive,
    }[ctl.kind]
    with _x64():
        c = make(*ctl.args, **ctl.kwargs)
        if isinstance(ctl.entropy, str):
            return None
        entropy = ctl.entropy.value if isinstance(ctl.entropy, AsIs) else jnp.asarray(ctl.entropy)
        eps, _ = c.update(c.init(), entropy, jnp.asarray([1.0]))
        return float(eps)


SURROGATE_BINDINGS = {
    "numpy": numpy_surrogate,
    "torch-core": torch_surrogate("core"),
    "torch-torch": torch_surrogate("torch"),
    "jax-jnp": jax_surrogate("jnp"),
    "jax-ffi": jax_surrogate("ffi"),
}
CONTROLLER_BINDINGS = {"numpy": numpy_controller, "torch": torch_controller, "jax": jax_controller}


def _params(rows, bindings):
    return [
        pytest.param(row, name, id=f"{row.rule}-{row.id}-{name}")
        for row in rows
        for name in bindings
        if row.applies_to(name)
    ]


def check(outcome, expect: Expect):
    """outcome: ('ok', value) or ('raised', exception)."""
    kind, value = outcome
    if expect is ACCEPT:
        assert kind == "ok", f"raised {type(value).__name__}: {value}"
        return
    assert kind == "raised", (
        f"accepted (returned {value!r}); expected {expect.type.__name__}: {expect.message}"
    )
    e = value
    assert isinstance(e, expect.type), f"{type(e).__name__}: {e} (expected {expect.type.__name__})"
    if expect.type is InvalidArgumentError:
        assert e.argument == expect.argument
    message = str(e)
    if isinstance(expect.message, str):
        assert message == expect.message
    else:
        assert expect.message.fullmatch(message), message


def _outcome(fn, args):
    try:
        return "ok", fn(args)
    except pytest.skip.Exception:
        raise
    except Exception as e:  # noqa: BLE001 - the point is to see which exception
        return "raised", e


@pytest.mark.parametrize("row,binding", _params(SURROGATE_ROWS, SURROGATE_BINDINGS))
def test_surrogate_input(row, binding):
    check(_outcome(SURROGATE_BINDINGS[binding], _inputs(row)), row.expectation(binding))


@pytest.mark.parametrize("row,binding", _params(CONTROLLER_ROWS, CONTROLLER_BINDINGS))
def test_controller_input(row, binding):
    outcome = _outcome(CONTROLLER_BINDINGS[binding], dict(row.inputs))
    check(outcome, row.expectation(binding))
    ctl = row.inputs["ctl"]
    if outcome[0] == "ok" and ctl.kind == "ppobr" and not isinstance(ctl.entropy, str):
        # an accepted per-step entropy array is its float64 mean (the oracle's rule)
        steps = ctl.entropy.value if isinstance(ctl.entropy, AsIs) else ctl.entropy
        want = RefPPOBR(**ctl.kwargs).update(steps, [1.0])
        assert outcome[1] == want


def test_the_table_covers_every_rule():
    rules = {row.rule for row in SURROGATE_ROWS + CONTROLLER_ROWS}
    assert {"R1", "R2", "R3", "R4", "R5", "R6", "R7", "R8", "shape"} <= rules
