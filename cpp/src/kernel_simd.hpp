// Private: the SIMD operation sets the kernels are written against.
//
// A kernel body (kernel_exp.hpp, kernel_surrogate.hpp, kernel_categorical.hpp) is written once
// against `Ops<T>` and compiled once per instruction set (see kernel_dispatch.hpp):
//
//   simd_scalar::Ops<T>  one lane; plain C++ (any compiler, any CPU)
//   simd_vec::Ops<T>     GCC/Clang vector extensions, 16-byte vectors (SSE2 on x86-64, NEON on
//                        AArch64); the portable fallback
//   simd_avx2::Ops<T>    AVX2 + FMA intrinsics, 32-byte vectors; every function carries
//                        target("avx2,fma") and is only ever called from code compiled for
//                        that target, after a runtime CPU check
//
// Interface of Ops<T> (all static, force-inlined):
//   V (value vector), M (comparison mask), C (lane counters), L (lanes)
//   load/store (unaligned), set1, zero, add/sub/mul, fma(a, b, c) = a*b + c,
//   min(a, b) / max(a, b)  (b when a is NaN, like x86 minps),
//   lt/le/gt/ge/eq -> M (ordered: false for NaN), mand, mor, mandnot(a, b) = !a & b,
//   select(m, a, b) = m ? a : b (also on masks), keep(m, v) = m ? v : 0, drop(m, v) = m ? 0 : v,
//   pos(a) = a > 0, neg(a) = a < 0 (integer compares on the bits: exact for non-NaN a, -0 is
//   neither), kzero(t) = (t == magic bit for bit, i.e. k == 0 in the exp),
//   any(m), count(c, m) = c + m (per lane), cadd(c1, c2), count_sum(c) (lanes summed, int64),
//   first(k) = mask of lanes [0, k), load_first(p, k, fill) = p[0, k) then fill (reads only
//   p[0, k)),
//   exp helpers: scale_fast(r0, t) = r0 * 4^k and scale_safe(r0, t) = (r0 * 2^k) * 2^k for
//   t = magic + k (kernel_exp.hpp),
//   acc4(v, double a[4]): a += lanes of v (fixed order), hmin/hmax,
//   D (double lanes, kept in registers): dzero(), dadd2(a, b, v) (float: a += low half of v,
//   b += high half; double: a += v), dsum(d) (lanes summed in a fixed order).
#pragma once

#include <cstdint>
#include <cstring>
#include <limits>
#include <type_traits>

// PPOBR_NO_VECTOR_EXT (compile definition) builds the one-lane fallback even on GCC/Clang: the
// configuration other compilers get; used to test it.
#if (defined(__GNUC__) || defined(__clang__)) && !defined(PPOBR_NO_VECTOR_EXT)
#define PPOBR_HAVE_VECTOR_EXT 1
#define PPOBR_INLINE inline __attribute__((always_inline))
#define PPOBR_LAMBDA_INLINE __attribute__((always_inline))
#define PPOBR_NOINLINE __attribute__((noinline))
#define PPOBR_PREFETCH(p) __builtin_prefetch((p), 0, 3)
#define PPOBR_PREFETCHW(p) __builtin_prefetch((p), 1, 3)
#if defined(__clang__)
#define PPOBR_UNROLL _Pragma("unroll")
#else
#define PPOBR_UNROLL _Pragma("GCC unroll 8")
#endif
#else
#define PPOBR_HAVE_VECTOR_EXT 0
#define PPOBR_INLINE inline
#define PPOBR_LAMBDA_INLINE
#define PPOBR_NOINLINE
#define PPOBR_PREFETCH(p) ((void)(p))
#define PPOBR_PREFETCHW(p) ((void)(p))
#define PPOBR_UNROLL
#endif

#if PPOBR_HAVE_VECTOR_EXT && (defined(__x86_64__) || defined(__i386__))
#define PPOBR_HAVE_AVX2_CLONE 1
#include <immintrin.h>
#else
#define PPOBR_HAVE_AVX2_CLONE 0
#endif

