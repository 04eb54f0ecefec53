"""The committed golden vectors are exactly what tests/golden/generate.py writes from the oracle
now: change tests/reference.py and this fails until the files are regenerated."""

import generate
from golden_io import load_controller_cases, load_surrogate_cases, load_tolerances


def test_committed_files_equal_the_generator_output():
    for path, text in generate.render().items():
        with open(path, encoding="ascii") as f:
            committed = f.read()
        assert committed == text, f"{path} is stale: run python tests/golden/generate.py"


def test_files_read_back_with_every_case_kind():
    surrogate = load_surrogate_cases()
    names = {c["name"] for c in surrogate}
    assert {c["dtype"].name for c in surrogate} == {"float32", "float64"}
    assert {len(c["shape"]) for c in surrogate} == {1, 2}
    assert {c["aggregation"] for c in surrogate} == {"token-mean", "seq-mean-token-mean", "seq-mean-token-sum"}
    assert any(c["dual_clip"] is not None for c in surrogate)
    assert any(c["eps_low"] != c["eps_high"] for c in surrogate)
    assert any(c["mask"] is not None and c["mask"].dtype == bool for c in surrogate)
    assert any(c["segment_ids"] is not None for c in surrogate)
    assert "float32_ratio_overflow_negative_advantage" in names
    overflow = next(c for c in surrogate if c["name"] == "float32_ratio_overflow_negative_advantage")
    assert overflow["loss"] == float("inf") and overflow["grad"][0] == float("inf")
    controllers = load_controller_cases()
    assert {c["controller"] for c in controllers} == {"ppobr", "constant", "linear_decay", "kl_adaptive"}
    assert any(w.get("raises") == "entropy_ref" for c in controllers for _, w in c["steps"])
    assert any(i["entropy_steps"] for c in controllers for i, _ in c["steps"])
    assert load_tolerances()[("controller", "float64", "epsilon")] == 0.0
