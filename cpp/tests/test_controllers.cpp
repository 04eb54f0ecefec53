// Tests of the clip-range controllers (cpp/src/controllers.cpp).
//
// The bits of every controller's epsilon and diagnostics are checked against the one oracle,
// tests/reference.py, through its golden vectors (test_golden.cpp reads tests/golden/
// controllers.txt, which holds these tests' hand-computed sequences and long random sequences
// with non-finite and extreme inputs). Here: values worked out by hand (to ~1e-15, as decimal
// numbers), and the properties docs/SPEC.md requires, which need no reference: bounds,
// monotonicity, lambda1 = lambda2 = 0 exactness, counters, the ring buffer, rejection of bad
// input with the state unchanged.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"
#include "ppobr/controllers.hpp"
#include "ppobr/errors.hpp"

// Expected values computed here (the linear-decay schedule) must be evaluated without fused
// multiply-add, like the library (see controllers.cpp), or the bit-exact comparisons fail on
// FMA-capable builds.
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

using namespace ppobr;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::uint64_t bits(double x) {
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}
bool same_bits(double a, double b) { return bits(a) == bits(b); }
bool same_opt(const std::optional<double>& a, const std::optional<double>& b) {
  return a.has_value() == b.has_value() && (!a || same_bits(*a, *b));
}

bool same_state(const PPOBRState& a, const PPOBRState& b) {
  if (a.returns.size() != b.returns.size()) return false;
  for (std::size_t i = 0; i < a.returns.size(); ++i)
    if (!same_bits(a.returns[i], b.returns[i])) return false;
  return same_bits(a.epsilon, b.epsilon) && same_opt(a.entropy_ref, b.entropy_ref) &&
         a.head == b.head && a.count == b.count && a.updates == b.updates &&
         a.rejected_entropy == b.rejected_entropy && a.dropped_returns == b.dropped_returns &&
         same_bits(a.last_phi, b.last_phi) && same_bits(a.last_psi, b.last_psi) &&
         same_bits(a.last_entropy, b.last_entropy) && same_bits(a.last_z, b.last_z);
}
bool same_state(const KLAdaptiveState& a, const KLAdaptiveState& b) {
  return same_bits(a.epsilon, b.epsilon) && a.updates == b.updates &&
         a.rejected_kl == b.rejected_kl && same_bits(a.last_kl, b.last_kl);
}

Observation obs_of(std::optional<double> entropy, const std::vector<double>& returns = {}) {
  Observation o;
  o.entropy = entropy;
  o.episode_returns = returns.empty() ? nullptr : returns.data();
  o.num_episode_returns = returns.size();
  return o;
}

double lookup(const Diagnostics& d, const std::string& name) {
  for (auto& kv : d)
    if (kv.first == name) return kv.second;
  ppobr_test::fail(__FILE__, __LINE__, "missing diagnostic " + name);
  return kNaN;
}

// Random inputs with the nasty cases mixed in.
struct Gen {
  std::mt19937_64 rng;
  explicit Gen(std::uint64_t seed) : rng(seed) {}
  double uni(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
  double special() {
    static const double s[] = {kNaN,    kInf,     -kInf, 1e300, -1e300,
                               1.7e308, -1.7e308, 0.0,   -0.0,  5e-324};
    return s[pick(10)];
  }
  std::optional<double> entropy() {
    int r = pick(20);
    if (r == 0) return std::nullopt;
    if (r == 1) return kNaN;
    if (r == 2) return pick(2) ? kInf : -kInf;
    if (r == 3) return special();
    return uni(-1.0, 3.0);
  }
  std::vector<double> returns(double trend) {
    std::vector<double> v(pick(5));
    for (auto& x : v) {
      int r = pick(25);
      if (r == 0)
        x = special();
      else if (r == 1)
        x = 7.0;  // repeated values: zero spread
      else
        x = trend + uni(-1.0, 1.0) * (pick(2) ? 1.0 : 100.0);
    }
    return v;
  }
  PPOBRConfig config() {
    PPOBRConfig c;
    static const std::int64_t windows[] = {2, 3, 4, 5, 10, 11, 17};
    c.window = windows[pick(7)];
    c.psi_mode = pick(2) ? PsiMode::Plateau : PsiMode::Progress;
    c.eps0 = uni(0.05, 0.4);
    c.lambda1 = pick(5) == 0 ? 0.0 : uni(0.0, 1.5);
    c.lambda2 = pick(5) == 0 ? 0.0 : uni(0.0, 1.0);
    c.entropy_floor = pick(2) ? 0.0 : uni(-3.0, 0.5);
    if (pick(2)) c.entropy_ref = c.entropy_floor + uni(0.1, 3.0);
    if (pick(3) == 0) {
      c.eps_min = uni(0.0, c.eps0);
      c.eps_max = uni(c.eps0, 2.0 * c.eps0);
    }
    return c;
  }
};

// Runs a random sequence and checks what holds after every update without a reference: an
// entropy_ref error changes nothing; a rejected entropy only counts; otherwise epsilon is the
// returned value and within the bounds, phi and psi are in [0, 1], every diagnostic is finite,
// the window holds min(k, accepted finite returns) and non-finite returns are counted.
void check_invariants_along(const PPOBRConfig& c, Gen& g, int steps) {
  PPOBRController ctl(c);
  const std::size_t k = static_cast<std::size_t>(c.window);
  std::size_t held = 0;
  double trend = 0;
  for (int t = 0; t < steps; ++t) {
    trend += g.pick(3) == 0 ? 0.0 : g.uni(-0.5, 2.0);
    const auto H = g.entropy();
    const auto rets = g.returns(trend);
    const PPOBRState before = ctl.state();
    double e;
    try {
      e = ctl.update(obs_of(H, rets));
    } catch (const InvalidArgument& ex) {
      CHECK(ex.argument() == "entropy_ref");
      CHECK(same_state(before, ctl.state()));
      continue;
    }
    const PPOBRState& s = ctl.state();
    CHECK(same_bits(e, ctl.epsilon()));
    if (!H || !std::isfinite(*H)) {
      PPOBRState counted = s;
      CHECK(counted.rejected_entropy == before.rejected_entropy + 1);
      counted.rejected_entropy = before.rejected_entropy;
      CHECK(same_state(before, counted));
      continue;
    }
    std::int64_t finite = 0;
    for (double r : rets) finite += std::isfinite(r) ? 1 : 0;
    held = std::min(k, held + static_cast<std::size_t>(finite));
    CHECK(s.updates == before.updates + 1 && s.rejected_entropy == before.rejected_entropy);
    CHECK(s.dropped_returns ==
          before.dropped_returns + static_cast<std::int64_t>(rets.size()) - finite);
    CHECK(s.count == static_cast<std::int64_t>(held));
    CHECK(same_bits(s.last_entropy, *H));
    CHECK(e >= eps_min_of(c) && e <= eps_max_of(c));
    CHECK(s.last_phi >= 0 && s.last_phi <= 1 && s.last_psi >= 0 && s.last_psi <= 1);
    if (held < k) CHECK(s.last_z == 0.0 && s.last_psi == 0.0);  // warm-up
    for (auto& kv : ctl.diagnostics()) CHECK(std::isfinite(kv.second));
  }
}

}  // namespace

