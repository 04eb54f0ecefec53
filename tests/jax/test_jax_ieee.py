"""The exactly rounded arithmetic the controllers rely on under XLA (ppobr_jax._ieee)."""

import math

import jax
import jax.numpy as jnp
import numpy as np
from conftest import x32, x64
from fdlibm import fdlibm_tanh, freebsd_tanhf
from jax import lax

from ppobr_jax import _ieee


def _tanh_args(rng):
    edge = [
        0.0,
        -0.0,
        5e-324 * 2**60,
        2.0**-55,
        2.0**-54,
        0.34657359027997264,
        0.3465735902799727,
        0.5,
        1.0,
        np.nextafter(1.0, 0),
        1.0397207708399179,
        1.0397207708399181,
        19.0,
        22.0,
        np.nextafter(22.0, 0),
        44.0,
        1e300,
        np.inf,
        -np.inf,
        np.nan,
    ]
    xs = np.concatenate(
        [
            rng.random(6000),
            rng.random(2000) * 30,
            10.0 ** rng.uniform(-17, 0, 1500),
            np.linspace(0.0, 1.1, 3001),
            edge,
        ]
    )
    return np.concatenate([xs, -xs[:800]])


def test_tanh_float64_is_fdlibm_bit_for_bit(rng):
    xs = _tanh_args(rng)
    want = np.array([fdlibm_tanh(x) for x in xs])
    with x64():
        got_jit = np.asarray(jax.jit(_ieee.tanh)(jnp.asarray(xs)))
        got_vmap = np.asarray(jax.jit(jax.vmap(_ieee.tanh))(jnp.asarray(xs[:500])))
    assert got_jit.tobytes() == want.tobytes()
    assert got_vmap.tobytes() == want[:500].tobytes()
    # close to the C library's tanh (fdlibm's accuracy), and monotone
    finite = np.isfinite(xs)
    lib = np.array([math.tanh(x) for x in xs[finite]])
    np.testing.assert_allclose(got_jit[finite], lib, rtol=8e-16, atol=0)
    grid = np.linspace(0.0, 3.0, 20001)
    with x64():
        tv = np.asarray(jax.jit(_ieee.tanh)(jnp.asarray(grid)))
    assert np.all(np.diff(tv) >= 0)


def test_tanh_float32_is_fdlibm_tanhf(rng):
    xs = _tanh_args(rng)
    xs = xs[~(np.abs(xs) > 3e38)].astype(np.float32)
    want = np.array([freebsd_tanhf(x) for x in xs], np.float32)
    with x32():
        got = np.asarray(jax.jit(_ieee.tanh)(jnp.asarray(xs)))
    assert got.dtype == np.float32
    assert got.tobytes() == want.tobytes()


def test_products_and_quotients_are_rounded_on_their_own(rng):
    """XLA would contract a * b + c into an FMA and rewrite x / c into x * (1 / c); through
    mul / div every operation is rounded as IEEE-754 says, in jit, vmap, scan and loops."""
    a, b, c = (rng.random(4000) * 10 for _ in range(3))
    want_fma = a * b + c  # NumPy: two roundings
    want_div = a / 7.0
    with x64():
        f = jax.jit(lambda a, b, c: _ieee.mul(a, b) + c)
        assert np.asarray(f(a, b, c)).tobytes() == want_fma.tobytes()
        assert (
            np.asarray(jax.jit(jax.vmap(lambda a, b, c: c - _ieee.mul(a, b)))(a, b, c)).tobytes()
            == (c - a * b).tobytes()
        )
        g = jax.jit(lambda a: _ieee.div(a, 7.0))
        assert np.asarray(g(a)).tobytes() == want_div.tobytes()
        assert (
            np.asarray(jax.jit(jax.vmap(lambda x: _ieee.div(x, 7.0)))(a)).tobytes()
            == want_div.tobytes()
        )

        def acc(x):
            return lax.fori_loop(0, x.shape[0], lambda j, s: s + _ieee.mul(x[j], x[j]), 0.0)

        xs = rng.random((300, 10))
        want = []
        for row in xs:
            s = 0.0
            for v in row:
                s = s + v * v
            want.append(s)
        assert np.asarray(jax.jit(jax.vmap(acc))(xs)).tobytes() == np.asarray(want).tobytes()
