"""Reading and writing the golden vectors (tests/golden/*.txt), and comparing results with them.

The files are plain text that C++ reads with no JSON library (cpp/tests/test_golden_reader.hpp):
one record per line, ``key value value ...``, separated by single spaces; a case starts with
``case <name>`` and ends with ``end``; ``#`` starts a comment line. Floats are written exactly
as C99 hex floats (Python's float.hex(): ``0x1.999999999999ap-3``, ``inf``, ``-inf``, ``nan``),
which std::strtod reads back bit for bit. Controller records hold ``name=value`` tokens
(several values of one name separated by commas).

tolerances.txt is the one place that states how close each path must come to the oracle;
:func:`surrogate_mismatches` (and its C++ twin) define how a tolerance is applied.
"""

from __future__ import annotations

import functools
import math
import os
from typing import Callable, Dict, List, Optional, Sequence

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
SURROGATE_FILE = os.path.join(HERE, "surrogate.txt")
CONTROLLERS_FILE = os.path.join(HERE, "controllers.txt")
TOLERANCES_FILE = os.path.join(HERE, "tolerances.txt")

STAT_COUNT = 11


def hexf(x) -> str:
    """A float, exactly: C99 hex notation with the mantissa's trailing zeros dropped
    (0x1.8p+1; float32 values stay short), or inf / -inf / nan."""
    x = float(x)
    if math.isnan(x):
        return "nan"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    mantissa, _, exponent = x.hex().partition("p")
    mantissa = mantissa.rstrip("0").rstrip(".")
    return f"{mantissa}p{exponent}"


def unhex(s: str) -> float:
    return float.fromhex(s) if s not in ("nan", "inf", "-inf") else float(s)


# ---------------------------------------------------------------------------------------------
# Reading


def _records(path: str):
    """Yields (name, [(key, [tokens])...]) for each case of a file."""
    name, lines = None, []
    with open(path, encoding="ascii") as f:
        for raw in f:
            line = raw.rstrip("\n")
            if not line or line.startswith("#"):
                continue
            key, _, rest = line.partition(" ")
            tokens = rest.split(" ") if rest else []
            if key == "case":
                name, lines = tokens[0], []
            elif key == "end":
                yield name, lines
                name = None
            else:
                lines.append((key, tokens))


def load_surrogate_cases() -> List[dict]:
    """Each case as a dict: name, dtype (np.dtype), shape, eps_low, eps_high, dual_clip
    (None: off), aggregation, the inputs as arrays of that dtype (entropy / mask /
    segment_ids: None when absent; mask bool or float), and the expected loss, loss_scale,
    grad (float64, the input shape), sums, counts, scale (11 each, float64)."""
    cases = []
    for name, lines in _records(SURROGATE_FILE):
        rec = {k: v for k, v in lines}
        dtype = np.dtype(rec["dtype"][0])
        shape = tuple(int(t) for t in rec["shape"])

        def arr(key, dt=dtype):
            return (
                np.array([unhex(t) for t in rec[key]], dtype=np.float64).astype(dt).reshape(shape)
            )

        mask = None
        if "mask" in rec:
            mask = arr("mask", np.bool_ if rec["mask_dtype"][0] == "bool" else dtype)
        cases.append(
            {
                "name": name,
                "dtype": dtype,
                "shape": shape,
                "eps_low": unhex(rec["eps_low"][0]),
                "eps_high": unhex(rec["eps_high"][0]),
                "dual_clip": unhex(rec["dual_clip"][0]) if "dual_clip" in rec else None,
                "aggregation": rec["aggregation"][0],
                "logp_new": arr("logp_new"),
                "logp_old": arr("logp_old"),
                "advantages": arr("advantages"),
                "entropy": arr("entropy") if "entropy" in rec else None,
                "mask": mask,
                "segment_ids": np.array([int(t) for t in rec["segment_ids"]], np.int64)
                if "segment_ids" in rec
                else None,
                "num_segments": int(rec["num_segments"][0]) if "num_segments" in rec else None,
                "loss": unhex(rec["loss"][0]),
                "loss_scale": unhex(rec["loss_scale"][0]),
                "grad": np.array([unhex(t) for t in rec["grad"]]).reshape(shape),
                "sums": np.array([unhex(t) for t in rec["sums"]]),
                "counts": np.array([unhex(t) for t in rec["counts"]]),
                "scale": np.array([unhex(t) for t in rec["scale"]]),
            }
        )
    return cases


