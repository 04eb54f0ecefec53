"""Exactly rounded scalar arithmetic under XLA, and a portable tanh.

The PPO-BR controller must give the same epsilon, bit for bit, as the C++ core
(cpp/src/controllers.cpp), which evaluates every step as one IEEE-754 operation with
fused multiply-add contraction disabled. XLA on CPU does not honour that by default:

1. It contracts ``a * b + c`` into an FMA (LLVM is configured with FP op fusion "fast"), which
   skips the rounding of the product (12% of random float64 triples differ in the last bit).
2. Its algebraic simplifier rewrites a division by a constant or by a broadcast scalar,
   ``x / c``, into ``x * (1 / c)`` (a third of random quotients differ in the last bit).
3. ``jnp.tanh`` is its own polynomial approximation, not the C library's (58% of float64
   arguments in [0, 1] differ from glibc's tanh; up to 4 ulp in float32).

The helpers below keep XLA's result equal to the strict IEEE evaluation:

- :func:`rounded` passes a value through a select on ``isnan(x)`` that XLA cannot fold away, so
  the product that produced it is rounded on its own before any addition consumes it;
- :func:`div` divides by a divisor made data-dependent on the dividend in the same way, so it is
  never a constant or a broadcast and no reciprocal rewrite applies (x / y is exactly rounded
  in XLA otherwise);
- :func:`tanh` is fdlibm's tanh (and the expm1 it calls), the algorithm glibc uses, written with
  only +, -, *, / and exact bit manipulations, so that the C++ core can evaluate the very same
  operations (cpp/src/portable_tanh.hpp) and both sides agree bit for bit on every
  platform, whatever the C library.

XLA on CPU also flushes subnormal results to zero; bit-exactness therefore holds for inputs
whose intermediate values are normal numbers or zero (|x| >= 2.2e-308 in float64).

Float32 (``jax_enable_x64`` off) uses fdlibm's float versions (expm1f / tanhf) the same way;
there the contract is "within 1 ulp of the float32 evaluation of the same steps".
"""

from __future__ import annotations

import jax.numpy as jnp
import numpy as np
from jax import lax


def rounded(x):
    """x, rounded on its own: a product passed through here is never fused into an FMA with the
    operation that consumes it (XLA does not fold the NaN-preserving select away)."""
    return jnp.where(jnp.isnan(x), jnp.asarray(np.nan, x.dtype), x)


def div(a, b):
    """a / b, exactly rounded even when b is a compile-time constant or a broadcast scalar.

    The divisor is tied to the dividend through a NaN-preserving select (a NaN dividend gives a
    NaN quotient either way), so XLA sees a data-dependent divisor of a's shape and keeps the
    IEEE division instead of multiplying by a rounded reciprocal."""
    a = jnp.asarray(a)
    b = jnp.asarray(b, a.dtype)
    return a / jnp.where(jnp.isnan(a), jnp.asarray(np.nan, a.dtype), b)


def mul(a, b):
    """a * b rounded on its own (see :func:`rounded`)."""
    return rounded(a * b)


# -------------------------------------------------------------------------------------------
# fdlibm tanh / expm1, float64 (as in fdlibm 5.3 s_tanh.c and s_expm1.c; glibc's dbl-64)

_LN2_HI = 6.93147180369123816490e-01  # 0x3fe62e42 fee00000
_LN2_LO = 1.90821492927058770002e-10  # 0x3dea39ef 35793c76
_INVLN2 = 1.44269504088896338700e00  # 0x3ff71547 652b82fe
_Q1 = -3.33333333333331316428e-02
_Q2 = 1.58730158725481460165e-03
_Q3 = -7.93650757867487942473e-05
_Q4 = 4.00821782732936239552e-06
_Q5 = -2.01099218183624371326e-07


def _hi_word_f64(x):
    """The high 32 bits of x as a signed integer (int64 holding an int32 value)."""
    return lax.bitcast_convert_type(x, jnp.int64) >> 32


def _from_hi_word_f64(hi):
    """The float64 whose high word is hi and low word 0."""
    return lax.bitcast_convert_type(jnp.asarray(hi, jnp.int64) << 32, jnp.float64)


def _add_exponent_f64(y, k):
    """__HI(y) += k << 20: y * 2**k for normal y (exact)."""
    bits = lax.bitcast_convert_type(y, jnp.int64) + (jnp.asarray(k, jnp.int64) << 52)
    return lax.bitcast_convert_type(bits, jnp.float64)


