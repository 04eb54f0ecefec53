"""ppobr_jax.clipped_surrogate: loss, gradient and statistics against the float64 reference
(tests/reference.py, which the core's own tests use), the core (ppobr_core), the torch adapter
(ppobr_torch) and rlax, plus jit (no retrace when eps changes) and vmap behaviour."""

import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from batches import make_batch
from conftest import core_or_none, x32, x64
from reference import STAT_NAMES, ref_surrogate

import ppobr_jax as pj

# (shape, aggregation, eps_low, eps_high, dual_clip, entropy, mask, num_segments)
CASES = [
    ((257,), "token-mean", 0.2, 0.2, None, True, None, None),
    ((300,), "token-mean", 0.1, 0.28, 3.0, True, "float", None),
    ((12, 33), "token-mean", 0.2, 0.2, None, False, "bool", None),
    ((12, 33), "seq-mean-token-mean", 0.2, 0.2, 2.0, True, "float", None),
    ((12, 33), "seq-mean-token-sum", 0.15, 0.3, None, False, None, None),
    ((9, 20), "seq-mean-token-mean", 0.2, 0.2, None, False, None, None),
    ((400,), "seq-mean-token-mean", 0.2, 0.25, None, True, "float", 7),
    ((400,), "seq-mean-token-sum", 0.2, 0.2, 1.5, False, "bool", 9),
]


def _ids(c):
    shape, agg, lo, hi, dual, ent, mask, nseg = c
    return f"{'x'.join(map(str, shape))}-{agg}-{lo}-{hi}-dual{dual}-ent{int(ent)}-{mask}-seg{nseg}"


def _eps_kw(lo, hi):
    return {"eps": lo} if lo == hi else {"eps_low": lo, "eps_high": hi}


def _jax_call(kw, lo, hi, dual, agg, nseg, impl="jnp"):
    """value_and_grad of the adapter's loss in logp_new, with the statistics."""
    args = {k: jnp.asarray(v) for k, v in kw.items()}
    lpn = args.pop("logp_new")

    def f(lpn):
        return pj.clipped_surrogate(
            lpn,
            args["logp_old"],
            args["advantages"],
            **_eps_kw(lo, hi),
            dual_clip=dual,
            entropy=args.get("entropy"),
            mask=args.get("mask"),
            segment_ids=args.get("segment_ids"),
            num_segments=nseg,
            aggregation=agg,
            impl=impl,
        )

    (loss, stats), grad = jax.jit(jax.value_and_grad(f, has_aux=True))(lpn)
    means = np.asarray(stats.means())
    return float(loss), np.asarray(grad), np.asarray(stats.sums), np.asarray(stats.counts), means


def _check(got, ref, dtype, what):
    loss, grad, sums, counts, means = got
    tol = 1e-12 if dtype == np.float64 else 3e-5
    scale = max(ref["loss_scale"], abs(ref["loss"]))
    assert abs(loss - ref["loss"]) <= tol * scale + 1e-300, (what, loss, ref["loss"])
    assert grad.dtype == dtype
    np.testing.assert_array_equal(grad == 0, ref["grad"] == 0, err_msg=f"{what} grad zeros")
    gmax = float(np.max(np.abs(ref["grad"])))
    np.testing.assert_allclose(
        grad, ref["grad"], rtol=4 * tol, atol=tol * gmax * 1e-3, err_msg=f"{what} grad"
    )
    for i, k in enumerate(STAT_NAMES):
        s = ref["scale"][k]
        assert abs(sums[i] - ref["sums"][k]) <= tol * max(s, abs(ref["sums"][k])) + 1e-300, (
            what,
            k,
            sums[i],
            ref["sums"][k],
        )
        assert abs(counts[i] - ref["counts"][k]) <= tol * ref["counts"]["ratio_mean"], (what, k)
    for i, k in enumerate(STAT_NAMES):
        want = ref["stats"][k]
        if math.isnan(want):
            assert math.isnan(means[i]), (what, k)
        else:
            assert abs(means[i] - want) <= 4 * tol * max(1.0, abs(want)), (what, k, means[i], want)


