// Tests of the fused policy helpers (cpp/src/distributions.cpp): categorical log-prob and
// entropy from logits, Gaussian entropy. Against a plain double-precision reference, on every
// instruction set available; shift invariance, large logits, strided layouts, thread counts,
// and the rejected inputs.
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
#include "ppobr/distributions.hpp"
#include "ppobr/errors.hpp"

using namespace ppobr;

namespace {

struct IsaGuard {
  explicit IsaGuard(detail::Isa i) { detail::force_isa(static_cast<int>(i)); }
  ~IsaGuard() { detail::force_isa(-1); }
};

std::vector<detail::Isa> isas() {
  std::vector<detail::Isa> v;
  for (int i = 0; i <= 2; ++i)
    if (detail::isa_supported(static_cast<detail::Isa>(i)))
      v.push_back(static_cast<detail::Isa>(i));
  return v;
}

template <class T>
View2D<T> view(const std::vector<T>& v, std::int64_t rows, std::int64_t cols) {
  return View2D<T>{v.data(), rows, cols, cols, 1};
}

// reference: logp and entropy of row i in double (long double for the sums)
template <class T>
void ref_row(const View2D<T>& x, std::int64_t i, std::int64_t act, double& logp, double& ent) {
  const T* row = x.data + i * x.row_stride;
  double m = -std::numeric_limits<double>::infinity();
  for (std::int64_t j = 0; j < x.cols; ++j)
    m = std::max(m, static_cast<double>(row[j * x.col_stride]));
  long double s = 0, t = 0;
  for (std::int64_t j = 0; j < x.cols; ++j) {
    const double y = static_cast<double>(row[j * x.col_stride]) - m;
    const long double e = std::exp(static_cast<long double>(y));
    s += e;
    t += e * y;
  }
  const double ls = static_cast<double>(std::log(s));
  logp = static_cast<double>(row[act * x.col_stride]) - m - ls;
  ent = ls - static_cast<double>(t / s);
}

template <class T>
void check_against_reference(const View2D<T>& x, const std::vector<std::int64_t>& act,
                             std::int64_t astride, int threads, int& bad) {
  const std::int64_t n = x.rows;
  std::vector<T> lp(static_cast<std::size_t>(n), T(-99)), en(static_cast<std::size_t>(n), T(-99));
  categorical_logprob_entropy<T>(x, act.data(), astride, lp.data(), en.data(), threads);
  const double tol = sizeof(T) == 4 ? 3e-6 : 1e-13;
  for (std::int64_t i = 0; i < n; ++i) {
    double rl, re;
    ref_row(x, i, act[static_cast<std::size_t>(i * astride)], rl, re);
    const double gl = static_cast<double>(lp[static_cast<std::size_t>(i)]);
    const double ge = static_cast<double>(en[static_cast<std::size_t>(i)]);
    const double scale_l = 1.0 + std::fabs(rl),
                 scale_e = 1.0 + std::log(static_cast<double>(x.cols));
    if (!(std::fabs(gl - rl) <= tol * scale_l * 4) || !(std::fabs(ge - re) <= tol * scale_e * 4)) {
      if (bad < 5)
        std::fprintf(stderr, "  row %lld (A=%lld): logp %.9g vs %.9g, entropy %.9g vs %.9g\n",
                     (long long)i, (long long)x.cols, gl, rl, ge, re);
      ++bad;
    }
  }
}

template <class T>
void categorical_sweep() {
  std::mt19937_64 g(3);
  std::normal_distribution<double> nd;
  int bad = 0;
  for (auto isa : isas()) {
    IsaGuard guard(isa);
    for (std::int64_t A : {1, 2, 3, 7, 8, 9, 16, 100, 1000, 5003}) {
      for (std::int64_t N : {1, 5, 37}) {
        for (double scale : {0.1, 3.0, 30.0}) {
          std::vector<T> x(static_cast<std::size_t>(N * A));
          for (T& v : x) v = static_cast<T>(scale * nd(g));
          std::vector<std::int64_t> act(static_cast<std::size_t>(N));
          for (auto& a : act) a = static_cast<std::int64_t>(g() % static_cast<std::uint64_t>(A));
          check_against_reference<T>(view(x, N, A), act, 1, 1, bad);
        }
      }
    }
  }
  CHECK(bad == 0);
}

TEST(categorical_matches_reference_float) { categorical_sweep<float>(); }
TEST(categorical_matches_reference_double) { categorical_sweep<double>(); }

template <class T>
void categorical_layouts() {
  std::mt19937_64 g(4);
  std::normal_distribution<double> nd;
  const std::int64_t N = 23, A = 77;
  std::vector<T> x(static_cast<std::size_t>(N * A));
  for (T& v : x) v = static_cast<T>(2.0 * nd(g));
  std::vector<std::int64_t> act(static_cast<std::size_t>(N));
  for (auto& a : act) a = static_cast<std::int64_t>(g() % A);
  std::vector<T> lp(N), en(N), lp2(N), en2(N);
  categorical_logprob_entropy<T>(view(x, N, A), act.data(), 1, lp.data(), en.data());
  // col_stride 3 with padded rows, actions with stride 2, reversed rows
  std::vector<T> wide(static_cast<std::size_t>(N * (3 * A + 5)), T(1e30));
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t j = 0; j < A; ++j)
      wide[static_cast<std::size_t>(i * (3 * A + 5) + 3 * j)] =
          x[static_cast<std::size_t>(i * A + j)];
  std::vector<std::int64_t> act2(static_cast<std::size_t>(2 * N), -1);
  for (std::int64_t i = 0; i < N; ++i)
    act2[static_cast<std::size_t>(2 * i)] = act[static_cast<std::size_t>(i)];
  categorical_logprob_entropy<T>(View2D<T>{wide.data(), N, A, 3 * A + 5, 3}, act2.data(), 2,
                                 lp2.data(), en2.data());
  CHECK(lp == lp2);
  CHECK(en == en2);
  std::vector<T> rev(x.size());
  for (std::int64_t i = 0; i < N; ++i)
    for (std::int64_t j = 0; j < A; ++j)
      rev[static_cast<std::size_t>(i * A + (A - 1 - j))] = x[static_cast<std::size_t>(i * A + j)];
  int bad = 0;
  check_against_reference<T>(View2D<T>{rev.data() + (A - 1), N, A, A, -1}, act, 1, 1, bad);
  CHECK(bad == 0);
  // threads: bit-identical
  const std::int64_t NB = 3000, AB = 300;
  std::vector<T> xb(static_cast<std::size_t>(NB * AB));
  for (T& v : xb) v = static_cast<T>(nd(g));
  std::vector<std::int64_t> ab(NB);
  for (auto& a : ab) a = static_cast<std::int64_t>(g() % AB);
  std::vector<T> l1(NB), e1(NB);
  categorical_logprob_entropy<T>(view(xb, NB, AB), ab.data(), 1, l1.data(), e1.data(), 1);
  for (int t : {2, 3, 8, 0}) {
    std::vector<T> lt(NB), et(NB);
    categorical_logprob_entropy<T>(view(xb, NB, AB), ab.data(), 1, lt.data(), et.data(), t);
    CHECK(std::memcmp(lt.data(), l1.data(), NB * sizeof(T)) == 0);
    CHECK(std::memcmp(et.data(), e1.data(), NB * sizeof(T)) == 0);
  }
  // either output may be skipped; actions not needed for entropy alone
  std::vector<T> e3(N);
  categorical_logprob_entropy<T>(view(x, N, A), nullptr, 1, nullptr, e3.data());
  CHECK(e3 == en);
  std::vector<T> l3(N);
  categorical_logprob_entropy<T>(view(x, N, A), act.data(), 1, l3.data(), nullptr);
  CHECK(l3 == lp);
}