// ---- psi mode names
// ------------------------------------------------------------------------------

TEST(psi_mode_parse_and_name) {
  CHECK(parse_psi_mode("plateau") == PsiMode::Plateau);
  CHECK(parse_psi_mode("progress") == PsiMode::Progress);
  CHECK(std::string(psi_mode_name(PsiMode::Plateau)) == "plateau");
  CHECK(std::string(psi_mode_name(PsiMode::Progress)) == "progress");
  CHECK_THROWS_ARG(parse_psi_mode("Plateau"), "psi_mode");
  CHECK_THROWS_ARG(parse_psi_mode(""), "psi_mode");
  CHECK_THROWS_ARG(parse_psi_mode(nullptr), "psi_mode");
}

// ---- hand-computed values
// --------------------------------------------------------------------------

TEST(ppobr_initial_state) {
  PPOBRConfig c;
  PPOBRController ctl(c);
  CHECK(ctl.epsilon() == 0.2);
  CHECK(ctl.state().returns.size() == 10);
  CHECK(ctl.state().count == 0 && ctl.state().head == 0 && ctl.state().updates == 0);
  CHECK(!ctl.state().entropy_ref);
  CHECK(std::string(ctl.name()) == "ppobr");
  CHECK_NEAR(eps_min_of(c), 0.2 * 0.7, 1e-15);
  CHECK_NEAR(eps_max_of(c), 0.2 * 1.5, 1e-15);
  c.entropy_ref = 1.3;
  CHECK(*init(c).entropy_ref == 1.3);
}

TEST(ppobr_href_from_first_update) {
  PPOBRConfig c;  // eps0 .2, l1 .5, l2 .3, floor 0, no ref
  PPOBRController ctl(c);
  // first accepted entropy becomes H_ref: phi = 1, psi = 0 (warm-up)
  double e = ctl.update(obs_of(1.0));
  CHECK_NEAR(e, 0.2 * (1.0 + 0.5 * 0.7615941559557649), 1e-15);
  CHECK(*ctl.state().entropy_ref == 1.0);
  CHECK(ctl.state().last_phi == 1.0 && ctl.state().last_psi == 0.0);
  // then H = 0.5: phi = 0.5
  e = ctl.update(obs_of(0.5));
  CHECK_NEAR(ctl.state().last_phi, 0.5, 0);
  CHECK_NEAR(e, 0.2 * (1.0 + 0.5 * 0.46211715726000974), 1e-15);
  // above the reference: phi clipped to 1; below the floor: phi 0 -> eps = eps0
  CHECK(ctl.update(obs_of(2.5)) == ctl.update(obs_of(1.0)));
  CHECK(ctl.state().last_phi == 1.0);
  CHECK(ctl.update(obs_of(-0.3)) == 0.2);
  CHECK(ctl.state().last_phi == 0.0);
  CHECK(ctl.update(obs_of(0.0)) == 0.2);
  CHECK(*ctl.state().entropy_ref == 1.0);  // stays the first one
}

TEST(ppobr_href_given) {
  PPOBRConfig c;
  c.entropy_ref = std::log(4.0);  // categorical over 4 actions
  PPOBRController ctl(c);
  ctl.update(obs_of(0.5 * std::log(4.0)));
  CHECK_NEAR(ctl.state().last_phi, 0.5, 1e-15);
  CHECK(*ctl.state().entropy_ref == std::log(4.0));
  ctl.update(obs_of(10.0));
  CHECK(ctl.state().last_phi == 1.0);
  // given floor and ref, negative (Gaussian) entropies are fine
  PPOBRConfig g;
  g.entropy_floor = -3.0;
  g.entropy_ref = 1.0;
  PPOBRController gc(g);
  gc.update(obs_of(-1.0));
  CHECK_NEAR(gc.state().last_phi, 0.5, 1e-15);
  gc.update(obs_of(-5.0));
  CHECK(gc.state().last_phi == 0.0);
  // floor given, ref from the first entropy
  PPOBRConfig f;
  f.entropy_floor = -2.0;
  PPOBRController fc(f);
  fc.update(obs_of(-1.0));
  CHECK(*fc.state().entropy_ref == -1.0 && fc.state().last_phi == 1.0);
  fc.update(obs_of(-1.5));
  CHECK_NEAR(fc.state().last_phi, 0.5, 1e-15);
}