namespace ppobr::detail {

// Variants of the exp (kernel_exp.hpp), all giving the same bits wherever they are valid:
//   kExpK0:   |x| <= k0_max only (k == 0: no range reduction, no scaling)
//   kExpFast: fast_min <= x <= fast_max (one exponent add)
//   kExpSafe: any x (clamped; overflow to +inf, gradual underflow to 0)
enum ExpMode : int { kExpK0 = 0, kExpFast = 1, kExpSafe = 2 };

// Constants of the exp approximation, per precision.
//   exp(x) = 4^k p(f),  k = round(x / (2 ln2)),  f = x - k 2ln2 (two-step Cody-Waite),
//   p(f) = 1 + f + f^2 q(f), q a near-minimax polynomial for (e^f - 1 - f) / f^2 on
//   [-ln2, ln2] (Chebyshev fit; relative error of p: 3.4e-9 for float, 7e-17 for double).
// Reducing by 2 ln2 rather than ln2 costs two more polynomial terms but makes k == 0 (no
// reduction, no scaling: the cheap kExpK0 variant) cover |x| < ln2, i.e. ratios in
// [0.5, 2]: nearly every sample of a PPO batch.
template <class T>
struct ExpConsts;
template <>
struct ExpConsts<float> {
  static constexpr float log2e_half = 0.721347520444481703680f;  // 1 / (2 ln2)
  static constexpr float magic = 12582912.0f;                    // 1.5 * 2^23: rounds to an integer
  static constexpr float ln2x2_hi = 1.38671875f;  // 2 ln2, 9 significant bits: k*hi exact
  static constexpr float ln2x2_lo = -4.24388880e-4f;
  static constexpr int kMantBits = 23;
  static constexpr int kBias = 127;
  static constexpr float k0_max = 0.69f;  // |x| / (2 ln2) < 0.5 there: k == 0
  // fast path (one exponent add of 2k, normal result) valid for k in [-62, 63]
  static constexpr float fast_min = -86.5f;
  static constexpr float fast_max = 88.0f;
  // safe path clamps x here: exp(-104) < denorm_min / 2 -> 0; exp(89) > FLT_MAX -> inf
  static constexpr float clamp_min = -104.0f;
  static constexpr float clamp_max = 89.0f;
  static constexpr int kDeg = 6;
  static constexpr float q[kDeg + 1] = {0.00002503434449348616742f,
                                        0.0002007423909655168945f,
                                        0.001388832898151127218f,
                                        0.008332772763303949854f,
                                        0.04166667003080942848f,
                                        0.1666667003509608836f,
                                        0.5f};
};
template <>
struct ExpConsts<double> {
  static constexpr double log2e_half = 0.72134752044448170368;
  static constexpr double magic = 6755399441055744.0;  // 1.5 * 2^52
  // 2 ln2 split like fdlibm's ln2 (32 significant bits in hi: k*hi exact)
  static constexpr double ln2x2_hi = 1.38629436073824763298;
  static constexpr double ln2x2_lo = 3.81642985854117540004e-10;
  static constexpr int kMantBits = 52;
  static constexpr int kBias = 1023;
  static constexpr double k0_max = 0.69;
  // fast path valid for k in [-510, 511]
  static constexpr double fast_min = -707.0;
  static constexpr double fast_max = 708.0;
  static constexpr double clamp_min = -746.0;
  static constexpr double clamp_max = 710.0;
  static constexpr int kDeg = 11;
  static constexpr double q[kDeg + 1] = {
      1.616963275179423687269907e-10, 2.104271368161005116533938e-9, 2.505151000145646921157365e-8,
      2.755642112324887118863492e-7,  2.755732071545041719078661e-6, 2.480158954024148535397306e-5,
      1.984126983958991947234919e-4,  1.388888888636727659320305e-3, 8.333333333334025241155805e-3,
      4.166666666667705258289622e-2,  1.666666666666666620494813e-1, 4.999999999999999306932872e-1};
};

template <class T>
struct IntOf;
template <>
struct IntOf<float> {
  using type = std::int32_t;
};
template <>
struct IntOf<double> {
  using type = std::int64_t;
};

// ---------------------------------------------------------------------------------------------
namespace simd_scalar {

template <class T>
struct Ops {
  using V = T;
  using M = bool;
  using I = typename IntOf<T>::type;
  using C = std::int64_t;
  static constexpr int L = 1;

