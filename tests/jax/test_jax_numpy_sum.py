"""ppobr_jax._numpy_sum.numpy_sum equals NumPy's np.add.reduce bit for bit (float64), the sum
the NumPy API's controllers take of per-step entropies."""

import jax
import jax.numpy as jnp
import numpy as np
from conftest import x64
from hypothesis import given, settings
from hypothesis import strategies as st

from ppobr_jax._numpy_sum import numpy_sum

# lengths around NumPy's unroll (8) and block (128) boundaries, and a few recursion depths
LENGTHS = [1, 2, 7, 8, 9, 15, 16, 17, 127, 128, 129, 135, 136, 255, 256, 257, 1000, 4099]


def test_every_boundary_length(rng):
    with x64():
        for n in LENGTHS:
            x = rng.normal(size=n) * 10.0 ** rng.uniform(-8, 8, size=n)
            want = np.add.reduce(x)
            assert float(numpy_sum(jnp.asarray(x))) == want, n
            assert float(jax.jit(numpy_sum)(jnp.asarray(x))) == want, n


def test_under_vmap(rng):
    with x64():
        x = rng.normal(size=(3, 300)) * 1e6
        got = np.asarray(jax.jit(jax.vmap(numpy_sum))(jnp.asarray(x)))
        assert got.tolist() == [np.add.reduce(row) for row in x]


# XLA on the CPU flushes subnormal numbers to zero (see _ieee.py): magnitudes of at least 1e-200
# keep every partial sum normal (a difference of two such numbers is a multiple of an ulp of
# 1e-200, about 1e-216) or zero.
_magnitude = st.floats(1e-200, 1e300)
_element = st.one_of(
    _magnitude,
    _magnitude.map(lambda v: -v),
    st.sampled_from([0.0, -0.0, 1.0, -1.0, 1e16, -1e16]),
)


@settings(max_examples=60, deadline=None)
@given(st.lists(_element, min_size=1, max_size=300))
def test_any_values(values):
    x = np.asarray(values, np.float64)
    with x64():
        got = float(numpy_sum(jnp.asarray(x)))
    want = float(np.add.reduce(x))
    assert got == want or (np.isnan(got) and np.isnan(want))