TEST(ppobr_window2_hand_computed) {
  PPOBRConfig c;
  c.window = 2;
  c.entropy_ref = 1.0;
  PPOBRController ctl(c);
  std::vector<double> r1 = {1.0};
  ctl.update(obs_of(1.0, r1));
  CHECK(ctl.state().last_psi == 0.0 && ctl.state().last_z == 0.0);  // warm-up
  std::vector<double> r2 = {3.0};
  double e = ctl.update(obs_of(1.0, r2));
  // mean_old 1, mean_new 3, mean 2, std 1: z = 2 / (1 + 3e-8), psi = 1 - tanh z,
  // eps = 0.2 (1 + 0.5 tanh 1 - 0.3 tanh psi) (decimal values from 40-digit arithmetic)
  const double z = 1.9999999400000018;
  CHECK_NEAR(ctl.state().last_z, z, 1e-15);
  CHECK_NEAR(ctl.state().last_psi, 0.035972424163232725, 1e-15);
  CHECK_NEAR(e, 0.27400200064150025, 1e-15);
  // progress mode: psi = clip(z, 0, 1) = 1
  c.psi_mode = PsiMode::Progress;
  PPOBRController p(c);
  std::vector<double> r12 = {1.0, 3.0};
  e = p.update(obs_of(1.0, r12));
  CHECK(p.state().last_psi == 1.0);
  CHECK_NEAR(e, 0.23046376623823060, 1e-15);  // 0.2 (1 + 0.5 tanh 1 - 0.3 tanh 1)
  // falling returns: progress psi = 0, plateau psi the same as for rising
  PPOBRController p2(c);
  std::vector<double> r21 = {3.0, 1.0};
  p2.update(obs_of(1.0, r21));
  CHECK(p2.state().last_psi == 0.0);
  CHECK_NEAR(p2.state().last_z, -z, 1e-15);
}

TEST(ppobr_window3_hand_computed) {
  PPOBRConfig c;
  c.window = 3;
  c.entropy_ref = 2.0;
  PPOBRController ctl(c);
  // the first return is pushed out; the window is {1, 2, 4}; the middle 2 is in neither half
  std::vector<double> r = {100.0, 1.0, 2.0, 4.0};
  ctl.update(obs_of(1.0, r));
  // mean 7/3, var 14/9, std sqrt(14)/3, z = 3 / (std + 1e-8 (1 + 7/3))
  CHECK_NEAR(ctl.state().last_z, 2.4053511129261069, 1e-14);
  CHECK_NEAR(ctl.state().last_phi, 0.5, 0);
  // constant returns: z = 0, plateau psi = 1 (full contraction)
  PPOBRController k(c);
  std::vector<double> same = {5.0, 5.0, 5.0};
  double e = k.update(obs_of(2.0, same));
  CHECK(k.state().last_z == 0.0 && k.state().last_psi == 1.0);
  CHECK_NEAR(e, 0.23046376623823060, 1e-15);  // 0.2 (1 + 0.5 tanh 1 - 0.3 tanh 1)
}

TEST(ppobr_invariants_along_random_sequences) {
  for (std::int64_t w : {2, 3, 10, 11}) {
    for (PsiMode m : {PsiMode::Plateau, PsiMode::Progress}) {
      PPOBRConfig c;
      c.window = w;
      c.psi_mode = m;
      Gen g(1000 + w * 2 + (m == PsiMode::Progress));
      check_invariants_along(c, g, 400);
    }
  }
}

TEST(ppobr_warmup) {
  for (std::int64_t w : {2, 3, 10, 11}) {
    PPOBRConfig c;
    c.window = w;
    c.entropy_ref = 1.0;
    PPOBRController ctl(c);
    // psi = 0 in the warm-up: the returns do not matter yet
    PPOBRController no_returns(c);
    const double e_entropy_only = no_returns.update(obs_of(0.7));
    CHECK(e_entropy_only > 0.2);
    for (std::int64_t i = 0; i < w - 1; ++i) {
      std::vector<double> r = {double(i * i)};
      ctl.update(obs_of(0.7, r));
      CHECK(ctl.state().last_psi == 0.0 && ctl.state().last_z == 0.0);
      CHECK(ctl.state().count == i + 1);
      CHECK(same_bits(ctl.epsilon(), e_entropy_only));
    }
    std::vector<double> r = {1e6};
    ctl.update(obs_of(0.7, r));
    CHECK(ctl.state().count == w);
    CHECK(ctl.state().last_z > 0.0);
    CHECK(ctl.state().last_psi > 0.0);
    // k returns in a single update end the warm-up in that update
    PPOBRController one(c);
    std::vector<double> many(w, 0.0);
    for (std::int64_t i = 0; i < w; ++i) many[i] = double(i);
    one.update(obs_of(0.7, many));
    CHECK(one.state().count == w && one.state().last_z > 0.0);
  }
}

TEST(ppobr_invariants_along_random_configs) {
  Gen g(42);
  for (int trial = 0; trial < 300; ++trial) check_invariants_along(g.config(), g, 120);
}

TEST(ppobr_bounds_random_sequences) {
  Gen g(7);
  for (int trial = 0; trial < 300; ++trial) {
    PPOBRConfig c = g.config();
    PPOBRController ctl(c);
    const double lo = eps_min_of(c), hi = eps_max_of(c);
    double trend = 0;
    for (int t = 0; t < 200; ++t) {
      trend += g.uni(-1, 1);
      auto rets = g.returns(trend);
      double e;
      try {
        e = ctl.update(obs_of(g.entropy(), rets));
      } catch (const InvalidArgument& ex) {
        CHECK(ex.argument() == "entropy_ref");
        continue;
      }
      CHECK(std::isfinite(e));
      CHECK(e >= lo && e <= hi);
    }
  }
}

