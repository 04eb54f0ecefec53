// Tests of the fused clipped-surrogate kernel (cpp/src/surrogate.cpp, kernel_*.hpp).
//
// (The values themselves are checked against the oracle's golden vectors in test_golden.cpp:
// loss, gradient and every statistic, float and double, every aggregation and option, on every
// instruction set.) Here:
// - strided, reversed and broadcast inputs give bit for bit the results of their contiguous
//   copies; 1, 2, 3 and 8 threads give bit-identical results;
// - the extreme cases the header spells out (exp overflow, A == 0, masked samples);
// - every rejected input names the right argument;
// - the kernels' own exp against std::exp (ulp bounds, overflow / underflow edges).
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <random>
#include <string>
#include <vector>

#include "../src/kernel_dispatch.hpp"
#include "check.hpp"
#include "ppobr/errors.hpp"
#include "ppobr/surrogate.hpp"

using namespace ppobr;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ---- test data ---------------------------------------------------------------------------

template <class T>
struct Case {
  std::int64_t rows = 1, cols = 0;
  std::vector<T> lpn, lpo, adv, ent, mask;
  bool has_ent = false, has_mask = false;
  std::vector<std::int64_t> seg;
  std::int64_t nseg = 0;
  bool has_seg = false;
  SurrogateOptions opt;
  std::int64_t n() const { return rows * cols; }
};

template <class T>
View2D<T> view(const std::vector<T>& v, std::int64_t rows, std::int64_t cols) {
  View2D<T> x;
  x.data = v.data();
  x.rows = rows;
  x.cols = cols;
  x.row_stride = rows == 1 ? 0 : cols;
  x.col_stride = 1;
  return x;
}

template <class T>
SurrogateInputs<T> inputs(const Case<T>& c) {
  SurrogateInputs<T> in;
  in.logp_new = view(c.lpn, c.rows, c.cols);
  in.logp_old = view(c.lpo, c.rows, c.cols);
  in.advantages = view(c.adv, c.rows, c.cols);
  if (c.has_ent) in.entropy = view(c.ent, c.rows, c.cols);
  if (c.has_mask) in.mask = view(c.mask, c.rows, c.cols);
  if (c.has_seg) {
    in.segment_ids = c.seg.data();
    in.segment_stride = 1;
    in.num_segments = c.nseg;
  }
  return in;
}

// Random case. Ratios are kept away from the clip bounds (and the dual-clip bound) by a
// relative margin, so that the float and double kernels take the same branches.
template <class T>
Case<T> make_case(std::mt19937_64& g, std::int64_t rows, std::int64_t cols, double eps_low,
                  double eps_high, double dual, bool ent, bool mask, Aggregation agg,
                  bool segs = false, double spread = 0.3) {
  Case<T> c;
  c.rows = rows;
  c.cols = cols;
  c.has_ent = ent;
  c.has_mask = mask;
  c.opt.eps_low = eps_low;
  c.opt.eps_high = eps_high;
  c.opt.dual_clip = dual;
  c.opt.aggregation = agg;
  c.opt.num_threads = 1;
  const std::int64_t n = rows * cols;
  std::normal_distribution<double> nd;
  std::uniform_real_distribution<double> ud(0.0, 1.0);
  const double lo = static_cast<double>(static_cast<T>(1.0 - eps_low));
  const double hi = static_cast<double>(static_cast<T>(1.0 + eps_high));
  for (std::int64_t i = 0; i < n; ++i) {
    for (;;) {
      const T old = static_cast<T>(-0.5 - 2.0 * ud(g));
      const T nw = static_cast<T>(old + spread * nd(g));
      T a = static_cast<T>(nd(g));
      if (ud(g) < 0.02) a = T(0);
      const double d = static_cast<double>(static_cast<T>(nw - old));
      const double r = std::exp(d);
      if (std::fabs(r - lo) < 1e-4 || std::fabs(r - hi) < 1e-4) continue;
      if (dual > 0 && a < 0) {
        const double obj = std::min(r * a, std::min(std::max(r, lo), hi) * a);
        const double cd = static_cast<double>(static_cast<T>(dual)) * a;
        if (std::fabs(obj - cd) < 1e-4 * std::fabs(cd)) continue;
      }
      c.lpo.push_back(old);
      c.lpn.push_back(nw);
      c.adv.push_back(a);
      break;
    }
    c.ent.push_back(static_cast<T>(2.0 * ud(g)));
    const double u = ud(g);
    c.mask.push_back(static_cast<T>(u < 0.2 ? 0.0 : (u < 0.6 ? 1.0 : 2.0 * ud(g))));
  }
  if (mask)
    c.mask[static_cast<std::size_t>(g() % static_cast<std::uint64_t>(n))] = T(1);  // not all zero
  if (segs) {
    c.has_seg = true;
    c.nseg = std::max<std::int64_t>(1, n / 5 + 2);
    for (std::int64_t i = 0; i < n; ++i)
      c.seg.push_back(static_cast<std::int64_t>(g() % static_cast<std::uint64_t>(c.nseg)));
  }
  return c;
}

