// Shared helpers of the libFuzzer targets.
#pragma once

#include <fuzzer/FuzzedDataProvider.h>

#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

// A failed invariant is a finding: print it and abort (libFuzzer saves the input).
#define FUZZ_ASSERT(cond, ...)                                                            \
  do {                                                                                    \
    if (!(cond)) {                                                                        \
      std::fprintf(stderr, "%s:%d: invariant failed: %s\n  ", __FILE__, __LINE__, #cond); \
      std::fprintf(stderr, __VA_ARGS__);                                                  \
      std::fprintf(stderr, "\n");                                                         \
      std::abort();                                                                       \
    }                                                                                     \
  } while (0)

namespace fuzz {

inline std::uint64_t bits(double x) {
  std::uint64_t u;
  std::memcpy(&u, &x, sizeof u);
  return u;
}

// A double that is usually "interesting" (boundaries, non-finite, extremes) and sometimes
// an arbitrary bit pattern or a value in a typical range.
inline double any_double(FuzzedDataProvider& p) {
  static const double kPalette[] = {0.0,
                                    -0.0,
                                    1.0,
                                    -1.0,
                                    0.5,
                                    0.2,
                                    0.3,
                                    2.0,
                                    1e-8,
                                    -1e-8,
                                    1e-300,
                                    5e-324,
                                    1e300,
                                    -1e300,
                                    std::numeric_limits<double>::max(),
                                    -std::numeric_limits<double>::max(),
                                    std::numeric_limits<double>::infinity(),
                                    -std::numeric_limits<double>::infinity(),
                                    std::numeric_limits<double>::quiet_NaN(),
                                    -std::numeric_limits<double>::quiet_NaN(),
                                    0.6931471805599453,
                                    1.3862943611198906,
                                    0.99999999999999989,
                                    1.0000000000000002,
                                    88.7,
                                    -88.7,
                                    709.8,
                                    -745.2,
                                    3.4e38,
                                    1e-45,
                                    100.0,
                                    -100.0};
  switch (p.ConsumeIntegralInRange<int>(0, 3)) {
    case 0:
      return kPalette[p.ConsumeIntegralInRange<std::size_t>(
          0, sizeof kPalette / sizeof kPalette[0] - 1)];
    case 1: {
      const std::uint64_t u = p.ConsumeIntegral<std::uint64_t>();
      double x;
      std::memcpy(&x, &u, sizeof x);
      return x;
    }
    case 2:
      return p.ConsumeFloatingPointInRange<double>(-10.0, 10.0);
    default:
      return p.ConsumeFloatingPointInRange<double>(0.0, 1.0);
  }
}

// Mostly finite and moderate; sometimes anything.
inline double mostly_finite(FuzzedDataProvider& p) {
  if (p.ConsumeIntegralInRange<int>(0, 7) == 0) return any_double(p);
  return p.ConsumeFloatingPointInRange<double>(-5.0, 5.0);
}

inline std::int64_t any_int64(FuzzedDataProvider& p, std::int64_t lo, std::int64_t hi) {
  static const std::int64_t kPalette[] = {0,
                                          1,
                                          2,
                                          -1,
                                          3,
                                          10,
                                          std::numeric_limits<std::int64_t>::max(),
                                          std::numeric_limits<std::int64_t>::min(),
                                          1000000,
                                          1000001,
                                          std::int64_t{1} << 32,
                                          std::int64_t{1} << 62};
  if (p.ConsumeBool())
    return kPalette[p.ConsumeIntegralInRange<std::size_t>(
        0, sizeof kPalette / sizeof kPalette[0] - 1)];
  return p.ConsumeIntegralInRange<std::int64_t>(lo, hi);
}

}  // namespace fuzz
