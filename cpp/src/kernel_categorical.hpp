// Private: the per-row softmax statistics of the categorical helper.
//
// NOTE: deliberately no include guard. Included once per instruction set, inside that ISA's
// namespace and compile-target region, after kernel_exp.hpp (see distributions.cpp).
//
// softmax_row(x, a, out) for a contiguous row x[0, a):
//   m = max_j x_j,  s = sum_j exp(x_j - m),  t = sum_j exp(x_j - m) (x_j - m)
// so that logsumexp = m + log s and entropy = log s - t / s (no cancellation for large
// logits: every term is relative to the maximum). `finite` is false if any x_j is NaN/Inf
// (s and t are then not computed). Sums are kept in T lanes for kMicro elements, then in double.

template <class T>
void softmax_row(const T* x, std::int64_t a, SoftmaxRow& out) {
  using O = Ops<T>;
  using V = typename O::V;
  constexpr int L = O::L;
  const std::int64_t afull = a / L * L;
  // pass 1: maximum; x * 0 is NaN exactly for non-finite x
  V vmax = O::set1(-std::numeric_limits<T>::infinity());
  V nf = O::zero();
  for (std::int64_t j = 0; j < afull; j += L) {
    const V v = O::load(x + j);
    vmax = O::max(vmax, v);
    nf = nf + v * O::zero();
  }
  alignas(64) T lanes[L];
  O::store(lanes, nf);
  bool finite = true;
  for (int k = 0; k < L; ++k) finite = finite && lanes[k] == T(0);
  T m = O::hmax(vmax);
  for (std::int64_t j = afull; j < a; ++j) {
    finite = finite && std::isfinite(x[j]);
    m = x[j] > m ? x[j] : m;
  }
  out.finite = finite;
  out.m = static_cast<double>(m);
  if (!finite) return;
  // pass 2: s and t
  const V vm = O::set1(m);
  alignas(64) double sacc[4] = {0, 0, 0, 0}, tacc[4] = {0, 0, 0, 0};
  for (std::int64_t j0 = 0; j0 < afull; j0 += kMicro) {
    const std::int64_t j1 = std::min(afull, j0 + kMicro);
    V sv = O::zero(), tv = O::zero();
    for (std::int64_t j = j0; j < j1; j += L) {
      const V y = O::load(x + j) - vm;
      const V e = vexp<T, kExpSafe>(y);
      sv = sv + e;
      tv = O::fma(e, y, tv);
    }
    O::acc4(sv, sacc);
    O::acc4(tv, tacc);
  }
  if (afull < a) {
    // the tail through a padded vector; padding lanes: y = 0, weight 0
    alignas(64) T bx[L], bv[L];
    for (int k = 0; k < L; ++k) {
      const std::int64_t j = afull + k;
      bx[k] = j < a ? x[j] : m;
      bv[k] = j < a ? T(1) : T(0);
    }
    const V y = O::load(bx) - vm;
    const V e = O::keep(O::gt(O::load(bv), O::zero()), vexp<T, kExpSafe>(y));
    O::acc4(e, sacc);
    O::acc4(e * y, tacc);
  }
  out.s = (sacc[0] + sacc[1]) + (sacc[2] + sacc[3]);
  out.t = (tacc[0] + tacc[1]) + (tacc[2] + tacc[3]);
}