template <class T>
struct Out {
  SurrogateResult res;
  std::vector<T> grad;
};

template <class T>
Out<T> run(const Case<T>& c, const SurrogateInputs<T>& in, const SurrogateOptions& opt) {
  Out<T> o;
  o.grad.assign(static_cast<std::size_t>(c.n()), T(-7));
  o.res = clipped_surrogate<T>(in, opt, o.grad.data());
  return o;
}
template <class T>
Out<T> run(const Case<T>& c) {
  return run(c, inputs(c), c.opt);
}

template <class T>
bool same_bits(const Out<T>& a, const Out<T>& b) {
  if (std::memcmp(&a.res.loss, &b.res.loss, sizeof(double)) != 0) return false;
  if (std::memcmp(a.res.stats.sum.data(), b.res.stats.sum.data(), sizeof(double) * kNumStats) != 0)
    return false;
  if (std::memcmp(a.res.stats.count.data(), b.res.stats.count.data(), sizeof(double) * kNumStats) !=
      0)
    return false;
  return a.grad.size() == b.grad.size() &&
         std::memcmp(a.grad.data(), b.grad.data(), a.grad.size() * sizeof(T)) == 0;
}

std::vector<detail::Isa> isas() {
  std::vector<detail::Isa> v;
  for (int i = 0; i <= 2; ++i)
    if (detail::isa_supported(static_cast<detail::Isa>(i)))
      v.push_back(static_cast<detail::Isa>(i));
  return v;
}

struct IsaGuard {
  explicit IsaGuard(detail::Isa i) { detail::force_isa(static_cast<int>(i)); }
  ~IsaGuard() { detail::force_isa(-1); }
};

const char* isa_name(detail::Isa i) {
  return i == detail::Isa::Avx2 ? "avx2" : (i == detail::Isa::Vector ? "vector" : "scalar");
}

// ---- instruction sets ----------------------------------------------------------------

TEST(isas_agree_closely) {
  // the same batch through every ISA: close (exp differs by an ulp at most); each ISA is
  // checked against the golden vectors in test_golden.cpp
  std::mt19937_64 g(5);
  Case<float> c = make_case<float>(g, 1, 5003, 0.2, 0.2, 2.0, true, true, Aggregation::TokenMean);
  std::vector<Out<float>> outs;
  for (auto i : isas()) {
    IsaGuard guard(i);
    outs.push_back(run(c));
  }
  for (std::size_t k = 1; k < outs.size(); ++k)
    CHECK_NEAR(outs[k].res.loss, outs[0].res.loss, 1e-6);
}

// ---- layout and threads ------------------------------------------------------------------

