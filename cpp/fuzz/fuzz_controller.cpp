// Fuzz target: a controller (any type, fuzzed config) driven through a fuzzed sequence of
// updates (NaN/Inf/huge entropies, returns and KLs included).
//
// Invariants (any violation aborts):
//  - a rejected config or update throws ppobr::InvalidArgument naming a known field, and a
//    rejected update leaves the state byte-for-byte unchanged; nothing else is ever thrown;
//  - the returned eps equals epsilon(), is never NaN, and lies in [eps_min, eps_max] after an
//    accepted update (PPO-BR: docs/SPEC.md's guarantee; KL-adaptive: its clip; linear decay:
//    between eps_start and eps_end; constant: eps); lambda1 = lambda2 = 0 gives eps0 bit-exactly;
//  - a non-finite or absent entropy leaves PPO-BR's eps unchanged;
//  - PPO-BR's eps is non-decreasing in the entropy (same state, same returns);
//  - serialize -> deserialize at a fuzzed point gives a twin that continues bit-identically.
#include <algorithm>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "fuzz_common.hpp"
#include "ppobr/ppobr.hpp"

namespace {

using ppobr::Controller;
using ppobr::InvalidArgument;

bool known_field(const std::string& a) {
  static const std::set<std::string> kFields = {
      "eps0",          "lambda1",   "lambda2",   "window", "psi_mode",  "entropy_ref",
      "entropy_floor", "eps_min",   "eps_max",   "eps",    "eps_start", "eps_end",
      "total_updates", "kl_target", "tolerance", "rate",   "kl",        "episode_returns",
      "state"};
  return kFields.count(a) > 0;
}

std::optional<double> maybe(FuzzedDataProvider& p, double (*gen)(FuzzedDataProvider&)) {
  if (p.ConsumeBool()) return gen(p);
  return std::nullopt;
}

std::unique_ptr<Controller> make_controller(FuzzedDataProvider& p, int type) {
  switch (type) {
    case 0: {
      ppobr::PPOBRConfig c;
      if (p.ConsumeBool()) {  // fuzzed, else the defaults
        c.eps0 = p.ConsumeBool() ? fuzz::any_double(p)
                                 : p.ConsumeFloatingPointInRange<double>(0.01, 1.0);
        c.lambda1 =
            p.ConsumeBool() ? fuzz::any_double(p) : p.ConsumeFloatingPointInRange<double>(0.0, 2.0);
        c.lambda2 =
            p.ConsumeBool() ? fuzz::any_double(p) : p.ConsumeFloatingPointInRange<double>(0.0, 1.0);
        c.window = p.ConsumeBool() ? fuzz::any_int64(p, -3, 64)
                                   : p.ConsumeIntegralInRange<std::int64_t>(2, 12);
        c.psi_mode = p.ConsumeBool() ? ppobr::PsiMode::Plateau : ppobr::PsiMode::Progress;
        c.entropy_ref = maybe(p, fuzz::mostly_finite);
        c.entropy_floor = p.ConsumeBool() ? fuzz::mostly_finite(p) : 0.0;
        c.eps_min = maybe(p, fuzz::any_double);
        c.eps_max = maybe(p, fuzz::any_double);
        if (p.ConsumeIntegralInRange<int>(0, 7) == 0) c.lambda1 = c.lambda2 = 0.0;  // plain PPO
      }
      return std::make_unique<ppobr::PPOBRController>(c);
    }
    case 1: {
      ppobr::ConstantConfig c;
      c.eps = fuzz::any_double(p);
      return std::make_unique<ppobr::ConstantController>(c);
    }
    case 2: {
      ppobr::LinearDecayConfig c;
      c.eps_start = fuzz::any_double(p);
      c.eps_end = fuzz::any_double(p);
      c.total_updates = fuzz::any_int64(p, -2, 20);
      return std::make_unique<ppobr::LinearDecayController>(c);
    }
    default: {
      ppobr::KLAdaptiveConfig c;
      if (p.ConsumeBool()) {
        c.eps0 = fuzz::any_double(p);
        c.kl_target = fuzz::any_double(p);
        c.tolerance = p.ConsumeBool() ? fuzz::any_double(p) : 1.5;
        c.rate = p.ConsumeBool() ? fuzz::any_double(p) : 1.5;
        c.eps_min = p.ConsumeBool() ? fuzz::any_double(p) : 0.02;
        c.eps_max = p.ConsumeBool() ? fuzz::any_double(p) : 0.5;
      }
      return std::make_unique<ppobr::KLAdaptiveController>(c);
    }
  }
}

// Checks eps against the controller's contract after an accepted update.
void check_bounds(const Controller& c, double eps, bool accepted) {
  FUZZ_ASSERT(!std::isnan(eps), "eps is NaN (%s)", c.name());
  FUZZ_ASSERT(fuzz::bits(eps) == fuzz::bits(c.epsilon()), "returned eps %.17g != epsilon() %.17g",
              eps, c.epsilon());
  if (auto* b = dynamic_cast<const ppobr::PPOBRController*>(&c)) {
    const auto& cfg = b->config();
    if (b->state().updates > 0) {
      const double lo = ppobr::eps_min_of(cfg), hi = ppobr::eps_max_of(cfg);
      FUZZ_ASSERT(eps >= lo && eps <= hi, "PPO-BR eps %.17g outside [%.17g, %.17g]", eps, lo, hi);
      if (cfg.lambda1 == 0.0 && cfg.lambda2 == 0.0 && !cfg.eps_min && !cfg.eps_max && accepted)
        FUZZ_ASSERT(fuzz::bits(eps) == fuzz::bits(cfg.eps0),
                    "lambda1 = lambda2 = 0: eps %.17g != eps0 %.17g", eps, cfg.eps0);
    }
  } else if (auto* k = dynamic_cast<const ppobr::KLAdaptiveController*>(&c)) {
    const auto& cfg = k->config();
    FUZZ_ASSERT(eps >= cfg.eps_min && eps <= cfg.eps_max, "KL eps %.17g outside [%.17g, %.17g]",
                eps, cfg.eps_min, cfg.eps_max);
  } else if (auto* l = dynamic_cast<const ppobr::LinearDecayController*>(&c)) {
    const auto& cfg = l->config();
    // The documented formula eps_start + (eps_end - eps_start) * frac is exact only up to the
    // rounding of (eps_end - eps_start): allow that much (see the report on linear decay).
    const double lo = std::min(cfg.eps_start, cfg.eps_end),
                 hi = std::max(cfg.eps_start, cfg.eps_end);
    const double tol = 4e-16 * hi;
    FUZZ_ASSERT(eps >= lo - tol && eps <= hi + tol && eps >= 0.0,
                "linear decay eps %.17g outside [%.17g, %.17g]", eps, lo, hi);
  } else if (auto* k0 = dynamic_cast<const ppobr::ConstantController*>(&c)) {
    FUZZ_ASSERT(eps == k0->config().eps, "constant eps changed");
  }
}

struct Obs {
  std::optional<double> entropy, kl;
  std::vector<double> returns;
  ppobr::Observation view() const {
    ppobr::Observation o;
    o.entropy = entropy;
    o.kl = kl;
    o.episode_returns = returns.empty() ? nullptr : returns.data();
    o.num_episode_returns = returns.size();
    return o;
  }
};

Obs make_obs(FuzzedDataProvider& p) {
  Obs o;
  const int e = p.ConsumeIntegralInRange<int>(0, 5);
  if (e == 0)
    o.entropy = std::nullopt;
  else if (e == 1)
    o.entropy = fuzz::any_double(p);
  else
    o.entropy = p.ConsumeFloatingPointInRange<double>(-1.0, 2.0);
  const int n = p.ConsumeIntegralInRange<int>(0, 6);
  for (int i = 0; i < n; ++i)
    o.returns.push_back(p.ConsumeBool() ? fuzz::mostly_finite(p) * 100.0 : fuzz::any_double(p));
  const int k = p.ConsumeIntegralInRange<int>(0, 4);
  if (k == 1)
    o.kl = fuzz::any_double(p);
  else if (k >= 2)
    o.kl = p.ConsumeFloatingPointInRange<double>(0.0, 0.05);
  return o;
}

// Runs one update on c; returns true if accepted (no exception). A rejected update must
// leave the state unchanged and name a known field.
bool checked_update(Controller& c, const ppobr::Observation& o, double* eps_out) {
  const std::vector<std::uint8_t> before = c.serialize();
  try {
    *eps_out = c.update(o);
    return true;
  } catch (const InvalidArgument& e) {
    FUZZ_ASSERT(known_field(e.argument()), "update threw InvalidArgument naming '%s': %s",
                e.argument().c_str(), e.what());
    FUZZ_ASSERT(c.serialize() == before, "a rejected update changed the state: %s", e.what());
    return false;
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  FuzzedDataProvider p(data, size);
  const int type = p.ConsumeIntegralInRange<int>(0, 3);
  std::unique_ptr<Controller> c;
  try {
    c = make_controller(p, type);
  } catch (const InvalidArgument& e) {
    FUZZ_ASSERT(known_field(e.argument()), "config rejected naming '%s': %s", e.argument().c_str(),
                e.what());
    return 0;
  }
  check_bounds(*c, c->epsilon(), false);
  if (auto* b = dynamic_cast<const ppobr::PPOBRController*>(c.get()))
    if (b->config().window > 4096) return 0;  // valid but slow to copy on every op: creation only

  std::unique_ptr<Controller> twin;  // restored from bytes at some point; must stay in lockstep
  const int ops = p.ConsumeIntegralInRange<int>(0, 48);
  for (int op = 0; op < ops && p.remaining_bytes() > 0; ++op) {
    const int kind = p.ConsumeIntegralInRange<int>(0, 9);
    if (kind == 0 && !twin) {
      const std::vector<std::uint8_t> bytes = c->serialize();
      try {
        twin = ppobr::deserialize_controller(bytes.data(), bytes.size());
      } catch (const InvalidArgument& e) {
        FUZZ_ASSERT(false, "a controller's own bytes were rejected: %s", e.what());
      }
      FUZZ_ASSERT(twin->serialize() == bytes, "restored controller serializes differently");
      FUZZ_ASSERT(std::string(twin->name()) == c->name(), "restored controller has another type");
      continue;
    }
    if (kind == 1 && type == 0) {
      // Monotonicity in H: the same state and returns, entropy H1 <= H2.
      Obs o = make_obs(p);
      const double h1 = p.ConsumeFloatingPointInRange<double>(-1.0, 2.0);
      const double h2 = h1 + p.ConsumeFloatingPointInRange<double>(0.0, 2.0);
      auto a = c->clone(), b = c->clone();
      const auto* sa = dynamic_cast<const ppobr::PPOBRController*>(a.get());
      const auto* sb = dynamic_cast<const ppobr::PPOBRController*>(b.get());
      const std::int64_t ua = sa->state().updates;
      double ea = 0.0, eb = 0.0;
      o.entropy = h1;
      const bool oka = checked_update(*a, o.view(), &ea);
      o.entropy = h2;
      const bool okb = checked_update(*b, o.view(), &eb);
      if (oka && okb && sa->state().updates > ua && sb->state().updates > ua)
        FUZZ_ASSERT(ea <= eb, "eps not monotone in H: H %.17g -> %.17g, H %.17g -> %.17g", h1, ea,
                    h2, eb);
      continue;
    }
    const Obs o = make_obs(p);
    const double eps_before = c->epsilon();
    double eps = 0.0;
    const bool ok = checked_update(*c, o.view(), &eps);
    if (twin) {
      double eps_twin = 0.0;
      const bool ok_twin = checked_update(*twin, o.view(), &eps_twin);
      FUZZ_ASSERT(ok == ok_twin, "twin accepted %d, original %d", ok_twin, ok);
      if (ok)
        FUZZ_ASSERT(fuzz::bits(eps) == fuzz::bits(eps_twin), "twin eps %.17g != %.17g", eps_twin,
                    eps);
    }
    if (!ok) continue;
    check_bounds(*c, eps, true);
    if (type == 0 && (!o.entropy || !std::isfinite(*o.entropy)))
      FUZZ_ASSERT(fuzz::bits(eps) == fuzz::bits(eps_before), "a rejected entropy changed eps");
  }
  if (twin) FUZZ_ASSERT(twin->serialize() == c->serialize(), "twin diverged from the original");
  return 0;
}