TEST(categorical_layouts_threads_float) { categorical_layouts<float>(); }
TEST(categorical_layouts_threads_double) { categorical_layouts<double>(); }

template <class T>
void categorical_shift_and_large() {
  std::mt19937_64 g(5);
  const std::int64_t N = 16, A = 45;
  // dyadic logits + a power-of-two shift: exactly representable, so bit-identical results
  std::vector<T> x(static_cast<std::size_t>(N * A)), xs(x.size()), xr(x.size());
  std::normal_distribution<double> nd;
  for (std::size_t k = 0; k < x.size(); ++k) {
    x[k] = static_cast<T>(std::round(nd(g) * 256.0) / 256.0);
    xs[k] = x[k] + T(64);
    xr[k] = static_cast<T>(static_cast<double>(x[k]) - 1234.567);
  }
  std::vector<std::int64_t> act(N);
  for (auto& a : act) a = static_cast<std::int64_t>(g() % A);
  std::vector<T> l1(N), e1(N), l2(N), e2(N), l3(N), e3(N);
  categorical_logprob_entropy<T>(view(x, N, A), act.data(), 1, l1.data(), e1.data());
  categorical_logprob_entropy<T>(view(xs, N, A), act.data(), 1, l2.data(), e2.data());
  categorical_logprob_entropy<T>(view(xr, N, A), act.data(), 1, l3.data(), e3.data());
  CHECK(l1 == l2);
  CHECK(e1 == e2);
  const double tol = sizeof(T) == 4 ? 3e-4 : 1e-10;  // the shift itself rounds the logits
  for (std::int64_t i = 0; i < N; ++i) {
    CHECK_NEAR(l3[static_cast<std::size_t>(i)], l1[static_cast<std::size_t>(i)], tol);
    CHECK_NEAR(e3[static_cast<std::size_t>(i)], e1[static_cast<std::size_t>(i)], tol);
  }
  // large logits stay finite and right
  std::vector<T> big = {T(1e4),  T(0),    T(-1e4), T(1e4), T(1e4), T(1e4),
                        T(-1e4), T(-1e4), T(1e4),  T(1e4), T(1e4), T(-1e4)};
  std::vector<std::int64_t> ba = {0, 2, 1, 1};
  std::vector<T> bl(4), be(4);
  categorical_logprob_entropy<T>(view(big, 4, 3), ba.data(), 1, bl.data(), be.data());
  for (int i = 0; i < 4; ++i) {
    CHECK(std::isfinite(bl[static_cast<std::size_t>(i)]));
    CHECK(std::isfinite(be[static_cast<std::size_t>(i)]));
  }
  CHECK_NEAR(bl[0], 0.0, 1e-6);
  CHECK_NEAR(be[0], 0.0, 1e-6);
  CHECK_NEAR(bl[1], -std::log(3.0), 1e-6);
  CHECK_NEAR(be[1], std::log(3.0), 1e-6);
  CHECK_NEAR(bl[2], -2e4, 1e-2);
  CHECK_NEAR(bl[3], -std::log(2.0), 1e-6);
  CHECK_NEAR(be[3], std::log(2.0), 1e-6);
}

