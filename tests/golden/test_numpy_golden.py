"""The NumPy API (ppobr_core) on the golden vectors: the kernel within the 'core' tolerances of
tolerances.txt, the controllers bit for bit."""

import numpy as np
import pytest
from golden_io import (
    build_controller,
    controller_inputs,
    controller_mismatches,
    load_controller_cases,
    load_surrogate_cases,
    surrogate_kwargs,
    surrogate_mismatches,
)

import ppobr_core as pc

SURROGATE = load_surrogate_cases()
CONTROLLERS = load_controller_cases()


@pytest.mark.parametrize("case", SURROGATE, ids=[c["name"] for c in SURROGATE])
def test_clipped_surrogate(case):
    res = pc.clipped_surrogate(
        case["logp_new"], case["logp_old"], case["advantages"], **surrogate_kwargs(case)
    )
    assert res.grad.dtype == case["dtype"] and res.grad.shape == case["shape"]
    assert (
        surrogate_mismatches(
            case, res.loss, res.grad, list(res.sums.values()), list(res.counts.values()), "core"
        )
        == []
    )


FACTORIES = {
    "ppobr": pc.PPOBRController,
    "constant": pc.ConstantController,
    "linear_decay": pc.LinearDecayController,
    "kl_adaptive": pc.KLAdaptiveController,
}


def make_controller(case):
    return build_controller(case, FACTORIES)


@pytest.mark.parametrize("case", CONTROLLERS, ids=[c["name"] for c in CONTROLLERS])
def test_controller(case):
    ctl = make_controller(case)
    for t, (inputs, want) in enumerate(case["steps"]):
        entropy, returns, kl = controller_inputs(inputs)
        if "raises" in want:
            with pytest.raises(pc.InvalidArgumentError) as e:
                ctl.update(entropy, returns, kl=kl)
            assert e.value.argument == want["raises"], t
            continue
        eps = ctl.update(entropy, returns, kl=kl)
        assert controller_mismatches(ctl.diagnostics, want) == [], f"update {t}"
        assert np.float64(eps).view(np.int64) == np.float64(want["epsilon"]).view(np.int64), (
            f"update {t}"
        )
