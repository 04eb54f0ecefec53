"""ppobr_torch on the golden vectors of the oracle (tests/golden): the C++ path
(backend='core') within the 'core' tolerances, the torch expression (backend='torch', on the CPU
and, where available, CUDA) within the 'expression' tolerances of tests/golden/tolerances.txt, and the gradient autograd gives equal
to the golden gradient on both; EpsilonController bit for bit."""

import numpy as np
import pytest
import torch
from golden_io import (
    build_controller,
    controller_inputs,
    controller_mismatches,
    load_controller_cases,
    load_surrogate_cases,
    surrogate_kwargs,
    surrogate_mismatches,
)

import ppobr_core
import ppobr_torch

SURROGATE = load_surrogate_cases()
CONTROLLERS = load_controller_cases()
PATHS = {"core": "core", "torch": "expression"}  # backend -> tolerance path
# (device, backend): the C++ path runs on CPU tensors only; the expression on every device here
RUNS = [("cpu", "core"), ("cpu", "torch")] + (
    [("cuda", "torch")] if torch.cuda.is_available() else []
)


@pytest.mark.parametrize("device,backend", RUNS, ids=[f"{d}-{b}" for d, b in RUNS])
@pytest.mark.parametrize("case", SURROGATE, ids=[c["name"] for c in SURROGATE])
def test_clipped_surrogate_loss(case, device, backend):
    def tensor(a):
        return torch.from_numpy(np.ascontiguousarray(a)).to(device)

    lpn = tensor(case["logp_new"]).requires_grad_(True)
    kw = surrogate_kwargs(case, tensor)
    eps = kw.pop("eps", None)
    out = ppobr_torch.clipped_surrogate_loss(
        lpn, tensor(case["logp_old"]), tensor(case["advantages"]), eps, backend=backend, **kw
    )
    assert out.loss.dtype == lpn.dtype
    out.loss.backward()
    assert lpn.grad.dtype == lpn.dtype and tuple(lpn.grad.shape) == case["shape"]
    assert (
        surrogate_mismatches(
            case,
            out.loss.item(),
            lpn.grad.cpu().numpy(),
            out.sums.cpu().numpy(),
            out.counts.cpu().numpy(),
            PATHS[backend],
        )
        == []
    )


FACTORIES = {
    "ppobr": ppobr_core.PPOBRController,
    "constant": ppobr_core.ConstantController,
    "linear_decay": ppobr_core.LinearDecayController,
    "kl_adaptive": ppobr_core.KLAdaptiveController,
}


def make_controller(case):
    return build_controller(case, FACTORIES)


@pytest.mark.parametrize("case", CONTROLLERS, ids=[c["name"] for c in CONTROLLERS])
def test_epsilon_controller(case):
    ctl = ppobr_torch.EpsilonController(make_controller(case))
    for t, (inputs, want) in enumerate(case["steps"]):
        # per-step entropies as a float64 tensor, returns as a tensor
        entropy, returns, kl = controller_inputs(inputs, lambda a: torch.from_numpy(a))
        returns = None if returns is None else torch.tensor(returns, dtype=torch.float64)
        if "raises" in want:
            with pytest.raises(ppobr_core.InvalidArgumentError) as e:
                ctl.update(entropy, returns, kl=kl)
            assert e.value.argument == want["raises"], t
            continue
        eps = ctl.update(entropy, returns, kl=kl)
        assert controller_mismatches(ctl.diagnostics, want) == [], f"update {t}"
        assert controller_mismatches({"epsilon": eps}, want, ["epsilon"]) == [], f"update {t}"