@pytest.mark.parametrize("case", CASES, ids=[_ids(c) for c in CASES])
def test_matches_reference_and_core(case, rng):
    shape, agg, lo, hi, dual, ent, mask, nseg = case
    core = core_or_none()
    for dtype, ctx in ((np.float64, x64), (np.float32, x32)):
        kw = make_batch(
            rng,
            shape,
            dtype,
            eps_low=lo,
            eps_high=hi,
            dual_clip=dual,
            entropy=ent,
            mask=mask,
            num_segments=nseg,
        )
        ref = ref_surrogate(**kw, eps_low=lo, eps_high=hi, dual_clip=dual, aggregation=agg)
        with ctx():
            got = _jax_call(kw, lo, hi, dual, agg, nseg)
        _check(got, ref, dtype, f"jax {dtype.__name__}")
        if core is not None:
            res = core.clipped_surrogate(**kw, **_eps_kw(lo, hi), dual_clip=dual, aggregation=agg)
            tol = 1e-12 if dtype == np.float64 else 3e-5
            assert abs(got[0] - res.loss) <= tol * max(ref["loss_scale"], 1e-300)
            np.testing.assert_allclose(
                got[1], res.grad, rtol=4 * tol, atol=tol * float(np.max(np.abs(res.grad))) * 1e-3
            )
            for i, k in enumerate(STAT_NAMES):
                assert (
                    abs(got[2][i] - res.sums[k])
                    <= tol * max(ref["scale"][k], abs(res.sums[k])) + 1e-300
                )
                assert got[3][i] == pytest.approx(res.counts[k], rel=tol)