def _expm1_f64(x):
    """fdlibm expm1 for finite |x| < 56 ln2 (38.8; all that tanh needs: |x| < 44 and x < 0 for
    the rest), every operation exactly rounded and in fdlibm's order."""
    f = jnp.float64
    hx_s = _hi_word_f64(x)
    neg = hx_s < 0
    hx = hx_s & 0x7FFFFFFF

    # argument reduction
    reduce = hx > 0x3FD62E42  # |x| > 0.5 ln2
    near = hx < 0x3FF0A2B2  # and |x| < 1.5 ln2
    hi_near = jnp.where(neg, x + _LN2_HI, x - _LN2_HI)
    lo_near = jnp.where(neg, f(-_LN2_LO), f(_LN2_LO))
    k_near = jnp.where(neg, -1, 1).astype(jnp.int64)
    kf = mul(_INVLN2, x) + jnp.where(neg, f(-0.5), f(0.5))
    k_far = kf.astype(jnp.int64)  # C's (int) conversion: truncation toward zero
    t_far = k_far.astype(f)
    hi_far = x - mul(t_far, _LN2_HI)  # exact product
    lo_far = mul(t_far, _LN2_LO)
    hi = jnp.where(near, hi_near, hi_far)
    lo = jnp.where(near, lo_near, lo_far)
    k = jnp.where(near, k_near, k_far)
    xr = hi - lo
    c = (hi - xr) - lo
    xr = jnp.where(reduce, xr, x)
    c = jnp.where(reduce, c, f(0.0))
    k = jnp.where(reduce, k, jnp.int64(0))

    # x is now in the primary range
    hfx = mul(0.5, xr)
    hxs = mul(xr, hfx)
    r1 = 1.0 + mul(hxs, _Q1 + mul(hxs, _Q2 + mul(hxs, _Q3 + mul(hxs, _Q4 + mul(hxs, _Q5)))))
    t = 3.0 - mul(r1, hfx)
    e = mul(hxs, div(r1 - t, 6.0 - mul(xr, t)))
    res_k0 = xr - (mul(xr, e) - hxs)  # c is 0
    e = mul(xr, e - c) - c
    e = e - hxs
    res_km1 = mul(0.5, xr - e) - 0.5
    res_k1 = jnp.where(xr < -0.25, mul(-2.0, e - (xr + 0.5)), 1.0 + mul(2.0, xr - e))
    res_far = _add_exponent_f64(1.0 - (e - xr), k) - 1.0  # k <= -2 or k > 56
    kc = jnp.clip(k, 0, 62)
    t_lt20 = _from_hi_word_f64(0x3FF00000 - (jnp.int64(0x200000) >> kc))  # 1 - 2**-k
    res_lt20 = _add_exponent_f64(t_lt20 - (e - xr), k)
    t_ge20 = _from_hi_word_f64((0x3FF - kc) << 20)  # 2**-k
    res_ge20 = _add_exponent_f64((xr - (e + t_ge20)) + 1.0, k)
    res = jnp.where(
        k == 0,
        res_k0,
        jnp.where(
            k == -1,
            res_km1,
            jnp.where(
                k == 1,
                res_k1,
                jnp.where((k <= -2) | (k > 56), res_far, jnp.where(k < 20, res_lt20, res_ge20)),
            ),
        ),
    )
    res = jnp.where(hx < 0x3C900000, x, res)  # |x| < 2**-54: x
    return jnp.where((hx >= 0x4043687A) & neg, f(-1.0), res)  # x <= -56 ln2: tiny - one


def _tanh_f64(x):
    f = jnp.float64
    x = jnp.asarray(x, f)
    jx = _hi_word_f64(x)
    ix = jx & 0x7FFFFFFF
    ax = jnp.abs(x)
    big = ix >= 0x3FF00000  # |x| >= 1
    # only |x| < 22 reaches expm1; clamp the others into its domain (their result is replaced)
    arg = jnp.where(big, mul(2.0, jnp.minimum(ax, f(22.0))), mul(-2.0, ax))
    arg = jnp.where(jnp.isfinite(arg), arg, f(0.0))
    t = _expm1_f64(arg)
    z = jnp.where(big, 1.0 - div(f(2.0), t + 2.0), div(-t, t + 2.0))
    z = jnp.where(ix < 0x40360000, z, f(1.0))  # |x| >= 22: one - tiny, which rounds to 1
    z = jnp.where(jx >= 0, z, -z)
    z = jnp.where(ix < 0x3C800000, mul(x, 1.0 + x), z)  # |x| < 2**-55
    return jnp.where(jnp.isnan(x), x, z)  # +-inf gave +-1 above


# -------------------------------------------------------------------------------------------
# fdlibm tanhf / expm1f, float32 (FreeBSD s_tanhf.c, s_expm1f.c)

_LN2_HI_F = np.float32(6.9313812256e-01)  # 0x3f317180
_LN2_LO_F = np.float32(9.0580006145e-06)  # 0x3717f7d1
_INVLN2_F = np.float32(1.4426950216e00)  # 0x3fb8aa3b
_Q1_F = np.float32(-3.3333212137e-2)
_Q2_F = np.float32(1.5807170421e-3)


def _word_f32(x):
    return lax.bitcast_convert_type(x, jnp.int32)