template <class T>
void strided_equals_contiguous() {
  std::mt19937_64 g(7);
  for (auto sh : {std::pair<std::int64_t, std::int64_t>{1, 1031}, {13, 97}, {3, 8200}}) {
    for (Aggregation agg : {Aggregation::TokenMean, Aggregation::SeqMeanTokenMean}) {
      Case<T> c = make_case<T>(g, sh.first, sh.second, 0.2, 0.25, 2.0, true, true, agg);
      const Out<T> ref = run(c);
      const std::int64_t R = c.rows, C = c.cols;
      // col_stride 2 with padded rows, for every input
      auto spread = [&](const std::vector<T>& v, std::vector<T>& buf, View2D<T>& out) {
        buf.assign(static_cast<std::size_t>(R * (2 * C + 3)), T(12345));
        for (std::int64_t r = 0; r < R; ++r)
          for (std::int64_t k = 0; k < C; ++k)
            buf[static_cast<std::size_t>(r * (2 * C + 3) + 2 * k)] =
                v[static_cast<std::size_t>(r * C + k)];
        out.data = buf.data();
        out.rows = R;
        out.cols = C;
        out.row_stride = 2 * C + 3;
        out.col_stride = 2;
      };
      std::vector<T> b[5];
      SurrogateInputs<T> in = inputs(c);
      spread(c.lpn, b[0], in.logp_new);
      spread(c.lpo, b[1], in.logp_old);
      spread(c.adv, b[2], in.advantages);
      spread(c.ent, b[3], in.entropy);
      spread(c.mask, b[4], in.mask);
      CHECK(same_bits(run(c, in, c.opt), ref));
      // reversed (negative strides) for one input, strided for another
      std::vector<T> rev(c.lpo.rbegin(), c.lpo.rend());
      SurrogateInputs<T> in2 = inputs(c);
      in2.logp_old.data = rev.data() + (R * C - 1);
      in2.logp_old.row_stride = -C;
      in2.logp_old.col_stride = -1;
      if (R == 1) in2.logp_old.row_stride = 0;
      in2.mask = in.mask;
      CHECK(same_bits(run(c, in2, c.opt), ref));
    }
  }
  // broadcasting (stride 0): per-row advantages and a constant mask
  Case<T> c = make_case<T>(g, 9, 300, 0.2, 0.2, 0.0, false, true, Aggregation::SeqMeanTokenMean);
  std::vector<T> row_adv(9), one(1, T(1));
  for (std::int64_t r = 0; r < 9; ++r) {
    row_adv[static_cast<std::size_t>(r)] = static_cast<T>(0.3 * static_cast<double>(r) - 1.1);
    for (std::int64_t k = 0; k < 300; ++k) {
      c.adv[static_cast<std::size_t>(r * 300 + k)] = row_adv[static_cast<std::size_t>(r)];
      c.mask[static_cast<std::size_t>(r * 300 + k)] = T(1);
    }
  }
  const Out<T> ref = run(c);
  SurrogateInputs<T> in = inputs(c);
  in.advantages = View2D<T>{row_adv.data(), 9, 300, 1, 0};
  in.mask = View2D<T>{one.data(), 9, 300, 0, 0};
  CHECK(same_bits(run(c, in, c.opt), ref));
}

TEST(strided_reversed_broadcast_inputs_equal_contiguous_float) {
  strided_equals_contiguous<float>();
}
TEST(strided_reversed_broadcast_inputs_equal_contiguous_double) {
  strided_equals_contiguous<double>();
}

template <class T>
void thread_counts_bit_identical() {
  std::mt19937_64 g(11);
  for (int variant = 0; variant < 4; ++variant) {
    Case<T> c;
    if (variant == 0)
      c = make_case<T>(g, 1, 100003, 0.2, 0.2, 0.0, false, false, Aggregation::TokenMean);
    // large enough for the prefetching variant of the kernel (> 8 MiB of inputs)
    if (variant == 3)
      c = make_case<T>(g, 1, 450001, 0.2, 0.3, 2.0, true, true, Aggregation::TokenMean);
    if (variant == 1)
      c = make_case<T>(g, 1, 70001, 0.2, 0.3, 3.0, true, true, Aggregation::TokenMean);
    if (variant == 2)
      c = make_case<T>(g, 40, 2000, 0.2, 0.3, 3.0, true, true, Aggregation::SeqMeanTokenMean);
    SurrogateOptions opt = c.opt;
    opt.num_threads = 1;
    const Out<T> one = run(c, inputs(c), opt);
    for (int t : {2, 3, 8, 0}) {
      opt.num_threads = t;
      CHECK(same_bits(run(c, inputs(c), opt), one));
    }
  }
}

TEST(thread_counts_bit_identical_float) { thread_counts_bit_identical<float>(); }
TEST(thread_counts_bit_identical_double) { thread_counts_bit_identical<double>(); }

