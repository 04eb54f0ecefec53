// Tests of controller serialization (cpp/src/serialization.cpp): the format, bit-identical
// continuation after a round trip for all four controllers, and rejection of every
// truncation, every single-byte corruption, extensions, foreign or random bytes and
// inconsistent states (always InvalidArgument("state"), never a crash or another exception).
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "check.hpp"
#include "ppobr/controllers.hpp"
#include "ppobr/errors.hpp"

using namespace ppobr;
using Bytes = std::vector<std::uint8_t>;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

std::uint64_t bits(double x) {
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// Independent FNV-1a 64 and little-endian helpers (the test's own, to pin the format).
std::uint64_t fnv(const std::uint8_t* p, std::size_t n) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (std::size_t i = 0; i < n; ++i) h = (h ^ p[i]) * 0x100000001b3ull;
  return h;
}
void put_u64(Bytes& b, std::uint64_t v) {
  for (int i = 0; i < 8; ++i) b.push_back(std::uint8_t(v >> (8 * i)));
}
void put_u32(Bytes& b, std::uint32_t v) {
  for (int i = 0; i < 4; ++i) b.push_back(std::uint8_t(v >> (8 * i)));
}
std::uint64_t get_u64(const std::uint8_t* p) {
  std::uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= std::uint64_t(p[i]) << (8 * i);
  return v;
}
// Recomputes the trailing checksum of a (modified) blob.
void fix_checksum(Bytes& b) {
  if (b.size() < 8) return;
  std::uint64_t h = fnv(b.data(), b.size() - 8);
  for (int i = 0; i < 8; ++i) b[b.size() - 8 + i] = std::uint8_t(h >> (8 * i));
}

// Deserializes from a heap copy of exactly n bytes (so that sanitizers see any over-read).
std::unique_ptr<Controller> load(const std::uint8_t* p, std::size_t n) {
  std::unique_ptr<std::uint8_t[]> copy(new std::uint8_t[n ? n : 1]);
  if (n) std::memcpy(copy.get(), p, n);
  return deserialize_controller(n ? copy.get() : nullptr, n);
}
std::unique_ptr<Controller> load(const Bytes& b) { return load(b.data(), b.size()); }

// The stuff one update is made of; the same Input drives two controllers identically.
struct Input {
  std::optional<double> entropy;
  std::vector<double> returns;
  std::optional<double> kl;
};

struct Gen {
  std::mt19937_64 rng;
  explicit Gen(std::uint64_t seed) : rng(seed) {}
  double uni(double a, double b) { return std::uniform_real_distribution<double>(a, b)(rng); }
  int pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng); }
  double odd() {
    static const double s[] = {kNaN, kInf, -kInf, 1e300, -1e300, 0.0, -0.0};
    return s[pick(7)];
  }
  Input input(double trend) {
    Input in;
    int r = pick(12);
    in.entropy = r == 0   ? std::nullopt
                 : r == 1 ? std::optional<double>(odd())
                          : std::optional<double>(uni(-0.5, 2.0));
    in.returns.resize(pick(4));
    for (auto& x : in.returns) x = pick(15) == 0 ? odd() : trend + uni(-3, 3);
    r = pick(15);
    in.kl = r == 0   ? std::nullopt
            : r == 1 ? std::optional<double>(odd())
                     : std::optional<double>(uni(-0.01, 0.05));
    return in;
  }
  PPOBRConfig ppobr() {
    PPOBRConfig c;
    static const std::int64_t w[] = {2, 3, 10, 11, 16};
    c.window = w[pick(5)];
    c.psi_mode = pick(2) ? PsiMode::Plateau : PsiMode::Progress;
    c.eps0 = uni(0.05, 0.3);
    c.lambda1 = uni(0, 1);
    c.lambda2 = uni(0, 1);
    if (pick(2)) c.entropy_floor = uni(-1, 0);
    if (pick(2)) c.entropy_ref = c.entropy_floor + uni(0.5, 2);
    if (pick(3) == 0) c.eps_min = uni(0, c.eps0);
    if (pick(3) == 0) c.eps_max = uni(c.eps0, 1.0);
    return c;
  }
  KLAdaptiveConfig kl() {
    KLAdaptiveConfig c;
    c.eps_min = uni(0.01, 0.1);
    c.eps_max = uni(0.3, 0.6);
    c.eps0 = uni(c.eps_min, c.eps_max);
    c.kl_target = uni(0.005, 0.03);
    c.tolerance = uni(1.1, 2.0);
    c.rate = uni(1.05, 2.0);
    return c;
  }
  LinearDecayConfig linear() {
    LinearDecayConfig c;
    c.eps_start = uni(0.05, 0.4);
    c.eps_end = pick(3) == 0 ? 0.0 : uni(0.0, 0.4);
    c.total_updates = 1 + pick(40);
    return c;
  }
  ConstantConfig constant() { return ConstantConfig{uni(0.01, 0.5)}; }

  std::unique_ptr<Controller> controller(int type) {
    switch (type % 4) {
      case 0:
        return std::make_unique<PPOBRController>(ppobr());
      case 1:
        return std::make_unique<ConstantController>(constant());
      case 2:
        return std::make_unique<LinearDecayController>(linear());
      default:
        return std::make_unique<KLAdaptiveController>(kl());
    }
  }
};

