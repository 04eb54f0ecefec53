"""The committed golden vectors are what tests/golden/generate.py writes from the oracle now:
change tests/reference.py and this fails until the files are regenerated.

The controller file must match exactly (its oracle is plain Python floats and fdlibm, the same
bits everywhere). The surrogate file must match exactly in every input and every token except
the expected float64 outputs, which may differ by the last bits of NumPy's exp / expm1 on
another CPU (NumPy picks SIMD implementations by CPU): those are compared to 1e-14 relative."""

import math
import os

import generate
import golden_io
from golden_io import load_controller_cases, load_surrogate_cases, load_tolerances, unhex

OUTPUT_KEYS = {"loss", "loss_scale", "grad", "sums", "counts", "scale"}
LIBM_REL = 1e-14


def _lines(text):
    return [line.split(" ") for line in text.splitlines() if line and not line.startswith("#")]


def _close(a: str, b: str, scale: float) -> bool:
    x, y = unhex(a), unhex(b)
    if math.isnan(x) or math.isinf(x) or math.isnan(y) or math.isinf(y):
        return a == b
    return abs(x - y) <= LIBM_REL * max(abs(x), abs(y), scale)


def surrogate_differences(committed: str, fresh: str):
    """Differences beyond the last bits of libm in the expected outputs."""
    bad = []
    a, b = _lines(committed), _lines(fresh)
    if len(a) != len(b):
        return [f"{len(a)} records committed, {len(b)} generated"]
    case, scale = None, 0.0
    for la, lb in zip(a, b):
        if la[0] == "case":
            case = la[1]
        if la == lb:
            if la[0] == "loss_scale":
                scale = unhex(la[1])
            continue
        if la[0] != lb[0] or la[0] not in OUTPUT_KEYS or len(la) != len(lb):
            bad.append(f"{case}: {la[0]} differs")
            continue
        line_scale = max((abs(unhex(t)) for t in la[1:] if math.isfinite(unhex(t))), default=0.0)
        if la[0] == "loss":
            line_scale = scale
        if not all(
            _close(x, y, line_scale if la[0] in ("loss", "sums") else 0.0)
            for x, y in zip(la[1:], lb[1:])
        ):
            bad.append(f"{case}: {la[0]} differs beyond {LIBM_REL}")
    return bad


def test_committed_files_equal_the_generator_output():
    rendered = generate.render()
    for path, text in rendered.items():
        with open(path, encoding="ascii") as f:
            committed = f.read()
        if committed == text:
            continue
        stale = f"{os.path.basename(path)} is stale: run python tests/golden/generate.py"
        assert path == golden_io.SURROGATE_FILE, stale
        assert surrogate_differences(committed, text) == [], stale


def test_the_staleness_check_sees_a_changed_expectation():
    text = generate.render()[golden_io.SURROGATE_FILE]
    lines = text.splitlines()
    i = next(k for k, line in enumerate(lines) if line.startswith("loss ") and line != "loss inf")
    value = unhex(lines[i].split(" ")[1])
    changed = lines[:i] + [f"loss {golden_io.hexf(value * (1 + 1e-9) + 1e-12)}"] + lines[i + 1 :]
    assert surrogate_differences("\n".join(changed), text) != []
    j = next(k for k, line in enumerate(lines) if line.startswith("advantages "))
    changed = lines[:j] + [lines[j].replace(" ", " -", 1)] + lines[j + 1 :]
    assert surrogate_differences("\n".join(changed), text) != []


def test_files_read_back_with_every_case_kind():
    surrogate = load_surrogate_cases()
    names = {c["name"] for c in surrogate}
    assert {c["dtype"].name for c in surrogate} == {"float32", "float64"}
    assert {len(c["shape"]) for c in surrogate} == {1, 2}
    assert {c["aggregation"] for c in surrogate} == {
        "token-mean",
        "seq-mean-token-mean",
        "seq-mean-token-sum",
    }
    assert any(c["dual_clip"] is not None for c in surrogate)
    assert any(c["eps_low"] != c["eps_high"] for c in surrogate)
    assert any(c["mask"] is not None and c["mask"].dtype == bool for c in surrogate)
    assert any(c["segment_ids"] is not None for c in surrogate)
    assert "float32_ratio_overflow_negative_advantage" in names
    overflow = next(
        c for c in surrogate if c["name"] == "float32_ratio_overflow_negative_advantage"
    )
    assert overflow["loss"] == float("inf") and overflow["grad"][0] == float("inf")
    controllers = load_controller_cases()
    assert {c["controller"] for c in controllers} == {
        "ppobr",
        "constant",
        "linear_decay",
        "kl_adaptive",
    }
    assert any(w.get("raises") == "entropy_ref" for c in controllers for _, w in c["steps"])
    assert any(i["entropy_steps"] for c in controllers for i, _ in c["steps"])
    assert load_tolerances()[("controller", "float64", "epsilon")] == 0.0