template <class T>
void exp_variant_choice_invisible() {
  // The kernel picks an exp variant per 64-element chunk / micro-block from the range of d
  // (k == 0 only, fast, overflow-safe). One extreme element must not change any other
  // element's gradient bits (the loss scale is the same: token-mean, no mask).
  std::mt19937_64 g(31);
  Case<T> c =
      make_case<T>(g, 1, 3000, 0.2, 0.2, 0.0, false, false, Aggregation::TokenMean, false, 0.05);
  const Out<T> base = run(c);
  for (std::size_t pos : {std::size_t{5}, std::size_t{700}, std::size_t{2999}}) {
    for (double bump : {0.6, 30.0, 500.0, -500.0}) {
      Case<T> m = c;
      m.lpn[pos] = static_cast<T>(static_cast<double>(m.lpn[pos]) + bump);
      const Out<T> o = run(m);
      bool same = true;
      for (std::size_t i = 0; i < base.grad.size(); ++i)
        if (i != pos && std::memcmp(&base.grad[i], &o.grad[i], sizeof(T)) != 0) same = false;
      CHECK(same);  // the values: the golden case *_exp_variants (test_golden.cpp)
    }
  }
}

TEST(exp_variant_choice_does_not_change_other_elements_float) {
  exp_variant_choice_invisible<float>();
}
TEST(exp_variant_choice_does_not_change_other_elements_double) {
  exp_variant_choice_invisible<double>();
}

TEST(null_grad_skips_gradient_same_result) {
  std::mt19937_64 g(3);
  Case<float> c = make_case<float>(g, 1, 3001, 0.2, 0.2, 0.0, true, true, Aggregation::TokenMean);
  const Out<float> a = run(c);
  const SurrogateResult b = clipped_surrogate<float>(inputs(c), c.opt, nullptr);
  CHECK(std::memcmp(&a.res.loss, &b.loss, sizeof(double)) == 0);
  CHECK(std::memcmp(a.res.stats.sum.data(), b.stats.sum.data(), sizeof(double) * kNumStats) == 0);
}

TEST(segment_ids_ignored_for_token_mean) {
  std::mt19937_64 g(4);
  Case<double> c = make_case<double>(g, 1, 500, 0.2, 0.2, 0.0, false, true, Aggregation::TokenMean);
  const Out<double> a = run(c);
  std::vector<std::int64_t> junk(500, -5);
  SurrogateInputs<double> in = inputs(c);
  in.segment_ids = junk.data();
  in.num_segments = 0;
  CHECK(same_bits(run(c, in, c.opt), a));
}

TEST(mean_helper) {
  SurrogateStats s;
  s.sum[kRatioMean] = 3.0;
  s.count[kRatioMean] = 2.0;
  s.sum[kRatioMax] = 1.5;
  s.count[kRatioMax] = 4.0;
  CHECK(s.mean(kRatioMean) == 1.5);
  CHECK(s.mean(kRatioMax) == 1.5);
  CHECK(std::isnan(s.mean(kEntropy)));
  CHECK(std::isnan(s.mean(-1)));
  CHECK(std::isnan(s.mean(kNumStats)));
}

TEST(aggregation_names_round_trip) {
  for (Aggregation a :
       {Aggregation::TokenMean, Aggregation::SeqMeanTokenMean, Aggregation::SeqMeanTokenSum})
    CHECK(parse_aggregation(aggregation_name(a)) == a);
  CHECK_THROWS_ARG(parse_aggregation("mean"), "aggregation");
  CHECK_THROWS_ARG(parse_aggregation(nullptr), "aggregation");
}

// ---- extreme values ----------------------------------------------------------------------

