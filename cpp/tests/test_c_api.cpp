// Tests of the C ABI (ppobr/c_api.h): every error path returns the right code, names the
// argument and leaves a message; nothing throws; controllers serialize and restore
// bit-identically; the kernel wrappers agree with the C++ API bit for bit.
#include "ppobr/c_api.h"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "ppobr/ppobr.hpp"

namespace {

const double kNaN = std::numeric_limits<double>::quiet_NaN();
const double kInf = std::numeric_limits<double>::infinity();

std::uint64_t bits(double x) {
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

bool starts_with(const std::string& s, const std::string& prefix) {
  return s.compare(0, prefix.size(), prefix) == 0;
}

// The call returned `code`, and the thread's last error names `arg` with a message that
// starts with "arg: ". (Functions rather than macro bodies: keeps this file quick to compile.)
void check_err(ppobr_status st, ppobr_status code, const char* arg, const char* file, int line) {
  if (st != code || ppobr_last_error_code() != code)
    ppobr_test::fail(file, line,
                     "status " + std::to_string(st) + " (last " +
                         std::to_string(ppobr_last_error_code()) + "), expected " +
                         std::to_string(code));
  const std::string a = ppobr_last_error_argument();
  const std::string m = ppobr_last_error_message();
  if (a != arg) ppobr_test::fail(file, line, "argument '" + a + "' != '" + arg + "' (" + m + ")");
  if (!starts_with(m, std::string(arg) + ": "))
    ppobr_test::fail(file, line, "message does not start with the argument: " + m);
}

void check_ok(ppobr_status st, const char* call, const char* file, int line) {
  if (st != PPOBR_OK)
    ppobr_test::fail(file, line, std::string(call) + " failed: " + ppobr_last_error_message());
  if (ppobr_last_error_code() != PPOBR_OK || std::string(ppobr_last_error_message()) != "")
    ppobr_test::fail(file, line, std::string(call) + ": the last error was not cleared");
}

#define CHECK_ERR(call, code, arg) check_err((call), (code), (arg), __FILE__, __LINE__)
#define CHECK_OK(call) check_ok((call), #call, __FILE__, __LINE__)

ppobr_controller* make_ppobr(double entropy_ref = std::log(2.0), int64_t window = 4) {
  ppobr_ppobr_config c;
  ppobr_ppobr_config_init(&c);
  c.window = window;
  c.has_entropy_ref = 1;
  c.entropy_ref = entropy_ref;
  ppobr_controller* h = nullptr;
  CHECK_OK(ppobr_controller_create_ppobr(&c, &h));
  CHECK(h != nullptr);
  return h;
}

ppobr_observation obs_of(double entropy,
                         const std::vector<double>& returns) {  // keeps a pointer into returns
  ppobr_observation o;
  ppobr_observation_init(&o);
  o.has_entropy = 1;
  o.entropy = entropy;
  o.episode_returns = returns.empty() ? nullptr : returns.data();
  o.num_episode_returns = returns.size();
  return o;
}

std::vector<std::uint8_t> serialize(const ppobr_controller* h) {
  size_t n = 0;
  CHECK_OK(ppobr_controller_serialize(h, nullptr, 0, &n));
  std::vector<std::uint8_t> buf(n);
  size_t written = 0;
  CHECK_OK(ppobr_controller_serialize(h, buf.data(), buf.size(), &written));
  CHECK(written == n);
  return buf;
}

}  // namespace

// ---- status, errors, version ----------------------------------------------------------

TEST(status_strings_and_version) {
  CHECK(std::string(ppobr_status_string(PPOBR_OK)) == "ok");
  CHECK(std::string(ppobr_status_string(PPOBR_ERROR_INVALID_ARGUMENT)) == "invalid_argument");
  CHECK(std::string(ppobr_status_string(PPOBR_ERROR_BUFFER_TOO_SMALL)) == "buffer_too_small");
  CHECK(std::string(ppobr_status_string(PPOBR_ERROR_OUT_OF_MEMORY)) == "out_of_memory");
  CHECK(std::string(ppobr_status_string(PPOBR_ERROR_INTERNAL)) == "internal");
  CHECK(std::string(ppobr_status_string(12345)) == "unknown");
  CHECK(ppobr_c_api_version() == PPOBR_C_API_VERSION);
  CHECK(std::string(ppobr_version()).find('.') != std::string::npos);
}

TEST(last_error_is_cleared_by_the_next_call) {
  ppobr_controller* h = nullptr;
  CHECK_ERR(ppobr_controller_create_constant(-1.0, &h), PPOBR_ERROR_INVALID_ARGUMENT, "eps");
  CHECK(h == nullptr);
  CHECK(std::string(ppobr_last_error_message()).find("-1") != std::string::npos);
  CHECK_OK(ppobr_controller_create_constant(0.1, &h));
  CHECK(std::string(ppobr_last_error_argument()).empty());
  ppobr_controller_destroy(h);
}

TEST(last_error_is_thread_local) {
  ppobr_controller* h = nullptr;
  CHECK_ERR(ppobr_controller_create_constant(kNaN, &h), PPOBR_ERROR_INVALID_ARGUMENT, "eps");
  ppobr_status other_code = -1;
  std::string other_message = "unset";
  std::thread t([&] {
    other_code = ppobr_last_error_code();
    other_message = ppobr_last_error_message();
    ppobr_controller* g = nullptr;
    (void)ppobr_controller_create_linear_decay(0.2, 0.1, 0, &g);  // total_updates error there
  });
  t.join();
  CHECK(other_code == PPOBR_OK);
  CHECK(other_message.empty());
  CHECK(std::string(ppobr_last_error_argument()) == "eps");  // untouched by the other thread
}

// ---- controller creation errors -------------------------------------------------------

TEST(ppobr_config_errors_name_the_field) {
  struct Case {
    void (*edit)(ppobr_ppobr_config&);
    const char* arg;
  };
  const Case cases[] = {
      {[](ppobr_ppobr_config& c) { c.eps0 = 0.0; }, "eps0"},
      {[](ppobr_ppobr_config& c) { c.eps0 = -0.2; }, "eps0"},
      {[](ppobr_ppobr_config& c) { c.eps0 = kNaN; }, "eps0"},
      {[](ppobr_ppobr_config& c) { c.lambda1 = -0.1; }, "lambda1"},
      {[](ppobr_ppobr_config& c) { c.lambda2 = -0.1; }, "lambda2"},
      {[](ppobr_ppobr_config& c) { c.lambda2 = kInf; }, "lambda2"},
      {[](ppobr_ppobr_config& c) { c.window = 1; }, "window"},
      {[](ppobr_ppobr_config& c) { c.window = -5; }, "window"},
      {[](ppobr_ppobr_config& c) { c.window = INT64_MAX; }, "window"},
      {[](ppobr_ppobr_config& c) { c.psi_mode = 2; }, "psi_mode"},
      {[](ppobr_ppobr_config& c) { c.psi_mode = -1; }, "psi_mode"},
      {[](ppobr_ppobr_config& c) {
         c.has_entropy_ref = 1;
         c.entropy_ref = 0.0;
       },
       "entropy_ref"},
      {[](ppobr_ppobr_config& c) {
         c.has_entropy_ref = 1;
         c.entropy_ref = kNaN;
       },
       "entropy_ref"},
      {[](ppobr_ppobr_config& c) { c.entropy_floor = kInf; }, "entropy_floor"},
      {[](ppobr_ppobr_config& c) {
         c.has_eps_min = 1;
         c.eps_min = 0.5;
       },
       "eps_min"},
      {[](ppobr_ppobr_config& c) {
         c.has_eps_min = 1;
         c.eps_min = -0.1;
       },
       "eps_min"},
      {[](ppobr_ppobr_config& c) {
         c.has_eps_max = 1;
         c.eps_max = 0.0;
       },
       "eps_max"},
      {[](ppobr_ppobr_config& c) { c.lambda2 = 2.0; }, "eps_min"},  // default eps_min < 0
  };
  for (const Case& k : cases) {
    ppobr_ppobr_config c;
    ppobr_ppobr_config_init(&c);
    k.edit(c);
    ppobr_controller* h = reinterpret_cast<ppobr_controller*>(&c);  // must be overwritten with NULL
    CHECK_ERR(ppobr_controller_create_ppobr(&c, &h), PPOBR_ERROR_INVALID_ARGUMENT, k.arg);
    CHECK(h == nullptr);
  }
}

TEST(other_controller_config_errors_name_the_field) {
  ppobr_controller* h = nullptr;
  CHECK_ERR(ppobr_controller_create_constant(-0.1, &h), PPOBR_ERROR_INVALID_ARGUMENT, "eps");
  CHECK_ERR(ppobr_controller_create_linear_decay(-0.1, 0.1, 10, &h), PPOBR_ERROR_INVALID_ARGUMENT,
            "eps_start");
  // a clip range of 0 is valid wherever eps is a value (not a factor that scales)
  CHECK_OK(ppobr_controller_create_constant(0.0, &h));
  ppobr_controller_destroy(h);
  h = nullptr;
  CHECK_OK(ppobr_controller_create_linear_decay(0.0, 0.0, 10, &h));
  ppobr_controller_destroy(h);
  h = nullptr;
  CHECK_ERR(ppobr_controller_create_linear_decay(0.2, -0.1, 10, &h), PPOBR_ERROR_INVALID_ARGUMENT,
            "eps_end");
  CHECK_ERR(ppobr_controller_create_linear_decay(0.2, 0.1, 0, &h), PPOBR_ERROR_INVALID_ARGUMENT,
            "total_updates");
  ppobr_kl_adaptive_config k;
  ppobr_kl_adaptive_config_init(&k);
  k.tolerance = 1.0;
  CHECK_ERR(ppobr_controller_create_kl_adaptive(&k, &h), PPOBR_ERROR_INVALID_ARGUMENT, "tolerance");
  ppobr_kl_adaptive_config_init(&k);
  k.rate = 0.5;
  CHECK_ERR(ppobr_controller_create_kl_adaptive(&k, &h), PPOBR_ERROR_INVALID_ARGUMENT, "rate");
  ppobr_kl_adaptive_config_init(&k);
  k.kl_target = -1.0;
  CHECK_ERR(ppobr_controller_create_kl_adaptive(&k, &h), PPOBR_ERROR_INVALID_ARGUMENT, "kl_target");
  ppobr_kl_adaptive_config_init(&k);
  k.eps0 = 0.9;
  CHECK_ERR(ppobr_controller_create_kl_adaptive(&k, &h), PPOBR_ERROR_INVALID_ARGUMENT, "eps0");
  CHECK(h == nullptr);
}

TEST(null_pointers_are_errors_not_crashes) {
  ppobr_ppobr_config c;
  ppobr_ppobr_config_init(&c);
  ppobr_controller* h = nullptr;
  CHECK_ERR(ppobr_controller_create_ppobr(nullptr, &h), PPOBR_ERROR_INVALID_ARGUMENT, "config");
  CHECK_ERR(ppobr_controller_create_ppobr(&c, nullptr), PPOBR_ERROR_INVALID_ARGUMENT, "out");
  CHECK_ERR(ppobr_controller_create_kl_adaptive(nullptr, &h), PPOBR_ERROR_INVALID_ARGUMENT,
            "config");
  CHECK_ERR(ppobr_controller_create_constant(0.2, nullptr), PPOBR_ERROR_INVALID_ARGUMENT, "out");
  CHECK_ERR(ppobr_controller_clone(nullptr, &h), PPOBR_ERROR_INVALID_ARGUMENT, "controller");
  ppobr_observation o = obs_of(0.5, {});
  double eps = 0.0;
  CHECK_ERR(ppobr_controller_update(nullptr, &o, &eps), PPOBR_ERROR_INVALID_ARGUMENT, "controller");
  CHECK_ERR(ppobr_controller_epsilon(nullptr, &eps), PPOBR_ERROR_INVALID_ARGUMENT, "controller");
  size_t n = 0;
  CHECK_ERR(ppobr_controller_serialize(nullptr, nullptr, 0, &n), PPOBR_ERROR_INVALID_ARGUMENT,
            "controller");
  CHECK_ERR(ppobr_controller_diagnostics(nullptr, nullptr, nullptr, 0, &n),
            PPOBR_ERROR_INVALID_ARGUMENT, "controller");
  CHECK_ERR(ppobr_controller_diagnostic(nullptr, "epsilon", &eps), PPOBR_ERROR_INVALID_ARGUMENT,
            "controller");
  CHECK(ppobr_controller_name(nullptr) == nullptr);
  CHECK(std::string(ppobr_last_error_argument()) == "controller");
  ppobr_controller_destroy(nullptr);  // allowed
  CHECK(ppobr_last_error_code() == PPOBR_OK);

  h = make_ppobr();
  CHECK_ERR(ppobr_controller_update(h, nullptr, &eps), PPOBR_ERROR_INVALID_ARGUMENT, "observation");
  CHECK_ERR(ppobr_controller_epsilon(h, nullptr), PPOBR_ERROR_INVALID_ARGUMENT, "epsilon_out");
  CHECK_ERR(ppobr_controller_serialize(h, nullptr, 0, nullptr), PPOBR_ERROR_INVALID_ARGUMENT,
            "size_out");
  CHECK_ERR(ppobr_controller_diagnostics(h, nullptr, nullptr, 0, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "count_out");
  CHECK_ERR(ppobr_controller_diagnostic(h, nullptr, &eps), PPOBR_ERROR_INVALID_ARGUMENT, "name");
  CHECK_ERR(ppobr_controller_diagnostic(h, "epsilon", nullptr), PPOBR_ERROR_INVALID_ARGUMENT,
            "value_out");
  CHECK_ERR(ppobr_controller_clone(h, nullptr), PPOBR_ERROR_INVALID_ARGUMENT, "out");
  CHECK_ERR(ppobr_controller_restore(nullptr, 0, nullptr), PPOBR_ERROR_INVALID_ARGUMENT, "out");
  ppobr_controller* r = h;
  CHECK_ERR(ppobr_controller_restore(nullptr, 10, &r), PPOBR_ERROR_INVALID_ARGUMENT, "state");
  CHECK(r == nullptr);
  ppobr_controller_destroy(h);
  // The init functions accept NULL silently.
  ppobr_ppobr_config_init(nullptr);
  ppobr_kl_adaptive_config_init(nullptr);
  ppobr_observation_init(nullptr);
  ppobr_surrogate_options_init(nullptr);
  ppobr_surrogate_inputs_init(nullptr);
}

// ---- controller behaviour -------------------------------------------------------------

TEST(defaults_match_the_cpp_core) {
  ppobr_ppobr_config c;
  ppobr_ppobr_config_init(&c);
  const ppobr::PPOBRConfig d;
  CHECK(c.eps0 == d.eps0 && c.lambda1 == d.lambda1 && c.lambda2 == d.lambda2 &&
        c.window == d.window);
  CHECK(c.psi_mode == PPOBR_PSI_PLATEAU && !c.has_entropy_ref && !c.has_eps_min && !c.has_eps_max);
  ppobr_kl_adaptive_config k;
  ppobr_kl_adaptive_config_init(&k);
  const ppobr::KLAdaptiveConfig kd;
  CHECK(k.eps0 == kd.eps0 && k.kl_target == kd.kl_target && k.tolerance == kd.tolerance &&
        k.rate == kd.rate && k.eps_min == kd.eps_min && k.eps_max == kd.eps_max);
}

TEST(ppobr_update_matches_the_cpp_controller) {
  ppobr_controller* h = make_ppobr(std::log(2.0), 4);
  CHECK(std::string(ppobr_controller_name(h)) == "ppobr");
  ppobr::PPOBRConfig cc;
  cc.window = 4;
  cc.entropy_ref = std::log(2.0);
  ppobr::PPOBRController ref(cc);
  double eps = -1.0;
  CHECK_OK(ppobr_controller_epsilon(h, &eps));
  CHECK(eps == 0.2);
  const std::vector<std::vector<double>> returns = {
      {1.0, 2.0}, {}, {3.0, kNaN, 2.5}, {4.0}, {4.0, 4.1, kInf}};
  const double entropies[] = {0.69, 0.6, kNaN, 0.5, 0.45};
  for (size_t t = 0; t < returns.size(); ++t) {
    ppobr_observation o = obs_of(entropies[t], returns[t]);
    CHECK_OK(ppobr_controller_update(h, &o, &eps));
    ppobr::Observation ro;
    ro.entropy = entropies[t];
    ro.episode_returns = returns[t].data();
    ro.num_episode_returns = returns[t].size();
    CHECK(bits(eps) == bits(ref.update(ro)));
    double e2 = 0.0;
    CHECK_OK(ppobr_controller_epsilon(h, &e2));
    CHECK(bits(e2) == bits(eps));
    CHECK(eps >= 0.2 * 0.7 - 1e-12 && eps <= 0.2 * 1.5 + 1e-12);
  }
  double v = 0.0;
  CHECK_OK(ppobr_controller_diagnostic(h, "rejected_entropy", &v));
  CHECK(v == 1.0);
  CHECK_OK(ppobr_controller_diagnostic(h, "dropped_returns", &v));
  CHECK(v == 1.0);  // the NaN return came with the rejected NaN entropy, so it was not counted
  CHECK_ERR(ppobr_controller_diagnostic(h, "no_such_thing", &v), PPOBR_ERROR_INVALID_ARGUMENT,
            "name");
  ppobr_controller_destroy(h);
}

TEST(absent_entropy_leaves_eps_unchanged) {
  ppobr_controller* h = make_ppobr();
  ppobr_observation o = obs_of(0.3, {});
  double eps0 = 0.0, eps = 0.0;
  CHECK_OK(ppobr_controller_update(h, &o, &eps0));
  o.has_entropy = 0;
  CHECK_OK(ppobr_controller_update(h, &o, &eps));
  CHECK(bits(eps) == bits(eps0));
  CHECK_OK(ppobr_controller_update(h, &o, nullptr));  // epsilon_out may be NULL
  ppobr_controller_destroy(h);
}

TEST(update_errors_leave_the_state_unchanged) {
  ppobr_controller* h = make_ppobr();
  ppobr_observation o = obs_of(0.5, {});
  o.num_episode_returns = 3;  // but episode_returns is NULL
  double eps = 123.0;
  CHECK_ERR(ppobr_controller_update(h, &o, &eps), PPOBR_ERROR_INVALID_ARGUMENT, "episode_returns");
  CHECK(eps == 123.0);

  // H_ref taken from the first entropy, which is not above the floor.
  ppobr_ppobr_config c;
  ppobr_ppobr_config_init(&c);
  ppobr_controller* g = nullptr;
  CHECK_OK(ppobr_controller_create_ppobr(&c, &g));
  const std::vector<std::uint8_t> before = serialize(g);
  const std::vector<double> one_return = {1.0};
  ppobr_observation neg = obs_of(-0.5, one_return);
  CHECK_ERR(ppobr_controller_update(g, &neg, &eps), PPOBR_ERROR_INVALID_ARGUMENT, "entropy_ref");
  CHECK(serialize(g) == before);

  // KL-adaptive needs a KL.
  ppobr_kl_adaptive_config k;
  ppobr_kl_adaptive_config_init(&k);
  ppobr_controller* kc = nullptr;
  CHECK_OK(ppobr_controller_create_kl_adaptive(&k, &kc));
  ppobr_observation ko;
  ppobr_observation_init(&ko);
  CHECK_ERR(ppobr_controller_update(kc, &ko, &eps), PPOBR_ERROR_INVALID_ARGUMENT, "kl");
  ko.has_kl = 1;
  ko.kl = 1.0;  // far above target: eps / rate
  CHECK_OK(ppobr_controller_update(kc, &ko, &eps));
  CHECK(eps == 0.2 / 1.5);
  ppobr_controller_destroy(kc);
  ppobr_controller_destroy(g);
  ppobr_controller_destroy(h);
}

TEST(constant_and_linear_decay) {
  ppobr_controller* h = nullptr;
  CHECK_OK(ppobr_controller_create_constant(0.15, &h));
  CHECK(std::string(ppobr_controller_name(h)) == "constant");
  ppobr_observation o;
  ppobr_observation_init(&o);
  double eps = 0.0;
  CHECK_OK(ppobr_controller_update(h, &o, &eps));
  CHECK(eps == 0.15);
  ppobr_controller_destroy(h);

  CHECK_OK(ppobr_controller_create_linear_decay(0.2, 0.0, 2, &h));
  CHECK(std::string(ppobr_controller_name(h)) == "linear_decay");
  const double want[] = {0.2, 0.1, 0.0, 0.0};
  for (double w : want) {
    CHECK_OK(ppobr_controller_update(h, &o, &eps));
    CHECK_NEAR(eps, w, 1e-15);
  }
  ppobr_controller_destroy(h);
}

TEST(diagnostics_and_config_items) {
  ppobr_controller* h = make_ppobr();
  size_t n = 0;
  CHECK_OK(ppobr_controller_diagnostics(h, nullptr, nullptr, 0, &n));
  CHECK(n >= 2);
  std::vector<const char*> names(n);
  std::vector<double> values(n);
  size_t small = 0;
  CHECK_ERR(ppobr_controller_diagnostics(h, names.data(), values.data(), n - 1, &small),
            PPOBR_ERROR_BUFFER_TOO_SMALL, "capacity");
  CHECK(small == n);
  CHECK_OK(ppobr_controller_diagnostics(h, names.data(), values.data(), n, &n));
  CHECK(std::string(names[0]) == "epsilon");
  CHECK(values[0] == 0.2);
  CHECK_OK(ppobr_controller_config_items(h, nullptr, nullptr, 0, &n));
  names.resize(n);
  values.resize(n);
  CHECK_OK(ppobr_controller_config_items(h, names.data(), values.data(), n, &n));
  bool saw_eps0 = false, saw_window = false;
  for (size_t i = 0; i < n; ++i) {
    if (std::string(names[i]) == "eps0") saw_eps0 = values[i] == 0.2;
    if (std::string(names[i]) == "window") saw_window = values[i] == 4.0;
  }
  CHECK(saw_eps0 && saw_window);
  // values alone (names NULL) is fine.
  CHECK_OK(ppobr_controller_config_items(h, nullptr, values.data(), n, &n));
  ppobr_controller_destroy(h);
}

// ---- serialization --------------------------------------------------------------------

TEST(serialize_restore_round_trip_continues_bit_identically) {
  ppobr_controller* a = make_ppobr(std::log(3.0), 5);
  double eps = 0.0;
  for (int t = 0; t < 7; ++t) {
    std::vector<double> r = {1.0 * t, 0.5 * t * t};
    ppobr_observation o = obs_of(1.0 - 0.1 * t, r);
    CHECK_OK(ppobr_controller_update(a, &o, &eps));
  }
  const std::vector<std::uint8_t> bytes = serialize(a);
  CHECK(!bytes.empty());

  // Too small a buffer: the size needed comes back.
  std::vector<std::uint8_t> small(bytes.size() - 1);
  size_t n = 0;
  CHECK_ERR(ppobr_controller_serialize(a, small.data(), small.size(), &n),
            PPOBR_ERROR_BUFFER_TOO_SMALL, "capacity");
  CHECK(n == bytes.size());

  ppobr_controller* b = nullptr;
  CHECK_OK(ppobr_controller_restore(bytes.data(), bytes.size(), &b));
  CHECK(std::string(ppobr_controller_name(b)) == "ppobr");
  CHECK(serialize(b) == bytes);
  ppobr_controller* c = nullptr;
  CHECK_OK(ppobr_controller_clone(a, &c));
  for (int t = 0; t < 12; ++t) {
    std::vector<double> r = {std::sin(1.0 * t), 3.0 - t};
    ppobr_observation o = obs_of(0.2 + 0.05 * t, r);
    double ea = 0.0, eb = 0.0, ec = 0.0;
    CHECK_OK(ppobr_controller_update(a, &o, &ea));
    CHECK_OK(ppobr_controller_update(b, &o, &eb));
    CHECK_OK(ppobr_controller_update(c, &o, &ec));
    CHECK(bits(ea) == bits(eb));
    CHECK(bits(ea) == bits(ec));
  }
  CHECK(serialize(a) == serialize(b));
  ppobr_controller_destroy(a);
  ppobr_controller_destroy(b);
  ppobr_controller_destroy(c);
}

TEST(every_controller_type_round_trips) {
  std::vector<ppobr_controller*> hs(4, nullptr);
  ppobr_kl_adaptive_config k;
  ppobr_kl_adaptive_config_init(&k);
  CHECK_OK(ppobr_controller_create_constant(0.3, &hs[0]));
  CHECK_OK(ppobr_controller_create_linear_decay(0.3, 0.05, 7, &hs[1]));
  CHECK_OK(ppobr_controller_create_kl_adaptive(&k, &hs[2]));
  hs[3] = make_ppobr();
  for (ppobr_controller* h : hs) {
    const std::vector<double> returns = {1.0, 2.0};
    ppobr_observation o = obs_of(0.4, returns);
    o.has_kl = 1;
    o.kl = 0.001;
    double e = 0.0;
    CHECK_OK(ppobr_controller_update(h, &o, &e));
    const std::vector<std::uint8_t> bytes = serialize(h);
    ppobr_controller* r = nullptr;
    CHECK_OK(ppobr_controller_restore(bytes.data(), bytes.size(), &r));
    CHECK(std::string(ppobr_controller_name(r)) == ppobr_controller_name(h));
    double e1 = 0.0, e2 = 0.0;
    CHECK_OK(ppobr_controller_update(h, &o, &e1));
    CHECK_OK(ppobr_controller_update(r, &o, &e2));
    CHECK(bits(e1) == bits(e2));
    ppobr_controller_destroy(r);
    ppobr_controller_destroy(h);
  }
}

TEST(restore_rejects_bad_bytes_with_state) {
  ppobr_controller* a = make_ppobr();
  const std::vector<std::uint8_t> bytes = serialize(a);
  ppobr_controller_destroy(a);
  ppobr_controller* r = reinterpret_cast<ppobr_controller*>(0x1);
  CHECK_ERR(ppobr_controller_restore(bytes.data(), 0, &r), PPOBR_ERROR_INVALID_ARGUMENT, "state");
  CHECK(r == nullptr);
  CHECK_ERR(ppobr_controller_restore(nullptr, 0, &r), PPOBR_ERROR_INVALID_ARGUMENT, "state");
  // Every truncation and every single-bit flip is rejected (the bytes are checksummed).
  for (size_t n = 0; n < bytes.size(); ++n)
    CHECK_ERR(ppobr_controller_restore(bytes.data(), n, &r), PPOBR_ERROR_INVALID_ARGUMENT, "state");
  for (size_t i = 0; i < bytes.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::vector<std::uint8_t> bad = bytes;
      bad[i] = static_cast<std::uint8_t>(bad[i] ^ (1u << bit));
      CHECK_ERR(ppobr_controller_restore(bad.data(), bad.size(), &r), PPOBR_ERROR_INVALID_ARGUMENT,
                "state");
      CHECK(r == nullptr);
    }
  }
  std::vector<std::uint8_t> longer = bytes;
  longer.push_back(0);
  CHECK_ERR(ppobr_controller_restore(longer.data(), longer.size(), &r),
            PPOBR_ERROR_INVALID_ARGUMENT, "state");
  const std::string junk = "definitely not a ppobr controller, just some text of reasonable length";
  CHECK_ERR(
      ppobr_controller_restore(reinterpret_cast<const std::uint8_t*>(junk.data()), junk.size(), &r),
      PPOBR_ERROR_INVALID_ARGUMENT, "state");
}

// ---- the kernel -----------------------------------------------------------------------

namespace {

struct Batch {
  std::vector<double> lp_new, lp_old, adv, ent, mask;
  explicit Batch(int n) {
    for (int i = 0; i < n; ++i) {
      lp_old.push_back(-1.0 - 0.01 * i);
      lp_new.push_back(lp_old.back() + 0.3 * std::sin(0.7 * i));
      adv.push_back(std::cos(1.3 * i));
      ent.push_back(0.5 + 0.001 * i);
      mask.push_back(i % 5 == 0 ? 0.0 : 1.0);
    }
  }
  ppobr_surrogate_inputs inputs() const {
    ppobr_surrogate_inputs in;
    ppobr_surrogate_inputs_init(&in);
    const int64_t n = static_cast<int64_t>(lp_new.size());
    in.logp_new = ppobr_view_1d(lp_new.data(), n);
    in.logp_old = ppobr_view_1d(lp_old.data(), n);
    in.advantages = ppobr_view_1d(adv.data(), n);
    in.entropy = ppobr_view_1d(ent.data(), n);
    in.mask = ppobr_view_1d(mask.data(), n);
    return in;
  }
};

}  // namespace

TEST(view_helpers_and_stat_names) {
  double x[6] = {0};
  ppobr_view2d v = ppobr_view_1d(x, 6);
  CHECK(v.data == x && v.rows == 1 && v.cols == 6 && v.row_stride == 0 && v.col_stride == 1);
  v = ppobr_view_2d(x, 2, 3);
  CHECK(v.rows == 2 && v.cols == 3 && v.row_stride == 3 && v.col_stride == 1);
  v = ppobr_view_none();
  CHECK(v.data == nullptr);
  for (int k = 0; k < PPOBR_NUM_STATS; ++k)
    CHECK(std::string(ppobr_stat_name(k)) == ppobr::kStatNames[k]);
  CHECK(ppobr_stat_name(-1) == nullptr);
  CHECK(ppobr_stat_name(PPOBR_NUM_STATS) == nullptr);
  int32_t a = -1;
  CHECK_OK(ppobr_parse_aggregation("seq-mean-token-sum", &a));
  CHECK(a == PPOBR_AGG_SEQ_MEAN_TOKEN_SUM);
  CHECK_OK(ppobr_parse_aggregation("token-mean", &a));
  CHECK(a == PPOBR_AGG_TOKEN_MEAN);
  CHECK_ERR(ppobr_parse_aggregation("token_mean", &a), PPOBR_ERROR_INVALID_ARGUMENT, "aggregation");
  CHECK_ERR(ppobr_parse_aggregation(nullptr, &a), PPOBR_ERROR_INVALID_ARGUMENT, "aggregation");
  CHECK_ERR(ppobr_parse_aggregation("token-mean", nullptr), PPOBR_ERROR_INVALID_ARGUMENT,
            "aggregation_out");
}

TEST(surrogate_matches_the_cpp_kernel_bit_for_bit) {
  for (int agg = 0; agg < 2; ++agg) {
    for (double dual : {0.0, 3.0}) {
      Batch b(257);
      ppobr_surrogate_inputs in = b.inputs();
      ppobr_surrogate_options opt;
      ppobr_surrogate_options_init(&opt);
      opt.eps_low = 0.1;
      opt.eps_high = 0.28;
      opt.dual_clip = dual;
      std::vector<int64_t> seg(b.lp_new.size());
      for (size_t i = 0; i < seg.size(); ++i) seg[i] = static_cast<int64_t>(i / 10);
      if (agg == 1) {
        opt.aggregation = PPOBR_AGG_SEQ_MEAN_TOKEN_MEAN;
        in.segment_ids = seg.data();
        in.num_segments = static_cast<int64_t>(seg.back() + 1);
      }
      std::vector<double> grad(b.lp_new.size(), -7.0);
      double loss = kNaN;
      ppobr_surrogate_stats stats;
      CHECK_OK(ppobr_clipped_surrogate(&in, &opt, grad.data(), &loss, &stats));

      ppobr::SurrogateInputs<double> x;
      const int64_t n = static_cast<int64_t>(b.lp_new.size());
      auto v = [&](const std::vector<double>& d) {
        ppobr::View2D<double> w;
        w.data = d.data();
        w.rows = 1;
        w.cols = n;
        return w;
      };
      x.logp_new = v(b.lp_new);
      x.logp_old = v(b.lp_old);
      x.advantages = v(b.adv);
      x.entropy = v(b.ent);
      x.mask = v(b.mask);
      ppobr::SurrogateOptions o;
      o.eps_low = 0.1;
      o.eps_high = 0.28;
      o.dual_clip = dual;
      if (agg == 1) {
        o.aggregation = ppobr::Aggregation::SeqMeanTokenMean;
        x.segment_ids = seg.data();
        x.num_segments = in.num_segments;
      }
      std::vector<double> g2(b.lp_new.size());
      const ppobr::SurrogateResult r = ppobr::clipped_surrogate<double>(x, o, g2.data());
      CHECK(bits(loss) == bits(r.loss));
      CHECK(std::isfinite(loss));
      for (size_t i = 0; i < grad.size(); ++i) CHECK(bits(grad[i]) == bits(g2[i]));
      for (int k = 0; k < PPOBR_NUM_STATS; ++k) {
        CHECK(bits(stats.sum[k]) == bits(r.stats.sum[static_cast<size_t>(k)]));
        CHECK(bits(stats.count[k]) == bits(r.stats.count[static_cast<size_t>(k)]));
      }
      // loss/stats/grad outputs are all optional.
      CHECK_OK(ppobr_clipped_surrogate(&in, &opt, nullptr, nullptr, nullptr));
    }
  }
}

TEST(surrogate_float32_and_strided_2d) {
  // A [3, 4] float32 batch stored transposed (col-major): row_stride 1, col_stride 3.
  std::vector<float> lp_new(12), lp_old(12), adv(12);
  for (int i = 0; i < 12; ++i) {
    lp_old[static_cast<size_t>(i)] = -1.0f;
    lp_new[static_cast<size_t>(i)] = -1.0f + 0.05f * static_cast<float>(i - 6);
    adv[static_cast<size_t>(i)] = (i % 2 ? 1.0f : -1.0f);
  }
  ppobr_surrogate_inputs in;
  ppobr_surrogate_inputs_init(&in);
  in.dtype = PPOBR_FLOAT32;
  ppobr_view2d v = {nullptr, 3, 4, 1, 3};
  in.logp_new = v;
  in.logp_new.data = lp_new.data();
  in.logp_old = v;
  in.logp_old.data = lp_old.data();
  in.advantages = v;
  in.advantages.data = adv.data();
  ppobr_surrogate_options opt;
  ppobr_surrogate_options_init(&opt);
  opt.aggregation = PPOBR_AGG_SEQ_MEAN_TOKEN_SUM;
  std::vector<float> grad(12);
  double loss = kNaN;
  ppobr_surrogate_stats stats;
  CHECK_OK(ppobr_clipped_surrogate(&in, &opt, grad.data(), &loss, &stats));
  CHECK(std::isfinite(loss));
  CHECK(stats.count[PPOBR_STAT_RATIO_MEAN] == 12.0);
  for (float g : grad) CHECK(std::isfinite(g));
}

TEST(surrogate_errors_name_the_argument) {
  Batch b(16);
  ppobr_surrogate_options opt;
  ppobr_surrogate_options_init(&opt);
  double loss = 0.0;
  const ppobr_surrogate_inputs good = b.inputs();
  CHECK_OK(ppobr_clipped_surrogate(&good, &opt, nullptr, &loss, nullptr));

  CHECK_ERR(ppobr_clipped_surrogate(nullptr, &opt, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "inputs");
  CHECK_ERR(ppobr_clipped_surrogate(&good, nullptr, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "options");
  ppobr_surrogate_inputs in = good;
  in.dtype = 2;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "dtype");
  in = good;
  in.logp_new.data = nullptr;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "logp_new");
  in = good;
  in.logp_old.data = nullptr;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "logp_old");
  in = good;
  in.advantages.data = nullptr;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "advantages");
  in = good;
  in.advantages.cols = 15;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "advantages");
  in = good;
  in.mask.cols = 3;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "mask");

  std::vector<double> bad = b.adv;
  bad[7] = kNaN;
  in = good;
  in.advantages.data = bad.data();
  CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "advantages");
  bad = b.lp_old;
  bad[3] = -kInf;
  in = good;
  in.logp_old.data = bad.data();
  CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "logp_old");
  bad = b.mask;
  bad[2] = -1.0;
  in = good;
  in.mask.data = bad.data();
  CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "mask");
  std::vector<double> zeros(b.mask.size(), 0.0);
  in.mask.data = zeros.data();
  CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "mask");

  in = good;
  ppobr_surrogate_options o = opt;
  o.eps_low = 1.0;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &o, nullptr, &loss, nullptr), PPOBR_ERROR_INVALID_ARGUMENT,
            "eps_low");
  o = opt;
  o.eps_high = -0.1;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &o, nullptr, &loss, nullptr), PPOBR_ERROR_INVALID_ARGUMENT,
            "eps_high");
  o = opt;
  o.eps_high = kNaN;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &o, nullptr, &loss, nullptr), PPOBR_ERROR_INVALID_ARGUMENT,
            "eps_high");
  o = opt;
  o.dual_clip = 0.5;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &o, nullptr, &loss, nullptr), PPOBR_ERROR_INVALID_ARGUMENT,
            "dual_clip");
  o = opt;
  o.aggregation = 3;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &o, nullptr, &loss, nullptr), PPOBR_ERROR_INVALID_ARGUMENT,
            "aggregation");
  o = opt;
  o.num_threads = -2;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &o, nullptr, &loss, nullptr), PPOBR_ERROR_INVALID_ARGUMENT,
            "num_threads");

  std::vector<int64_t> seg(b.lp_new.size(), 0);
  seg[5] = 9;  // outside [0, num_segments)
  o = opt;
  o.aggregation = PPOBR_AGG_SEQ_MEAN_TOKEN_MEAN;
  in.segment_ids = seg.data();
  in.num_segments = 2;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &o, nullptr, &loss, nullptr), PPOBR_ERROR_INVALID_ARGUMENT,
            "segment_ids");
  seg[5] = -1;
  CHECK_ERR(ppobr_clipped_surrogate(&in, &o, nullptr, &loss, nullptr), PPOBR_ERROR_INVALID_ARGUMENT,
            "segment_ids");
  CHECK(loss != 0.0);  // the successful call above wrote it; errors never did
}