def test_matches_torch_adapter(rng):
    torch = pytest.importorskip("torch")
    try:
        import ppobr_torch
    except Exception as e:  # ppobr_torch imports ppobr_core
        pytest.skip(f"ppobr_torch not importable: {e}")
    for shape, agg, lo, hi, dual, ent, mask, nseg in (CASES[1], CASES[3], CASES[6]):
        kw = make_batch(
            rng,
            shape,
            np.float64,
            eps_low=lo,
            eps_high=hi,
            dual_clip=dual,
            entropy=ent,
            mask=mask,
            num_segments=nseg,
        )
        with x64():
            got = _jax_call(kw, lo, hi, dual, agg, nseg)
        t = {k: torch.from_numpy(np.asarray(v)) for k, v in kw.items()}
        lpn = t.pop("logp_new").requires_grad_(True)
        out = ppobr_torch.clipped_surrogate_loss(
            lpn,
            t["logp_old"],
            t["advantages"],
            **_eps_kw(lo, hi),
            dual_clip=dual,
            entropy=t.get("entropy"),
            mask=t.get("mask"),
            segment_ids=t.get("segment_ids"),
            aggregation=agg,
            backend="torch",
        )
        out.loss.backward()
        out = out._replace(loss=out.loss.detach())
        assert got[0] == pytest.approx(out.loss.item(), rel=1e-12, abs=1e-15)
        np.testing.assert_allclose(got[1], lpn.grad.numpy(), rtol=1e-10, atol=1e-15)
        np.testing.assert_allclose(got[2], out.sums.numpy(), rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(got[3], out.counts.numpy(), rtol=1e-12)


def test_matches_rlax(rng):
    """rlax.clipped_surrogate_pg_loss(r, A, eps) = -mean(min(r A, clip(r, 1-eps, 1+eps) A)):
    the token-mean, unmasked, symmetric case. (Without rlax installed, the same formula is
    evaluated here as written in rlax/_src/policy_gradients.py.)"""
    try:
        import rlax

        rlax_loss = rlax.clipped_surrogate_pg_loss
    except Exception:

        def rlax_loss(prob_ratios_t, adv_t, epsilon, use_stop_gradient=True):
            adv_t = jax.lax.stop_gradient(adv_t) if use_stop_gradient else adv_t
            clipped = jnp.clip(prob_ratios_t, 1.0 - epsilon, 1.0 + epsilon)
            return -jnp.mean(jnp.fmin(prob_ratios_t * adv_t, clipped * adv_t))

    kw = make_batch(rng, (513,), np.float64, eps_low=0.2, eps_high=0.2)
    with x64():
        lpn, lpo, adv = (jnp.asarray(kw[k]) for k in ("logp_new", "logp_old", "advantages"))
        ours = jax.value_and_grad(lambda x: pj.clipped_surrogate(x, lpo, adv, 0.2).loss)(lpn)
        theirs = jax.value_and_grad(lambda x: rlax_loss(jnp.exp(x - lpo), adv, 0.2))(lpn)
    assert float(ours[0]) == pytest.approx(float(theirs[0]), rel=1e-13)
    np.testing.assert_allclose(np.asarray(ours[1]), np.asarray(theirs[1]), rtol=1e-12, atol=1e-16)


def test_eps_is_traced_no_retrace(rng):
    traces = []
    kw = make_batch(rng, (128,), np.float32, eps_low=0.3, eps_high=0.3, entropy=True)
    with x32():

        @jax.jit
        def step(lpn, eps):
            traces.append(1)
            return jax.value_and_grad(
                lambda x: pj.clipped_surrogate(
                    x, kw["logp_old"], kw["advantages"], eps, entropy=kw["entropy"]
                ),
                has_aux=True,
            )(lpn)

        outs = [step(jnp.asarray(kw["logp_new"]), jnp.float32(e)) for e in (0.1, 0.2, 0.25, 0.3)]

        # asymmetric eps, traced too
        @jax.jit
        def step2(lpn, lo, hi):
            traces.append(2)
            return pj.clipped_surrogate(
                lpn, kw["logp_old"], kw["advantages"], eps_low=lo, eps_high=hi
            ).loss

        for lo, hi in ((0.1, 0.2), (0.2, 0.28), (0.05, 0.4)):
            step2(jnp.asarray(kw["logp_new"]), lo, hi)
    assert traces == [1, 2]
    clip_fracs = [float(o[0][1].mean("clip_fraction")) for o in outs]
    assert clip_fracs == sorted(clip_fracs, reverse=True) and clip_fracs[0] > clip_fracs[-1]


def test_vmap_over_seeds_equals_single_calls(rng):
    batches = [
        make_batch(np.random.default_rng(s), (6, 40), np.float32, entropy=True, mask="float")
        for s in range(8)
    ]
    stack = {k: np.stack([b[k] for b in batches]) for k in batches[0]}
    eps = np.linspace(0.1, 0.3, 8).astype(np.float32)
    with x32():

        def f(lpn, lpo, adv, ent, mask, e):
            return jax.value_and_grad(
                lambda x: pj.clipped_surrogate(
                    x, lpo, adv, e, entropy=ent, mask=mask, aggregation="seq-mean-token-mean"
                ),
                has_aux=True,
            )(lpn)

        args = (
            stack["logp_new"],
            stack["logp_old"],
            stack["advantages"],
            stack["entropy"],
            stack["mask"],
            eps,
        )
        (lb, sb), gb = jax.jit(jax.vmap(f))(*args)
        single = jax.jit(f)
        for i in range(8):  # XLA may order a batched reduction differently: a few ulp
            (l1, s1), g1 = single(*(a[i] for a in args))
            np.testing.assert_allclose(np.asarray(l1), np.asarray(lb[i]), rtol=2e-6)
            np.testing.assert_allclose(np.asarray(g1), np.asarray(gb[i]), rtol=2e-6, atol=1e-9)
            np.testing.assert_allclose(
                np.asarray(s1.sums), np.asarray(sb.sums[i]), rtol=2e-6, atol=2e-5
            )
            assert np.asarray(s1.counts).tobytes() == np.asarray(sb.counts[i]).tobytes()


def test_extreme_ratios_and_masked_samples():
    """Masked-out samples contribute nothing, even with an overflowing ratio; A == 0 with an
    infinite ratio gives objective 0 and gradient 0 (the core's documented edge cases)."""
    with x64():
        lpn = jnp.asarray([800.0, 0.1, 800.0, -0.2, 800.0])
        lpo = jnp.zeros(5)
        adv = jnp.asarray([-1.0, 1.0, 0.0, 2.0, 1.0])
        mask = jnp.asarray([0.0, 1.0, 1.0, 1.0, 1.0])
        (loss, stats), g = jax.value_and_grad(
            lambda x: pj.clipped_surrogate(x, lpo, adv, 0.2, mask=mask), has_aux=True
        )(lpn)
        assert np.isfinite(float(loss)) and np.all(np.isfinite(np.asarray(g)))
        assert float(g[0]) == 0.0 and float(g[2]) == 0.0 and float(g[4]) == 0.0
        assert float(stats.sums[3]) == np.inf  # ratio_max over the unmasked samples