  static PPOBR_INLINE V load(const T* p) { return *p; }
  static PPOBR_INLINE M first(int k) { return k > 0; }
  static PPOBR_INLINE V load_first(const T* p, int k, T fill) { return k > 0 ? *p : fill; }
  static PPOBR_INLINE void store(T* p, V v) { *p = v; }
  static PPOBR_INLINE V set1(T x) { return x; }
  static PPOBR_INLINE V zero() { return T(0); }
  static PPOBR_INLINE V fma(V a, V b, V c) { return a * b + c; }
  static PPOBR_INLINE V min(V a, V b) { return a < b ? a : b; }
  static PPOBR_INLINE V max(V a, V b) { return a > b ? a : b; }
  static PPOBR_INLINE M lt(V a, V b) { return a < b; }
  static PPOBR_INLINE M le(V a, V b) { return a <= b; }
  static PPOBR_INLINE M gt(V a, V b) { return a > b; }
  static PPOBR_INLINE M ge(V a, V b) { return a >= b; }
  static PPOBR_INLINE M eq(V a, V b) { return a == b; }
  static PPOBR_INLINE M pos(V a) { return a > T(0); }
  static PPOBR_INLINE M neg(V a) { return a < T(0); }
  static PPOBR_INLINE M kzero(V t) { return t == ExpConsts<T>::magic; }
  static PPOBR_INLINE M mand(M a, M b) { return a && b; }
  static PPOBR_INLINE M mor(M a, M b) { return a || b; }
  static PPOBR_INLINE M mandnot(M a, M b) { return !a && b; }
  static PPOBR_INLINE V select(M m, V a, V b) { return m ? a : b; }
  static PPOBR_INLINE M mselect(M m, M a, M b) { return m ? a : b; }
  static PPOBR_INLINE V keep(M m, V v) { return m ? v : T(0); }
  static PPOBR_INLINE V drop(M m, V v) { return m ? T(0) : v; }
  static PPOBR_INLINE bool any(M m) { return m; }
  static PPOBR_INLINE C czero() { return 0; }
  static PPOBR_INLINE C count(C c, M m) { return c + (m ? 1 : 0); }
  static PPOBR_INLINE C cadd(C a, C b) { return a + b; }
  static PPOBR_INLINE std::int64_t count_sum(C c) { return c; }

  static PPOBR_INLINE I bits(V v) {
    I i;
    std::memcpy(&i, &v, sizeof i);
    return i;
  }
  static PPOBR_INLINE V from_bits(I i) {
    V v;
    std::memcpy(&v, &i, sizeof v);
    return v;
  }
  // t = magic + k (k an integer): r0 * 4^k by adding 2k to the exponent field (the low bits of
  // magic are 0, so the shift leaves exactly 2k << mant)
  static PPOBR_INLINE V scale_fast(V r0, V t) {
    using U = std::make_unsigned_t<I>;
    U k = static_cast<U>(bits(t)) << (ExpConsts<T>::kMantBits + 1);
    return from_bits(static_cast<I>(static_cast<U>(bits(r0)) + k));
  }
  // the same in two normal steps (r0 * 2^k) * 2^k: gradual underflow / overflow to inf
  static PPOBR_INLINE V scale_safe(V r0, V t) {
    using U = std::make_unsigned_t<I>;
    const I k = bits(t) - bits(V(ExpConsts<T>::magic));
    const V s = from_bits(
        static_cast<I>(static_cast<U>(k + ExpConsts<T>::kBias) << ExpConsts<T>::kMantBits));
    return (r0 * s) * s;
  }
  static PPOBR_INLINE void acc4(V v, double* a) { a[0] += static_cast<double>(v); }
  using D = double;
  static PPOBR_INLINE D dzero() { return 0.0; }
  static PPOBR_INLINE void dadd2(D& a, D& /*b*/, V v) { a += static_cast<double>(v); }
  static PPOBR_INLINE double dsum(D d) { return d; }
  static PPOBR_INLINE T hmin(V v) { return v; }
  static PPOBR_INLINE T hmax(V v) { return v; }
};

}  // namespace simd_scalar

#if PPOBR_HAVE_VECTOR_EXT
// ---------------------------------------------------------------------------------------------
namespace simd_vec {

typedef float vf4 __attribute__((vector_size(16)));
typedef std::int32_t vi4 __attribute__((vector_size(16)));
typedef double vd2 __attribute__((vector_size(16)));
typedef std::int64_t vl2 __attribute__((vector_size(16)));
typedef double vd4 __attribute__((vector_size(32)));

template <class T>
struct VecOf;
template <>
struct VecOf<float> {
  using V = vf4;
  using I = vi4;
};
template <>
struct VecOf<double> {
  using V = vd2;
  using I = vl2;
};

template <class T>
struct Ops {
  using V = typename VecOf<T>::V;
  using I = typename VecOf<T>::I;
  using M = I;  // lanes all-ones / all-zeros
  using C = I;
  using S = typename IntOf<T>::type;
  static constexpr int L = static_cast<int>(16 / sizeof(T));