Observation obs_of(const Input& in) {
  Observation o;
  o.entropy = in.entropy;
  o.episode_returns = in.returns.empty() ? nullptr : in.returns.data();
  o.num_episode_returns = in.returns.size();
  o.kl = in.kl;
  return o;
}

// Applies an input; an InvalidArgument becomes (NaN, its argument) so outcomes can be compared.
struct Outcome {
  double eps;
  std::string error;
};
Outcome apply(Controller& c, const Input& in) {
  try {
    return {c.update(obs_of(in)), ""};
  } catch (const InvalidArgument& e) {
    return {kNaN, e.argument()};
  }
}

bool same_items(const Diagnostics& a, const Diagnostics& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a[i].first != b[i].first || bits(a[i].second) != bits(b[i].second)) return false;
  return true;
}

bool same_controller(const Controller& a, const Controller& b) {
  return std::string(a.name()) == b.name() && bits(a.epsilon()) == bits(b.epsilon()) &&
         same_items(a.diagnostics(), b.diagnostics()) &&
         same_items(a.config_items(), b.config_items()) && a.serialize() == b.serialize();
}

// A set of valid blobs: every type, fresh and after a history of updates.
std::vector<Bytes> sample_blobs() {
  std::vector<Bytes> out;
  Gen g(99);
  for (int type = 0; type < 4; ++type) {
    for (int hist : {0, 3, 25}) {
      auto c = g.controller(type);
      for (int t = 0; t < hist; ++t) apply(*c, g.input(t));
      out.push_back(c->serialize());
    }
  }
  PPOBRConfig c;  // the defaults, window 10, after a full window
  c.window = 11;
  c.entropy_ref = 1.0;
  c.eps_min = 0.1;
  PPOBRController p(c);
  for (int t = 0; t < 20; ++t) {
    std::vector<double> r = {double(t)};
    Observation o;
    o.entropy = 0.5;
    o.episode_returns = r.data();
    o.num_episode_returns = 1;
    p.update(o);
  }
  out.push_back(p.serialize());
  return out;
}

}  // namespace

// ---- format ------------------------------------------------------------------------------------

TEST(fnv_known_answers) {
  CHECK(fnv(nullptr, 0) == 0xcbf29ce484222325ull);
  const std::uint8_t a[] = {'a'};
  CHECK(fnv(a, 1) == 0xaf63dc4c8601ec8cull);
}

TEST(format_golden_constant) {
  ConstantController c(ConstantConfig{0.2});
  Bytes expect = {'P', 'P', 'O', 'B', 'R', 'C', 'T', 'L'};
  put_u32(expect, 1);          // version
  put_u32(expect, 2);          // constant
  put_u64(expect, bits(0.2));  // config eps
  put_u64(expect, bits(0.2));  // state epsilon
  put_u64(expect, 0);          // updates
  put_u64(expect, fnv(expect.data(), expect.size()));
  CHECK(c.serialize() == expect);
  CHECK(expect.size() == 48);
}

