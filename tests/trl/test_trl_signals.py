"""The generation batch's signals against float64 NumPy written from their definitions: the masked
entropy sums, and each completion's total reward over the reward functions that scored it (NaN
only where none did) with the mean over the scored completions."""

import math

import numpy as np
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays
from ppobr_trl._signals import completion_returns, masked_entropy_sums

finite = st.floats(-1e3, 1e3, width=32)


@settings(max_examples=60, deadline=None)
@given(
    st.integers(1, 6).flatmap(
        lambda n: st.tuples(
            arrays(np.float32, (n, 5), elements=st.floats(0, 10, width=32)),
            arrays(np.int64, (n, 5), elements=st.integers(0, 1)),
        )
    )
)
def test_masked_entropy_sums_equal_the_float64_definition(case):
    entropies, mask = case
    total, count = masked_entropy_sums(torch.from_numpy(entropies), torch.from_numpy(mask))
    expected = float((entropies.astype(np.float64) * mask).sum())
    assert total == np.float64(expected) or math.isclose(total, expected, rel_tol=1e-12)
    assert count == mask.sum()


@settings(max_examples=80, deadline=None)
@given(
    st.integers(1, 8).flatmap(
        lambda n: st.integers(1, 3).flatmap(
            lambda f: st.tuples(
                arrays(np.float32, (n, f), elements=finite | st.just(math.nan)),
                arrays(np.float32, (f,), elements=st.floats(-2, 2, width=32)),
            )
        )
    )
)
def test_completion_returns_skip_unscored_functions_and_completions(case):
    rewards, weights = case
    returns, mean = completion_returns(torch.from_numpy(rewards), torch.from_numpy(weights))
    r, w = rewards.astype(np.float64), weights.astype(np.float64)
    expected = np.array(
        [
            math.nan if np.isnan(row).all() else sum(x * y for x, y in zip(row, w) if x == x)
            for row in r
        ]
    )
    assert returns.dtype == np.float64 and returns.shape == (len(rewards),)
    np.testing.assert_allclose(returns, expected, rtol=1e-12, atol=1e-9)
    scored = expected[~np.isnan(expected)]
    if scored.size:
        assert math.isclose(mean, scored.mean(), rel_tol=1e-9, abs_tol=1e-9)
    else:
        assert math.isnan(mean)