  static PPOBR_INLINE V load(const T* p) {
    V v;
    std::memcpy(&v, p, sizeof v);
    return v;
  }
  static PPOBR_INLINE M first(int k) {
    M m;
    for (int i = 0; i < L; ++i) m[i] = i < k ? -1 : 0;
    return m;
  }
  static PPOBR_INLINE V load_first(const T* p, int k, T fill) {
    V v = set1(fill);
    for (int i = 0; i < k; ++i) v[i] = p[i];
    return v;
  }
  static PPOBR_INLINE void store(T* p, V v) { std::memcpy(p, &v, sizeof v); }
  static PPOBR_INLINE V set1(T x) { return V{} + x; }
  static PPOBR_INLINE V zero() { return V{}; }
  static PPOBR_INLINE V fma(V a, V b, V c) { return a * b + c; }
  static PPOBR_INLINE V select(M m, V a, V b) { return (V)((m & (I)a) | (~m & (I)b)); }
  static PPOBR_INLINE M mselect(M m, M a, M b) { return (m & a) | (~m & b); }
  static PPOBR_INLINE V min(V a, V b) { return select(a < b, a, b); }
  static PPOBR_INLINE V max(V a, V b) { return select(a > b, a, b); }
  static PPOBR_INLINE M lt(V a, V b) { return (M)(a < b); }
  static PPOBR_INLINE M le(V a, V b) { return (M)(a <= b); }
  static PPOBR_INLINE M gt(V a, V b) { return (M)(a > b); }
  static PPOBR_INLINE M ge(V a, V b) { return (M)(a >= b); }
  static PPOBR_INLINE M eq(V a, V b) { return (M)(a == b); }
  static PPOBR_INLINE M pos(V a) { return (M)((I)a > 0); }
  static PPOBR_INLINE M neg(V a) { return (M)((I)(-a) > 0); }
  static PPOBR_INLINE M kzero(V t) { return (M)((I)t == (I)set1(ExpConsts<T>::magic)); }
  static PPOBR_INLINE M mand(M a, M b) { return a & b; }
  static PPOBR_INLINE M mor(M a, M b) { return a | b; }
  static PPOBR_INLINE M mandnot(M a, M b) { return ~a & b; }
  static PPOBR_INLINE V keep(M m, V v) { return (V)(m & (I)v); }
  static PPOBR_INLINE V drop(M m, V v) { return (V)(~m & (I)v); }
  static PPOBR_INLINE bool any(M m) {
    S acc = 0;
    for (int i = 0; i < L; ++i) acc |= m[i];
    return acc != 0;
  }
  static PPOBR_INLINE C czero() { return C{}; }
  static PPOBR_INLINE C count(C c, M m) { return c - m; }
  static PPOBR_INLINE C cadd(C a, C b) { return a + b; }
  static PPOBR_INLINE std::int64_t count_sum(C c) {
    std::int64_t s = 0;
    for (int i = 0; i < L; ++i) s += c[i];
    return s;
  }
  static PPOBR_INLINE V scale_fast(V r0, V t) {
    return (V)((I)r0 + ((I)t << (ExpConsts<T>::kMantBits + 1)));
  }
  static PPOBR_INLINE V scale_safe(V r0, V t) {
    const I k = (I)t - (I)set1(ExpConsts<T>::magic);
    const V s = (V)((k + ExpConsts<T>::kBias) << ExpConsts<T>::kMantBits);
    return (r0 * s) * s;
  }
  static PPOBR_INLINE void acc4(V v, double* a) {
    if constexpr (L == 4) {
      vd4 d = __builtin_convertvector(v, vd4);
      vd4 x;
      std::memcpy(&x, a, sizeof x);
      x += d;
      std::memcpy(a, &x, sizeof x);
    } else {
      a[0] += v[0];
      a[1] += v[1];
    }
  }
  using D = vd2;
  static PPOBR_INLINE D dzero() { return D{}; }
  static PPOBR_INLINE void dadd2(D& a, D& b, V v) {
    if constexpr (L == 4) {
      a += D{static_cast<double>(v[0]), static_cast<double>(v[1])};
      b += D{static_cast<double>(v[2]), static_cast<double>(v[3])};
    } else {
      a += (D)v;
    }
  }
  static PPOBR_INLINE double dsum(D d) { return d[0] + d[1]; }
  static PPOBR_INLINE T hmin(V v) {
    T m = v[0];
    for (int i = 1; i < L; ++i) m = v[i] < m ? v[i] : m;
    return m;
  }
  static PPOBR_INLINE T hmax(V v) {
    T m = v[0];
    for (int i = 1; i < L; ++i) m = v[i] > m ? v[i] : m;
    return m;
  }
};

}  // namespace simd_vec
#endif  // PPOBR_HAVE_VECTOR_EXT

#if PPOBR_HAVE_AVX2_CLONE
// ---------------------------------------------------------------------------------------------
namespace simd_avx2 {

#define PPOBR_AVX2 static inline __attribute__((always_inline, target("avx2,fma")))

template <class T>
struct Ops;

template <>
struct Ops<float> {
  using T = float;
  using V = __m256;
  using M = __m256;
  using C = __m256i;
  static constexpr int L = 8;

