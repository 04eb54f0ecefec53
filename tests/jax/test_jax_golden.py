"""ppobr_jax on the golden vectors of the oracle (tests/golden): the jnp expression within the
'expression' tolerances and the FFI kernel within the 'core' tolerances of
tests/golden/tolerances.txt (loss, d loss / d logp_new from jax.grad, every statistic), for
float32 input under jax's default float32 mode (the FFI: under x64, for its int64 segment ids)
and float64 input under x64; the controllers in
float64 bit for bit. (The float32 controllers are checked bit for bit against the oracle run in
float32 in test_jax_controllers.py.)"""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import x32, x64
from golden_io import (
    build_controller,
    controller_inputs,
    controller_mismatches,
    load_controller_cases,
    load_surrogate_cases,
    surrogate_kwargs,
    surrogate_mismatches,
)

import ppobr_jax as pj

SURROGATE = load_surrogate_cases()
CONTROLLERS = load_controller_cases()
IMPLS = {"jnp": "expression", "ffi": "core"}  # impl -> tolerance path


def _mode(case, impl):
    # the FFI kernel takes int64 segment ids, which need x64 (float32 arrays stay float32)
    return x64() if case["dtype"] == np.float64 or impl == "ffi" else x32()


@pytest.mark.parametrize("impl", sorted(IMPLS))
@pytest.mark.parametrize("case", SURROGATE, ids=[c["name"] for c in SURROGATE])
def test_clipped_surrogate(case, impl):
    if impl == "ffi" and not pj.ffi_available():
        pytest.skip("the FFI kernel (ppobr_core._jax_ffi) is not built")
    with _mode(case, impl):
        kw = surrogate_kwargs(case, jnp.asarray)
        if case["segment_ids"] is not None:
            kw["num_segments"] = case["num_segments"]
        lpo, adv = jnp.asarray(case["logp_old"]), jnp.asarray(case["advantages"])

        def loss_fn(lpn):
            out = pj.clipped_surrogate(lpn, lpo, adv, impl=impl, **kw)
            return out.loss, out.stats

        (loss, stats), grad = jax.jit(jax.value_and_grad(loss_fn, has_aux=True))(
            jnp.asarray(case["logp_new"])
        )
        assert loss.dtype == case["dtype"] and grad.dtype == case["dtype"]
        assert (
            surrogate_mismatches(
                case,
                float(loss),
                np.asarray(grad),
                np.asarray(stats.sums),
                np.asarray(stats.counts),
                IMPLS[impl],
            )
            == []
        )


FACTORIES = {
    "ppobr": pj.ppobr,
    "constant": pj.constant,
    "linear_decay": pj.linear_decay,
    "kl_adaptive": pj.kl_adaptive,
}


def make_controller(case):
    return build_controller(case, FACTORIES)


@pytest.mark.parametrize("case", CONTROLLERS, ids=[c["name"] for c in CONTROLLERS])
def test_controller_float64(case):
    with x64():
        ctl = make_controller(case)
        state = ctl.init()
        update = jax.jit(
            lambda s, h, r, kl: (
                ctl.update(s, h, r, kl=kl)
                if case["controller"] == "kl_adaptive"
                else ctl.update(s, h, r)
            )
        )
        eps_before = float(ctl.diagnostics(state)["epsilon"])
        for t, (inputs, want) in enumerate(case["steps"]):
            entropy, returns, kl = controller_inputs(inputs, jnp.asarray)
            entropy = math.nan if entropy is None else entropy  # jit: an absent entropy is NaN
            returns = jnp.asarray(returns if returns else np.zeros(0), jnp.float64)
            kl = math.nan if kl is None else kl
            eps, state = update(state, entropy, returns, kl)
            diag = {k: float(v) for k, v in ctl.diagnostics(state).items()}
            if "raises" in want:  # under jit the core's error is a rejected, counted update
                assert float(eps) == eps_before and diag["rejected_entropy_ref"] >= 1, t
                continue
            assert controller_mismatches(diag, want) == [], f"update {t}"
            assert controller_mismatches({"epsilon": float(eps)}, want, ["epsilon"]) == [], (
                f"update {t}"
            )
            eps_before = float(eps)
