"""Orthogonal initialisation without LAPACK: the matrix ``jax.nn.initializers.orthogonal``
draws, computed by a Householder QR written in jnp.

Why not ``jax.nn.initializers.orthogonal``: it calls ``jnp.linalg.qr``, which on the CPU is
LAPACK's ``geqrf`` through a custom call. Under ``vmap`` (one network per seed) that kernel
splits the batch with ``jax::ParallelBatchMap``, which queues the pieces on XLA's intra-op
thread pool and then blocks the calling pool thread until they finish. When XLA runs as many
such QRs at once as the pool has threads (the layers of one network are independent, so it
does: on a 2-core machine the pool has 2 threads), every pool thread is blocked waiting for
pieces that no free thread can run, and the program never returns. gdb on a hung Brax hopper
program showed exactly that: both ``tf_XLAEigen`` threads in ``lapack_sgeqrf_ffi`` →
``ParallelBatchMap`` → ``BlockingCounter::Wait``, the main thread in ``BlockUntilReady``.
A QR of jnp operations has no custom call and cannot wait on the pool.

The result: for a (rows × cols) weight, A ~ N(0, 1) of shape (max, min) drawn exactly as
jax's initializer draws it, A = Q R (reduced), Q ← Q · sign(diag R) (the unique QR with a
positive diagonal, which makes Q Haar-distributed), transposed back when rows < cols, times
``scale``. Equal to jax's initializer up to float32 rounding (tests/jax_study).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from jax import lax


def householder_q(a: jax.Array):
    """(Q, diag R) of the reduced QR of ``a`` (m × n, m ≥ n) by Householder reflections.

    Step k reflects column k below the diagonal onto e_k: x = R[k:, k], α = −sign(x_0)·‖x‖,
    v = (x − α e_k)/‖x − α e_k‖, R ← (I − 2 v vᵀ) R; then Q = H_0 ⋯ H_{n−1} [I_n; 0].
    The sign choice avoids cancellation in x − α e_k; diag R = (α_0, …, α_{n−1}).
    """
    m, n = a.shape
    rows = jnp.arange(m)

    def reflect(k, carry):
        r, vs, alphas = carry
        x = jnp.where(rows >= k, r[:, k], 0.0)
        sign = jnp.where(x[k] >= 0, 1.0, -1.0).astype(a.dtype)
        alpha = -sign * jnp.sqrt(jnp.sum(x * x))
        v = x.at[k].add(-alpha)
        v_norm = jnp.sqrt(jnp.sum(v * v))
        v = jnp.where(v_norm > 0, v / jnp.where(v_norm > 0, v_norm, 1.0), 0.0)
        r = r - 2.0 * jnp.outer(v, v @ r)
        return r, vs.at[k].set(v), alphas.at[k].set(alpha)

    init = (a, jnp.zeros((n, m), a.dtype), jnp.zeros((n,), a.dtype))
    _, vs, alphas = lax.fori_loop(0, n, reflect, init)

    def apply_back(i, q):
        v = vs[n - 1 - i]
        return q - 2.0 * jnp.outer(v, v @ q)

    q = lax.fori_loop(0, n, apply_back, jnp.eye(m, n, dtype=a.dtype))
    return q, alphas


def orthogonal(key: jax.Array, shape, scale: float = 1.0, dtype=jnp.float32) -> jax.Array:
    """A (rows × cols) matrix with orthonormal columns (rows ≥ cols) or rows, times ``scale``:
    ``jax.nn.initializers.orthogonal(scale)(key, shape, dtype)`` without a LAPACK call."""
    rows, cols = shape
    tall = (max(rows, cols), min(rows, cols))
    a = jax.random.normal(key, tall, dtype)
    q, diag_r = householder_q(a)
    q = q * jnp.sign(diag_r)[None, :]
    if rows < cols:
        q = q.T
    return scale * q
