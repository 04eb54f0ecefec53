// Private: the vectorised exp of the kernels.
//
// NOTE: deliberately no include guard. This file is included once per instruction set, inside
// that ISA's namespace and compile-target region (see kernel_dispatch.hpp); the enclosing
// namespace must define `template <class T> using Ops = ...;` (kernel_simd.hpp) and the
// standard headers it uses must already be included.
//
// exp(x) = 4^k p(f), k = round(x / (2 ln2)) (via the 1.5*2^mant "magic" add, round-to-nearest),
// f = x - k 2ln2 (Cody-Waite, two FMA steps), |f| <= ln2, p(f) = 1 + f + f^2 q(f) (ExpConsts).
// Accuracy against std::exp (tests check <= 2 ulp; measured max ~1.05 ulp for float, ~1 ulp for
// double, mean 0.27 / 0.1 ulp) over the normal range; subnormal results within one subnormal
// step; overflow -> +inf, underflow -> 0.
//
// Mode (ExpMode, kernel_simd.hpp), all bit-identical wherever valid:
//   kExpK0:   |x| <= k0_max: k == 0, so f == x and r == p(x) (no reduction, no scaling).
//   kExpFast: one exponent add; valid for fast_min <= x <= fast_max (normal results).
//   kExpSafe: clamps x to [clamp_min, clamp_max] and scales by 2^k1 * 2^k2: gives +inf
//             above the range, gradual underflow and 0 below it.
// Besides r = exp(x) it returns the pieces the surrogate uses for an accurate
// k3 = (r - 1) - x: when k == 0, f == x exactly and (r - 1) - x == f^2 q(f) = `f2q`.

// The exp in two stages, so that loops can software-pipeline it (stage 1 of vector j + 1 is
// issued next to stage 2 of vector j: the out-of-order window then holds fewer waiting ops).
template <class T>
struct ExpStage {
  typename Ops<T>::V t;  // magic + k
  typename Ops<T>::V f;  // reduced argument
};

// stage 1: range reduction
template <class T, int kMode>
PPOBR_INLINE ExpStage<T> exp_reduce(typename Ops<T>::V x) {
  using O = Ops<T>;
  using K = ExpConsts<T>;
  ExpStage<T> s;
  if constexpr (kMode == kExpK0) {
    s.t = O::set1(K::magic);
    s.f = x;
    return s;
  }
  if constexpr (kMode == kExpSafe) {
    x = O::min(O::max(x, O::set1(K::clamp_min)), O::set1(K::clamp_max));
  }
  s.t = O::fma(x, O::set1(K::log2e_half), O::set1(K::magic));
  const typename O::V kf = s.t - O::set1(K::magic);
  s.f = O::fma(kf, O::set1(-K::ln2x2_lo), O::fma(kf, O::set1(-K::ln2x2_hi), x));
  return s;
}

// stage 2: r = 2^k p(f); also f2q = f^2 q(f) and kzero = (k == 0) for the k3 statistic.
// q by Estrin's scheme (shorter dependency chain than Horner).
template <class T, int kMode>
PPOBR_INLINE typename Ops<T>::V exp_finish(const ExpStage<T>& s, typename Ops<T>::V& f2q,
                                           typename Ops<T>::M& kzero) {
  using O = Ops<T>;
  using K = ExpConsts<T>;
  using V = typename O::V;
  const V f = s.f;
  const V f2 = f * f;
  // q(f) = sum_i q[i] f^(kDeg - i): pairs P_j = q[kDeg-2j-1] f + q[kDeg-2j] (in parallel), then
  // Horner in f^2 over the pairs (a shorter dependency chain than plain Horner)
  constexpr int N = K::kDeg;
  constexpr int kPairs = (N + 1) / 2;
  V pr[kPairs];
  PPOBR_UNROLL for (int j = 0; j < kPairs; ++j) {
    pr[j] = O::fma(O::set1(K::q[N - 2 * j - 1]), f, O::set1(K::q[N - 2 * j]));
  }
  V q;
  if constexpr (N % 2 == 0) {
    q = O::fma(O::set1(K::q[0]), f2, pr[kPairs - 1]);  // the lone top coefficient
  } else {
    q = pr[kPairs - 1];
  }
  PPOBR_UNROLL for (int j = kPairs - 2; j >= 0; --j) q = O::fma(q, f2, pr[j]);
  f2q = f2 * q;
  const V r0 = O::set1(T(1)) + O::fma(f2, q, f);
  if constexpr (kMode == kExpK0) {
    kzero = O::eq(f, f);  // all lanes (f is finite here)
    return r0;
  } else if constexpr (kMode == kExpSafe) {
    kzero = O::kzero(s.t);
    return O::scale_safe(r0, s.t);
  } else {
    kzero = O::kzero(s.t);
    return O::scale_fast(r0, s.t);
  }
}

template <class T, int kMode>
PPOBR_INLINE typename Ops<T>::V vexp(typename Ops<T>::V x) {
  typename Ops<T>::V f2q;
  typename Ops<T>::M kz;
  return exp_finish<T, kMode>(exp_reduce<T, kMode>(x), f2q, kz);
}

// y[i] = exp(x[i]) for any n (the tail goes through a padded buffer, same code path).
template <class T, int kMode>
void exp_array_impl(const T* x, T* y, std::int64_t n) {
  using O = Ops<T>;
  constexpr int L = O::L;
  std::int64_t i = 0;
  for (; i + L <= n; i += L) O::store(y + i, vexp<T, kMode>(O::load(x + i)));
  if (i < n) {
    T bx[L] = {}, by[L];
    for (std::int64_t j = i; j < n; ++j) bx[j - i] = x[j];
    O::store(by, vexp<T, kMode>(O::load(bx)));
    for (std::int64_t j = i; j < n; ++j) y[j] = by[j - i];
  }
}

// exp of one value through the vector code (the same bits as a lane of the kernel).
template <class T>
T exp_one(T x) {
  using O = Ops<T>;
  T bx[O::L], by[O::L];
  for (int j = 0; j < O::L; ++j) bx[j] = x;
  O::store(by, vexp<T, kExpSafe>(O::load(bx)));
  return by[0];
}
