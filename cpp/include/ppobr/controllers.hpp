// Clip-range (epsilon) controllers. THIS IS WHERE EPSILON IS COMPUTED.
//
// One interface for every controller: a validated Config, a State, and a pure
//   update(config, state, observation) -> epsilon
// called once per training iteration (once per rollout, before the update epochs).
// The Controller classes wrap (config, state) pairs behind a virtual interface and
// serialize to bytes; a restored controller continues bit-identically.
//
// PPO-BR (Rahman, arXiv 2505.17714) with the default signals of docs/SPEC.md:
//   eps_t = clip( eps0 * (1 + lambda1 * tanh(phi(H_t)) - lambda2 * tanh(psi(z_t))), eps_min,
//   eps_max ) phi(H) = clip((H - H_floor) / (H_ref - H_floor), 0, 1) z      = (mean(newer
//   floor(k/2)) - mean(older floor(k/2))) / (std(window) + 1e-8 * (1 + |mean(window)|)) psi    = 1
//   - tanh(|z|)  ("plateau", default)   or   clip(z, 0, 1)  ("progress") psi    = 0 until the ring
//   buffer holds k returns (warm-up).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace ppobr {

// What the training loop observed in the iteration that just ended.
struct Observation {
  std::optional<double> entropy;            // mean policy entropy over the rollout
  const double* episode_returns = nullptr;  // returns of the episodes completed, oldest first
  std::size_t num_episode_returns = 0;
  std::optional<double> kl;  // measured approx. KL of the last update (KL-adaptive)
};

// Named diagnostic values of the last update, in a fixed order per controller.
using Diagnostics = std::vector<std::pair<std::string, double>>;

// ---------------------------------------------------------------------------------------------
// PPO-BR
enum class PsiMode { Plateau, Progress };
PsiMode parse_psi_mode(const char* name);  // "plateau" | "progress"; InvalidArgument("psi_mode")
const char* psi_mode_name(PsiMode m) noexcept;

struct PPOBRConfig {
  double eps0 = 0.2;
  double lambda1 = 0.5;      // entropy-driven expansion weight, >= 0
  double lambda2 = 0.3;      // reward-guided contraction weight, >= 0
  std::int64_t window = 10;  // k, the ring buffer of completed-episode returns, >= 2
  PsiMode psi_mode = PsiMode::Plateau;
  std::optional<double> entropy_ref;  // H_ref; absent: the first finite entropy observed
  double entropy_floor = 0.0;         // H_floor
  std::optional<double> eps_min;      // absent: eps0 * (1 - lambda2)   (paper, Lemma 1)
  std::optional<double> eps_max;      // absent: eps0 * (1 + lambda1)
};
// Throws InvalidArgument naming the field: eps0 <= 0 or non-finite, lambda < 0, window < 2,
// eps_min > eps_max, eps_min < 0, entropy_ref <= entropy_floor, non-finite values.
void validate(const PPOBRConfig& c);
double eps_min_of(const PPOBRConfig& c) noexcept;
double eps_max_of(const PPOBRConfig& c) noexcept;

struct PPOBRState {
  double epsilon = 0.0;               // eps0 before the first update
  std::optional<double> entropy_ref;  // the H_ref in use (config's or first observed)
  std::vector<double> returns;        // ring buffer storage, capacity window
  std::int64_t head = 0;              // next write position
  std::int64_t count = 0;             // returns held, <= window
  std::int64_t updates = 0;           // accepted updates
  std::int64_t rejected_entropy = 0;  // updates rejected for a non-finite entropy
  std::int64_t dropped_returns = 0;   // non-finite returns dropped
  double last_phi = 0.0, last_psi = 0.0, last_entropy = 0.0, last_z = 0.0;  // NaN-free: 0 before
};
PPOBRState init(const PPOBRConfig& c);
// Non-finite returns are dropped (counted); a non-finite or absent entropy rejects the whole
// update: epsilon and the state stay as they were, only rejected_entropy is incremented.
double update(const PPOBRConfig& c, PPOBRState& s, const Observation& obs);