TEST(empty_or_negative_shapes_are_rejected) {
  double x[4] = {0.0, 0.0, 0.0, 0.0};
  ppobr_surrogate_options opt;
  ppobr_surrogate_options_init(&opt);
  const int64_t shapes[][2] = {{1, 0}, {0, 4}, {-1, 4}, {1, -4}, {INT64_MAX, 4}, {4, INT64_MAX}};
  for (const auto& s : shapes) {
    ppobr_surrogate_inputs in;
    ppobr_surrogate_inputs_init(&in);
    ppobr_view2d v = {x, s[0], s[1], 0, 0};  // zero strides: every element is x[0]
    in.logp_new = in.logp_old = in.advantages = v;
    double loss = 0.0;
    const ppobr_status st = ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr);
    CHECK(st == PPOBR_ERROR_INVALID_ARGUMENT);
    CHECK(std::string(ppobr_last_error_argument()) == "logp_new");
  }
}

TEST(categorical_and_gaussian_helpers) {
  const double logits[6] = {0.0, 1.0, 2.0, -1.0, 0.5, 0.5};
  const int64_t actions[2] = {2, 0};
  double lp[2] = {0, 0}, ent[2] = {0, 0};
  ppobr_view2d v = ppobr_view_2d(logits, 2, 3);
  CHECK_OK(ppobr_categorical_logprob_entropy(PPOBR_FLOAT64, &v, actions, 1, lp, ent, 0));
  const double lse0 = std::log(std::exp(0.0) + std::exp(1.0) + std::exp(2.0));
  CHECK_NEAR(lp[0], 2.0 - lse0, 1e-12);
  CHECK(ent[0] > 0.0 && ent[1] > 0.0);
  const float logits_f[6] = {0.0f, 1.0f, 2.0f, -1.0f, 0.5f, 0.5f};
  float lpf[2] = {0, 0};
  ppobr_view2d vf = ppobr_view_2d(logits_f, 2, 3);
  CHECK_OK(ppobr_categorical_logprob_entropy(PPOBR_FLOAT32, &vf, actions, 1, lpf, nullptr, 1));
  CHECK_NEAR(lpf[0], lp[0], 1e-6);

  const int64_t bad_actions[2] = {2, 3};
  CHECK_ERR(ppobr_categorical_logprob_entropy(PPOBR_FLOAT64, &v, bad_actions, 1, lp, ent, 0),
            PPOBR_ERROR_INVALID_ARGUMENT, "actions");
  CHECK_ERR(ppobr_categorical_logprob_entropy(PPOBR_FLOAT64, &v, nullptr, 1, lp, ent, 0),
            PPOBR_ERROR_INVALID_ARGUMENT, "actions");
  double ent_only[2] = {0, 0};
  CHECK_OK(ppobr_categorical_logprob_entropy(PPOBR_FLOAT64, &v, nullptr, 1, nullptr, ent_only, 0));
  CHECK(bits(ent_only[0]) == bits(ent[0]));
  CHECK_ERR(ppobr_categorical_logprob_entropy(PPOBR_FLOAT64, nullptr, actions, 1, lp, ent, 0),
            PPOBR_ERROR_INVALID_ARGUMENT, "logits");
  CHECK_ERR(ppobr_categorical_logprob_entropy(7, &v, actions, 1, lp, ent, 0),
            PPOBR_ERROR_INVALID_ARGUMENT, "dtype");
  CHECK_ERR(ppobr_categorical_logprob_entropy(PPOBR_FLOAT64, &v, actions, 1, lp, ent, -1),
            PPOBR_ERROR_INVALID_ARGUMENT, "num_threads");
  const double nan_logits[6] = {0.0, kNaN, 2.0, -1.0, 0.5, 0.5};
  ppobr_view2d vn = ppobr_view_2d(nan_logits, 2, 3);
  CHECK_ERR(ppobr_categorical_logprob_entropy(PPOBR_FLOAT64, &vn, actions, 1, lp, ent, 0),
            PPOBR_ERROR_INVALID_ARGUMENT, "logits");
  ppobr_view2d empty = ppobr_view_2d(logits, 0, 3);
  CHECK_ERR(ppobr_categorical_logprob_entropy(PPOBR_FLOAT64, &empty, actions, 1, lp, ent, 0),
            PPOBR_ERROR_INVALID_ARGUMENT, "logits");

  const double log_std[4] = {0.0, 0.0, -1.0, 1.0};
  double ge[2] = {0, 0};
  ppobr_view2d ls = ppobr_view_2d(log_std, 2, 2);
  CHECK_OK(ppobr_gaussian_entropy(PPOBR_FLOAT64, &ls, ge));
  const double c = 1.0 + std::log(2.0 * std::acos(-1.0));
  CHECK_NEAR(ge[0], c, 1e-12);
  CHECK_NEAR(ge[1], c, 1e-12);
  CHECK_OK(ppobr_gaussian_entropy(PPOBR_FLOAT64, &ls, nullptr));  // check only
  const double inf_std[4] = {0.0, kInf, 0.0, 0.0};
  ppobr_view2d li = ppobr_view_2d(inf_std, 2, 2);
  CHECK_ERR(ppobr_gaussian_entropy(PPOBR_FLOAT64, &li, ge), PPOBR_ERROR_INVALID_ARGUMENT,
            "log_std");
  ppobr_view2d le = ppobr_view_2d(log_std, 2, 0);
  CHECK_ERR(ppobr_gaussian_entropy(PPOBR_FLOAT64, &le, ge), PPOBR_ERROR_INVALID_ARGUMENT,
            "log_std");
  CHECK_ERR(ppobr_gaussian_entropy(PPOBR_FLOAT64, nullptr, ge), PPOBR_ERROR_INVALID_ARGUMENT,
            "log_std");
  CHECK_ERR(ppobr_gaussian_entropy(-1, &ls, ge), PPOBR_ERROR_INVALID_ARGUMENT, "dtype");
}

