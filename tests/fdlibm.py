"""The portable tanh the controllers use, transcribed from the C sources statement by statement.

- ``fdlibm_tanh``: fdlibm 5.3's tanh (s_tanh.c + s_expm1.c) with Python floats (IEEE binary64,
  each operation rounded on its own: CPython never fuses a multiply-add). The core's PPO-BR
  update uses exactly this tanh (cpp/src/portable_tanh.hpp), so that epsilon has the same bits
  on every platform and in every binding (ppobr_jax/_ieee.py).
- ``freebsd_tanhf``: FreeBSD msun's float tanhf (s_tanhf.c + s_expm1f.c) with NumPy float32
  scalars (every operation rounded to float32): what ppobr_jax._ieee.tanh computes in float32.

tests/reference.py (the oracle) evaluates the controllers with these; nothing here is a
reference of the kernel or of a controller.
"""

from __future__ import annotations

import math
import struct

import numpy as np

# ---------------------------------------------------------------------------------------------
# fdlibm tanh / expm1 (float64)


def _hi(x: float) -> int:
    """__HI(x): the high word, as a signed 32-bit int."""
    return struct.unpack("<q", struct.pack("<d", x))[0] >> 32


def _with_hi(x: float, hi: int) -> float:
    """x with its high word replaced (low word kept)."""
    bits = struct.unpack("<Q", struct.pack("<d", x))[0]
    bits = ((hi & 0xFFFFFFFF) << 32) | (bits & 0xFFFFFFFF)
    return struct.unpack("<d", struct.pack("<Q", bits))[0]


def _i32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


_one, _huge, _tiny = 1.0, 1.0e300, 1.0e-300
_o_threshold = 7.09782712893383973096e02
_ln2_hi = 6.93147180369123816490e-01
_ln2_lo = 1.90821492927058770002e-10
_invln2 = 1.44269504088896338700e00
_Q1 = -3.33333333333331316428e-02
_Q2 = 1.58730158725481460165e-03
_Q3 = -7.93650757867487942473e-05
_Q4 = 4.00821782732936239552e-06
_Q5 = -2.01099218183624371326e-07


def fdlibm_expm1(x: float) -> float:
    hx = _hi(x)
    xsb = hx & 0x80000000
    hx &= 0x7FFFFFFF
    if hx >= 0x4043687A:
        if hx >= 0x40862E42:
            if hx >= 0x7FF00000:
                return x + x if math.isnan(x) else (x if xsb == 0 else -1.0)
            if x > _o_threshold:
                return math.inf
        if xsb != 0:
            return _tiny - _one
    if hx > 0x3FD62E42:
        if hx < 0x3FF0A2B2:
            if xsb == 0:
                hi, lo, k = x - _ln2_hi, _ln2_lo, 1
            else:
                hi, lo, k = x + _ln2_hi, -_ln2_lo, -1
        else:
            k = int(_invln2 * x + (0.5 if xsb == 0 else -0.5))  # C (int): truncation
            t = float(k)
            hi = x - t * _ln2_hi
            lo = t * _ln2_lo
        x = hi - lo
        c = (hi - x) - lo
    elif hx < 0x3C900000:
        return x
    else:
        k = 0
        c = 0.0
    hfx = 0.5 * x
    hxs = x * hfx
    r1 = _one + hxs * (_Q1 + hxs * (_Q2 + hxs * (_Q3 + hxs * (_Q4 + hxs * _Q5))))
    t = 3.0 - r1 * hfx
    e = hxs * ((r1 - t) / (6.0 - x * t))
    if k == 0:
        return x - (x * e - hxs)
    e = x * (e - c) - c
    e -= hxs
    if k == -1:
        return 0.5 * (x - e) - 0.5
    if k == 1:
        if x < -0.25:
            return -2.0 * (e - (x + 0.5))
        return _one + 2.0 * (x - e)
    if k <= -2 or k > 56:
        y = _one - (e - x)
        y = _with_hi(y, _hi(y) + (k << 20))
        return y - _one
    if k < 20:
        t = _with_hi(0.0, 0x3FF00000 - (0x200000 >> k))  # t = 1 - 2^-k (one's low word is 0)
        y = t - (e - x)
        y = _with_hi(y, _hi(y) + (k << 20))
    else:
        t = _with_hi(0.0, (0x3FF - k) << 20)  # 2^-k
        y = x - (e + t)
        y += _one
        y = _with_hi(y, _hi(y) + (k << 20))
    return y


