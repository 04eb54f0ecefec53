"""NumPy's float sum (``np.add.reduce`` on a 1-D array), reproduced bit for bit in jnp.

The NumPy API's controllers take per-step entropies as their float64 mean, ``np.add.reduce(x) /
len(x)`` (docs/SPEC.md, rule R4), and ppobr_torch sums the same way on the host. For the JAX
controllers to give the same epsilon bits, their sum must round as NumPy's does. NumPy sums a
contiguous 1-D array pairwise (numpy/_core/src/umath/loops_utils.h.src, ``pairwise_sum``):

    S(x[0:n]) = ((x0 + x1) + ...) from 0.0                       n < 8
              = ((r0 + r1) + (r2 + r3)) + ((r4 + r5) + (r6 + r7)),  8 <= n <= 128,
                then the last n mod 8 elements added one by one, where r_j = x_j + x_{j+8} +
                x_{j+16} + ... (left to right) over the first n - n mod 8 elements
              = S(x[0:m]) + S(x[m:n]),  m = n/2 rounded down to a multiple of 8      n > 128

The split depends only on n, which is static under jit, so the whole evaluation order is known
while tracing: the blocks of 128 or fewer elements ("leaves") of one length are summed together
as the rows of a matrix (8 accumulators per row, vectorised over the rows), and the leaves'
sums combined along the same binary tree as NumPy's recursion. Only additions appear, which XLA
neither fuses nor reorders.
"""

from __future__ import annotations

from collections import defaultdict

import jax.numpy as jnp
import numpy as np

_BLOCK = 128  # NumPy's PW_BLOCKSIZE
_UNROLL = 8


def _tree(start: int, n: int):
    """NumPy's recursion over x[start:start+n]: a leaf (start, n) or a pair of subtrees."""
    if n <= _BLOCK:
        return (start, n)
    m = n // 2
    m -= m % _UNROLL
    return (_tree(start, m), _tree(start + m, n - m))


def _leaves(tree, out):
    if isinstance(tree[0], tuple):
        _leaves(tree[0], out)
        _leaves(tree[1], out)
    else:
        out.append(tree)
    return out


def _leaf_sums(rows):
    """pairwise_sum of each row of rows [count, n], n <= 128: a vector of count sums."""
    n = rows.shape[1]
    if n < _UNROLL:
        acc = jnp.zeros(rows.shape[:1], rows.dtype)
        for i in range(n):
            acc = acc + rows[:, i]
        return acc
    r = rows[:, 0:_UNROLL]
    whole = n - n % _UNROLL
    for i in range(_UNROLL, whole, _UNROLL):
        r = r + rows[:, i : i + _UNROLL]
    acc = ((r[:, 0] + r[:, 1]) + (r[:, 2] + r[:, 3])) + ((r[:, 4] + r[:, 5]) + (r[:, 6] + r[:, 7]))
    for i in range(whole, n):
        acc = acc + rows[:, i]
    return acc


def numpy_sum(x):
    """``np.add.reduce(x)`` for a 1-D array x of static length (traced values are fine)."""
    n = x.shape[0]
    tree = _tree(0, n)
    by_length = defaultdict(list)
    for start, length in _leaves(tree, []):
        by_length[length].append(start)
    value = {}
    for length, starts in by_length.items():
        index = np.asarray(starts)[:, None] + np.arange(length)[None, :]
        sums = _leaf_sums(x[index])
        for k, start in enumerate(starts):
            value[start] = sums[k]

    def combine(t):
        if isinstance(t[0], tuple):
            return combine(t[0]) + combine(t[1])
        return value[t[0]]

    return combine(tree)