TEST(format_header_and_checksum_of_all_types) {
  const char* names[] = {"ppobr", "constant", "linear_decay", "kl_adaptive"};
  Gen g(1);
  for (int type = 0; type < 4; ++type) {
    auto c = g.controller(type);
    Bytes b = c->serialize();
    CHECK(b.size() > 24);
    CHECK(std::memcmp(b.data(), "PPOBRCTL", 8) == 0);
    CHECK(b[8] == 1 && b[9] == 0 && b[10] == 0 && b[11] == 0);
    CHECK(b[12] == type + 1 && b[13] == 0 && b[14] == 0 && b[15] == 0);
    CHECK(get_u64(b.data() + b.size() - 8) == fnv(b.data(), b.size() - 8));
    CHECK(std::string(c->name()) == names[type]);
  }
  // ppobr: the ring buffer is window doubles
  PPOBRConfig pc;
  pc.window = 10;
  Bytes b10 = PPOBRController(pc).serialize();
  pc.window = 11;
  Bytes b11 = PPOBRController(pc).serialize();
  CHECK(b11.size() == b10.size() + 8);
}

// ---- round trip and continuation
// -----------------------------------------------------------------

TEST(round_trip_fresh_all_types) {
  Gen g(2);
  for (int type = 0; type < 4; ++type) {
    auto c = g.controller(type);
    auto r = load(c->serialize());
    CHECK(same_controller(*c, *r));
  }
  // typed access survives
  PPOBRConfig pc;
  pc.entropy_ref = 0.7;
  pc.eps_max = 0.25;
  pc.psi_mode = PsiMode::Progress;
  PPOBRController p(pc);
  auto r = load(p.serialize());
  auto* rp = dynamic_cast<PPOBRController*>(r.get());
  CHECK(rp != nullptr);
  if (rp) {
    CHECK(rp->config().psi_mode == PsiMode::Progress && *rp->config().entropy_ref == 0.7);
    CHECK(!rp->config().eps_min && *rp->config().eps_max == 0.25);
    CHECK(rp->state().returns.size() == 10);
  }
}

TEST(round_trip_continues_bit_identically) {
  Gen g(3);
  for (int trial = 0; trial < 400; ++trial) {
    const int type = trial % 4;
    auto a = g.controller(type);
    const int n = g.pick(60), m = 1 + g.pick(60);
    for (int t = 0; t < n; ++t) apply(*a, g.input(t * 0.5));
    Bytes blob = a->serialize();
    auto b = load(blob);
    CHECK(same_controller(*a, *b));
    CHECK(b->serialize() == blob);
    for (int t = 0; t < m; ++t) {
      Input in = g.input((n + t) * 0.5);
      Outcome oa = apply(*a, in), ob = apply(*b, in);
      CHECK(bits(oa.eps) == bits(ob.eps));
      CHECK(oa.error == ob.error);
      CHECK(same_items(a->diagnostics(), b->diagnostics()));
    }
    CHECK(same_controller(*a, *b));
  }
}

TEST(round_trip_after_errors_and_rejections) {
  // A state that has seen rejected entropies, dropped returns and an entropy_ref error.
  PPOBRConfig c;
  c.window = 3;
  PPOBRController p(c);
  Input in;
  in.entropy = kNaN;
  in.returns = {1.0, 2.0};
  apply(p, in);
  in.entropy = -1.0;
  CHECK(apply(p, in).error == "entropy_ref");
  in.entropy = 1.0;
  in.returns = {1.0, kNaN, 3.0, kInf};
  apply(p, in);
  auto r = load(p.serialize());
  CHECK(same_controller(p, *r));
  auto d = r->diagnostics();
  CHECK(d[8].first == "rejected_entropy" && d[8].second == 1);
  CHECK(d[9].first == "dropped_returns" && d[9].second == 2);
}

// ---- rejection of malformed input
// ----------------------------------------------------------------

TEST(reject_every_truncation) {
  for (const Bytes& b : sample_blobs()) {
    CHECK(load(b) != nullptr);
    for (std::size_t n = 0; n < b.size(); ++n) CHECK_THROWS_ARG(load(b.data(), n), "state");
  }
  CHECK_THROWS_ARG(deserialize_controller(nullptr, 0), "state");
  CHECK_THROWS_ARG(deserialize_controller(nullptr, 100), "state");
}

TEST(reject_every_single_byte_flip) {
  for (const Bytes& b : sample_blobs()) {
    for (std::size_t i = 0; i < b.size(); ++i) {
      for (std::uint8_t x : {0x01, 0x80, 0xFF, 0x5A}) {
        Bytes c = b;
        c[i] ^= x;
        CHECK_THROWS_ARG(load(c), "state");
      }
    }
  }
}

