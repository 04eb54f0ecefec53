"""The fused kernel through the XLA FFI (impl="ffi"): same results as the jnp path, ε traced,
vmap, errors. Skipped when ppobr_core._jax_ffi is not built."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from batches import make_batch
from conftest import x32, x64
from reference import ref_surrogate

import ppobr_jax as pj

pytestmark = pytest.mark.skipif(not pj.ffi_available(), reason="ppobr_core._jax_ffi is not built")

CASES = [
    ((777,), "token-mean", None, None, None, 0.2, 0.2),
    ((20, 31), "seq-mean-token-mean", "float", None, 2.0, 0.2, 0.28),
    ((600,), "seq-mean-token-sum", "bool", 9, None, 0.1, 0.3),
]


@pytest.mark.parametrize("case", CASES, ids=[c[1] for c in CASES])
def test_ffi_matches_jnp_and_reference(case, rng):
    shape, agg, mask, nseg, dual, lo, hi = case
    for dtype, ctx in ((np.float64, x64), (np.float32, x32)):
        if nseg is not None and dtype == np.float32:
            continue  # int64 segment ids need x64
        kw = make_batch(
            rng,
            shape,
            dtype,
            eps_low=lo,
            eps_high=hi,
            dual_clip=dual,
            entropy=True,
            mask=mask,
            num_segments=nseg,
        )
        ref = ref_surrogate(**kw, eps_low=lo, eps_high=hi, dual_clip=dual, aggregation=agg)
        with ctx():
            a = {k: jnp.asarray(v) for k, v in kw.items()}

            def f(x, adv, impl):
                return pj.clipped_surrogate(
                    x,
                    a["logp_old"],
                    adv,
                    eps_low=lo,
                    eps_high=hi,
                    dual_clip=dual,
                    entropy=a["entropy"],
                    mask=a.get("mask"),
                    segment_ids=a.get("segment_ids"),
                    num_segments=nseg,
                    aggregation=agg,
                    impl=impl,
                )

            out = {}
            for impl in ("ffi", "jnp"):
                g = jax.jit(
                    jax.value_and_grad(lambda x, adv: f(x, adv, impl), argnums=(0, 1), has_aux=True)
                )
                (loss, stats), (gx, ga) = g(a["logp_new"], a["advantages"])
                out[impl] = (
                    float(loss),
                    np.asarray(gx),
                    np.asarray(ga),
                    np.asarray(stats.sums),
                    np.asarray(stats.counts),
                )
        tol = 1e-12 if dtype == np.float64 else 3e-5
        f_, j_ = out["ffi"], out["jnp"]
        assert f_[0] == pytest.approx(ref["loss"], rel=tol, abs=tol * ref["loss_scale"])
        assert f_[0] == pytest.approx(j_[0], rel=tol, abs=tol * ref["loss_scale"])
        gmax = float(np.max(np.abs(ref["grad"])))
        np.testing.assert_allclose(f_[1], ref["grad"], rtol=4 * tol, atol=tol * gmax * 1e-3)
        np.testing.assert_allclose(f_[2], j_[2], rtol=4 * tol, atol=tol * 1e-3)  # d/d advantages
        np.testing.assert_allclose(
            f_[3], j_[3], rtol=4 * tol, atol=tol * float(np.max(np.abs(j_[3])))
        )
        np.testing.assert_allclose(f_[4], j_[4], rtol=tol)  # sum of weights: order may differ


def test_ffi_eps_traced_vmap_and_errors(rng):
    kw = make_batch(rng, (8, 300), np.float32, entropy=True)
    traces = []
    with x32():

        @jax.jit
        def step(lpn, lpo, adv, eps):
            traces.append(1)
            return jax.value_and_grad(
                lambda x: pj.clipped_surrogate(x, lpo, adv, eps, impl="ffi"), has_aux=True
            )(lpn)

        for e in (0.1, 0.2, 0.3):
            step(kw["logp_new"][0], kw["logp_old"][0], kw["advantages"][0], jnp.float32(e))
        assert len(traces) == 1
        eps = jnp.linspace(0.1, 0.3, 8)
        (lb, sb), gb = jax.jit(jax.vmap(step))(
            kw["logp_new"], kw["logp_old"], kw["advantages"], eps
        )
        for i in range(8):  # the kernel on each member: the same bits as a single call
            (l1, s1), g1 = step(kw["logp_new"][i], kw["logp_old"][i], kw["advantages"][i], eps[i])
            assert np.asarray(l1).tobytes() == np.asarray(lb[i]).tobytes()
            assert np.asarray(g1).tobytes() == np.asarray(gb[i]).tobytes()
        bad = np.array(kw["logp_new"][0])
        bad[3] = np.nan
        with pytest.raises(Exception, match="logp_new"):
            jax.block_until_ready(
                pj.clipped_surrogate(
                    bad, kw["logp_old"][0], kw["advantages"][0], 0.2, impl="ffi"
                ).loss
            )


def test_segment_ids_without_x64():
    """The kernel reads int64 segment ids, which jax holds only with x64: without it "auto"
    takes the jnp path and "ffi" says why it cannot run."""
    kw = dict(segment_ids=np.array([0, 0, 1, 1]), aggregation="seq-mean-token-mean")
    with x32():
        lpn = jnp.asarray([0.1, -0.2, 0.3, 0.0])
        lpo = jnp.zeros(4)
        adv = jnp.asarray([1.0, -1.0, 2.0, 0.5])
        want = pj.clipped_surrogate(lpn, lpo, adv, 0.2, impl="jnp", **kw)
        got = pj.clipped_surrogate(lpn, lpo, adv, 0.2, impl="auto", **kw)
        assert float(got.loss) == float(want.loss)
        with pytest.raises(RuntimeError, match="jax_enable_x64"):
            pj.clipped_surrogate(lpn, lpo, adv, 0.2, impl="ffi", **kw)