  PPOBR_AVX2 V load(const T* p) { return _mm256_loadu_ps(p); }
  PPOBR_AVX2 M first(int k) {
    return _mm256_castsi256_ps(
        _mm256_cmpgt_epi32(_mm256_set1_epi32(k), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
  }
  PPOBR_AVX2 V load_first(const T* p, int k, T fill) {
    const M m = first(k);
    return _mm256_blendv_ps(_mm256_set1_ps(fill), _mm256_maskload_ps(p, _mm256_castps_si256(m)), m);
  }
  PPOBR_AVX2 void store(T* p, V v) { _mm256_storeu_ps(p, v); }
  PPOBR_AVX2 V set1(T x) { return _mm256_set1_ps(x); }
  PPOBR_AVX2 V zero() { return _mm256_setzero_ps(); }
  PPOBR_AVX2 V fma(V a, V b, V c) { return _mm256_fmadd_ps(a, b, c); }
  PPOBR_AVX2 V min(V a, V b) { return _mm256_min_ps(a, b); }
  PPOBR_AVX2 V max(V a, V b) { return _mm256_max_ps(a, b); }
  PPOBR_AVX2 M lt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LT_OQ); }
  PPOBR_AVX2 M le(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_LE_OQ); }
  PPOBR_AVX2 M gt(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GT_OQ); }
  PPOBR_AVX2 M ge(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_GE_OQ); }
  PPOBR_AVX2 M eq(V a, V b) { return _mm256_cmp_ps(a, b, _CMP_EQ_OQ); }
  PPOBR_AVX2 M pos(V a) {
    return _mm256_castsi256_ps(_mm256_cmpgt_epi32(_mm256_castps_si256(a), _mm256_setzero_si256()));
  }
  PPOBR_AVX2 M neg(V a) {
    const __m256i s = _mm256_set1_epi32(static_cast<int>(0x80000000u));
    return _mm256_castsi256_ps(
        _mm256_cmpgt_epi32(_mm256_xor_si256(_mm256_castps_si256(a), s), _mm256_setzero_si256()));
  }
  PPOBR_AVX2 M kzero(V t) {
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(
        _mm256_castps_si256(t), _mm256_castps_si256(_mm256_set1_ps(ExpConsts<float>::magic))));
  }
  PPOBR_AVX2 M mand(M a, M b) { return _mm256_and_ps(a, b); }
  PPOBR_AVX2 M mor(M a, M b) { return _mm256_or_ps(a, b); }
  PPOBR_AVX2 M mandnot(M a, M b) { return _mm256_andnot_ps(a, b); }
  PPOBR_AVX2 V select(M m, V a, V b) { return _mm256_blendv_ps(b, a, m); }
  PPOBR_AVX2 M mselect(M m, M a, M b) { return _mm256_blendv_ps(b, a, m); }
  PPOBR_AVX2 V keep(M m, V v) { return _mm256_and_ps(m, v); }
  PPOBR_AVX2 V drop(M m, V v) { return _mm256_andnot_ps(m, v); }
  PPOBR_AVX2 bool any(M m) { return _mm256_movemask_ps(m) != 0; }
  PPOBR_AVX2 C czero() { return _mm256_setzero_si256(); }
  PPOBR_AVX2 C count(C c, M m) { return _mm256_sub_epi32(c, _mm256_castps_si256(m)); }
  PPOBR_AVX2 C cadd(C a, C b) { return _mm256_add_epi32(a, b); }
  PPOBR_AVX2 std::int64_t count_sum(C c) {
    alignas(32) std::int32_t t[8];
    _mm256_store_si256(reinterpret_cast<__m256i*>(t), c);
    std::int64_t s = 0;
    for (int i = 0; i < 8; ++i) s += t[i];
    return s;
  }
  PPOBR_AVX2 V scale_fast(V r0, V t) {
    __m256i k = _mm256_slli_epi32(_mm256_castps_si256(t), 24);  // 2k << 23
    return _mm256_castsi256_ps(_mm256_add_epi32(_mm256_castps_si256(r0), k));
  }
  PPOBR_AVX2 V scale_safe(V r0, V t) {
    __m256i k = _mm256_sub_epi32(_mm256_castps_si256(t),
                                 _mm256_castps_si256(_mm256_set1_ps(ExpConsts<float>::magic)));
    V s = _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(k, _mm256_set1_epi32(127)), 23));
    return _mm256_mul_ps(_mm256_mul_ps(r0, s), s);
  }
  using D = __m256d;
  PPOBR_AVX2 D dzero() { return _mm256_setzero_pd(); }
  PPOBR_AVX2 void dadd2(D& a, D& b, V v) {
    a = _mm256_add_pd(a, _mm256_cvtps_pd(_mm256_castps256_ps128(v)));
    b = _mm256_add_pd(b, _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1)));
  }
  PPOBR_AVX2 double dsum(D d) {
    alignas(32) double t[4];
    _mm256_store_pd(t, d);
    return (t[0] + t[1]) + (t[2] + t[3]);
  }
  PPOBR_AVX2 void acc4(V v, double* a) {
    __m256d lo = _mm256_cvtps_pd(_mm256_castps256_ps128(v));
    __m256d hi = _mm256_cvtps_pd(_mm256_extractf128_ps(v, 1));
    __m256d x = _mm256_loadu_pd(a);
    _mm256_storeu_pd(a, _mm256_add_pd(_mm256_add_pd(x, lo), hi));
  }
  PPOBR_AVX2 T hmin(V v) {
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
  }
  PPOBR_AVX2 T hmax(V v) {
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
  }
};

