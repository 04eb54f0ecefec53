"""Plain-Python references for the JAX adapter's controller tests.

- ``fdlibm_tanh`` / ``fdlibm_tanhf``: fdlibm's tanh (s_tanh.c + s_expm1.c, fdlibm 5.3) and
  FreeBSD's float tanhf / expm1f, transcribed statement by statement from the C sources with
  Python floats (IEEE binary64, every operation rounded on its own: CPython never fuses a
  multiply-add) or NumPy float32 scalars. These are the C functions; ppobr_jax._ieee.tanh is the
  same algorithm as branch-free jnp code, and cpp/src/portable_tanh.hpp the same in C++.
- ``RefPPOBR``: controllers.cpp's PPO-BR update, operation by operation, in a chosen float type
  (Python float = binary64, or np.float32) and with a chosen tanh (math.tanh is the C library's,
  i.e. what ppobr_core computes today; fdlibm_tanh is the portable one).
- ``RefLinearDecay``, ``RefKLAdaptive``, ``RefConstant``: the other controllers, likewise.
"""

from __future__ import annotations

import math
import struct
from typing import Callable, Optional, Sequence

import numpy as np

from fdlibm import _hi, _i32, _one, _tiny, _with_hi, fdlibm_expm1, fdlibm_tanh  # noqa: F401


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


def libm_tanhf(x):
    """The float32 tanh of an ideal float32 computation: tanh correctly rounded (up to a double
    rounding) to float32."""
    return F(math.tanh(float(x)))


# ---------------------------------------------------------------------------------------------
# Controllers, operation by operation as in cpp/src/controllers.cpp


def _clamp01(x, T):
    if not x > T(0.0):
        return T(0.0)
    return T(1.0) if x > T(1.0) else x


def _isfinite(x) -> bool:
    return x is not None and math.isfinite(float(x))


class RefPPOBR:
    """PPO-BR in float type T (float: binary64; np.float32) with the given tanh."""

    def __init__(self, T=float, tanh: Callable = math.tanh, *, eps0=0.2, lambda1=0.5, lambda2=0.3,
                 window=10, psi_mode="plateau", entropy_ref=None, entropy_floor=0.0, eps_min=None,
                 eps_max=None):  # fmt: skip
        self.T, self.tanh = T, tanh
        # the effective bounds are computed in float64 (the config), then held in T
        lo = eps0 * (1.0 - lambda2) if eps_min is None else eps_min
        hi = eps0 * (1.0 + lambda1) if eps_max is None else eps_max
        self.eps0, self.lambda1, self.lambda2 = T(eps0), T(lambda1), T(lambda2)
        self.eps_min, self.eps_max = T(lo), T(hi)
        self.window, self.psi_mode = int(window), psi_mode
        self.cfg_ref = None if entropy_ref is None else T(entropy_ref)
        self.floor = T(entropy_floor)
        self.epsilon = T(eps0)
        self.entropy_ref = self.cfg_ref
        self.returns = [T(0.0)] * self.window
        self.head = self.count = self.updates = 0
        self.rejected_entropy = self.dropped_returns = self.rejected_entropy_ref = 0
        self.last_phi = self.last_psi = self.last_entropy = self.last_z = T(0.0)

    def update(self, entropy=None, episode_returns: Optional[Sequence[float]] = None):
        T, tanh, k = self.T, self.tanh, self.window
        if not _isfinite(entropy):
            self.rejected_entropy += 1
            return self.epsilon
        H = T(entropy)
        href = self.cfg_ref if self.cfg_ref is not None else (
            self.entropy_ref if self.entropy_ref is not None else H)
        if not href > self.floor:  # C++: InvalidArgument("entropy_ref"), state untouched
            self.rejected_entropy_ref += 1
            raise ValueError("entropy_ref")
        for x in [] if episode_returns is None else list(episode_returns):
            if not _isfinite(x):
                self.dropped_returns += 1
                continue
            self.returns[self.head] = T(x)
            self.head = (self.head + 1) % k
            self.count = min(self.count + 1, k)
        phi = _clamp01((H - self.floor) / (href - self.floor), T)
        z, psi = T(0.0), T(0.0)
        if self.count == k:
            h = k // 2
            xs = [self.returns[(self.head + j) % k] for j in range(k)]
            s_old = T(0.0)
            for j in range(h):
                s_old = s_old + xs[j]
            s_new = T(0.0)
            for j in range(k - h, k):
                s_new = s_new + xs[j]
            s_all = T(0.0)
            for j in range(k):
                s_all = s_all + xs[j]
            mean_old, mean_new, mean = s_old / T(h), s_new / T(h), s_all / T(k)
            ss = T(0.0)
            for j in range(k):
                d = xs[j] - mean
                ss = ss + d * d
            sd = T(math.sqrt(ss / T(k))) if T is float else np.sqrt(ss / T(k))
            with np.errstate(all="ignore"):
                zz = (mean_new - mean_old) / (sd + T(1e-8) * (T(1.0) + abs(mean)))
            if _isfinite(zz):
                z = zz
                psi = T(1.0) - T(tanh(abs(z))) if self.psi_mode == "plateau" else _clamp01(z, T)
        expand = T(1.0) + self.lambda1 * T(tanh(phi))
        contract = self.lambda2 * T(tanh(psi))
        eps = self.eps0 * (expand - contract)
        eps = min(max(eps, self.eps_min), self.eps_max)
        self.epsilon, self.entropy_ref = eps, href
        self.last_phi, self.last_psi, self.last_entropy, self.last_z = phi, psi, H, z
        self.updates += 1
        return eps


