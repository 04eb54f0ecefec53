// Private: the per-row softmax statistics of the categorical helper.
//
// NOTE: deliberately no include guard. Included once per instruction set, inside that ISA's
// namespace and compile-target region, after kernel_exp.hpp (see distributions.cpp).
//
// softmax_row(x, a, out) for a contiguous row x[0, a):
//   m = max_j x_j,  s = sum_j exp(x_j - m),  t = sum_j exp(x_j - m) (x_j - m)
// so that logsumexp = m + log s and entropy = log s - t / s (no cancellation for large
// logits: every term is relative to the maximum; x - m is clamped below where exp(x - m) is
// 0). `finite` is false if any x_j is NaN/Inf (s and t are then not computed). The last
// partial vector is loaded masked (padding: x_0, weight 0). Sums run in T lanes for kMicro
// elements, then in double (fixed order).

template <class T>
void softmax_row(const T* x, std::int64_t a, SoftmaxRow& out) {
  using O = Ops<T>;
  using V = typename O::V;
  using D = typename O::D;
  constexpr int L = O::L;
  const std::int64_t afull = a / L * L;
  const int tail = static_cast<int>(a - afull);
  // pass 1: maximum; x * 0 is NaN exactly for non-finite x
  V vmax = O::set1(-std::numeric_limits<T>::infinity());
  V nf = O::zero();
  for (std::int64_t j = 0; j < afull; j += L) {
    const V v = O::load(x + j);
    vmax = O::max(vmax, v);
    nf = nf + v * O::zero();
  }
  V vt = O::zero();
  if (tail > 0) {
    vt = O::load_first(x + afull, tail, x[0]);
    vmax = O::max(vmax, vt);
    nf = nf + vt * O::zero();
  }
  // every lane of nf is 0 (all finite) or NaN
  out.finite = !O::any(O::mandnot(O::eq(nf, O::zero()), O::eq(O::zero(), O::zero())));
  const T m = O::hmax(vmax);
  out.m = static_cast<double>(m);
  if (!out.finite) return;
  // pass 2: s and t (two accumulator pairs: the add chains would otherwise set the pace)
  const V vm = O::set1(m);
  // x - m is clamped where exp underflows to 0 anyway: for logits spanning more than the
  // type's range, x - m overflows to -inf and the t term would be 0 * -inf = NaN (fuzz finding)
  const V ylo = O::set1(ExpConsts<T>::clamp_min);
  D sd0 = O::dzero(), sd1 = O::dzero(), td0 = O::dzero(), td1 = O::dzero();
  for (std::int64_t j0 = 0; j0 < afull; j0 += kMicro) {
    const std::int64_t j1 = std::min(afull, j0 + kMicro);
    V sv[2] = {O::zero(), O::zero()}, tv[2] = {O::zero(), O::zero()};
    std::int64_t j = j0;
    for (; j + 2 * L <= j1; j += 2 * L) {
      const V y0 = O::max(O::load(x + j) - vm, ylo);
      const V y1 = O::max(O::load(x + j + L) - vm, ylo);
      const V e0 = vexp<T, kExpSafe>(y0);
      const V e1 = vexp<T, kExpSafe>(y1);
      sv[0] = sv[0] + e0;
      sv[1] = sv[1] + e1;
      tv[0] = O::fma(e0, y0, tv[0]);
      tv[1] = O::fma(e1, y1, tv[1]);
    }
    if (j < j1) {
      const V y0 = O::max(O::load(x + j) - vm, ylo);
      const V e0 = vexp<T, kExpSafe>(y0);
      sv[0] = sv[0] + e0;
      tv[0] = O::fma(e0, y0, tv[0]);
    }
    O::dadd2(sd0, sd1, sv[0] + sv[1]);
    O::dadd2(td0, td1, tv[0] + tv[1]);
  }
  if (tail > 0) {
    const V y = O::max(vt - vm, ylo);
    const V e = O::keep(O::first(tail), vexp<T, kExpSafe>(y));
    O::dadd2(sd0, sd1, e);
    O::dadd2(td0, td1, e * y);
  }
  out.s = O::dsum(sd0) + O::dsum(sd1);
  out.t = O::dsum(td0) + O::dsum(td1);
}