TEST(ppobr_overflowing_returns_stay_bounded) {
  // float64 overflow in the window statistics: z is treated as unavailable (z = psi = 0).
  PPOBRConfig c;
  c.window = 4;
  c.entropy_ref = 1.0;
  for (PsiMode m : {PsiMode::Plateau, PsiMode::Progress}) {
    c.psi_mode = m;
    PPOBRController ctl(c), no_returns(c);
    const double e_entropy_only = no_returns.update(obs_of(0.5));
    std::vector<double> r = {1.7e308, 1.7e308, -1.7e308, 1.7e308};
    double e = ctl.update(obs_of(0.5, r));
    CHECK(std::isfinite(ctl.state().last_z) && std::isfinite(ctl.state().last_psi));
    CHECK(e >= eps_min_of(c) && e <= eps_max_of(c));
    std::vector<double> r2 = {1e308, 1e308, 1e308, 1e308};  // sum overflows to +Inf
    e = ctl.update(obs_of(0.5, r2));
    CHECK(ctl.state().last_z == 0.0 && ctl.state().last_psi == 0.0);
    CHECK(same_bits(e, e_entropy_only));  // psi = 0: as if no episode had finished
  }
  // entropy differences that overflow
  PPOBRConfig f;
  f.entropy_floor = -1.7e308;
  f.entropy_ref = 1.7e308;
  PPOBRController fc(f);
  double e = fc.update(obs_of(1.7e308));
  CHECK(fc.state().last_phi == 0.0);  // Inf / Inf = NaN -> 0
  CHECK(e == 0.2);
  e = fc.update(obs_of(0.0));  // 1.7e308 / Inf = 0
  CHECK(fc.state().last_phi == 0.0 && e == 0.2);
}

TEST(ppobr_monotone_in_entropy) {
  Gen g(11);
  for (int trial = 0; trial < 100; ++trial) {
    PPOBRConfig c = g.config();
    if (!c.entropy_ref) c.entropy_ref = c.entropy_floor + 1.0;
    PPOBRController base(c);
    std::vector<double> fill(c.window);
    for (auto& x : fill) x = g.uni(-10, 10);
    base.update(obs_of(0.0 + *c.entropy_ref, fill));
    std::vector<double> hs = {-kInf,          -1e300, 1e300, kInf,  c.entropy_floor,
                              *c.entropy_ref, -0.0,   0.0,   5e-324};
    for (int i = 0; i < 300; ++i) hs.push_back(g.uni(c.entropy_floor - 1.0, *c.entropy_ref + 1.0));
    std::sort(hs.begin(), hs.end());
    double prev = -kInf;
    for (double h : hs) {
      auto ctl = base.clone();
      double e = ctl->update(obs_of(h));
      if (std::isinf(h)) {
        CHECK(same_bits(e, base.epsilon()));  // rejected
        continue;
      }
      CHECK(e >= prev);
      prev = e;
    }
  }
}

TEST(ppobr_monotone_in_psi) {
  Gen g(12);
  for (PsiMode m : {PsiMode::Plateau, PsiMode::Progress}) {
    for (int trial = 0; trial < 20; ++trial) {
      PPOBRConfig c = g.config();
      c.psi_mode = m;
      c.entropy_ref = c.entropy_floor + 1.0;
      const double H = c.entropy_floor + g.uni(0.0, 1.2);
      std::vector<std::pair<double, double>> pe;  // (psi, eps)
      for (int i = 0; i < 400; ++i) {
        PPOBRController ctl(c);
        std::vector<double> w(c.window);
        const double slope = g.uni(-2, 2) * (i % 4 == 0 ? 0.0 : 1.0);
        for (std::size_t j = 0; j < w.size(); ++j)
          w[j] = slope * double(j) + g.uni(-1, 1) * g.uni(0, 3);
        double e = ctl.update(obs_of(H, w));
        pe.push_back({ctl.state().last_psi, e});
      }
      std::sort(pe.begin(), pe.end());
      for (std::size_t i = 1; i < pe.size(); ++i) CHECK(pe[i].second <= pe[i - 1].second);
      CHECK(pe.front().first < pe.back().first);
    }
  }
}

TEST(ppobr_lambda_zero_is_eps0_bit_exact) {
  Gen g(13);
  for (double eps0 : {0.2, 0.1, 1.0 / 3.0, 0.123456789, 5e-300, 1e300, 0.3}) {
    for (int trial = 0; trial < 10; ++trial) {
      PPOBRConfig c = g.config();
      c.eps0 = eps0;
      c.lambda1 = 0.0;
      c.lambda2 = 0.0;
      c.eps_min.reset();
      c.eps_max.reset();
      PPOBRController ctl(c);
      CHECK(same_bits(ctl.epsilon(), eps0));
      for (int t = 0; t < 100; ++t) {
        auto rets = g.returns(t * 1.0);
        try {
          CHECK(same_bits(ctl.update(obs_of(g.entropy(), rets)), eps0));
        } catch (const InvalidArgument&) {
        }
      }
    }
  }
}

TEST(ppobr_ablations) {
  // lambda2 = 0: the returns do not matter; lambda1 = 0: the entropy does not matter.
  Gen g(14);
  PPOBRConfig c;
  c.entropy_ref = 1.0;
  c.lambda2 = 0.0;
  PPOBRController a(c), b(c);
  for (int t = 0; t < 50; ++t) {
    double H = g.uni(0, 1);
    auto r1 = g.returns(t);
    CHECK(same_bits(a.update(obs_of(H, r1)), b.update(obs_of(H))));
  }
  c.lambda2 = 0.3;
  c.lambda1 = 0.0;
  PPOBRController x(c), y(c);
  for (int t = 0; t < 50; ++t) {
    auto r1 = g.returns(t);
    CHECK(same_bits(x.update(obs_of(g.uni(0, 1), r1)), y.update(obs_of(g.uni(0, 1), r1))));
  }
}

// ---- non-finite inputs and counters
// ----------------------------------------------------------------