def fdlibm_tanh(x: float) -> float:
    x = float(x)
    jx = _hi(x)
    ix = jx & 0x7FFFFFFF
    if ix >= 0x7FF00000:
        return _one / x + _one if jx >= 0 else _one / x - _one
    if ix < 0x40360000:
        if ix < 0x3C800000:
            return x * (_one + x)
        if ix >= 0x3FF00000:
            t = fdlibm_expm1(2.0 * abs(x))
            z = _one - 2.0 / (t + 2.0)
        else:
            t = fdlibm_expm1(-2.0 * abs(x))
            z = -t / (t + 2.0)
    else:
        z = _one - _tiny
    return z if jx >= 0 else -z


# ---------------------------------------------------------------------------------------------
# FreeBSD expm1f / tanhf (float32, NumPy scalars: every operation rounded to float32)

F = np.float32


def _w(x) -> int:
    return int(np.array(x, dtype=np.float32).view(np.int32))


def _fw(w: int):
    return np.array(_i32(w), dtype=np.int32).view(np.float32)[()]


_ln2_hi_f, _ln2_lo_f, _invln2_f = F(6.9313812256e-01), F(9.0580006145e-06), F(1.4426950216e00)
_Q1f, _Q2f = F(-3.3333212137e-2), F(1.5807170421e-3)


def freebsd_expm1f(x):
    x = F(x)
    hx = _w(x)
    xsb = hx & 0x80000000
    hx &= 0x7FFFFFFF
    if hx >= 0x4195B844:
        if hx >= 0x42B17218:
            if hx > 0x7F800000:
                return x + x
            if hx == 0x7F800000:
                return x if xsb == 0 else F(-1.0)
            if x > F(8.8721679688e01):
                return F(np.inf)
        if xsb != 0:
            return F(-1.0)
    if hx > 0x3EB17218:
        if hx < 0x3F851592:
            if xsb == 0:
                hi, lo, k = x - _ln2_hi_f, _ln2_lo_f, 1
            else:
                hi, lo, k = x + _ln2_hi_f, -_ln2_lo_f, -1
        else:
            k = int(_invln2_f * x + (F(0.5) if xsb == 0 else F(-0.5)))
            t = F(k)
            hi = x - t * _ln2_hi_f
            lo = t * _ln2_lo_f
        x = hi - lo
        c = (hi - x) - lo
    elif hx < 0x33000000:
        return x
    else:
        k = 0
        c = F(0.0)
    hfx = F(0.5) * x
    hxs = x * hfx
    r1 = F(1.0) + hxs * (_Q1f + hxs * _Q2f)
    t = F(3.0) - r1 * hfx
    e = hxs * ((r1 - t) / (F(6.0) - x * t))
    if k == 0:
        return x - (x * e - hxs)
    twopk = _fw((0x7F + k) << 23)
    e = x * (e - c) - c
    e -= hxs
    if k == -1:
        return F(0.5) * (x - e) - F(0.5)
    if k == 1:
        if x < F(-0.25):
            return F(-2.0) * (e - (x + F(0.5)))
        return F(1.0) + F(2.0) * (x - e)
    if k <= -2 or k > 56:
        y = F(1.0) - (e - x)
        return y * twopk - F(1.0)
    if k < 23:
        t = _fw(0x3F800000 - (0x1000000 >> k))
        y = t - (e - x)
        return y * twopk
    t = _fw((0x7F - k) << 23)
    y = x - (e + t)
    y += F(1.0)
    return y * twopk


def freebsd_tanhf(x):
    x = F(x)
    jx = _i32(_w(x))
    ix = jx & 0x7FFFFFFF
    if ix >= 0x7F800000:
        return F(1.0) / x + F(1.0) if jx >= 0 else F(1.0) / x - F(1.0)
    if ix < 0x41100000:
        if ix < 0x39800000:
            return x
        if ix >= 0x3F800000:
            t = freebsd_expm1f(F(2.0) * abs(x))
            z = F(1.0) - F(2.0) / (t + F(2.0))
        else:
            t = freebsd_expm1f(F(-2.0) * abs(x))
            z = -t / (t + F(2.0))
    else:
        z = F(1.0)
    return z if jx >= 0 else -z