def _from_word_f32(w):
    return lax.bitcast_convert_type(jnp.asarray(w, jnp.int32), jnp.float32)


def _expm1_f32(x):
    """FreeBSD expm1f for finite |x| < 27 ln2 (18.7) and x < 0 beyond (what tanhf needs)."""
    f = jnp.float32
    i32 = jnp.int32
    hx_s = _word_f32(x)
    neg = hx_s < 0
    hx = hx_s & 0x7FFFFFFF
    reduce = hx > 0x3EB17218
    near = hx < 0x3F851592
    hi_near = jnp.where(neg, x + _LN2_HI_F, x - _LN2_HI_F)
    lo_near = jnp.where(neg, -_LN2_LO_F, _LN2_LO_F)
    k_near = jnp.where(neg, i32(-1), i32(1))
    kf = mul(_INVLN2_F, x) + jnp.where(neg, f(-0.5), f(0.5))
    k_far = kf.astype(i32)
    t_far = k_far.astype(f)
    hi_far = x - mul(t_far, _LN2_HI_F)
    lo_far = mul(t_far, _LN2_LO_F)
    hi = jnp.where(near, hi_near, hi_far)
    lo = jnp.where(near, lo_near, lo_far)
    k = jnp.where(near, k_near, k_far)
    xr = hi - lo
    c = (hi - xr) - lo
    xr = jnp.where(reduce, xr, x)
    c = jnp.where(reduce, c, f(0.0))
    k = jnp.where(reduce, k, i32(0))

    hfx = mul(f(0.5), xr)
    hxs = mul(xr, hfx)
    r1 = f(1.0) + mul(hxs, _Q1_F + mul(hxs, _Q2_F))
    t = f(3.0) - mul(r1, hfx)
    e = mul(hxs, div(r1 - t, f(6.0) - mul(xr, t)))
    res_k0 = xr - (mul(xr, e) - hxs)
    kc = jnp.clip(k, -100, 100)
    twopk = _from_word_f32((0x7F + kc) << 23)  # 2**k
    e = mul(xr, e - c) - c
    e = e - hxs
    res_km1 = mul(f(0.5), xr - e) - f(0.5)
    res_k1 = jnp.where(xr < f(-0.25), mul(f(-2.0), e - (xr + f(0.5))), f(1.0) + mul(f(2.0), xr - e))
    res_far = mul(f(1.0) - (e - xr), twopk) - f(1.0)  # k <= -2 or k > 56
    kp = jnp.clip(k, 0, 30)
    t_lt23 = _from_word_f32(0x3F800000 - (i32(0x1000000) >> kp))  # 1 - 2**-k
    res_lt23 = mul(t_lt23 - (e - xr), twopk)
    t_ge23 = _from_word_f32((0x7F - jnp.clip(k, 0, 100)) << 23)  # 2**-k
    res_ge23 = mul((xr - (e + t_ge23)) + f(1.0), twopk)
    res = jnp.where(
        k == 0,
        res_k0,
        jnp.where(
            k == -1,
            res_km1,
            jnp.where(
                k == 1,
                res_k1,
                jnp.where((k <= -2) | (k > 56), res_far, jnp.where(k < 23, res_lt23, res_ge23)),
            ),
        ),
    )
    res = jnp.where(hx < 0x33000000, x, res)
    return jnp.where((hx >= 0x4195B844) & neg, f(-1.0), res)


def _tanh_f32(x):
    f = jnp.float32
    x = jnp.asarray(x, f)
    jx = _word_f32(x)
    ix = jx & 0x7FFFFFFF
    ax = jnp.abs(x)
    big = ix >= 0x3F800000
    arg = jnp.where(big, mul(f(2.0), jnp.minimum(ax, f(9.0))), mul(f(-2.0), ax))
    arg = jnp.where(jnp.isfinite(arg), arg, f(0.0))
    t = _expm1_f32(arg)
    z = jnp.where(big, f(1.0) - div(f(2.0), t + f(2.0)), div(-t, t + f(2.0)))
    z = jnp.where(ix < 0x41100000, z, f(1.0))  # |x| >= 9: one - tiny rounds to 1
    z = jnp.where(jx >= 0, z, -z)
    z = jnp.where(ix < 0x39800000, x, z)  # |x| < 2**-12: x
    return jnp.where(jnp.isnan(x), x, z)


def tanh(x):
    """fdlibm's tanh, evaluated with exactly rounded basic operations (float64: fdlibm 5.3,
    float32: FreeBSD's tanhf). Not differentiable (the controllers do not need it)."""
    x = jnp.asarray(x)
    if x.dtype == jnp.float64:
        return _tanh_f64(x)
    if x.dtype == jnp.float32:
        return _tanh_f32(x)
    raise TypeError(f"tanh: expected float32 or float64, got {x.dtype}")
