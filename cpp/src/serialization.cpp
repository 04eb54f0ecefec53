// Serialization of the clip-range controllers: BasicController<...>::serialize() and
// deserialize_controller().
//
// Format, version 1. All integers little-endian; f64 = the IEEE-754 binary64 bit pattern as a
// little-endian u64 (bit-exact); opt = a presence byte (0 or 1) followed by an f64 only when
// it is 1.
//
//   magic     8 bytes  "PPOBRCTL"
//   version   u32      1
//   type      u32      1 = ppobr, 2 = constant, 3 = linear_decay, 4 = kl_adaptive
//   config    per type:
//     ppobr         f64 eps0, f64 lambda1, f64 lambda2, i64 window, u8 psi_mode (0 plateau,
//                   1 progress), opt entropy_ref, f64 entropy_floor, opt eps_min, opt eps_max
//     constant      f64 eps
//     linear_decay  f64 eps_start, f64 eps_end, i64 total_updates
//     kl_adaptive   f64 eps0, f64 kl_target, f64 tolerance, f64 rate, f64 eps_min, f64 eps_max
//   state     per type:
//     ppobr         f64 epsilon, opt entropy_ref, u64 n (must equal window), n x f64 returns
//                   (the ring buffer storage as is), i64 head, i64 count, i64 updates,
//                   i64 rejected_entropy, i64 dropped_returns, f64 last_phi, f64 last_psi,
//                   f64 last_entropy, f64 last_z
//     constant      f64 epsilon, i64 updates
//     linear_decay  f64 epsilon, i64 updates
//     kl_adaptive   f64 epsilon, i64 updates, i64 rejected_kl, f64 last_kl
//   checksum  u64      64-bit FNV-1a over every byte before it
//
// deserialize_controller() checks, in order: the length can hold a header and checksum, the
// magic, the checksum, the version, the type; then it parses with bounds checks (an
// allocation is sized only by a length already validated against the config's window bound
// and the bytes actually remaining), validates the config with validate(), checks that the
// state is one the controller can reach (ranges, counters >= 0, finite values, ...) and that
// no byte is left over. Any failure is InvalidArgument("state", <what is wrong>).
#include <cmath>
#include <cstring>
#include <memory>
#include <string>

#include "byte_io.hpp"
#include "ppobr/controllers.hpp"
#include "ppobr/errors.hpp"