TEST(ppobr_rejected_entropy_and_dropped_returns) {
  PPOBRConfig c;
  c.window = 3;
  PPOBRController ctl(c);
  std::vector<double> r = {1.0, 2.0};
  for (std::optional<double> bad : {std::optional<double>(), std::optional<double>(kNaN),
                                    std::optional<double>(kInf), std::optional<double>(-kInf)}) {
    PPOBRState before = ctl.state();
    CHECK(ctl.update(obs_of(bad, r)) == 0.2);
    PPOBRState after = ctl.state();
    CHECK(after.rejected_entropy == before.rejected_entropy + 1);
    after.rejected_entropy = before.rejected_entropy;
    CHECK(same_state(before, after));  // returns NOT added, nothing else changed
  }
  CHECK(ctl.state().rejected_entropy == 4);
  CHECK(ctl.state().count == 0 && ctl.state().dropped_returns == 0 && ctl.state().updates == 0);
  CHECK(!ctl.state().entropy_ref);

  std::vector<double> mixed = {1.0, kNaN, kInf, 2.0, -kInf};
  double e = ctl.update(obs_of(1.0, mixed));
  CHECK(ctl.state().count == 2 && ctl.state().dropped_returns == 3 && ctl.state().updates == 1);
  CHECK(ctl.state().returns[0] == 1.0 && ctl.state().returns[1] == 2.0);
  // a rejected update after accepted ones keeps epsilon
  CHECK(ctl.update(obs_of(kNaN, mixed)) == e);
  CHECK(ctl.state().count == 2 && ctl.state().dropped_returns == 3 &&
        ctl.state().rejected_entropy == 5);
  auto d = ctl.diagnostics();
  CHECK(lookup(d, "rejected_entropy") == 5 && lookup(d, "dropped_returns") == 3 &&
        lookup(d, "num_returns") == 2);
  // a "no episode finished" update keeps the buffer and recomputes from the entropy
  ctl.update(obs_of(0.25));
  CHECK(ctl.state().count == 2 && ctl.state().last_phi == 0.25 && ctl.state().updates == 2);
}

TEST(ppobr_ring_buffer_wraps) {
  PPOBRConfig c;
  c.window = 3;
  c.entropy_ref = 1.0;
  PPOBRController ctl(c);
  for (int i = 0; i < 7; ++i) {
    std::vector<double> r = {double(i)};
    ctl.update(obs_of(0.5, r));
  }
  const auto& s = ctl.state();
  CHECK(s.count == 3 && s.head == 7 % 3);
  CHECK(s.returns[0] == 6.0 && s.returns[1] == 4.0 && s.returns[2] == 5.0);
  // window {4, 5, 6}: z = 2 / (sqrt(2/3) + 1e-8 (1 + 5))
  CHECK_NEAR(s.last_z, 2.4494895627831913, 1e-14);
}

// ---- bad input
// -----------------------------------------------------------------------------------

TEST(ppobr_config_errors) {
  struct Case {
    const char* field;
    void (*edit)(PPOBRConfig&);
  };
  const Case cases[] = {
      {"eps0", [](PPOBRConfig& c) { c.eps0 = 0.0; }},
      {"eps0", [](PPOBRConfig& c) { c.eps0 = -0.1; }},
      {"eps0", [](PPOBRConfig& c) { c.eps0 = kNaN; }},
      {"eps0", [](PPOBRConfig& c) { c.eps0 = kInf; }},
      {"lambda1", [](PPOBRConfig& c) { c.lambda1 = -0.01; }},
      {"lambda1", [](PPOBRConfig& c) { c.lambda1 = kNaN; }},
      {"lambda1", [](PPOBRConfig& c) { c.lambda1 = kInf; }},
      {"lambda2", [](PPOBRConfig& c) { c.lambda2 = -1.0; }},
      {"lambda2", [](PPOBRConfig& c) { c.lambda2 = kNaN; }},
      {"window", [](PPOBRConfig& c) { c.window = 1; }},
      {"window", [](PPOBRConfig& c) { c.window = 0; }},
      {"window", [](PPOBRConfig& c) { c.window = -5; }},
      {"window", [](PPOBRConfig& c) { c.window = 1000001; }},
      {"window", [](PPOBRConfig& c) { c.window = INT64_MAX; }},
      {"psi_mode", [](PPOBRConfig& c) { c.psi_mode = static_cast<PsiMode>(7); }},
      {"entropy_ref", [](PPOBRConfig& c) { c.entropy_ref = kNaN; }},
      {"entropy_ref", [](PPOBRConfig& c) { c.entropy_ref = kInf; }},
      {"entropy_ref", [](PPOBRConfig& c) { c.entropy_ref = 0.0; }},
      {"entropy_ref", [](PPOBRConfig& c) { c.entropy_ref = -1.0; }},
      {"entropy_ref",
       [](PPOBRConfig& c) {
         c.entropy_floor = 2.0;
         c.entropy_ref = 1.0;
       }},
      {"entropy_floor", [](PPOBRConfig& c) { c.entropy_floor = kNaN; }},
      {"entropy_floor", [](PPOBRConfig& c) { c.entropy_floor = -kInf; }},
      {"eps_min", [](PPOBRConfig& c) { c.eps_min = -0.01; }},
      {"eps_min", [](PPOBRConfig& c) { c.eps_min = kNaN; }},
      {"eps_min", [](PPOBRConfig& c) { c.eps_min = 0.31; }},  // > default eps_max 0.3
      {"eps_min",
       [](PPOBRConfig& c) {
         c.eps_min = 0.2;
         c.eps_max = 0.1;
       }},
      {"eps_min", [](PPOBRConfig& c) { c.eps_max = 0.1; }},  // default eps_min 0.14 > 0.1
      {"eps_min", [](PPOBRConfig& c) { c.lambda2 = 1.5; }},  // default eps_min negative
      {"eps_max", [](PPOBRConfig& c) { c.eps_max = 0.0; }},
      {"eps_max", [](PPOBRConfig& c) { c.eps_max = -1.0; }},
      {"eps_max", [](PPOBRConfig& c) { c.eps_max = kInf; }},
      {"eps_max",
       [](PPOBRConfig& c) {
         c.eps0 = 1e300;
         c.lambda1 = 1e10;
       }},                                                 // default overflows
      {"eps0", [](PPOBRConfig& c) { c.eps_min = 0.25; }},  // eps0 below eps_min
      {"eps0",
       [](PPOBRConfig& c) {
         c.eps_max = 0.15;
         c.eps_min = 0.1;
       }},  // eps0 above eps_max
  };
  for (const auto& k : cases) {
    PPOBRConfig c;
    k.edit(c);
    CHECK_THROWS_ARG(validate(c), k.field);
    CHECK_THROWS_ARG(PPOBRController{c}, k.field);
    CHECK_THROWS_ARG(init(c), k.field);
    // update with a bad config leaves a valid state unchanged
    PPOBRConfig good;
    good.window = c.window >= 2 && c.window <= 1000000 ? c.window : 10;
    PPOBRState s = init(good);
    update(good, s, obs_of(1.0));
    PPOBRState before = s;
    CHECK_THROWS_ARG(update(c, s, obs_of(1.0)), k.field);
    CHECK(same_state(before, s));
  }
  // valid edge cases
  PPOBRConfig ok;
  ok.lambda1 = 0.0;
  ok.lambda2 = 1.0;  // eps_min = 0
  validate(ok);
  ok.eps_min = 0.0;
  ok.eps_max = 0.2;
  validate(ok);
  ok.window = 2;
  validate(ok);
  ok.window = 1000000;
  validate(ok);
}