def _value(token: str):
    if token == "none":
        return None
    try:
        return int(token)
    except ValueError:
        pass
    try:
        return unhex(token)
    except ValueError:
        return token


def _pairs(tokens: Sequence[str]) -> Dict[str, str]:
    return dict(t.split("=", 1) for t in tokens)


def load_controller_cases() -> List[dict]:
    """Each case as a dict: name, controller ('ppobr', 'constant', 'linear_decay',
    'kl_adaptive'), config (keyword arguments of the constructor), and steps: a list of
    (inputs, expected). inputs: entropy (float, None), entropy_steps (list or None: the
    per-step entropies whose mean is entropy), returns (list or None), kl (float or None).
    expected: {'raises': argument} or the diagnostics dict (epsilon first)."""
    cases = []
    for name, lines in _records(CONTROLLERS_FILE):
        case = {"name": name, "steps": []}
        inputs = None
        for key, tokens in lines:
            if key == "controller":
                case["controller"] = tokens[0]
            elif key == "config":
                case["config"] = {k: _value(v) for k, v in _pairs(tokens).items()}
            elif key == "update":
                kv = _pairs(tokens)
                inputs = {
                    "entropy": _value(kv["entropy"]) if "entropy" in kv else None,
                    "entropy_steps": [unhex(t) for t in kv["entropy_steps"].split(",")]
                    if "entropy_steps" in kv
                    else None,
                    "returns": (
                        [unhex(t) for t in kv["returns"].split(",") if t]
                        if "returns" in kv
                        else None
                    ),
                    "kl": _value(kv["kl"]) if "kl" in kv else None,
                }
            elif key == "expect":
                kv = _pairs(tokens)
                want = (
                    {"raises": kv["raises"]}
                    if "raises" in kv
                    else {k: unhex(v) for k, v in kv.items()}
                )
                case["steps"].append((inputs, want))
        cases.append(case)
    return cases


@functools.lru_cache(maxsize=1)
def load_tolerances() -> Dict[tuple, float]:
    """{(path, dtype, quantity): relative tolerance} from tolerances.txt."""
    out = {}
    with open(TOLERANCES_FILE, encoding="ascii") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                path, dtype, quantity, tol = line.split()
                out[(path, dtype, quantity)] = float(tol)
    return out


# ---------------------------------------------------------------------------------------------
# Comparing


def _near(got: float, want: float, bound: float) -> bool:
    if math.isnan(want):
        return math.isnan(got)
    if math.isinf(want):
        return got == want
    return abs(got - want) <= bound


