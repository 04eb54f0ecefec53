// The C++ core against the golden vectors of the oracle (tests/golden/*.txt, written by
// tests/golden/generate.py from tests/reference.py):
// - clipped_surrogate: loss, gradient and every statistic's sum and count within the 'core'
//   tolerances of tests/golden/tolerances.txt, for every case, on every instruction set the
//   build and CPU support, and bit-identical for 1 and 3 threads;
// - the controllers: epsilon and every diagnostic bit for bit after each update, and the
//   updates the oracle rejects raise InvalidArgument naming the same argument;
// - the checker itself reports a perturbed output.
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "../src/kernel_dispatch.hpp"
#include "check.hpp"
#include "ppobr/controllers.hpp"
#include "ppobr/errors.hpp"
#include "ppobr/surrogate.hpp"
#include "test_golden_reader.hpp"

using namespace ppobr;

namespace {

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

template <class T>
SurrogateResult run(const golden::SurrogateCase<T>& c, std::vector<T>& grad, int threads) {
  grad.assign(static_cast<std::size_t>(c.n()), T(-7));
  SurrogateOptions opt = c.opt;
  opt.num_threads = threads;
  return clipped_surrogate<T>(c.inputs(), opt, grad.data());
}

template <class T>
void surrogate_matches_golden() {
  const auto cases = golden::surrogate_cases<T>();
  CHECK(cases.size() > 20);
  for (auto isa : isas()) {
    IsaGuard guard(isa);
    for (const auto& c : cases) {
      std::vector<T> grad, grad3;
      const SurrogateResult r = run(c, grad, 1);
      for (const std::string& m : golden::mismatches(c, r, grad, "core")) {
        std::fprintf(stderr, "  [%s isa %d] %s\n", c.name.c_str(), static_cast<int>(isa),
                     m.c_str());
        CHECK(false);
      }
      const SurrogateResult r3 = run(c, grad3, 3);
      CHECK(std::memcmp(&r.loss, &r3.loss, sizeof(double)) == 0);
      CHECK(std::memcmp(r.stats.sum.data(), r3.stats.sum.data(), sizeof(double) * kNumStats) == 0);
      CHECK(std::memcmp(grad.data(), grad3.data(), grad.size() * sizeof(T)) == 0);
    }
  }
}

TEST(surrogate_matches_golden_float) { surrogate_matches_golden<float>(); }
TEST(surrogate_matches_golden_double) { surrogate_matches_golden<double>(); }

TEST(golden_checker_detects_errors) {
  const auto cases = golden::surrogate_cases<float>();
  const auto& c = cases.front();
  std::vector<float> grad;
  const SurrogateResult good = run(c, grad, 1);
  CHECK(golden::mismatches(c, good, grad, "core").empty());
  SurrogateResult r = good;
  r.loss += 1e-4 * (1.0 + std::fabs(r.loss));
  CHECK(!golden::mismatches(c, r, grad, "core").empty());
  std::vector<float> g = grad;
  for (float& x : g)
    if (x != 0) {
      x *= 1.0001f;
      break;
    }
  CHECK(!golden::mismatches(c, good, g, "core").empty());
  for (int k = 0; k < kNumStats; ++k) {
    r = good;
    r.stats.sum[static_cast<std::size_t>(k)] +=
        1e-3 * (1 + std::fabs(r.stats.sum[static_cast<std::size_t>(k)]));
    CHECK(!golden::mismatches(c, r, grad, "core").empty());
  }
}

// ---- controllers -------------------------------------------------------------------------

std::optional<double> opt_number(const std::map<std::string, std::string>& cfg, const char* key) {
  auto it = cfg.find(key);
  if (it == cfg.end()) return std::nullopt;
  return golden::number(it->second);
}

std::unique_ptr<Controller> make_controller(const std::string& kind,
                                            const std::map<std::string, std::string>& cfg) {
  auto num = [&](const char* key, double dflt) { return opt_number(cfg, key).value_or(dflt); };
  if (kind == "ppobr") {
    PPOBRConfig c;
    c.eps0 = num("eps0", c.eps0);
    c.lambda1 = num("lambda1", c.lambda1);
    c.lambda2 = num("lambda2", c.lambda2);
    c.window = static_cast<std::int64_t>(num("window", static_cast<double>(c.window)));
    if (cfg.count("psi_mode")) c.psi_mode = parse_psi_mode(cfg.at("psi_mode").c_str());
    c.entropy_ref = opt_number(cfg, "entropy_ref");
    c.entropy_floor = num("entropy_floor", c.entropy_floor);
    c.eps_min = opt_number(cfg, "eps_min");
    c.eps_max = opt_number(cfg, "eps_max");
    return std::make_unique<BasicController<PPOBRConfig, PPOBRState>>(c);
  }
  if (kind == "constant") {
    ConstantConfig c;
    c.eps = num("eps", c.eps);
    return std::make_unique<BasicController<ConstantConfig, ConstantState>>(c);
  }
  if (kind == "linear_decay") {
    LinearDecayConfig c;
    c.eps_start = num("eps_start", c.eps_start);
    c.eps_end = num("eps_end", c.eps_end);
    c.total_updates = static_cast<std::int64_t>(num("total_updates", 1.0));
    return std::make_unique<BasicController<LinearDecayConfig, LinearDecayState>>(c);
  }
  KLAdaptiveConfig c;
  c.eps0 = num("eps0", c.eps0);
  c.kl_target = num("kl_target", c.kl_target);
  c.tolerance = num("tolerance", c.tolerance);
  c.rate = num("rate", c.rate);
  c.eps_min = num("eps_min", c.eps_min);
  c.eps_max = num("eps_max", c.eps_max);
  return std::make_unique<BasicController<KLAdaptiveConfig, KLAdaptiveState>>(c);
}

bool same_bits(double a, double b) {
  return std::memcmp(&a, &b, sizeof(double)) == 0 || (std::isnan(a) && std::isnan(b));
}

TEST(controllers_match_golden_bit_for_bit) {
  const auto cases = golden::read_cases("controllers.txt");
  CHECK(cases.size() > 10);
  for (const golden::RawCase& raw : cases) {
    const std::string kind = raw.at("controller").at(0);
    std::unique_ptr<Controller> ctl;
    try {
      ctl = make_controller(kind, golden::pairs(raw.at("config")));
    } catch (const std::exception& e) {
      std::fprintf(stderr, "  [%s] constructor: %s\n", raw.name.c_str(), e.what());
      CHECK(false);
      continue;
    }
    int step = 0;
    std::vector<double> returns;
    Observation obs;
    for (const golden::Record& rec : raw.records) {
      if (rec.key == "update") {
        const auto in = golden::pairs(rec.tokens);
        obs = Observation{};
        // the core takes the per-step entropies' mean, which the file gives as entropy
        if (in.count("entropy") && in.at("entropy") != "none")
          obs.entropy = golden::number(in.at("entropy"));
        returns.clear();
        if (in.count("returns"))
          for (const std::string& t : golden::split(in.at("returns"), ','))
            if (!t.empty()) returns.push_back(golden::number(t));
        obs.episode_returns = returns.empty() ? nullptr : returns.data();
        obs.num_episode_returns = returns.size();
        if (in.count("kl")) obs.kl = golden::number(in.at("kl"));
      } else if (rec.key == "expect") {
        const auto want = golden::pairs(rec.tokens);
        ++step;
        if (want.count("raises")) {
          bool raised = false;
          try {
            ctl->update(obs);
          } catch (const InvalidArgument& e) {
            raised = e.argument() == want.at("raises");
          }
          if (!raised)
            std::fprintf(stderr, "  [%s update %d] no InvalidArgument(%s)\n", raw.name.c_str(),
                         step, want.at("raises").c_str());
          CHECK(raised);
          continue;
        }
        const double eps = ctl->update(obs);
        bool ok = same_bits(eps, golden::number(want.at("epsilon")));
        const Diagnostics d = ctl->diagnostics();
        CHECK(d.size() == want.size());
        for (const auto& [name, value] : d) {
          if (!want.count(name) || !same_bits(value, golden::number(want.at(name)))) {
            std::fprintf(stderr, "  [%s update %d] %s = %.17g\n", raw.name.c_str(), step,
                         name.c_str(), value);
            ok = false;
          }
        }
        CHECK(ok);
      }
    }
  }
}

}  // namespace

PPOBR_TEST_MAIN