TEST(categorical_shift_invariant_and_large_logits_float) { categorical_shift_and_large<float>(); }
TEST(categorical_shift_invariant_and_large_logits_double) { categorical_shift_and_large<double>(); }

TEST(categorical_rejects_bad_input) {
  const std::int64_t N = 6, A = 4;
  std::vector<float> x(N * A, 0.5f);
  std::vector<std::int64_t> act = {0, 1, 2, 3, 0, 1};
  std::vector<float> lp(N), en(N);
  auto call = [&](const std::vector<float>& xx, const std::vector<std::int64_t>& aa, int threads) {
    categorical_logprob_entropy<float>(view(xx, N, A), aa.data(), 1, lp.data(), en.data(), threads);
  };
  call(x, act, 1);
  for (int threads : {1, 3}) {
    auto a2 = act;
    a2[3] = 4;
    CHECK_THROWS_ARG(call(x, a2, threads), "actions");
    a2[3] = -1;
    CHECK_THROWS_ARG(call(x, a2, threads), "actions");
    for (float bad :
         {std::numeric_limits<float>::quiet_NaN(), std::numeric_limits<float>::infinity(),
          -std::numeric_limits<float>::infinity()}) {
      auto x2 = x;
      x2[4 * A + 2] = bad;
      CHECK_THROWS_ARG(call(x2, act, threads), "logits");
      // the first bad row decides: NaN in row 1, bad action in row 3
      x2 = x;
      x2[1 * A + 3] = bad;
      CHECK_THROWS_ARG(call(x2, a2, threads), "logits");
      // bad action in row 3, NaN in row 4
      x2 = x;
      x2[4 * A] = bad;
      CHECK_THROWS_ARG(call(x2, a2, threads), "actions");
    }
  }
  CHECK_THROWS_ARG(categorical_logprob_entropy<float>(View2D<float>{x.data(), 0, A, A, 1},
                                                      act.data(), 1, lp.data(), en.data()),
                   "logits");
  CHECK_THROWS_ARG(categorical_logprob_entropy<float>(View2D<float>{x.data(), N, 0, 0, 1},
                                                      act.data(), 1, lp.data(), en.data()),
                   "logits");
  CHECK_THROWS_ARG(
      categorical_logprob_entropy<float>(View2D<float>{}, act.data(), 1, lp.data(), en.data()),
      "logits");
  CHECK_THROWS_ARG(
      categorical_logprob_entropy<float>(view(x, N, A), nullptr, 1, lp.data(), en.data()),
      "actions");
  CHECK_THROWS_ARG(
      categorical_logprob_entropy<float>(view(x, N, A), act.data(), 1, lp.data(), en.data(), -1),
      "num_threads");
}