def surrogate_mismatches(case: dict, loss, grad, sums, counts, path: str) -> List[str]:
    """What differs between a binding's result and a golden case, under the tolerances of
    `path` ('core' or 'expression') for the case's dtype; [] when everything matches.

    With rel = the 'value' tolerance (kl_k3: its own; k3 cancels):
      loss      |got - want| <= rel * max(loss_scale, |want|)
      grad_i    the zero pattern exactly; |got - want| <= rel * |want| + 1e-3 * rel * max|want|
      sums[k]   |got - want| <= rel * scale[k]  (ratio_min / max: rel * |want|)
      counts[k] |got - want| <= rel * counts[k]
    Infinite expected values must be matched exactly, NaN by NaN."""
    tols = load_tolerances()
    dt = case["dtype"].name
    rel = tols[(path, dt, "value")]
    rel_k3 = tols[(path, dt, "kl_k3")]
    bad = []
    loss = float(loss)
    if not _near(loss, case["loss"], rel * max(case["loss_scale"], abs(case["loss"])) + 1e-300):
        bad.append(f"loss {loss!r} != {case['loss']!r}")
    g = np.asarray(grad, dtype=np.float64).reshape(case["shape"])
    want = case["grad"]
    if not np.array_equal(g == 0, want == 0):
        bad.append(
            f"grad zero pattern: got nonzero at {np.flatnonzero((g != 0) != (want != 0))[:8]}"
        )
    finite = want[np.isfinite(want)]
    gmax = float(np.max(np.abs(finite))) if finite.size else 0.0
    for i, (x, w) in enumerate(zip(g.reshape(-1), want.reshape(-1))):
        if not _near(float(x), float(w), rel * abs(w) + 1e-3 * rel * gmax + 1e-300):
            bad.append(f"grad[{i}] {x!r} != {w!r}")
            break
    from reference import STAT_NAMES  # the statistic order of every binding

    sums = np.asarray(sums, dtype=np.float64)
    counts = np.asarray(counts, dtype=np.float64)
    for k, name in enumerate(STAT_NAMES):
        r = rel_k3 if name == "kl_k3" else rel
        scale = abs(case["sums"][k]) if name in ("ratio_min", "ratio_max") else case["scale"][k]
        if not _near(float(sums[k]), case["sums"][k], r * scale + 1e-300):
            bad.append(f"sums[{name}] {sums[k]!r} != {case['sums'][k]!r}")
        if not _near(float(counts[k]), case["counts"][k], rel * case["counts"][k] + 1e-300):
            bad.append(f"counts[{name}] {counts[k]!r} != {case['counts'][k]!r}")
    return bad


def surrogate_kwargs(case: dict, convert=lambda a: a) -> dict:
    """The keyword arguments of a binding's clipped_surrogate for a case (arrays through
    `convert`): eps when the clip range is symmetric, else eps_low / eps_high."""
    kw = {}
    if case["eps_low"] == case["eps_high"]:
        kw["eps"] = case["eps_low"]
    else:
        kw["eps_low"], kw["eps_high"] = case["eps_low"], case["eps_high"]
    kw["dual_clip"] = case["dual_clip"]
    kw["aggregation"] = case["aggregation"]
    for name in ("entropy", "mask", "segment_ids"):
        if case[name] is not None:
            kw[name] = convert(case[name])
    return kw


def controller_inputs(inputs: dict, convert=lambda a: a):
    """(entropy, episode_returns, kl) for a binding's update: the per-step entropies (through
    `convert`) where the case gives them, else the number."""
    entropy = inputs["entropy"]
    if inputs["entropy_steps"] is not None:
        entropy = convert(np.asarray(inputs["entropy_steps"], dtype=np.float64))
    return entropy, inputs["returns"], inputs["kl"]


def bits_equal(a: float, b: float) -> bool:
    return np.array(float(a)).view(np.int64) == np.array(float(b)).view(np.int64)


def controller_mismatches(
    got_diag: Dict[str, float],
    want: Dict[str, float],
    keys: Optional[Sequence[str]] = None,
) -> List[str]:
    """Diagnostics that are not bit-identical (tolerances.txt: controllers are exact)."""
    bad = []
    for k in keys if keys is not None else want:
        if k not in got_diag:
            bad.append(f"{k} missing")
        elif not bits_equal(got_diag[k], want[k]) and not (
            math.isnan(got_diag[k]) and math.isnan(want[k])
        ):
            bad.append(f"{k} {got_diag[k]!r} != {want[k]!r}")
    return bad


def build_controller(case: dict, factories: Dict[str, Callable]):
    """The controller of a golden case, built by the binding's factory for its kind
    (factories: 'ppobr', 'constant', 'linear_decay', 'kl_adaptive' -> constructor). Linear
    decay takes eps_start and eps_end by position in every binding."""
    cfg = dict(case["config"])
    make = factories[case["controller"]]
    if case["controller"] == "linear_decay":
        return make(cfg.pop("eps_start"), cfg.pop("eps_end"), **cfg)
    return make(**cfg)