class RefConstant:
    def __init__(self, T=float, eps=0.2):
        self.epsilon, self.updates = T(eps), 0

    def update(self, *args, **kw):
        self.updates += 1
        return self.epsilon


class RefLinearDecay:
    def __init__(self, T=float, eps_start=0.2, eps_end=0.0, total_updates=1):
        self.T = T
        self.eps_start, self.eps_end, self.total = T(eps_start), T(eps_end), int(total_updates)
        self.epsilon, self.updates = T(eps_start), 0

    def update(self, *args, **kw):
        T = self.T
        t = min(self.updates, self.total)
        frac = T(t) / T(self.total)
        self.epsilon = self.eps_start + (self.eps_end - self.eps_start) * frac
        self.updates += 1
        return self.epsilon


class RefKLAdaptive:
    def __init__(self, T=float, eps0=0.2, kl_target=0.01, tolerance=1.5, rate=1.5, eps_min=0.02,
                 eps_max=0.5):  # fmt: skip
        self.T = T
        self.kl_target, self.tolerance, self.rate = T(kl_target), T(tolerance), T(rate)
        self.eps_min, self.eps_max = T(eps_min), T(eps_max)
        self.epsilon, self.updates, self.rejected_kl, self.last_kl = T(eps0), 0, 0, T(0.0)

    def update(self, kl):
        T = self.T
        if not _isfinite(kl):
            self.rejected_kl += 1
            return self.epsilon
        kl = T(kl)
        eps = self.epsilon
        if kl > self.kl_target * self.tolerance:
            eps = eps / self.rate
        elif kl < self.kl_target / self.tolerance:
            eps = eps * self.rate
        self.epsilon = min(max(eps, self.eps_min), self.eps_max)
        self.last_kl = kl
        self.updates += 1
        return self.epsilon


def ulp_distance32(a, b) -> int:
    """Distance in float32 units in the last place (0 for equal values; both finite)."""
    ia = int(np.array(a, dtype=np.float32).view(np.int32))
    ib = int(np.array(b, dtype=np.float32).view(np.int32))
    ia = ia if ia >= 0 else -(ia & 0x7FFFFFFF)
    ib = ib if ib >= 0 else -(ib & 0x7FFFFFFF)
    return abs(ia - ib)


def bits64(x) -> int:
    return struct.unpack("<q", struct.pack("<d", float(x)))[0]