template <class T>
void exp_overflow_cases() {
  // d so large that exp overflows: r = inf is legal input
  const T big = std::numeric_limits<T>::max() / 4;
  std::vector<T> lpn = {big, big, big, T(0), big};
  std::vector<T> lpo = {T(0), T(0), T(0), T(0), -big};
  std::vector<T> adv = {T(1), T(0), T(-1), T(1), T(-2)};
  std::vector<T> msk = {T(1), T(1), T(0), T(1), T(0)};  // the A < 0 ones masked out
  std::vector<T> grad(5);
  SurrogateInputs<T> in;
  in.logp_new = view(lpn, 1, 5);
  in.logp_old = view(lpo, 1, 5);
  in.advantages = view(adv, 1, 5);
  in.mask = view(msk, 1, 5);
  SurrogateOptions opt;
  const SurrogateResult r = clipped_surrogate<T>(in, opt, grad.data());
  const double hi = static_cast<double>(static_cast<T>(1.2));
  // obj: hi * 1 (clipped), 0 (A == 0), [masked], r*1 = 1 (d = 0), [masked]
  CHECK_NEAR(r.loss, -(hi + 0.0 + 1.0) / 3.0, 1e-6);
  CHECK(grad[0] == T(0));
  CHECK(grad[1] == T(0));
  CHECK(grad[2] == T(0));
  CHECK(grad[4] == T(0));
  CHECK_NEAR(static_cast<double>(grad[3]), -1.0 / 3.0, 1e-6);
  CHECK(r.stats.sum[kRatioMax] == kInf);
  CHECK(r.stats.sum[kRatioMin] == 1.0);
  CHECK(r.stats.sum[kRatioMean] == kInf);
  for (int k = 0; k < kNumStats; ++k) CHECK(!std::isnan(r.stats.sum[static_cast<std::size_t>(k)]));
  // A < 0 with r = inf and no dual-clip: loss = +inf, grad +inf, no error
  in.mask = View2D<T>{};
  const SurrogateResult r2 = clipped_surrogate<T>(in, opt, grad.data());
  CHECK(r2.loss == kInf);
  CHECK(grad[2] == std::numeric_limits<T>::infinity());
  // with dual-clip the loss is bounded and the gradient there is 0
  opt.dual_clip = 3.0;
  const SurrogateResult r3 = clipped_surrogate<T>(in, opt, grad.data());
  CHECK(std::isfinite(r3.loss));
  CHECK(grad[2] == T(0));
  CHECK(grad[4] == T(0));
  CHECK_NEAR(r3.stats.sum[kDualClipFraction], 2.0, 0.0);
  // d = -big: r underflows to 0
  std::vector<T> lpn2 = {-big, T(-200), T(-100)};
  std::vector<T> lpo2 = {T(0), T(0), T(0)};
  std::vector<T> adv2 = {T(1), T(-1), T(1)};
  SurrogateInputs<T> in2;
  in2.logp_new = view(lpn2, 1, 3);
  in2.logp_old = view(lpo2, 1, 3);
  in2.advantages = view(adv2, 1, 3);
  const SurrogateResult r4 = clipped_surrogate<T>(in2, SurrogateOptions{}, grad.data());
  CHECK(r4.stats.sum[kRatioMin] == 0.0);
  CHECK(std::isfinite(r4.loss));
  CHECK(grad[0] == T(0));  // r = 0, A > 0: unclipped, gradient -A r / n = -0
  CHECK_NEAR(r4.stats.sum[kClipFractionLow], 1.0, 0.0);
}

TEST(exp_overflow_and_underflow_are_legal_float) { exp_overflow_cases<float>(); }
TEST(exp_overflow_and_underflow_are_legal_double) { exp_overflow_cases<double>(); }

TEST(ties_count_as_unclipped) {
  // r exactly 1 + eps_high (d = log(1.25) is not exact, so use eps such that hi == r): A > 0
  std::vector<double> lpn = {0.0, 0.0}, lpo = {0.0, 0.0}, adv = {2.0, -2.0};
  std::vector<double> grad(2);
  SurrogateInputs<double> in;
  in.logp_new = view(lpn, 1, 2);
  in.logp_old = view(lpo, 1, 2);
  in.advantages = view(adv, 1, 2);
  SurrogateOptions opt;
  opt.eps_low = 0.0;  // r == 1 == lo == hi: every bound is a tie
  opt.eps_high = 0.0;
  const SurrogateResult r = clipped_surrogate<double>(in, opt, grad.data());
  CHECK(grad[0] == -1.0);  // -s A r with s = 1/2
  CHECK(grad[1] == 1.0);
  CHECK(r.stats.sum[kClipFraction] == 0.0);
  CHECK(r.loss == 0.0);
}

// ---- rejected inputs ---------------------------------------------------------------------