TEST(reject_extended) {
  std::mt19937_64 rng(5);
  for (const Bytes& b : sample_blobs()) {
    for (std::size_t extra = 1; extra <= 16; ++extra) {
      Bytes c = b;
      for (std::size_t i = 0; i < extra; ++i) c.push_back(std::uint8_t(rng()));
      CHECK_THROWS_ARG(load(c), "state");
      fix_checksum(c);  // a valid checksum does not make trailing bytes acceptable
      CHECK_THROWS_ARG(load(c), "state");
      Bytes d = b;  // bytes inserted before the checksum
      d.insert(d.end() - 8, c.begin(), c.begin() + extra);
      fix_checksum(d);
      CHECK_THROWS_ARG(load(d), "state");
    }
    Bytes twice = b;
    twice.insert(twice.end(), b.begin(), b.end());
    CHECK_THROWS_ARG(load(twice), "state");
  }
}

TEST(reject_random_bytes) {
  std::mt19937_64 rng(6);
  const Bytes valid = sample_blobs().back();
  for (int i = 0; i < 5000; ++i) {
    Bytes b(rng() % 400);
    for (auto& x : b) x = std::uint8_t(rng());
    if (i % 2 == 1 && b.size() >= 16) {  // plausible header and a valid checksum
      std::memcpy(b.data(), "PPOBRCTL", 8);
      b[8] = 1, b[9] = b[10] = b[11] = 0;
      b[12] = std::uint8_t(1 + rng() % 4), b[13] = b[14] = b[15] = 0;
      fix_checksum(b);
    }
    CHECK_THROWS_ARG(load(b), "state");
  }
  // random prefixes of a valid blob with a fixed-up checksum
  for (std::size_t n = 16; n < valid.size(); ++n) {
    Bytes b(valid.begin(), valid.begin() + n);
    fix_checksum(b);
    CHECK_THROWS_ARG(load(b), "state");
  }
}

TEST(checksum_valid_mutations_never_crash) {
  // Mutate body bytes and repair the checksum, so that parsing and validation are exercised:
  // each result is either a usable controller or InvalidArgument("state").
  std::mt19937_64 rng(8);
  int accepted = 0, rejected = 0;
  for (const Bytes& b : sample_blobs()) {
    for (int i = 0; i < 1500; ++i) {
      Bytes c = b;
      const int k = 1 + int(rng() % 3);
      for (int j = 0; j < k; ++j) {
        std::size_t pos = 16 + rng() % (c.size() - 24);
        c[pos] = (rng() % 2) ? std::uint8_t(rng()) : std::uint8_t(c[pos] ^ (1u << (rng() % 8)));
      }
      fix_checksum(c);
      std::unique_ptr<Controller> r;
      try {
        r = load(c);
      } catch (const InvalidArgument& e) {
        CHECK(e.argument() == "state");
        ++rejected;
        continue;
      }
      ++accepted;
      CHECK(std::isfinite(r->epsilon()));
      Input in;
      in.entropy = 0.5;
      in.returns = {1.0, 2.0};
      in.kl = 0.02;
      for (int t = 0; t < 3; ++t) {
        Outcome o = apply(*r, in);
        CHECK(o.error.empty() || o.error == "entropy_ref");
        if (o.error.empty()) CHECK(std::isfinite(o.eps) && o.eps >= 0.0);
      }
      CHECK(load(r->serialize()) != nullptr);
    }
  }
  CHECK(accepted > 0 && rejected > 0);
}

TEST(reject_header_fields) {
  const Bytes b = ConstantController(ConstantConfig{}).serialize();
  Bytes v = b;
  v[8] = 2;  // version 2
  fix_checksum(v);
  CHECK_THROWS_ARG(load(v), "state");
  v = b;
  v[8] = 0;  // version 0
  fix_checksum(v);
  CHECK_THROWS_ARG(load(v), "state");
  for (std::uint32_t tag : {0u, 5u, 256u, 0xFFFFFFFFu}) {
    Bytes t = b;
    for (int i = 0; i < 4; ++i) t[12 + i] = std::uint8_t(tag >> (8 * i));
    fix_checksum(t);
    CHECK_THROWS_ARG(load(t), "state");
  }
  Bytes m = b;
  m[0] = 'X';
  fix_checksum(m);
  CHECK_THROWS_ARG(load(m), "state");
  // a constant blob relabelled as another type
  for (std::uint8_t tag : {1, 3, 4}) {
    Bytes t = b;
    t[12] = tag;
    fix_checksum(t);
    CHECK_THROWS_ARG(load(t), "state");
  }
}

