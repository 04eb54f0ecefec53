// A minimal test harness: TEST(name) { CHECK(...); } and main() from PPOBR_TEST_MAIN.
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace ppobr_test {

struct Case {
  const char* name;
  std::function<void()> fn;
};
inline std::vector<Case>& registry() {
  static std::vector<Case> r;
  return r;
}
inline int& failures() {
  static int f = 0;
  return f;
}
struct Register {
  Register(const char* n, std::function<void()> f) { registry().push_back({n, std::move(f)}); }
};

inline void fail(const char* file, int line, const std::string& what) {
  std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
  ++failures();
}

inline int run_all() {
  int failed_cases = 0;
  for (auto& c : registry()) {
    int before = failures();
    try {
      c.fn();
    } catch (const std::exception& e) {
      std::fprintf(stderr, "%s: unexpected exception: %s\n", c.name, e.what());
      ++failures();
    }
    bool ok = failures() == before;
    failed_cases += !ok;
    std::printf("[%s] %s\n", ok ? "  OK  " : "FAILED", c.name);
  }
  std::printf("%zu passed, %d failed\n", registry().size() - failed_cases, failed_cases);
  return failed_cases == 0 ? 0 : 1;
}

}  // namespace ppobr_test

#define PPOBR_CAT2(a, b) a##b
#define PPOBR_CAT(a, b) PPOBR_CAT2(a, b)
#define TEST(name)                                                \
  static void name();                                             \
  static ppobr_test::Register PPOBR_CAT(reg_, name)(#name, name); \
  static void name()
#define CHECK(cond)                                           \
  do {                                                        \
    if (!(cond)) ppobr_test::fail(__FILE__, __LINE__, #cond); \
  } while (0)
#define CHECK_NEAR(a, b, tol)                                                                \
  do {                                                                                       \
    double a_ = (a), b_ = (b);                                                               \
    if (!(std::fabs(a_ - b_) <= (tol)))                                                      \
      ppobr_test::fail(                                                                      \
          __FILE__, __LINE__,                                                                \
          std::string(#a " ~ " #b ": ") + std::to_string(a_) + " vs " + std::to_string(b_)); \
  } while (0)
// CHECK_THROWS_ARG(expr, "argname"): expr throws ppobr::InvalidArgument naming argname.
#define CHECK_THROWS_ARG(expr, argname)                                                        \
  do {                                                                                         \
    bool thrown_ = false;                                                                      \
    try {                                                                                      \
      (void)(expr);                                                                            \
    } catch (const ppobr::InvalidArgument& e_) {                                               \
      thrown_ = true;                                                                          \
      if (e_.argument() != std::string(argname))                                               \
        ppobr_test::fail(__FILE__, __LINE__, std::string("wrong argument: ") + e_.argument()); \
    }                                                                                          \
    if (!thrown_) ppobr_test::fail(__FILE__, __LINE__, "no InvalidArgument from " #expr);      \
  } while (0)
#define PPOBR_TEST_MAIN \
  int main() { return ppobr_test::run_all(); }