TEST(rejects_bad_input_naming_the_argument) {
  std::mt19937_64 g(8);
  Case<float> c = make_case<float>(g, 1, 50, 0.2, 0.2, 0.0, true, true, Aggregation::TokenMean);
  std::vector<float> grad(50);
  auto call = [&](const SurrogateInputs<float>& in, const SurrogateOptions& opt) {
    return clipped_surrogate<float>(in, opt, grad.data());
  };
  const SurrogateInputs<float> good = inputs(c);
  const SurrogateOptions gopt = c.opt;
  (void)call(good, gopt);

  // presence and shapes
  {
    SurrogateInputs<float> in = good;
    in.logp_new.data = nullptr;
    CHECK_THROWS_ARG(call(in, gopt), "logp_new");
  }
  {
    SurrogateInputs<float> in = good;
    in.logp_old.data = nullptr;
    CHECK_THROWS_ARG(call(in, gopt), "logp_old");
  }
  {
    SurrogateInputs<float> in = good;
    in.advantages.data = nullptr;
    CHECK_THROWS_ARG(call(in, gopt), "advantages");
  }
  const char* names[] = {"logp_old", "advantages", "entropy", "mask"};
  for (int k = 0; k < 4; ++k) {
    SurrogateInputs<float> in = good;
    View2D<float>* v[] = {&in.logp_old, &in.advantages, &in.entropy, &in.mask};
    v[k]->cols = 49;
    CHECK_THROWS_ARG(call(in, gopt), names[k]);
    v[k]->cols = 50;
    v[k]->rows = 2;
    CHECK_THROWS_ARG(call(in, gopt), names[k]);
  }
  {
    SurrogateInputs<float> in = good;
    in.logp_new.cols = 49;  // logp_new defines the shape: the others mismatch
    CHECK_THROWS_ARG(call(in, gopt), "logp_old");
  }
  {
    SurrogateInputs<float> in = good;
    for (View2D<float>* v : {&in.logp_new, &in.logp_old, &in.advantages, &in.entropy, &in.mask})
      v->cols = 0;
    CHECK_THROWS_ARG(call(in, gopt), "logp_new");
    for (View2D<float>* v : {&in.logp_new, &in.logp_old, &in.advantages, &in.entropy, &in.mask}) {
      v->cols = 50;
      v->rows = 0;
    }
    CHECK_THROWS_ARG(call(in, gopt), "logp_new");
    in.logp_new.rows = -1;
    CHECK_THROWS_ARG(call(in, gopt), "logp_new");
  }
  // options
  for (double e : {-0.1, 1.0, 1.5, kNaN, kInf}) {
    SurrogateOptions o = gopt;
    o.eps_low = e;
    CHECK_THROWS_ARG(call(good, o), "eps_low");
  }
  for (double e : {-0.1, kNaN, kInf}) {
    SurrogateOptions o = gopt;
    o.eps_high = e;
    CHECK_THROWS_ARG(call(good, o), "eps_high");
  }
  for (double e : {0.5, 1.0, -2.0, kNaN, kInf}) {
    SurrogateOptions o = gopt;
    o.dual_clip = e;
    CHECK_THROWS_ARG(call(good, o), "dual_clip");
  }
  {
    SurrogateOptions o = gopt;
    o.aggregation = static_cast<Aggregation>(7);
    CHECK_THROWS_ARG(call(good, o), "aggregation");
    o = gopt;
    o.num_threads = -1;
    CHECK_THROWS_ARG(call(good, o), "num_threads");
    o = gopt;
    o.eps_low = 0.0;
    o.eps_high = 0.0;
    o.dual_clip = 1.0000001;
    (void)call(good, o);  // boundaries that are allowed
  }
  // non-finite values, at the start, middle and end, also where the mask is 0
  const char* vnames[] = {"logp_new", "logp_old", "advantages", "entropy"};
  for (int k = 0; k < 4; ++k) {
    for (std::size_t pos : {std::size_t{0}, std::size_t{23}, std::size_t{49}}) {
      for (float bad :
           {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
            -std::numeric_limits<float>::infinity()}) {
        Case<float> cc = c;
        std::vector<float>* v[] = {&cc.lpn, &cc.lpo, &cc.adv, &cc.ent};
        (*v[k])[pos] = bad;
        cc.mask[pos] = 0.0f;
        CHECK_THROWS_ARG(call(inputs(cc), gopt), vnames[k]);
        cc.mask[pos] = 1.0f;
        CHECK_THROWS_ARG(call(inputs(cc), gopt), vnames[k]);
        cc.has_mask = false;
        CHECK_THROWS_ARG(call(inputs(cc), gopt), vnames[k]);
      }
    }
  }
  // mask values
  for (float bad : {-1.0f, -1e-30f, std::numeric_limits<float>::quiet_NaN(),
                    std::numeric_limits<float>::infinity()}) {
    for (Aggregation agg : {Aggregation::TokenMean, Aggregation::SeqMeanTokenMean}) {
      Case<float> cc = c;
      cc.mask[17] = bad;
      SurrogateOptions o = gopt;
      o.aggregation = agg;
      CHECK_THROWS_ARG(call(inputs(cc), o), "mask");
      cc.has_seg = true;
      cc.nseg = 3;
      cc.seg.assign(50, 1);
      CHECK_THROWS_ARG(call(inputs(cc), o), "mask");
    }
  }
  {
    Case<float> cc = c;
    std::fill(cc.mask.begin(), cc.mask.end(), 0.0f);
    for (Aggregation agg :
         {Aggregation::TokenMean, Aggregation::SeqMeanTokenMean, Aggregation::SeqMeanTokenSum}) {
      SurrogateOptions o = gopt;
      o.aggregation = agg;
      CHECK_THROWS_ARG(call(inputs(cc), o), "mask");
    }
  }
  // segment ids
  {
    Case<float> cc = c;
    cc.has_seg = true;
    cc.nseg = 4;
    cc.seg.assign(50, 2);
    SurrogateOptions o = gopt;
    o.aggregation = Aggregation::SeqMeanTokenMean;
    (void)call(inputs(cc), o);
    cc.seg[30] = 4;
    CHECK_THROWS_ARG(call(inputs(cc), o), "segment_ids");
    cc.seg[30] = -1;
    CHECK_THROWS_ARG(call(inputs(cc), o), "segment_ids");
    cc.seg[30] = 0;
    cc.nseg = 0;
    CHECK_THROWS_ARG(call(inputs(cc), o), "segment_ids");
    cc.nseg = 4;
    // 2-D input with segment ids
    cc.rows = 5;
    cc.cols = 10;
    CHECK_THROWS_ARG(call(inputs(cc), o), "segment_ids");
  }
}