TEST(reject_invalid_config_and_inconsistent_state) {
  // The (config, state) constructor does not validate, so it can write bad blobs.
  auto rejects = [](const Controller& c) {
    bool ok = false;
    try {
      load(c.serialize());
    } catch (const InvalidArgument& e) {
      ok = e.argument() == "state";
    }
    return ok;
  };
  PPOBRConfig c;
  c.window = 4;
  PPOBRState s = init(c);
  {
    Observation o;
    o.entropy = 1.0;
    std::vector<double> r = {1, 2, 3, 4, 5};
    o.episode_returns = r.data();
    o.num_episode_returns = r.size();
    update(c, s, o);
  }
  CHECK(!rejects(PPOBRController(c, s)));  // the good one loads

  auto bad_cfg = [&](void (*edit)(PPOBRConfig&)) {
    PPOBRConfig x = c;
    edit(x);
    return rejects(PPOBRController(x, s));
  };
  CHECK(bad_cfg([](PPOBRConfig& x) { x.eps0 = -1.0; }));
  CHECK(bad_cfg([](PPOBRConfig& x) { x.eps0 = kNaN; }));
  CHECK(bad_cfg([](PPOBRConfig& x) { x.lambda1 = -1.0; }));
  CHECK(bad_cfg([](PPOBRConfig& x) { x.window = 1; }));
  CHECK(bad_cfg([](PPOBRConfig& x) { x.window = 5; }));  // buffer size != window
  CHECK(bad_cfg([](PPOBRConfig& x) { x.window = INT64_MAX; }));
  CHECK(bad_cfg([](PPOBRConfig& x) { x.window = -4; }));
  CHECK(bad_cfg([](PPOBRConfig& x) { x.psi_mode = static_cast<PsiMode>(3); }));
  CHECK(bad_cfg([](PPOBRConfig& x) { x.eps_min = 0.5; }));
  CHECK(bad_cfg([](PPOBRConfig& x) { x.entropy_floor = 2.0; }));
  CHECK(bad_cfg([](PPOBRConfig& x) { x.entropy_ref = 2.0; }));  // state's H_ref is 1.0

  auto bad_state = [&](void (*edit)(PPOBRState&)) {
    PPOBRState x = s;
    edit(x);
    return rejects(PPOBRController(c, x));
  };
  CHECK(bad_state([](PPOBRState& x) { x.returns.resize(5); }));
  CHECK(bad_state([](PPOBRState& x) { x.returns.clear(); }));
  CHECK(bad_state([](PPOBRState& x) { x.head = 4; }));
  CHECK(bad_state([](PPOBRState& x) { x.head = -1; }));
  CHECK(bad_state([](PPOBRState& x) { x.count = 5; }));
  CHECK(bad_state([](PPOBRState& x) { x.count = -1; }));
  CHECK(bad_state([](PPOBRState& x) { x.count = 2; }));  // head != count while not full
  CHECK(bad_state([](PPOBRState& x) { x.updates = -1; }));
  CHECK(bad_state([](PPOBRState& x) { x.updates = 0; }));  // returns held without an update
  CHECK(bad_state([](PPOBRState& x) { x.rejected_entropy = -3; }));
  CHECK(bad_state([](PPOBRState& x) { x.dropped_returns = INT64_MIN; }));
  CHECK(bad_state([](PPOBRState& x) { x.epsilon = kNaN; }));
  CHECK(bad_state([](PPOBRState& x) { x.epsilon = kInf; }));
  CHECK(bad_state([](PPOBRState& x) { x.epsilon = 10.0; }));  // outside [eps_min, eps_max]
  CHECK(bad_state([](PPOBRState& x) { x.returns[1] = kNaN; }));
  CHECK(bad_state([](PPOBRState& x) { x.returns[0] = -kInf; }));
  CHECK(bad_state([](PPOBRState& x) { x.entropy_ref.reset(); }));
  CHECK(bad_state([](PPOBRState& x) { x.entropy_ref = -1.0; }));
  CHECK(bad_state([](PPOBRState& x) { x.entropy_ref = kNaN; }));
  CHECK(bad_state([](PPOBRState& x) { x.last_phi = 1.5; }));
  CHECK(bad_state([](PPOBRState& x) { x.last_psi = kNaN; }));
  CHECK(bad_state([](PPOBRState& x) { x.last_z = kInf; }));
  CHECK(bad_state([](PPOBRState& x) { x.last_entropy = kNaN; }));
  {
    PPOBRState fresh = init(c);
    fresh.epsilon = 0.21;  // no accepted update yet: must be eps0
    CHECK(rejects(PPOBRController(c, fresh)));
  }

  ConstantConfig cc;
  ConstantState cs = init(cc);
  CHECK(!rejects(ConstantController(cc, cs)));
  CHECK(rejects(ConstantController(ConstantConfig{-0.2}, cs)));
  cs.epsilon = 0.3;
  CHECK(rejects(ConstantController(cc, cs)));
  cs = init(cc);
  cs.updates = -1;
  CHECK(rejects(ConstantController(cc, cs)));

  LinearDecayConfig lc;
  lc.total_updates = 5;
  LinearDecayState ls = init(lc);
  for (int i = 0; i < 3; ++i) update(lc, ls, Observation{});
  CHECK(!rejects(LinearDecayController(lc, ls)));
  LinearDecayState lbad = ls;
  lbad.epsilon = 0.2;  // not the schedule's value at 3 updates
  CHECK(rejects(LinearDecayController(lc, lbad)));
  lbad = ls;
  lbad.updates = -1;
  CHECK(rejects(LinearDecayController(lc, lbad)));
  LinearDecayConfig lcb = lc;
  lcb.total_updates = 0;
  CHECK(rejects(LinearDecayController(lcb, ls)));

  KLAdaptiveConfig kc;
  KLAdaptiveState ks = init(kc);
  Observation ko;
  ko.kl = 0.1;
  update(kc, ks, ko);
  CHECK(!rejects(KLAdaptiveController(kc, ks)));
  KLAdaptiveState kb = ks;
  kb.epsilon = 0.9;
  CHECK(rejects(KLAdaptiveController(kc, kb)));
  kb = ks;
  kb.rejected_kl = -1;
  CHECK(rejects(KLAdaptiveController(kc, kb)));
  kb = ks;
  kb.last_kl = kNaN;
  CHECK(rejects(KLAdaptiveController(kc, kb)));
  KLAdaptiveConfig kcb = kc;
  kcb.rate = 1.0;
  CHECK(rejects(KLAdaptiveController(kcb, ks)));
}