TEST(ppobr_entropy_ref_error_leaves_state_unchanged) {
  PPOBRConfig c;  // floor 0, H_ref from the first entropy
  c.window = 3;
  PPOBRController ctl(c);
  ctl.update(obs_of(kNaN));  // one rejected update, so the state is not pristine
  for (double h : {-0.5, 0.0, -0.0, -1e300}) {
    PPOBRState before = ctl.state();
    std::vector<double> r = {1.0, kNaN, 2.0};
    CHECK_THROWS_ARG(ctl.update(obs_of(h, r)), "entropy_ref");
    CHECK(same_state(before, ctl.state()));
  }
  try {
    ctl.update(obs_of(-0.5));
  } catch (const InvalidArgument& e) {
    std::string msg = e.what();
    CHECK(msg.find("entropy_ref") != std::string::npos);
    CHECK(msg.find("entropy_floor") != std::string::npos);
    CHECK(msg.find("log(n_actions)") != std::string::npos);
    CHECK(msg.find("negative") != std::string::npos);
  }
  // still usable
  std::vector<double> r = {1.0};
  CHECK(ctl.update(obs_of(0.8, r)) > 0.2);
  CHECK(*ctl.state().entropy_ref == 0.8 && ctl.state().count == 1);
}

TEST(ppobr_bad_state_and_observation) {
  PPOBRConfig c;
  PPOBRState s = init(c);
  std::vector<double> r = {1.0};
  update(c, s, obs_of(1.0, r));
  const PPOBRState good = s;
  Observation o = obs_of(1.0);
  o.num_episode_returns = 3;  // null pointer
  CHECK_THROWS_ARG(update(c, s, o), "episode_returns");
  CHECK(same_state(good, s));
  PPOBRState bad = good;
  bad.returns.resize(5);
  PPOBRState copy = bad;
  CHECK_THROWS_ARG(update(c, bad, obs_of(1.0)), "state");
  CHECK(same_state(copy, bad));
  bad = good;
  bad.head = 10;
  CHECK_THROWS_ARG(update(c, bad, obs_of(1.0)), "state");
  bad = good;
  bad.count = 11;
  CHECK_THROWS_ARG(update(c, bad, obs_of(1.0)), "state");
  bad = good;
  bad.count = -1;
  CHECK_THROWS_ARG(update(c, bad, obs_of(1.0)), "state");
}

// ---- diagnostics and config items
// ------------------------------------------------------------------

TEST(ppobr_diagnostics_and_config_items) {
  PPOBRConfig c;
  c.window = 4;
  c.psi_mode = PsiMode::Progress;
  c.eps_max = 0.28;
  PPOBRController ctl(c);
  auto d = ctl.diagnostics();
  const char* names[] = {
      "epsilon",     "phi",         "psi",     "entropy",          "z",
      "entropy_ref", "num_returns", "updates", "rejected_entropy", "dropped_returns"};
  CHECK(d.size() == 10);
  for (std::size_t i = 0; i < d.size() && i < 10; ++i) CHECK(d[i].first == names[i]);
  CHECK(d[0].second == 0.2);
  CHECK(std::isnan(lookup(d, "entropy_ref")));
  std::vector<double> r = {1, 2, 3, 4};
  ctl.update(obs_of(0.9, r));
  d = ctl.diagnostics();
  CHECK(lookup(d, "epsilon") == ctl.epsilon());
  CHECK(lookup(d, "entropy_ref") == 0.9 && lookup(d, "entropy") == 0.9 && lookup(d, "phi") == 1.0);
  CHECK(lookup(d, "num_returns") == 4 && lookup(d, "updates") == 1);
  CHECK(lookup(d, "z") == ctl.state().last_z && lookup(d, "psi") == ctl.state().last_psi);

  auto ci = ctl.config_items();
  const char* cnames[] = {"eps0",     "lambda1",           "lambda2",          "window",
                          "psi_mode", "entropy_ref",       "entropy_floor",    "eps_min",
                          "eps_max",  "eps_min_effective", "eps_max_effective"};
  CHECK(ci.size() == 11);
  for (std::size_t i = 0; i < ci.size() && i < 11; ++i) CHECK(ci[i].first == cnames[i]);
  CHECK(lookup(ci, "eps0") == 0.2 && lookup(ci, "lambda1") == 0.5 && lookup(ci, "lambda2") == 0.3);
  CHECK(lookup(ci, "window") == 4 && lookup(ci, "psi_mode") == 1.0);
  CHECK(std::isnan(lookup(ci, "entropy_ref")) && lookup(ci, "entropy_floor") == 0.0);
  CHECK(std::isnan(lookup(ci, "eps_min")) && lookup(ci, "eps_max") == 0.28);
  CHECK(lookup(ci, "eps_min_effective") == eps_min_of(c) &&
        lookup(ci, "eps_max_effective") == 0.28);
}