// ---- the exp -----------------------------------------------------------------------------

template <class T>
double ulp_error(T got, double want) {
  using I = typename std::conditional<sizeof(T) == 4, std::int32_t, std::int64_t>::type;
  const T w = static_cast<T>(want);
  if (std::isinf(want) || std::isinf(static_cast<double>(w))) return got == w ? 0.0 : 1e9;
  if (got == w) return 0.0;
  // distance in units of the spacing at `want` (subnormals: the fixed subnormal step)
  const T up = std::nextafter(w, std::numeric_limits<T>::infinity());
  const double spacing = static_cast<double>(up) - static_cast<double>(w);
  (void)sizeof(I);
  return std::fabs(static_cast<double>(got) - want) / spacing;
}

template <class T>
void exp_accuracy(detail::Isa isa, T lo_x, T hi_x, double max_ulp) {
  std::vector<T> x;
  std::mt19937_64 g(17);
  std::uniform_real_distribution<double> ud(static_cast<double>(lo_x), static_cast<double>(hi_x));
  for (int i = 0; i < 200000; ++i) x.push_back(static_cast<T>(ud(g)));
  std::uniform_real_distribution<double> small(-1.0, 1.0);
  for (int i = 0; i < 100000; ++i) x.push_back(static_cast<T>(small(g)));
  for (int i = 0; i < 2000; ++i) {
    const double k = std::ldexp(1.0, -(i % 60));
    x.push_back(static_cast<T>(k));
    x.push_back(static_cast<T>(-k));
    x.push_back(static_cast<T>(std::log(2.0) * (i % 300 - 150) * 0.5));  // reduction boundaries
  }
  x.push_back(T(0));
  x.push_back(-T(0));
  std::vector<T> y(x.size());
  detail::exp_array<T>(x.data(), y.data(), static_cast<std::int64_t>(x.size()), isa);
  double worst = 0;
  T worst_x = 0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double e = ulp_error(y[i], std::exp(static_cast<double>(x[i])));
    if (e > worst) {
      worst = e;
      worst_x = x[i];
    }
  }
  if (worst > max_ulp)
    std::fprintf(stderr, "  exp %s %s: %.3f ulp at x = %.17g\n", sizeof(T) == 4 ? "f32" : "f64",
                 isa_name(isa), worst, static_cast<double>(worst_x));
  CHECK(worst <= max_ulp);
  // the fast and k == 0 variants agree bit for bit with the safe one inside their ranges
  std::vector<T> xf, xk;
  for (T v : x) {
    if (v >= detail::ExpConsts<T>::fast_min && v <= detail::ExpConsts<T>::fast_max) xf.push_back(v);
    if (std::fabs(v) <= detail::ExpConsts<T>::k0_max) xk.push_back(v);
  }
  CHECK(xk.size() > 1000);
  for (auto [xs, mode] : {std::pair<const std::vector<T>*, detail::ExpMode>{&xf, detail::kExpFast},
                          {&xk, detail::kExpK0}}) {
    std::vector<T> ym(xs->size()), ys(xs->size());
    detail::exp_array<T>(xs->data(), ym.data(), static_cast<std::int64_t>(xs->size()), isa, mode);
    detail::exp_array<T>(xs->data(), ys.data(), static_cast<std::int64_t>(xs->size()), isa);
    CHECK(std::memcmp(ym.data(), ys.data(), ym.size() * sizeof(T)) == 0);
  }
}