// ---------------------------------------------------------------------------------------------
// Constant epsilon (plain PPO). eps >= 0 (0 clips the ratio to exactly 1).
struct ConstantConfig {
  double eps = 0.2;
};
struct ConstantState {
  double epsilon = 0.0;
  std::int64_t updates = 0;
};
void validate(const ConstantConfig& c);
ConstantState init(const ConstantConfig& c);
double update(const ConstantConfig& c, ConstantState& s, const Observation& obs);

// Linear decay: the t-th update (t = 0, 1, ...) returns
//   eps_start + (eps_end - eps_start) * min(t, total_updates) / total_updates.
// eps_start >= 0, eps_end >= 0, total_updates >= 1.
struct LinearDecayConfig {
  double eps_start = 0.2;
  double eps_end = 0.0;
  std::int64_t total_updates = 1;
};
struct LinearDecayState {
  double epsilon = 0.0;
  std::int64_t updates = 0;
};
void validate(const LinearDecayConfig& c);
LinearDecayState init(const LinearDecayConfig& c);
double update(const LinearDecayConfig& c, LinearDecayState& s, const Observation& obs);

// KL-adaptive: if kl > kl_target * tolerance: eps /= rate; if kl < kl_target / tolerance:
// eps *= rate; then clip to [eps_min, eps_max]. A missing kl is InvalidArgument("kl");
// a non-finite kl leaves eps unchanged (counted in rejected_kl). eps0 > 0 and eps_min > 0: a
// rule that scales eps could never move it from 0.
struct KLAdaptiveConfig {
  double eps0 = 0.2;
  double kl_target = 0.01;
  double tolerance = 1.5;  // > 1
  double rate = 1.5;       // > 1
  double eps_min = 0.02;
  double eps_max = 0.5;
};
struct KLAdaptiveState {
  double epsilon = 0.0;
  std::int64_t updates = 0;
  std::int64_t rejected_kl = 0;
  double last_kl = 0.0;
};
void validate(const KLAdaptiveConfig& c);
KLAdaptiveState init(const KLAdaptiveConfig& c);
double update(const KLAdaptiveConfig& c, KLAdaptiveState& s, const Observation& obs);

// ---------------------------------------------------------------------------------------------
// The common interface, for bindings and embedding.
class Controller {
 public:
  virtual ~Controller() = default;
  virtual const char* name()
      const noexcept = 0;  // "ppobr", "constant", "linear_decay", "kl_adaptive"
  virtual double update(const Observation& obs) = 0;
  virtual double epsilon() const noexcept = 0;
  virtual Diagnostics diagnostics() const = 0;  // includes "epsilon" first
  virtual Diagnostics config_items()
      const = 0;  // the config as named numbers (psi_mode: 0/1, absent optional: NaN)
  // Versioned, checksummed little-endian bytes holding the type, config and state.
  virtual std::vector<std::uint8_t> serialize() const = 0;
  virtual std::unique_ptr<Controller> clone() const = 0;
};

// Rebuilds any controller from serialize()'s bytes. Throws InvalidArgument("state") for any
// malformed, truncated, corrupted or foreign input; never reads out of bounds.
std::unique_ptr<Controller> deserialize_controller(const std::uint8_t* data, std::size_t size);

template <class Config, class State>
class BasicController final : public Controller {
 public:
  explicit BasicController(const Config& c) : config_(c), state_((validate(c), init(c))) {}
  BasicController(const Config& c, const State& s) : config_(c), state_(s) {}
  const char* name() const noexcept override;
  double update(const Observation& obs) override { return ppobr::update(config_, state_, obs); }
  double epsilon() const noexcept override { return state_.epsilon; }
  Diagnostics diagnostics() const override;
  Diagnostics config_items() const override;
  std::vector<std::uint8_t> serialize() const override;
  std::unique_ptr<Controller> clone() const override {
    return std::make_unique<BasicController>(*this);
  }
  const Config& config() const noexcept { return config_; }
  const State& state() const noexcept { return state_; }

 private:
  Config config_;
  State state_;
};

using PPOBRController = BasicController<PPOBRConfig, PPOBRState>;
using ConstantController = BasicController<ConstantConfig, ConstantState>;
using LinearDecayController = BasicController<LinearDecayConfig, LinearDecayState>;
using KLAdaptiveController = BasicController<KLAdaptiveConfig, KLAdaptiveState>;

}  // namespace ppobr