// ---- constant
// --------------------------------------------------------------------------------------

TEST(constant_controller) {
  ConstantConfig c;
  c.eps = 0.15;
  ConstantController ctl(c);
  CHECK(std::string(ctl.name()) == "constant");
  CHECK(ctl.epsilon() == 0.15);
  CHECK(ctl.update(obs_of(kNaN)) == 0.15);
  CHECK(ctl.update(Observation{}) == 0.15);
  CHECK(ctl.state().updates == 2);
  auto d = ctl.diagnostics();
  CHECK(d.size() == 2 && d[0].first == "epsilon" && d[1].first == "updates" && d[1].second == 2);
  auto ci = ctl.config_items();
  CHECK(ci.size() == 1 && ci[0].first == "eps" && ci[0].second == 0.15);
  for (double bad : {-1e-300, -0.2, kNaN, kInf}) {
    ConstantConfig b;
    b.eps = bad;
    CHECK_THROWS_ARG(validate(b), "eps");
    CHECK_THROWS_ARG(ConstantController{b}, "eps");
  }
  // eps = 0 is a valid clip range (the ratio is clipped to exactly 1)
  ConstantConfig zero;
  zero.eps = 0.0;
  ConstantController z(zero);
  CHECK(z.epsilon() == 0.0 && z.update(Observation{}) == 0.0);
}

// ---- linear decay
// ----------------------------------------------------------------------------------

TEST(linear_decay_controller) {
  LinearDecayConfig c;
  c.eps_start = 0.3;
  c.eps_end = 0.1;
  c.total_updates = 4;
  LinearDecayController ctl(c);
  CHECK(std::string(ctl.name()) == "linear_decay");
  CHECK(ctl.epsilon() == 0.3);
  std::vector<double> got;
  for (int t = 0; t < 7; ++t) got.push_back(ctl.update(Observation{}));
  CHECK(got[0] == 0.3);  // t = 0 returns eps_start
  for (int t = 0; t < 7; ++t) {
    const double expect = 0.3 + (0.1 - 0.3) * (double(std::min(t, 4)) / 4.0);
    CHECK(same_bits(got[t], expect));
  }
  CHECK_NEAR(got[2], 0.2, 1e-15);
  CHECK_NEAR(got[4], 0.1, 1e-15);
  CHECK(got[5] == got[4] && got[6] == got[4]);  // stays at eps_end after total_updates
  CHECK(ctl.state().updates == 7);
  // defaults: 0.2 then 0 exactly
  LinearDecayController d{LinearDecayConfig{}};
  CHECK(d.update(Observation{}) == 0.2);
  CHECK(d.update(Observation{}) == 0.0);
  CHECK(d.update(Observation{}) == 0.0);
  // increasing schedule is allowed
  LinearDecayConfig up;
  up.eps_start = 0.1;
  up.eps_end = 0.3;
  up.total_updates = 2;
  LinearDecayController u(up);
  u.update(Observation{});
  CHECK_NEAR(u.update(Observation{}), 0.2, 1e-15);
  CHECK_NEAR(u.update(Observation{}), 0.3, 1e-15);
  auto ci = ctl.config_items();
  CHECK(ci.size() == 3 && ci[0].first == "eps_start" && ci[1].first == "eps_end" &&
        ci[2].first == "total_updates");
  CHECK(ci[2].second == 4.0);
  auto dg = ctl.diagnostics();
  CHECK(dg.size() == 2 && dg[0].first == "epsilon" && dg[1].first == "updates");

  LinearDecayConfig b;
  b.eps_start = -0.01;
  CHECK_THROWS_ARG(validate(b), "eps_start");
  b.eps_start = 0.0;  // both ends may be 0: the schedule interpolates, it does not scale
  b.eps_end = 0.0;
  validate(b);
  LinearDecayController flat(b);
  CHECK(flat.update(Observation{}) == 0.0 && flat.update(Observation{}) == 0.0);
  b.eps_end = 0.2;  // growing from 0
  LinearDecayController grow(b);
  CHECK(grow.update(Observation{}) == 0.0);
  CHECK(grow.update(Observation{}) > 0.0);
  b.eps_start = kNaN;
  CHECK_THROWS_ARG(validate(b), "eps_start");
  b = LinearDecayConfig{};
  b.eps_end = -0.01;
  CHECK_THROWS_ARG(validate(b), "eps_end");
  b.eps_end = kInf;
  CHECK_THROWS_ARG(validate(b), "eps_end");
  b = LinearDecayConfig{};
  b.total_updates = 0;
  CHECK_THROWS_ARG(validate(b), "total_updates");
  CHECK_THROWS_ARG(LinearDecayController{b}, "total_updates");
}

// ---- KL-adaptive
// -----------------------------------------------------------------------------------