template <class T>
void exp_edges(detail::Isa isa) {
  const T inf = std::numeric_limits<T>::infinity();
  const double lnmax = std::log(static_cast<double>(std::numeric_limits<T>::max()));
  const double lnden = std::log(static_cast<double>(std::numeric_limits<T>::denorm_min()));
  std::vector<T> x = {static_cast<T>(lnmax - 1e-3),
                      static_cast<T>(lnmax + 1e-3),
                      static_cast<T>(lnmax + 1),
                      static_cast<T>(1000),
                      std::numeric_limits<T>::max(),
                      static_cast<T>(lnden - 1),
                      static_cast<T>(-2000),
                      std::numeric_limits<T>::lowest(),
                      inf,
                      -inf};
  std::vector<T> y(x.size());
  detail::exp_array<T>(x.data(), y.data(), static_cast<std::int64_t>(x.size()), isa);
  CHECK(std::isfinite(y[0]) && y[0] > 0);
  CHECK(y[1] == inf);
  CHECK(y[2] == inf);
  CHECK(y[3] == inf);
  CHECK(y[4] == inf);
  CHECK(y[5] == T(0));
  CHECK(y[6] == T(0));
  CHECK(y[7] == T(0));
  CHECK(y[8] == inf);
  CHECK(y[9] == T(0));
  // sweep every representable value around the overflow and underflow thresholds
  for (double edge : {lnmax, lnden, std::log(static_cast<double>(std::numeric_limits<T>::min()))}) {
    std::vector<T> xs;
    T v = static_cast<T>(edge - (sizeof(T) == 4 ? 2e-4 : 1e-12));
    for (int i = 0; i < 4000; ++i) {
      xs.push_back(v);
      v = std::nextafter(v, inf);
    }
    std::vector<T> ys(xs.size());
    detail::exp_array<T>(xs.data(), ys.data(), static_cast<std::int64_t>(xs.size()), isa);
    for (std::size_t i = 0; i < xs.size(); ++i) {
      const double want = std::exp(static_cast<double>(xs[i]));
      const T w = static_cast<T>(want);
      if (std::isinf(w)) {
        // at the threshold itself an implementation may round to max or inf
        CHECK(std::isinf(ys[i]) || ys[i] == std::numeric_limits<T>::max());
      } else if (w < std::numeric_limits<T>::min()) {
        const double step = static_cast<double>(std::numeric_limits<T>::denorm_min());
        CHECK(std::fabs(static_cast<double>(ys[i]) - want) <= 1.0 * step);
      } else {
        CHECK(ulp_error(ys[i], want) <= 2.5 ||
              (std::isinf(ys[i]) &&
               want > 0.99 * static_cast<double>(std::numeric_limits<T>::max())));
      }
    }
  }
}

TEST(exp_float_accuracy) {
  for (auto i : isas()) {
    exp_accuracy<float>(i, -87.0f, 88.5f, 2.0);
    exp_edges<float>(i);
  }
}

TEST(exp_double_accuracy) {
  for (auto i : isas()) {
    exp_accuracy<double>(i, -707.0, 709.0, 2.5);
    exp_edges<double>(i);
  }
}

}  // namespace

PPOBR_TEST_MAIN