// A sequence aggregation needs the sequences: the rows of a 2-D batch or the segment ids of a
// 1-D one. A 1-D batch without ids used to be silently one sequence (token-mean); now it is an
// error naming segment_ids. batch_ndim says which a one-row view is.
TEST(sequence_aggregation_of_a_1d_batch_requires_segment_ids) {
  const double lp_new[4] = {-1.0, -1.3, -0.7, -1.1}, lp_old[4] = {-1.0, -1.0, -1.0, -1.0};
  const double adv[4] = {1.0, -2.0, 0.5, 0.25};
  const int64_t seg[4] = {0, 0, 1, 1};
  ppobr_surrogate_inputs in;
  ppobr_surrogate_inputs_init(&in);
  CHECK(in.batch_ndim == 0);
  in.logp_new = ppobr_view_1d(lp_new, 4);
  in.logp_old = ppobr_view_1d(lp_old, 4);
  in.advantages = ppobr_view_1d(adv, 4);
  ppobr_surrogate_options opt;
  ppobr_surrogate_options_init(&opt);
  double token_mean = kNaN, loss = kNaN;
  CHECK_OK(ppobr_clipped_surrogate(&in, &opt, nullptr, &token_mean, nullptr));
  for (int32_t agg : {PPOBR_AGG_SEQ_MEAN_TOKEN_MEAN, PPOBR_AGG_SEQ_MEAN_TOKEN_SUM}) {
    opt.aggregation = agg;
    in.batch_ndim = 0;  // read off the view: ppobr_view_1d is 1-D
    CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
              PPOBR_ERROR_INVALID_ARGUMENT, "segment_ids");
    CHECK(std::string(ppobr_last_error_message()).find("is required for aggregation") !=
          std::string::npos);
    in.batch_ndim = 1;
    CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
              PPOBR_ERROR_INVALID_ARGUMENT, "segment_ids");
    in.segment_ids = seg;
    in.num_segments = 2;
    CHECK_OK(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr));
    in.segment_ids = nullptr;
    in.num_segments = 0;
    // the same data as a one-row 2-D batch: one sequence
    in.batch_ndim = 2;
    CHECK_OK(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr));
    const double want = agg == PPOBR_AGG_SEQ_MEAN_TOKEN_MEAN ? token_mean : 4.0 * token_mean;
    CHECK_NEAR(loss, want, 1e-15);
  }
  // token-mean never needs ids
  opt.aggregation = PPOBR_AGG_TOKEN_MEAN;
  in.batch_ndim = 1;
  CHECK_OK(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr));
  for (int32_t bad : {-1, 3}) {
    in.batch_ndim = bad;
    CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
              PPOBR_ERROR_INVALID_ARGUMENT, "batch_ndim");
  }
  // a 1-D batch is one row
  in.batch_ndim = 1;
  in.logp_new = ppobr_view_2d(lp_new, 2, 2);
  in.logp_old = ppobr_view_2d(lp_old, 2, 2);
  in.advantages = ppobr_view_2d(adv, 2, 2);
  CHECK_ERR(ppobr_clipped_surrogate(&in, &opt, nullptr, &loss, nullptr),
            PPOBR_ERROR_INVALID_ARGUMENT, "batch_ndim");
}

PPOBR_TEST_MAIN