TEST(reject_huge_lengths_without_allocating) {
  // A ppobr blob whose window and ring-buffer length claim ~2^62 elements must be rejected
  // before any allocation (the window bound is checked first).
  PPOBRConfig c;
  c.window = 2;
  Bytes b = PPOBRController(c).serialize();
  // layout: 16 header, eps0 lambda1 lambda2 (24), window i64 at offset 40
  CHECK(get_u64(b.data() + 40) == 2);
  Bytes w = b;
  for (int i = 0; i < 8; ++i) w[40 + i] = std::uint8_t((std::uint64_t(1) << 62) >> (8 * i));
  fix_checksum(w);
  CHECK_THROWS_ARG(load(w), "state");
  // window 1e6 is valid, but the blob does not hold 1e6 doubles: 16 + 24 + 8 (window) +
  // 1 (psi_mode) + 1 (entropy_ref absent) + 8 (floor) + 2 (eps_min/max absent) + 8 (epsilon)
  // + 1 (state entropy_ref absent) puts the ring-buffer length at offset 69
  CHECK(get_u64(b.data() + 69) == 2);
  for (int i = 0; i < 8; ++i) w[40 + i] = std::uint8_t(std::uint64_t(1000000) >> (8 * i));
  for (int i = 0; i < 8; ++i) w[69 + i] = std::uint8_t(std::uint64_t(1000000) >> (8 * i));
  fix_checksum(w);
  CHECK_THROWS_ARG(load(w), "state");
}

PPOBR_TEST_MAIN
