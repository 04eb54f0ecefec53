// The tanh of the PPO-BR update (controllers.cpp): one that every binding reproduces bit for bit.
//
// Why: the PPO-BR update calls tanh three times. std::tanh is the C library's, and C libraries
// differ (glibc even picks an FMA-compiled variant at run time on CPUs that have FMA; musl,
// macOS and MSVC have their own), so the core's epsilon is not the same on every platform, and
// no other binding can match it: XLA's tanh (the JAX adapter) differs from glibc's in ~58% of
// float64 arguments. This is fdlibm 5.3's tanh and expm1 (the algorithm glibc's dbl-64 code
// uses) written with +, -, *, / and exact bit manipulations only. Compiled with FP contraction
// off (controllers.cpp already has the pragma), it gives the same bits on every IEEE-754
// platform; ppobr_jax evaluates exactly these operations (adapters/ppobr_jax/_ieee.py), and
// tests/fdlibm.py transcribes them in Python for the oracle, tests/reference.py. Its error is
// <= 3 ulp from the true tanh (it equals glibc's generic, non-FMA build; it differs from glibc's
// FMA build in ~0.1% of arguments by 1-3 ulp), and it is monotone on every grid tested.
//
// Checked: g++ 12 and clang++ 14 at -O2 -march=native (FMA available) give fdlibm's bits on
// 80,000 arguments. (clang's -ffp-contract=fast disregards pragmas: do not build the core with it.)
#pragma once

#include <cstdint>
#include <cstring>

#if defined(__clang__)
#pragma float_control(push)
#pragma clang fp contract(off)
#elif defined(__GNUC__)
#pragma GCC push_options
#pragma GCC optimize("fp-contract=off")
#endif

namespace ppobr::detail {

inline std::int32_t hi_word(double x) noexcept {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return static_cast<std::int32_t>(b >> 32);
}

// k << 20 for any sign of k (a left shift of a negative int is undefined before C++20).
inline std::int32_t shl20(std::int32_t k) noexcept {
  return static_cast<std::int32_t>(static_cast<std::uint32_t>(k) << 20);
}

inline double with_hi_word(double x, std::int32_t hi) noexcept {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  b = (static_cast<std::uint64_t>(static_cast<std::uint32_t>(hi)) << 32) | (b & 0xffffffffu);
  std::memcpy(&x, &b, sizeof x);
  return x;
}

// fdlibm 5.3 s_expm1.c (Sun Microsystems, freely redistributable), restricted to the arguments
// portable_tanh passes (finite, |x| < 45): no overflow handling needed.
inline double portable_expm1(double x) noexcept {
  const double one = 1.0, tiny = 1.0e-300;
  const double ln2_hi = 6.93147180369123816490e-01, ln2_lo = 1.90821492927058770002e-10,
               invln2 = 1.44269504088896338700e+00;
  const double Q1 = -3.33333333333331316428e-02, Q2 = 1.58730158725481460165e-03,
               Q3 = -7.93650757867487942473e-05, Q4 = 4.00821782732936239552e-06,
               Q5 = -2.01099218183624371326e-07;
  double y, hi, lo, c = 0.0, t, e, hxs, hfx, r1;
  std::int32_t k;
  std::uint32_t hx = static_cast<std::uint32_t>(hi_word(x));
  const std::uint32_t xsb = hx & 0x80000000u;
  hx &= 0x7fffffffu;
  if (hx >= 0x4043687Au && xsb != 0) return tiny - one;  // x < -56 ln2: -1
  if (hx > 0x3fd62e42u) {                                // |x| > 0.5 ln2
    if (hx < 0x3FF0A2B2u) {                              // and |x| < 1.5 ln2
      if (xsb == 0) {
        hi = x - ln2_hi;
        lo = ln2_lo;
        k = 1;
      } else {
        hi = x + ln2_hi;
        lo = -ln2_lo;
        k = -1;
      }
    } else {
      k = static_cast<std::int32_t>(invln2 * x + ((xsb == 0) ? 0.5 : -0.5));
      t = k;
      hi = x - t * ln2_hi;  // exact
      lo = t * ln2_lo;
    }
    x = hi - lo;
    c = (hi - x) - lo;
  } else if (hx < 0x3c900000u) {  // |x| < 2**-54
    return x;
  } else {
    k = 0;
  }
  hfx = 0.5 * x;
  hxs = x * hfx;
  r1 = one + hxs * (Q1 + hxs * (Q2 + hxs * (Q3 + hxs * (Q4 + hxs * Q5))));
  t = 3.0 - r1 * hfx;
  e = hxs * ((r1 - t) / (6.0 - x * t));
  if (k == 0) return x - (x * e - hxs);
  e = (x * (e - c) - c);
  e -= hxs;
  if (k == -1) return 0.5 * (x - e) - 0.5;
  if (k == 1) {
    if (x < -0.25) return -2.0 * (e - (x + 0.5));
    return one + 2.0 * (x - e);
  }
  if (k <= -2 || k > 56) {
    y = one - (e - x);
    y = with_hi_word(y, hi_word(y) + shl20(k));
    return y - one;
  }
  if (k < 20) {
    t = with_hi_word(0.0, 0x3ff00000 - (0x200000 >> k));  // 1 - 2**-k
    y = t - (e - x);
    y = with_hi_word(y, hi_word(y) + shl20(k));
  } else {
    t = with_hi_word(0.0, shl20(0x3ff - k));  // 2**-k
    y = x - (e + t);
    y += one;
    y = with_hi_word(y, hi_word(y) + shl20(k));
  }
  return y;
}

// fdlibm 5.3 s_tanh.c.
inline double portable_tanh(double x) noexcept {
  const double one = 1.0, two = 2.0, tiny = 1.0e-300;
  const std::int32_t jx = hi_word(x);
  const std::int32_t ix = jx & 0x7fffffff;
  double t, z;
  if (ix >= 0x7ff00000) return jx >= 0 ? one / x + one : one / x - one;  // +-inf -> +-1, NaN
  if (ix < 0x40360000) {                                                 // |x| < 22
    if (ix < 0x3c800000) return x * (one + x);                           // |x| < 2**-55
    if (ix >= 0x3ff00000) {                                              // |x| >= 1
      t = portable_expm1(two * (x < 0 ? -x : x));
      z = one - two / (t + two);
    } else {
      t = portable_expm1(-two * (x < 0 ? -x : x));
      z = -t / (t + two);
    }
  } else {
    z = one - tiny;
  }
  return jx >= 0 ? z : -z;
}

}  // namespace ppobr::detail

#if defined(__clang__)
#pragma float_control(pop)
#elif defined(__GNUC__)
#pragma GCC pop_options
#endif