template <>
struct Ops<double> {
  using T = double;
  using V = __m256d;
  using M = __m256d;
  using C = __m256i;
  static constexpr int L = 4;

  PPOBR_AVX2 V load(const T* p) { return _mm256_loadu_pd(p); }
  PPOBR_AVX2 M first(int k) {
    return _mm256_castsi256_pd(
        _mm256_cmpgt_epi64(_mm256_set1_epi64x(k), _mm256_setr_epi64x(0, 1, 2, 3)));
  }
  PPOBR_AVX2 V load_first(const T* p, int k, T fill) {
    const M m = first(k);
    return _mm256_blendv_pd(_mm256_set1_pd(fill), _mm256_maskload_pd(p, _mm256_castpd_si256(m)), m);
  }
  PPOBR_AVX2 void store(T* p, V v) { _mm256_storeu_pd(p, v); }
  PPOBR_AVX2 V set1(T x) { return _mm256_set1_pd(x); }
  PPOBR_AVX2 V zero() { return _mm256_setzero_pd(); }
  PPOBR_AVX2 V fma(V a, V b, V c) { return _mm256_fmadd_pd(a, b, c); }
  PPOBR_AVX2 V min(V a, V b) { return _mm256_min_pd(a, b); }
  PPOBR_AVX2 V max(V a, V b) { return _mm256_max_pd(a, b); }
  PPOBR_AVX2 M lt(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_LT_OQ); }
  PPOBR_AVX2 M le(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_LE_OQ); }
  PPOBR_AVX2 M gt(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_GT_OQ); }
  PPOBR_AVX2 M ge(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_GE_OQ); }
  PPOBR_AVX2 M eq(V a, V b) { return _mm256_cmp_pd(a, b, _CMP_EQ_OQ); }
  PPOBR_AVX2 M pos(V a) {
    return _mm256_castsi256_pd(_mm256_cmpgt_epi64(_mm256_castpd_si256(a), _mm256_setzero_si256()));
  }
  PPOBR_AVX2 M neg(V a) {
    const __m256i s = _mm256_set1_epi64x(static_cast<long long>(0x8000000000000000ull));
    return _mm256_castsi256_pd(
        _mm256_cmpgt_epi64(_mm256_xor_si256(_mm256_castpd_si256(a), s), _mm256_setzero_si256()));
  }
  PPOBR_AVX2 M kzero(V t) {
    return _mm256_castsi256_pd(_mm256_cmpeq_epi64(
        _mm256_castpd_si256(t), _mm256_castpd_si256(_mm256_set1_pd(ExpConsts<double>::magic))));
  }
  PPOBR_AVX2 M mand(M a, M b) { return _mm256_and_pd(a, b); }
  PPOBR_AVX2 M mor(M a, M b) { return _mm256_or_pd(a, b); }
  PPOBR_AVX2 M mandnot(M a, M b) { return _mm256_andnot_pd(a, b); }
  PPOBR_AVX2 V select(M m, V a, V b) { return _mm256_blendv_pd(b, a, m); }
  PPOBR_AVX2 M mselect(M m, M a, M b) { return _mm256_blendv_pd(b, a, m); }
  PPOBR_AVX2 V keep(M m, V v) { return _mm256_and_pd(m, v); }
  PPOBR_AVX2 V drop(M m, V v) { return _mm256_andnot_pd(m, v); }
  PPOBR_AVX2 bool any(M m) { return _mm256_movemask_pd(m) != 0; }
  PPOBR_AVX2 C czero() { return _mm256_setzero_si256(); }
  PPOBR_AVX2 C count(C c, M m) { return _mm256_sub_epi64(c, _mm256_castpd_si256(m)); }
  PPOBR_AVX2 C cadd(C a, C b) { return _mm256_add_epi64(a, b); }
  PPOBR_AVX2 std::int64_t count_sum(C c) {
    alignas(32) std::int64_t t[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(t), c);
    return t[0] + t[1] + t[2] + t[3];
  }
  PPOBR_AVX2 V scale_fast(V r0, V t) {
    __m256i k = _mm256_slli_epi64(_mm256_castpd_si256(t), 53);  // 2k << 52
    return _mm256_castsi256_pd(_mm256_add_epi64(_mm256_castpd_si256(r0), k));
  }
  PPOBR_AVX2 V scale_safe(V r0, V t) {
    __m256i k = _mm256_sub_epi64(_mm256_castpd_si256(t),
                                 _mm256_castpd_si256(_mm256_set1_pd(ExpConsts<double>::magic)));
    V s = _mm256_castsi256_pd(_mm256_slli_epi64(_mm256_add_epi64(k, _mm256_set1_epi64x(1023)), 52));
    return _mm256_mul_pd(_mm256_mul_pd(r0, s), s);
  }
  PPOBR_AVX2 void acc4(V v, double* a) {
    _mm256_storeu_pd(a, _mm256_add_pd(_mm256_loadu_pd(a), v));
  }
  using D = __m256d;
  PPOBR_AVX2 D dzero() { return _mm256_setzero_pd(); }
  PPOBR_AVX2 void dadd2(D& a, D& /*b*/, V v) { a = _mm256_add_pd(a, v); }
  PPOBR_AVX2 double dsum(D d) {
    alignas(32) double t[4];
    _mm256_store_pd(t, d);
    return (t[0] + t[1]) + (t[2] + t[3]);
  }
  PPOBR_AVX2 T hmin(V v) {
    __m128d m = _mm_min_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    m = _mm_min_sd(m, _mm_unpackhi_pd(m, m));
    return _mm_cvtsd_f64(m);
  }
  PPOBR_AVX2 T hmax(V v) {
    __m128d m = _mm_max_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    m = _mm_max_sd(m, _mm_unpackhi_pd(m, m));
    return _mm_cvtsd_f64(m);
  }
};

#undef PPOBR_AVX2

}  // namespace simd_avx2
#endif  // PPOBR_HAVE_AVX2_CLONE

}  // namespace ppobr::detail
