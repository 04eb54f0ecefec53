"""No NaN gradient from finite input (docs/SPEC.md, rule R9): where r = exp(logp_new - logp_old)
overflows the dtype, ppobr_jax's jnp loss and gradient equal the core's.

The core's rules at r = inf (d = logp_new - logp_old beyond log(max float)):

- A > 0: r A = +inf > clip(r) A = (1 + eps_high) A, so min() selects the clipped term: the
  objective is finite and d loss / d logp_new = 0;
- A < 0: r A = -inf is selected (the unclipped term): loss = +inf and the gradient +inf, unless
  dual clip binds (max(-inf, c A) = c A): then the objective is c A and the gradient 0;
- A = 0: objective 0, gradient 0.

A NaN would appear if the gradient were formed as 0 * inf (the chain rule through an inf ratio
multiplied by a zero selector), which is what is checked here, for float32 (d = 100) and
float64 (d = 1000), both signs of d, with and without dual clip, mask and aggregation.
"""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import x32, x64
from hypothesis import given, settings
from hypothesis import strategies as st

import ppobr_jax as pj

core = pytest.importorskip("ppobr_core")

OVERFLOW_D = {np.float32: 100.0, np.float64: 1000.0}  # exp(d) = inf in the dtype


def _jax_loss_and_grads(b, **options):
    """Loss and its gradients in logp_new, logp_old and advantages (the jnp path)."""

    def f(lpn, lpo, adv):
        return pj.clipped_surrogate(lpn, lpo, adv, impl="jnp", **options).loss

    args = (jnp.asarray(b["logp_new"]), jnp.asarray(b["logp_old"]), jnp.asarray(b["advantages"]))
    loss, grads = jax.value_and_grad(f, argnums=(0, 1, 2))(*args)
    return float(loss), [np.asarray(g) for g in grads]


def _assert_equal_to_core(b, dtype, **options):
    want = core.clipped_surrogate(**b, **options)
    loss, (g_new, g_old, g_adv) = _jax_loss_and_grads(b, **options)
    for g in (g_new, g_old, g_adv):
        assert not np.any(np.isnan(g)), (options, g)
    assert not np.isnan(loss)
    if np.isinf(want.loss):
        assert loss == want.loss
    else:
        tol = 1e-12 if dtype == np.float64 else 2e-6
        assert loss == pytest.approx(want.loss, rel=tol, abs=tol)
    # infinities and exact zeros where the core has them; values within rounding elsewhere
    np.testing.assert_array_equal(np.isinf(g_new), np.isinf(want.grad))
    finite = np.isfinite(want.grad)
    tiny = np.finfo(dtype).tiny  # XLA on the CPU may flush subnormal gradients to zero
    np.testing.assert_allclose(
        g_new[finite], want.grad[finite], rtol=4 * np.finfo(dtype).eps, atol=tiny
    )
    np.testing.assert_array_equal(g_old, -g_new)


def _batch(dtype, d, a, shape=(6,)):
    """Sample 0 has log-ratio d and advantage a; the rest are ordinary."""
    rng = np.random.default_rng(7)
    lpn = rng.normal(0.0, 0.1, size=shape).astype(dtype)
    lpo = np.zeros(shape, dtype)
    adv = rng.normal(size=shape).astype(dtype)
    lpn.reshape(-1)[0] = d
    adv.reshape(-1)[0] = a
    return {"logp_new": lpn, "logp_old": lpo, "advantages": adv}


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("sign", [1.0, -1.0], ids=["d>0", "d<0"])
@pytest.mark.parametrize("a", [2.0, -2.0, 0.0], ids=["A>0", "A<0", "A=0"])
@pytest.mark.parametrize("dual_clip", [None, 3.0], ids=["no-dual", "dual"])
def test_overflowing_ratio_equals_the_core(dtype, sign, a, dual_clip):
    b = _batch(dtype, sign * OVERFLOW_D[dtype], a)
    with x64() if dtype == np.float64 else x32():
        _assert_equal_to_core(b, dtype, eps=0.2, dual_clip=dual_clip)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("a", [2.0, -2.0], ids=["A>0", "A<0"])
def test_overflowing_ratio_with_mask_and_sequences(dtype, a):
    b = _batch(dtype, OVERFLOW_D[dtype], a, shape=(2, 3))
    mask = np.array([[1.0, 0.5, 0.0], [1.0, 1.0, 2.0]], dtype)
    with x64() if dtype == np.float64 else x32():
        for aggregation in pj.AGGREGATIONS:
            _assert_equal_to_core(b, dtype, eps=0.2, mask=mask, aggregation=aggregation)
        _assert_equal_to_core(b, dtype, eps_low=0.1, eps_high=0.3, dual_clip=2.0, mask=mask)


def test_a_masked_out_overflowing_sample_contributes_nothing():
    b = _batch(np.float32, 100.0, -2.0)
    mask = np.array([0.0, 1, 1, 1, 1, 1], np.float32)
    with x32():
        _assert_equal_to_core(b, np.float32, eps=0.2, mask=mask)
        _, (g_new, _, _) = _jax_loss_and_grads(b, eps=0.2, mask=mask)
        assert g_new[0] == 0.0


_JIT_GRADS = {}


def _jitted_grads(dual: bool):
    """One compiled function per dual-clip setting for every hypothesis example."""
    if dual not in _JIT_GRADS:

        def f(lpn, lpo, adv):
            kw = {"dual_clip": 3.0} if dual else {}
            return pj.clipped_surrogate(lpn, lpo, adv, 0.2, **kw).loss

        _JIT_GRADS[dual] = jax.jit(jax.value_and_grad(f, argnums=(0, 1, 2)))
    return _JIT_GRADS[dual]


_finite32 = st.floats(-300.0, 300.0, allow_nan=False, width=32)


@settings(max_examples=60, deadline=None)
@given(
    d=st.lists(_finite32, min_size=8, max_size=8),
    a=st.lists(st.one_of(st.just(0.0), st.floats(-1e3, 1e3, width=32)), min_size=8, max_size=8),
    dual=st.booleans(),
)
def test_no_nan_gradient_from_finite_float32_input(d, a, dual):
    """Any finite float32 log-ratios and advantages: no NaN in the loss or any gradient."""
    lpn = np.asarray(d, np.float32)
    adv = np.asarray(a, np.float32)
    lpo = np.zeros(8, np.float32)
    with x32():
        loss, grads = _jitted_grads(dual)(jnp.asarray(lpn), jnp.asarray(lpo), jnp.asarray(adv))
    assert not np.isnan(float(loss))
    for g in grads:
        assert not np.any(np.isnan(np.asarray(g)))
    want = core.clipped_surrogate(lpn, lpo, adv, eps=0.2, dual_clip=3.0 if dual else None)
    np.testing.assert_array_equal(np.isinf(np.asarray(grads[0])), np.isinf(want.grad))
    if np.isinf(want.loss):
        assert float(loss) == want.loss