TEST(kl_adaptive_controller) {
  KLAdaptiveConfig c;  // eps0 .2, target .01, tol 1.5, rate 1.5, [0.02, 0.5]
  KLAdaptiveController ctl(c);
  CHECK(std::string(ctl.name()) == "kl_adaptive");
  CHECK(ctl.epsilon() == 0.2);
  Observation o;
  o.kl = 0.1;  // too large: shrink
  CHECK(ctl.update(o) == 0.2 / 1.5);
  o.kl = 0.001;  // too small: grow
  CHECK(ctl.update(o) == (0.2 / 1.5) * 1.5);
  o.kl = 0.01;  // within tolerance: keep
  double e = ctl.epsilon();
  CHECK(ctl.update(o) == e);
  o.kl = 0.01 * 1.5;  // exactly at the upper threshold: keep (strict)
  CHECK(ctl.update(o) == e);
  o.kl = 0.01 / 1.5;  // exactly at the lower threshold: keep
  CHECK(ctl.update(o) == e);
  o.kl = -0.5;  // negative estimates (k1) count as small
  CHECK(ctl.update(o) == e * 1.5);
  CHECK(ctl.state().updates == 6 && ctl.state().last_kl == -0.5);
  // clipping at both ends
  o.kl = 1.0;
  for (int i = 0; i < 30; ++i) ctl.update(o);
  CHECK(ctl.epsilon() == 0.02);
  o.kl = 0.0;
  for (int i = 0; i < 30; ++i) ctl.update(o);
  CHECK(ctl.epsilon() == 0.5);
  // non-finite kl: unchanged, counted
  KLAdaptiveState before = ctl.state();
  for (double bad : {kNaN, kInf, -kInf}) {
    o.kl = bad;
    CHECK(ctl.update(o) == 0.5);
  }
  CHECK(ctl.state().rejected_kl == 3 && ctl.state().updates == before.updates &&
        ctl.state().last_kl == 0.0);
  // missing kl: InvalidArgument("kl"), state unchanged
  before = ctl.state();
  CHECK_THROWS_ARG(ctl.update(obs_of(1.0)), "kl");
  CHECK(same_state(before, ctl.state()));
  auto d = ctl.diagnostics();
  CHECK(d.size() == 4 && d[0].first == "epsilon" && d[1].first == "updates" && d[2].first == "kl" &&
        d[3].first == "rejected_kl");
  CHECK(d[3].second == 3);
  auto ci = ctl.config_items();
  const char* names[] = {"eps0", "kl_target", "tolerance", "rate", "eps_min", "eps_max"};
  CHECK(ci.size() == 6);
  for (std::size_t i = 0; i < ci.size() && i < 6; ++i) CHECK(ci[i].first == names[i]);
}

TEST(kl_adaptive_config_errors) {
  struct Case {
    const char* field;
    void (*edit)(KLAdaptiveConfig&);
  };
  const Case cases[] = {
      {"eps0", [](KLAdaptiveConfig& c) { c.eps0 = 0.0; }},
      {"eps0", [](KLAdaptiveConfig& c) { c.eps0 = kNaN; }},
      {"eps0", [](KLAdaptiveConfig& c) { c.eps0 = 0.01; }},  // below eps_min
      {"eps0", [](KLAdaptiveConfig& c) { c.eps0 = 0.6; }},   // above eps_max
      {"kl_target", [](KLAdaptiveConfig& c) { c.kl_target = 0.0; }},
      {"kl_target", [](KLAdaptiveConfig& c) { c.kl_target = kInf; }},
      {"tolerance", [](KLAdaptiveConfig& c) { c.tolerance = 1.0; }},
      {"tolerance", [](KLAdaptiveConfig& c) { c.tolerance = kNaN; }},
      {"rate", [](KLAdaptiveConfig& c) { c.rate = 1.0; }},
      {"rate", [](KLAdaptiveConfig& c) { c.rate = 0.5; }},
      {"rate", [](KLAdaptiveConfig& c) { c.rate = kInf; }},
      {"eps_min", [](KLAdaptiveConfig& c) { c.eps_min = 0.0; }},
      {"eps_min", [](KLAdaptiveConfig& c) { c.eps_min = kNaN; }},
      {"eps_min", [](KLAdaptiveConfig& c) { c.eps_min = 0.6; }},  // > eps_max
      {"eps_max", [](KLAdaptiveConfig& c) { c.eps_max = kInf; }},
      {"eps_max", [](KLAdaptiveConfig& c) { c.eps_max = -1.0; }},
  };
  for (const auto& k : cases) {
    KLAdaptiveConfig c;
    k.edit(c);
    CHECK_THROWS_ARG(validate(c), k.field);
    CHECK_THROWS_ARG(KLAdaptiveController{c}, k.field);
  }
}

TEST(baseline_update_with_bad_config_leaves_state_unchanged) {
  ConstantState cs = init(ConstantConfig{});
  update(ConstantConfig{}, cs, Observation{});
  CHECK_THROWS_ARG(update(ConstantConfig{kNaN}, cs, Observation{}), "eps");
  CHECK(cs.epsilon == 0.2 && cs.updates == 1);
  LinearDecayConfig lc;
  lc.total_updates = 3;
  LinearDecayState ls = init(lc);
  update(lc, ls, Observation{});
  LinearDecayConfig lb = lc;
  lb.total_updates = 0;
  CHECK_THROWS_ARG(update(lb, ls, Observation{}), "total_updates");
  CHECK(ls.epsilon == 0.2 && ls.updates == 1);
  KLAdaptiveConfig kc;
  KLAdaptiveState ks = init(kc);
  Observation o;
  o.kl = 1.0;
  update(kc, ks, o);
  KLAdaptiveState before = ks;
  KLAdaptiveConfig kb = kc;
  kb.tolerance = 0.5;
  CHECK_THROWS_ARG(update(kb, ks, o), "tolerance");
  CHECK(same_state(before, ks));
}

TEST(controller_interface_clone) {
  PPOBRConfig c;
  c.window = 2;
  std::unique_ptr<Controller> a = std::make_unique<PPOBRController>(c);
  std::vector<double> r = {1.0, 2.0};
  a->update(obs_of(1.0, r));
  auto b = a->clone();
  std::vector<double> r2 = {5.0};
  CHECK(same_bits(a->update(obs_of(0.3, r2)), b->update(obs_of(0.3, r2))));
  CHECK(std::string(b->name()) == "ppobr");
}

PPOBR_TEST_MAIN