namespace ppobr {

namespace {

using byte_io::Reader;
using byte_io::Writer;

constexpr char kMagic[8] = {'P', 'P', 'O', 'B', 'R', 'C', 'T', 'L'};
constexpr std::uint32_t kVersion = 1;
constexpr std::size_t kHeaderSize = 8 + 4 + 4;
constexpr std::size_t kChecksumSize = 8;

enum Tag : std::uint32_t { kPPOBR = 1, kConstant = 2, kLinearDecay = 3, kKLAdaptive = 4 };

[[noreturn]] void bad(const std::string& what) {
  throw InvalidArgument("state", "invalid serialized controller: " + what);
}

void write_opt(Writer& w, const std::optional<double>& v) {
  w.u8(v ? 1 : 0);
  if (v) w.f64(*v);
}

std::optional<double> read_opt(Reader& r, const char* what) {
  if (r.presence(what)) return r.f64(what);
  return std::nullopt;
}

// ---- writers -----------------------------------------------------------------------------------

Tag tag_of(const PPOBRConfig&) { return kPPOBR; }
Tag tag_of(const ConstantConfig&) { return kConstant; }
Tag tag_of(const LinearDecayConfig&) { return kLinearDecay; }
Tag tag_of(const KLAdaptiveConfig&) { return kKLAdaptive; }

void write_body(Writer& w, const PPOBRConfig& c, const PPOBRState& s) {
  w.f64(c.eps0);
  w.f64(c.lambda1);
  w.f64(c.lambda2);
  w.i64(c.window);
  w.u8(c.psi_mode == PsiMode::Plateau ? 0 : c.psi_mode == PsiMode::Progress ? 1 : 255);
  write_opt(w, c.entropy_ref);
  w.f64(c.entropy_floor);
  write_opt(w, c.eps_min);
  write_opt(w, c.eps_max);

  w.f64(s.epsilon);
  write_opt(w, s.entropy_ref);
  w.u64(static_cast<std::uint64_t>(s.returns.size()));
  for (double x : s.returns) w.f64(x);
  w.i64(s.head);
  w.i64(s.count);
  w.i64(s.updates);
  w.i64(s.rejected_entropy);
  w.i64(s.dropped_returns);
  w.f64(s.last_phi);
  w.f64(s.last_psi);
  w.f64(s.last_entropy);
  w.f64(s.last_z);
}

void write_body(Writer& w, const ConstantConfig& c, const ConstantState& s) {
  w.f64(c.eps);
  w.f64(s.epsilon);
  w.i64(s.updates);
}

void write_body(Writer& w, const LinearDecayConfig& c, const LinearDecayState& s) {
  w.f64(c.eps_start);
  w.f64(c.eps_end);
  w.i64(c.total_updates);
  w.f64(s.epsilon);
  w.i64(s.updates);
}

void write_body(Writer& w, const KLAdaptiveConfig& c, const KLAdaptiveState& s) {
  w.f64(c.eps0);
  w.f64(c.kl_target);
  w.f64(c.tolerance);
  w.f64(c.rate);
  w.f64(c.eps_min);
  w.f64(c.eps_max);
  w.f64(s.epsilon);
  w.i64(s.updates);
  w.i64(s.rejected_kl);
  w.f64(s.last_kl);
}

// ---- readers -----------------------------------------------------------------------------------

template <class Config>
void validate_config(const Config& c) {
  try {
    validate(c);
  } catch (const InvalidArgument& e) {
    bad(std::string("its config is invalid (") + e.what() + ")");
  }
}

void check_counter(std::int64_t v, const char* what) {
  if (v < 0) bad(std::string(what) + " is negative");
}

void check_finite(double v, const char* what) {
  if (!std::isfinite(v)) bad(std::string(what) + " is not finite");
}

std::unique_ptr<Controller> read_ppobr(Reader& r) {
  PPOBRConfig c;
  c.eps0 = r.f64("eps0");
  c.lambda1 = r.f64("lambda1");
  c.lambda2 = r.f64("lambda2");
  c.window = r.i64("window");
  const std::uint8_t mode = r.u8("psi_mode");
  if (mode > 1) bad("unknown psi_mode " + std::to_string(mode));
  c.psi_mode = mode == 0 ? PsiMode::Plateau : PsiMode::Progress;
  c.entropy_ref = read_opt(r, "entropy_ref");
  c.entropy_floor = r.f64("entropy_floor");
  c.eps_min = read_opt(r, "eps_min");
  c.eps_max = read_opt(r, "eps_max");
  validate_config(c);  // bounds window before it sizes anything

  PPOBRState s;
  s.epsilon = r.f64("epsilon");
  s.entropy_ref = read_opt(r, "state entropy_ref");
  const std::uint64_t n = r.u64("ring buffer size");
  if (n != static_cast<std::uint64_t>(c.window))
    bad("ring buffer size " + std::to_string(n) + " != window " + std::to_string(c.window));
  r.need(static_cast<std::size_t>(n) * 8, "ring buffer");  // n <= 1e6: no overflow
  s.returns.resize(static_cast<std::size_t>(n));
  for (auto& x : s.returns) x = r.f64("ring buffer");
  s.head = r.i64("head");
  s.count = r.i64("count");
  s.updates = r.i64("updates");
  s.rejected_entropy = r.i64("rejected_entropy");
  s.dropped_returns = r.i64("dropped_returns");
  s.last_phi = r.f64("last_phi");
  s.last_psi = r.f64("last_psi");
  s.last_entropy = r.f64("last_entropy");
  s.last_z = r.f64("last_z");

  // Consistency: only states the controller can reach from init() are accepted.
  const std::int64_t k = c.window;
  check_counter(s.updates, "updates");
  check_counter(s.rejected_entropy, "rejected_entropy");
  check_counter(s.dropped_returns, "dropped_returns");
  if (s.count < 0 || s.count > k)
    bad("count " + std::to_string(s.count) + " is outside [0, window]");
  if (s.head < 0 || s.head >= k) bad("head " + std::to_string(s.head) + " is outside [0, window)");
  if (s.count < k && s.head != s.count) bad("head != count while the ring buffer is not full");
  if (s.count > 0 && s.updates == 0) bad("returns are held but no update was accepted");
  for (double x : s.returns) check_finite(x, "a buffered return");
  check_finite(s.epsilon, "epsilon");
  if (s.updates == 0) {
    if (s.epsilon != c.eps0) bad("epsilon != eps0 before the first accepted update");
  } else if (!(s.epsilon >= eps_min_of(c) && s.epsilon <= eps_max_of(c))) {
    bad("epsilon is outside [eps_min, eps_max]");
  }
  if (s.entropy_ref) {
    check_finite(*s.entropy_ref, "entropy_ref");
    if (!(*s.entropy_ref > c.entropy_floor)) bad("entropy_ref is not above entropy_floor");
  }
  if (c.entropy_ref && (!s.entropy_ref || *s.entropy_ref != *c.entropy_ref))
    bad("the state's entropy_ref differs from the config's");
  if (s.updates > 0 && !s.entropy_ref) bad("entropy_ref is unset after an accepted update");
  if (!(s.last_phi >= 0.0 && s.last_phi <= 1.0)) bad("last phi is outside [0, 1]");
  if (!(s.last_psi >= 0.0 && s.last_psi <= 1.0)) bad("last psi is outside [0, 1]");
  check_finite(s.last_entropy, "last entropy");
  check_finite(s.last_z, "last z");
  return std::make_unique<PPOBRController>(c, s);
}

std::unique_ptr<Controller> read_constant(Reader& r) {
  ConstantConfig c;
  c.eps = r.f64("eps");
  validate_config(c);
  ConstantState s;
  s.epsilon = r.f64("epsilon");
  s.updates = r.i64("updates");
  check_counter(s.updates, "updates");
  if (!(s.epsilon == c.eps)) bad("epsilon != eps");
  return std::make_unique<ConstantController>(c, s);
}

std::unique_ptr<Controller> read_linear_decay(Reader& r) {
  LinearDecayConfig c;
  c.eps_start = r.f64("eps_start");
  c.eps_end = r.f64("eps_end");
  c.total_updates = r.i64("total_updates");
  validate_config(c);
  LinearDecayState s;
  s.epsilon = r.f64("epsilon");
  s.updates = r.i64("updates");
  check_counter(s.updates, "updates");
  check_finite(s.epsilon, "epsilon");
  // epsilon must be what the schedule gave at the last update (eps_start before any).
  double expected = c.eps_start;
  if (s.updates > 0) {
    LinearDecayState prev;
    prev.updates = s.updates - 1;
    expected = update(c, prev, Observation{});
  }
  if (!(s.epsilon == expected)) bad("epsilon does not match the schedule at this update count");
  return std::make_unique<LinearDecayController>(c, s);
}

std::unique_ptr<Controller> read_kl_adaptive(Reader& r) {
  KLAdaptiveConfig c;
  c.eps0 = r.f64("eps0");
  c.kl_target = r.f64("kl_target");
  c.tolerance = r.f64("tolerance");
  c.rate = r.f64("rate");
  c.eps_min = r.f64("eps_min");
  c.eps_max = r.f64("eps_max");
  validate_config(c);
  KLAdaptiveState s;
  s.epsilon = r.f64("epsilon");
  s.updates = r.i64("updates");
  s.rejected_kl = r.i64("rejected_kl");
  s.last_kl = r.f64("last_kl");
  check_counter(s.updates, "updates");
  check_counter(s.rejected_kl, "rejected_kl");
  check_finite(s.epsilon, "epsilon");
  check_finite(s.last_kl, "last kl");
  if (s.updates == 0 && s.epsilon != c.eps0)
    bad("epsilon != eps0 before the first accepted update");
  if (!(s.epsilon >= c.eps_min && s.epsilon <= c.eps_max))
    bad("epsilon is outside [eps_min, eps_max]");
  return std::make_unique<KLAdaptiveController>(c, s);
}

}  // namespace

template <class Config, class State>
std::vector<std::uint8_t> BasicController<Config, State>::serialize() const {
  Writer w;
  w.reserve(128);
  w.bytes(kMagic, sizeof kMagic);
  w.u32(kVersion);
  w.u32(tag_of(config_));
  write_body(w, config_, state_);
  w.u64(byte_io::fnv1a64(w.data(), w.size()));
  return w.take();
}

template std::vector<std::uint8_t> BasicController<PPOBRConfig, PPOBRState>::serialize() const;
template std::vector<std::uint8_t> BasicController<ConstantConfig, ConstantState>::serialize()
    const;
template std::vector<std::uint8_t> BasicController<LinearDecayConfig, LinearDecayState>::serialize()
    const;
template std::vector<std::uint8_t> BasicController<KLAdaptiveConfig, KLAdaptiveState>::serialize()
    const;

std::unique_ptr<Controller> deserialize_controller(const std::uint8_t* data, std::size_t size) {
  if (data == nullptr && size > 0) bad("null data with a non-zero size");
  if (size < kHeaderSize + kChecksumSize)
    bad("only " + std::to_string(size) +
        " bytes, too short to be a serialized controller (truncated?)");
  if (std::memcmp(data, kMagic, sizeof kMagic) != 0)
    bad("bad magic bytes; not a serialized ppobr controller");
  const std::size_t body = size - kChecksumSize;
  Reader tail(data + body, kChecksumSize);
  if (tail.u64("checksum") != byte_io::fnv1a64(data, body))
    bad("checksum mismatch; the bytes are corrupted, truncated or extended");

  Reader r(data, body);
  r.need(kHeaderSize, "header");
  for (std::size_t i = 0; i < sizeof kMagic; ++i) (void)r.u8("magic");
  const std::uint32_t version = r.u32("version");
  if (version != kVersion)
    bad("unsupported format version " + std::to_string(version) + " (this build reads version " +
        std::to_string(kVersion) + ")");
  const std::uint32_t tag = r.u32("type");
  std::unique_ptr<Controller> out;
  switch (tag) {
    case kPPOBR:
      out = read_ppobr(r);
      break;
    case kConstant:
      out = read_constant(r);
      break;
    case kLinearDecay:
      out = read_linear_decay(r);
      break;
    case kKLAdaptive:
      out = read_kl_adaptive(r);
      break;
    default:
      bad("unknown controller type " + std::to_string(tag));
  }
  if (r.remaining() != 0) bad(std::to_string(r.remaining()) + " unexpected trailing bytes");
  return out;
}

}  // namespace ppobr