// ---- Gaussian ----------------------------------------------------------------------------

template <class T>
void gaussian_cases() {
  std::mt19937_64 g(6);
  std::normal_distribution<double> nd;
  const double c = 0.5 * (1.0 + std::log(2.0 * M_PI));
  for (std::int64_t D : {1, 3, 17}) {
    const std::int64_t N = 29;
    std::vector<T> ls(static_cast<std::size_t>(N * D));
    for (T& v : ls) v = static_cast<T>(nd(g));
    std::vector<T> out(N);
    gaussian_entropy<T>(view(ls, N, D), out.data());
    for (std::int64_t i = 0; i < N; ++i) {
      double s = 0;
      for (std::int64_t d = 0; d < D; ++d)
        s += static_cast<double>(ls[static_cast<std::size_t>(i * D + d)]);
      CHECK_NEAR(out[static_cast<std::size_t>(i)], s + static_cast<double>(D) * c,
                 sizeof(T) == 4 ? 1e-5 : 1e-13);
    }
    // a shared log_std broadcast over the batch (row_stride 0)
    std::vector<T> out2(N);
    gaussian_entropy<T>(View2D<T>{ls.data(), N, D, 0, 1}, out2.data());
    for (std::int64_t i = 0; i < N; ++i) CHECK(out2[static_cast<std::size_t>(i)] == out[0]);
  }
  std::vector<T> ls = {T(0.1), std::numeric_limits<T>::quiet_NaN()};
  std::vector<T> out(2);
  CHECK_THROWS_ARG(gaussian_entropy<T>(view(ls, 2, 1), out.data()), "log_std");
  ls[1] = std::numeric_limits<T>::infinity();
  CHECK_THROWS_ARG(gaussian_entropy<T>(view(ls, 2, 1), out.data()), "log_std");
  CHECK_THROWS_ARG(gaussian_entropy<T>(view(ls, 0, 1), out.data()), "log_std");
  CHECK_THROWS_ARG(gaussian_entropy<T>(view(ls, 2, 0), out.data()), "log_std");
  CHECK_THROWS_ARG(gaussian_entropy<T>(View2D<T>{}, out.data()), "log_std");
}

TEST(gaussian_entropy_float) { gaussian_cases<float>(); }
TEST(gaussian_entropy_double) { gaussian_cases<double>(); }

}  // namespace

PPOBR_TEST_MAIN
