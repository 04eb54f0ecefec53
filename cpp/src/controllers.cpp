// Clip-range (epsilon) controllers: PPO-BR, constant, linear decay, KL-adaptive.
//
// The PPO-BR update is specified operation by operation below, because other ports (the JAX
// adapter in particular) must reproduce it bit for bit in float64. Every arithmetic step is a
// single IEEE-754 binary64 operation in the order written; no fused multiply-add (see the
// pragmas below), no reassociation, sums accumulated left to right in chronological order.
//
// ppobr::update(config c, state s, observation obs) — PPO-BR:
//   0. Preconditions (throw, state untouched): the config passes validate(); the state has
//      the shape init() gives it (returns.size() == window, 0 <= count <= window,
//      0 <= head < window), else InvalidArgument("state"); episode_returns is non-null when
//      num_episode_returns > 0, else InvalidArgument("episode_returns").
//   1. Entropy gate: if obs.entropy is absent or non-finite, s.rejected_entropy += 1 and the
//      update returns s.epsilon. Nothing else changes: the returns given in that same
//      observation are NOT added to the buffer and NOT counted in dropped_returns.
//   2. H_ref = c.entropy_ref if given, else s.entropy_ref if set, else H (the current entropy,
//      which becomes s.entropy_ref once this update commits). If !(H_ref > c.entropy_floor):
//      InvalidArgument("entropy_ref"), and the state is left exactly as it was (all checks
//      happen before anything is written: compute first, commit after).
//   3. Every finite return of obs, in order, is written to the ring buffer
//      (returns[head] = x; head = (head + 1) % window; count = min(count + 1, window)),
//      overwriting the oldest once full; each non-finite return adds 1 to dropped_returns.
//   4. phi = clamp((H - floor) / (H_ref - floor), 0, 1). A NaN quotient (only possible when
//      both differences overflow float64 to +Inf) gives phi = 0.
//   5. If count < window (warm-up): psi = 0, z = 0. Otherwise, k = window, h = k / 2
//      (integer division), x_0 (oldest) .. x_{k-1} (newest) the window in chronological
//      order (x_j = returns[(head + j) % k]):
//        sum_old  = x_0 + x_1 + ... + x_{h-1}                (left to right, from 0.0)
//        sum_new  = x_{k-h} + ... + x_{k-1}                  (left to right, from 0.0)
//        sum_all  = x_0 + ... + x_{k-1}                      (left to right, from 0.0)
//        mean_old = sum_old / h;  mean_new = sum_new / h;  mean = sum_all / k
//        ss       = sum over j = 0..k-1 (left to right, from 0.0) of d_j * d_j, d_j = x_j - mean
//        std      = sqrt(ss / k)
//        z        = (mean_new - mean_old) / (std + 1e-8 * (1.0 + |mean|))
//      For odd k the middle return x_h belongs to neither half.
//      If z is not finite (only possible when the window statistics overflow float64, i.e.
//      returns of magnitude ~1e300), the reward signal is treated as unavailable: z = 0 and
//      psi = 0, exactly as in warm-up. Otherwise:
//        plateau:  psi = 1.0 - tanh(|z|)
//        progress: psi = clamp(z, 0, 1)
//   6. eps = eps0 * ((1.0 + lambda1 * tanh(phi)) - lambda2 * tanh(psi))
//      eps = min(max(eps, eps_min), eps_max)    (eps_min_of(c), eps_max_of(c))
//      With lambda1 = lambda2 = 0 this is eps0 bit-exactly (0 * t = 0, 1 + 0 - 0 = 1, and the
//      default bounds are eps0 * (1 - 0) = eps0 * (1 + 0) = eps0).
//   7. Commit: s.epsilon = eps, s.entropy_ref = H_ref, s.last_phi = phi, s.last_psi = psi,
//      s.last_entropy = H, s.last_z = z, s.updates += 1. Return eps.
//
// Since phi, psi are in [0, 1] and lambda1, lambda2, eps0 are finite, eps is never NaN (at
// worst +-Inf from overflow, which the clip maps to a bound), so eps is in [eps_min, eps_max]
// for every input sequence. eps is non-decreasing in H (every step is monotone under
// round-to-nearest) and non-increasing in psi.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <string>

#include "ppobr/controllers.hpp"
#include "ppobr/errors.hpp"
#include "portable_tanh.hpp"

namespace {
// Counters saturate instead of overflowing (a restored state may hold any value >= 0).
inline void count_one(std::int64_t& c) noexcept {
  if (c < std::numeric_limits<std::int64_t>::max()) ++c;
}
}  // namespace

// Forbid contraction of a * b + c into a fused multiply-add: it would change the last bit
// of epsilon on FMA-capable targets (aarch64, x86-64 with -mfma) and break the bit-exact
// agreement with the other ports. (Placed after the includes so library code is unaffected.)
#if defined(__clang__)
#pragma STDC FP_CONTRACT OFF
#elif defined(__GNUC__)
#pragma GCC optimize("fp-contract=off")
#endif

namespace ppobr {

namespace {

constexpr std::int64_t kMaxWindow = 1000000;  // keeps the state (and its serialization) bounded

[[noreturn]] void fail(const char* field, const std::string& message) {
  throw InvalidArgument(field, message);
}

std::string num(double x) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

// clamp to [0, 1]; NaN -> 0 (documented above; only reachable through float64 overflow).
double clamp01(double x) noexcept {
  if (!(x > 0.0)) return 0.0;
  if (x > 1.0) return 1.0;
  return x;
}

double clip(double x, double lo, double hi) noexcept { return std::min(std::max(x, lo), hi); }

}  // namespace

// ---------------------------------------------------------------------------------------------
// PsiMode

PsiMode parse_psi_mode(const char* name) {
  if (name != nullptr) {
    if (std::strcmp(name, "plateau") == 0) return PsiMode::Plateau;
    if (std::strcmp(name, "progress") == 0) return PsiMode::Progress;
  }
  fail("psi_mode",
       std::string("unknown psi_mode '") + (name ? name : "(null)") +
           "'; expected 'plateau' (psi = 1 - tanh|z|, contract when returns stop moving) or "
           "'progress' (psi = clip(z, 0, 1), contract while returns rise)");
}

const char* psi_mode_name(PsiMode m) noexcept {
  switch (m) {
    case PsiMode::Plateau:
      return "plateau";
    case PsiMode::Progress:
      return "progress";
  }
  return "unknown";
}

// ---------------------------------------------------------------------------------------------
// PPO-BR

double eps_min_of(const PPOBRConfig& c) noexcept {
  return c.eps_min ? *c.eps_min : c.eps0 * (1.0 - c.lambda2);
}
double eps_max_of(const PPOBRConfig& c) noexcept {
  return c.eps_max ? *c.eps_max : c.eps0 * (1.0 + c.lambda1);
}

void validate(const PPOBRConfig& c) {
  // PPO-BR scales eps0 (eps = eps0 * (...)): from 0 it could never move, so eps0 must be > 0
  // (a fixed clip range of 0 is ConstantController(eps=0)).
  if (!std::isfinite(c.eps0) || c.eps0 <= 0.0)
    fail("eps0",
         "must be finite and > 0 (PPO-BR scales eps0, and a product with 0 stays 0; "
         "use ConstantController(eps=0) for a fixed clip range of 0), got " +
             num(c.eps0));
  if (!std::isfinite(c.lambda1) || c.lambda1 < 0.0)
    fail("lambda1", "must be finite and >= 0, got " + num(c.lambda1));
  if (!std::isfinite(c.lambda2) || c.lambda2 < 0.0)
    fail("lambda2", "must be finite and >= 0, got " + num(c.lambda2));
  if (c.window < 2)
    fail("window",
         "the reward window must hold at least 2 returns, got " + std::to_string(c.window));
  if (c.window > kMaxWindow)
    fail("window", "the reward window may hold at most " + std::to_string(kMaxWindow) +
                       " returns, got " + std::to_string(c.window));
  if (c.psi_mode != PsiMode::Plateau && c.psi_mode != PsiMode::Progress)
    fail("psi_mode", "unknown psi_mode value " + std::to_string(static_cast<int>(c.psi_mode)));
  if (c.entropy_ref && !std::isfinite(*c.entropy_ref))
    fail("entropy_ref", "must be finite, got " + num(*c.entropy_ref));
  if (!std::isfinite(c.entropy_floor))
    fail("entropy_floor", "must be finite, got " + num(c.entropy_floor));
  if (c.entropy_ref && !(*c.entropy_ref > c.entropy_floor))
    fail("entropy_ref", "entropy_ref (" + num(*c.entropy_ref) +
                            ") must be greater than entropy_floor (" + num(c.entropy_floor) + ")");
  if (c.eps_min && (!std::isfinite(*c.eps_min) || *c.eps_min < 0.0))
    fail("eps_min", "must be finite and >= 0, got " + num(*c.eps_min));
  if (c.eps_max && (!std::isfinite(*c.eps_max) || *c.eps_max <= 0.0))
    fail("eps_max", "must be finite and > 0, got " + num(*c.eps_max));
  const double lo = eps_min_of(c), hi = eps_max_of(c);
  if (!(lo >= 0.0))
    fail("eps_min", "the default eps_min = eps0 * (1 - lambda2) = " + num(lo) +
                        " is negative (lambda2 > 1); set eps_min explicitly (>= 0)");
  if (!std::isfinite(hi))
    fail("eps_max", "the default eps_max = eps0 * (1 + lambda1) overflows; set eps_max explicitly");
  if (lo > hi) fail("eps_min", "eps_min (" + num(lo) + ") must be <= eps_max (" + num(hi) + ")");
  // epsilon starts at eps0 and stays there until the first accepted update, so eps0 must lie
  // within the bounds for epsilon to be in [eps_min, eps_max] at all times.
  if (c.eps0 < lo || c.eps0 > hi)
    fail("eps0", "eps0 (" + num(c.eps0) + ") must lie in [eps_min, eps_max] = [" + num(lo) + ", " +
                     num(hi) + "]");
}

PPOBRState init(const PPOBRConfig& c) {
  validate(c);
  PPOBRState s;
  s.epsilon = c.eps0;
  s.entropy_ref = c.entropy_ref;
  s.returns.assign(static_cast<std::size_t>(c.window), 0.0);
  return s;
}

double update(const PPOBRConfig& c, PPOBRState& s, const Observation& obs) {
  // 0. Preconditions.
  validate(c);
  const std::int64_t k = c.window;
  if (s.returns.size() != static_cast<std::size_t>(k) || s.count < 0 || s.count > k || s.head < 0 ||
      s.head >= k)
    fail("state", "the PPO-BR state does not match its config (ring buffer of size " +
                      std::to_string(s.returns.size()) + ", head " + std::to_string(s.head) +
                      ", count " + std::to_string(s.count) + ", window " + std::to_string(k) +
                      "); create it with init(config)");
  if (obs.num_episode_returns > 0 && obs.episode_returns == nullptr)
    fail("episode_returns",
         "is null but num_episode_returns = " + std::to_string(obs.num_episode_returns));

  // 1. Entropy gate.
  if (!obs.entropy || !std::isfinite(*obs.entropy)) {
    count_one(s.rejected_entropy);
    return s.epsilon;
  }
  const double H = *obs.entropy;

  // 2. H_ref (checked before anything is written).
  const double href = c.entropy_ref ? *c.entropy_ref : (s.entropy_ref ? *s.entropy_ref : H);
  if (!(href > c.entropy_floor))
    fail("entropy_ref",
         "the reference entropy H_ref = " + num(href) +
             (c.entropy_ref || s.entropy_ref ? std::string()
                                             : std::string(" (the first entropy observed)")) +
             " is not above entropy_floor = " + num(c.entropy_floor) +
             "; set entropy_ref and entropy_floor explicitly, e.g. entropy_ref = log(n_actions) "
             "for a "
             "categorical policy (Gaussian policy entropies can be negative, so give a floor below "
             "them)");

  // 3. Commit the finite returns to the ring buffer (nothing below can throw).
  for (std::size_t i = 0; i < obs.num_episode_returns; ++i) {
    const double x = obs.episode_returns[i];
    if (!std::isfinite(x)) {
      count_one(s.dropped_returns);
      continue;
    }
    s.returns[static_cast<std::size_t>(s.head)] = x;
    s.head = (s.head + 1) % k;
    if (s.count < k) s.count += 1;
  }

  // 4. phi.
  const double phi = clamp01((H - c.entropy_floor) / (href - c.entropy_floor));

  // 5. z and psi.
  double z = 0.0, psi = 0.0;
  if (s.count == k) {
    const std::int64_t h = k / 2;
    const double* buf = s.returns.data();
    auto x = [&](std::int64_t j) { return buf[static_cast<std::size_t>((s.head + j) % k)]; };
    double sum_old = 0.0, sum_new = 0.0, sum_all = 0.0;
    for (std::int64_t j = 0; j < h; ++j) sum_old += x(j);
    for (std::int64_t j = k - h; j < k; ++j) sum_new += x(j);
    for (std::int64_t j = 0; j < k; ++j) sum_all += x(j);
    const double mean_old = sum_old / static_cast<double>(h);
    const double mean_new = sum_new / static_cast<double>(h);
    const double mean = sum_all / static_cast<double>(k);
    double ss = 0.0;
    for (std::int64_t j = 0; j < k; ++j) {
      const double d = x(j) - mean;
      ss += d * d;
    }
    const double sd = std::sqrt(ss / static_cast<double>(k));
    const double zz = (mean_new - mean_old) / (sd + 1e-8 * (1.0 + std::fabs(mean)));
    if (std::isfinite(zz)) {
      z = zz;
      psi = c.psi_mode == PsiMode::Plateau ? 1.0 - detail::portable_tanh(std::fabs(z)) : clamp01(z);
    }
  }

  // 6. epsilon.
  const double expand = 1.0 + c.lambda1 * detail::portable_tanh(phi);
  const double contract = c.lambda2 * detail::portable_tanh(psi);
  const double eps = clip(c.eps0 * (expand - contract), eps_min_of(c), eps_max_of(c));

  // 7. Commit.
  s.epsilon = eps;
  s.entropy_ref = href;
  s.last_phi = phi;
  s.last_psi = psi;
  s.last_entropy = H;
  s.last_z = z;
  count_one(s.updates);
  return eps;
}

// ---------------------------------------------------------------------------------------------
// Constant

void validate(const ConstantConfig& c) {
  // eps = 0 is a valid clip range (the ratio is clipped to exactly 1).
  if (!std::isfinite(c.eps) || c.eps < 0.0)
    fail("eps", "must be finite and >= 0, got " + num(c.eps));
}

ConstantState init(const ConstantConfig& c) {
  validate(c);
  ConstantState s;
  s.epsilon = c.eps;
  return s;
}

// The observation is ignored.
double update(const ConstantConfig& c, ConstantState& s, const Observation&) {
  validate(c);
  s.epsilon = c.eps;
  count_one(s.updates);
  return s.epsilon;
}

// ---------------------------------------------------------------------------------------------
// Linear decay

void validate(const LinearDecayConfig& c) {
  // Both ends may be 0: the schedule interpolates, it does not scale.
  if (!std::isfinite(c.eps_start) || c.eps_start < 0.0)
    fail("eps_start", "must be finite and >= 0, got " + num(c.eps_start));
  if (!std::isfinite(c.eps_end) || c.eps_end < 0.0)
    fail("eps_end", "must be finite and >= 0, got " + num(c.eps_end));
  if (c.total_updates < 1)
    fail("total_updates", "must be >= 1, got " + std::to_string(c.total_updates));
}

LinearDecayState init(const LinearDecayConfig& c) {
  validate(c);
  LinearDecayState s;
  s.epsilon = c.eps_start;
  return s;
}

// The t-th update (t = s.updates before the call, 0-based) returns
//   eps_start + (eps_end - eps_start) * (double(min(t, T)) / double(T)),  T = total_updates,
// evaluated in exactly that order. The observation is ignored.
double update(const LinearDecayConfig& c, LinearDecayState& s, const Observation&) {
  validate(c);
  if (s.updates < 0) fail("state", "negative update count " + std::to_string(s.updates));
  const std::int64_t t = std::min(s.updates, c.total_updates);
  const double frac = static_cast<double>(t) / static_cast<double>(c.total_updates);
  s.epsilon = c.eps_start + (c.eps_end - c.eps_start) * frac;
  count_one(s.updates);
  return s.epsilon;
}

// ---------------------------------------------------------------------------------------------
// KL-adaptive

void validate(const KLAdaptiveConfig& c) {
  // The KL rule multiplies and divides eps by rate: from 0 it could never move, hence eps0 > 0
  // and eps_min > 0.
  if (!std::isfinite(c.eps0) || c.eps0 <= 0.0)
    fail("eps0",
         "must be finite and > 0 (the KL-adaptive rule scales eps by rate, and a product "
         "with 0 stays 0), got " +
             num(c.eps0));
  if (!std::isfinite(c.kl_target) || c.kl_target <= 0.0)
    fail("kl_target", "must be finite and > 0, got " + num(c.kl_target));
  if (!std::isfinite(c.tolerance) || c.tolerance <= 1.0)
    fail("tolerance", "must be finite and > 1, got " + num(c.tolerance));
  if (!std::isfinite(c.rate) || c.rate <= 1.0)
    fail("rate", "must be finite and > 1, got " + num(c.rate));
  if (!std::isfinite(c.eps_min) || c.eps_min <= 0.0)
    fail("eps_min",
         "must be finite and > 0 (the KL-adaptive rule scales eps by rate, and a "
         "product with 0 stays 0), got " +
             num(c.eps_min));
  if (!std::isfinite(c.eps_max) || c.eps_max <= 0.0)
    fail("eps_max", "must be finite and > 0, got " + num(c.eps_max));
  if (c.eps_min > c.eps_max)
    fail("eps_min", "eps_min (" + num(c.eps_min) + ") must be <= eps_max (" + num(c.eps_max) + ")");
  if (c.eps0 < c.eps_min || c.eps0 > c.eps_max)
    fail("eps0", "eps0 (" + num(c.eps0) + ") must lie in [eps_min, eps_max] = [" + num(c.eps_min) +
                     ", " + num(c.eps_max) + "]");
}

KLAdaptiveState init(const KLAdaptiveConfig& c) {
  validate(c);
  KLAdaptiveState s;
  s.epsilon = c.eps0;
  return s;
}

// if kl > kl_target * tolerance: eps = eps / rate; else if kl < kl_target / tolerance:
// eps = eps * rate; then eps = min(max(eps, eps_min), eps_max).
double update(const KLAdaptiveConfig& c, KLAdaptiveState& s, const Observation& obs) {
  validate(c);
  if (!obs.kl)
    fail("kl",
         "the KL-adaptive controller needs the measured KL of the last policy update "
         "(Observation::kl)");
  const double kl = *obs.kl;
  if (!std::isfinite(kl)) {
    count_one(s.rejected_kl);
    return s.epsilon;
  }
  double eps = s.epsilon;
  if (kl > c.kl_target * c.tolerance)
    eps = eps / c.rate;
  else if (kl < c.kl_target / c.tolerance)
    eps = eps * c.rate;
  eps = clip(eps, c.eps_min, c.eps_max);
  s.epsilon = eps;
  s.last_kl = kl;
  count_one(s.updates);
  return eps;
}

// ---------------------------------------------------------------------------------------------
// BasicController members (serialize() lives in serialization.cpp).

namespace {

const char* name_of(const PPOBRConfig&) noexcept { return "ppobr"; }
const char* name_of(const ConstantConfig&) noexcept { return "constant"; }
const char* name_of(const LinearDecayConfig&) noexcept { return "linear_decay"; }
const char* name_of(const KLAdaptiveConfig&) noexcept { return "kl_adaptive"; }

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
double opt(const std::optional<double>& v) noexcept { return v ? *v : kNaN; }
double d(std::int64_t v) noexcept { return static_cast<double>(v); }

Diagnostics diagnostics_of(const PPOBRConfig&, const PPOBRState& s) {
  return {{"epsilon", s.epsilon},
          {"phi", s.last_phi},
          {"psi", s.last_psi},
          {"entropy", s.last_entropy},
          {"z", s.last_z},
          {"entropy_ref", opt(s.entropy_ref)},
          {"num_returns", d(s.count)},
          {"updates", d(s.updates)},
          {"rejected_entropy", d(s.rejected_entropy)},
          {"dropped_returns", d(s.dropped_returns)}};
}
Diagnostics diagnostics_of(const ConstantConfig&, const ConstantState& s) {
  return {{"epsilon", s.epsilon}, {"updates", d(s.updates)}};
}
Diagnostics diagnostics_of(const LinearDecayConfig&, const LinearDecayState& s) {
  return {{"epsilon", s.epsilon}, {"updates", d(s.updates)}};
}
Diagnostics diagnostics_of(const KLAdaptiveConfig&, const KLAdaptiveState& s) {
  return {{"epsilon", s.epsilon},
          {"updates", d(s.updates)},
          {"kl", s.last_kl},
          {"rejected_kl", d(s.rejected_kl)}};
}

Diagnostics config_items_of(const PPOBRConfig& c) {
  return {{"eps0", c.eps0},
          {"lambda1", c.lambda1},
          {"lambda2", c.lambda2},
          {"window", d(c.window)},
          {"psi_mode", c.psi_mode == PsiMode::Plateau ? 0.0 : 1.0},
          {"entropy_ref", opt(c.entropy_ref)},
          {"entropy_floor", c.entropy_floor},
          {"eps_min", opt(c.eps_min)},
          {"eps_max", opt(c.eps_max)},
          {"eps_min_effective", eps_min_of(c)},
          {"eps_max_effective", eps_max_of(c)}};
}
Diagnostics config_items_of(const ConstantConfig& c) { return {{"eps", c.eps}}; }
Diagnostics config_items_of(const LinearDecayConfig& c) {
  return {
      {"eps_start", c.eps_start}, {"eps_end", c.eps_end}, {"total_updates", d(c.total_updates)}};
}
Diagnostics config_items_of(const KLAdaptiveConfig& c) {
  return {{"eps0", c.eps0}, {"kl_target", c.kl_target}, {"tolerance", c.tolerance},
          {"rate", c.rate}, {"eps_min", c.eps_min},     {"eps_max", c.eps_max}};
}

}  // namespace

template <class Config, class State>
const char* BasicController<Config, State>::name() const noexcept {
  return name_of(config_);
}

template <class Config, class State>
Diagnostics BasicController<Config, State>::diagnostics() const {
  return diagnostics_of(config_, state_);
}

template <class Config, class State>
Diagnostics BasicController<Config, State>::config_items() const {
  return config_items_of(config_);
}

template class BasicController<PPOBRConfig, PPOBRState>;
template class BasicController<ConstantConfig, ConstantState>;
template class BasicController<LinearDecayConfig, LinearDecayState>;
template class BasicController<KLAdaptiveConfig, KLAdaptiveState>;

}  // namespace ppobr
