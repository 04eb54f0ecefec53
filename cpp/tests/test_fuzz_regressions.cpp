// Regression tests for the findings of the libFuzzer targets (cpp/fuzz). Each test names the
// target and the input kept under cpp/fuzz/regressions/<target>/ that first showed it.
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <limits>
#include <memory>
#include <mutex>
#include <new>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "check.hpp"
#include "ppobr/c_api.h"
#include "ppobr/ppobr.hpp"

namespace {

constexpr std::int64_t kI64Max = std::numeric_limits<std::int64_t>::max();

// Runs fn on a helper thread; if it has not returned after `seconds`, the check fails and the
// thread is left behind, detached (a hung call cannot be cancelled; it ends with the process).
// fn must therefore own everything it uses (capture by value, static data).
void with_watchdog(const char* what, double seconds, const std::function<void()>& fn) {
  struct Shared {
    std::mutex m;
    std::condition_variable cv;
    bool done = false;
  };
  auto sh = std::make_shared<Shared>();
  std::thread worker([sh, fn] {
    fn();
    std::lock_guard<std::mutex> lock(sh->m);
    sh->done = true;
    sh->cv.notify_all();
  });
  std::unique_lock<std::mutex> lock(sh->m);
  if (!sh->cv.wait_for(lock, std::chrono::duration<double>(seconds), [&] { return sh->done; })) {
    ppobr_test::fail(__FILE__, __LINE__,
                     std::string(what) + " did not return within " +
                         std::to_string(static_cast<int>(seconds)) + " s (hang)");
    lock.unlock();
    worker.detach();
    return;
  }
  lock.unlock();
  worker.join();
}

std::uint64_t fnv1a64(const std::uint8_t* d, std::size_t n) {
  std::uint64_t h = 14695981039346656037ull;
  for (std::size_t i = 0; i < n; ++i) {
    h ^= d[i];
    h *= 1099511628211ull;
  }
  return h;
}

void put_u64(std::vector<std::uint8_t>& b, std::size_t at, std::uint64_t v) {
  for (int i = 0; i < 8; ++i)
    b[at + static_cast<std::size_t>(i)] = static_cast<std::uint8_t>(v >> (8 * i));
}

void fix_checksum(std::vector<std::uint8_t>& b) {
  put_u64(b, b.size() - 8, fnv1a64(b.data(), b.size() - 8));
}

}  // namespace

// fuzz_kernel, regressions/fuzz_kernel/gaussian-entropy-overflowing-shape-hangs:
// log_std [2^31, 2^33] (rows * cols overflows int64) was not rejected; the row loop ran
// (practically) forever (with real strides it reads out of bounds). The categorical helper and
// the surrogate reject such shapes ("input too large" / "batch too large").
TEST(gaussian_entropy_rejects_a_shape_whose_size_overflows) {
  static const double one = 0.0;
  const std::int64_t shapes[][2] = {{std::int64_t{1} << 31, std::int64_t{1} << 33}, {2, kI64Max}};
  for (const auto& s : shapes) {
    ppobr::View2D<double> v;
    v.data = &one;
    v.rows = s[0];
    v.cols = s[1];
    v.row_stride = 0;
    v.col_stride = 0;
    with_watchdog("gaussian_entropy on an overflowing shape", 3.0, [v] {
      CHECK_THROWS_ARG(ppobr::gaussian_entropy<double>(v, nullptr), "log_std");
    });
    const ppobr_view2d cv = {&one, s[0], s[1], 0, 0};
    with_watchdog("ppobr_gaussian_entropy on an overflowing shape", 3.0, [cv] {
      CHECK(ppobr_gaussian_entropy(PPOBR_FLOAT64, &cv, nullptr) == PPOBR_ERROR_INVALID_ARGUMENT);
    });
  }
}

// fuzz_kernel, regressions/fuzz_kernel/surrogate-huge-num-segments-length-error:
// a seq-mean aggregation with num_segments = 2^62 made the kernel size a dense per-segment
// histogram by num_segments: std::length_error (C ABI: PPOBR_ERROR_INTERNAL) for 2^62,
// std::bad_alloc for ~2^40, and for ~2^31..2^36 a multi-GB allocation that is zero-filled.
// A hostile num_segments must be an InvalidArgument, not an allocation.
TEST(surrogate_rejects_a_huge_num_segments_without_allocating) {
  const double lp_new[3] = {-1.0, -1.1, -0.9}, lp_old[3] = {-1.0, -1.0, -1.0},
               adv[3] = {1.0, -1.0, 0.5};
  const std::int64_t seg[3] = {0, 0, 1};
  for (std::int64_t num_segments : {kI64Max, std::int64_t{1} << 62, std::int64_t{1} << 40}) {
    ppobr::SurrogateInputs<double> in;
    in.logp_new = {lp_new, 1, 3, 0, 1};
    in.logp_old = {lp_old, 1, 3, 0, 1};
    in.advantages = {adv, 1, 3, 0, 1};
    in.segment_ids = seg;
    in.num_segments = num_segments;
    ppobr::SurrogateOptions opt;
    opt.aggregation = ppobr::Aggregation::SeqMeanTokenMean;
    bool invalid_argument = false;
    std::string other;
    try {
      (void)ppobr::clipped_surrogate<double>(in, opt, nullptr);
      // Accepting it (ids 0 and 1 are valid) is fine too, as long as nothing huge was allocated.
      invalid_argument = true;
    } catch (const ppobr::InvalidArgument& e) {
      invalid_argument = e.argument() == "segment_ids" || e.argument() == "num_segments";
      if (!invalid_argument) other = e.what();
    } catch (const std::exception& e) {
      other = std::string("std::exception: ") + e.what();
    }
    if (!invalid_argument)
      ppobr_test::fail(__FILE__, __LINE__,
                       "num_segments = " + std::to_string(num_segments) + ": " + other);
  }
}

// fuzz_kernel, regressions/fuzz_kernel/subnormal-row-weights-nan-loss (CI, 2026-11-25):
// seq-mean-token-mean over a [2, 2] batch whose second row's weights are {2.1e-322, 0}: the row
// counted as non-empty, its factor 1 / (sum * rows) overflowed to inf, and inf * (a weighted
// term of ~0) gave a NaN loss from accepted input. Such weights are now an InvalidArgument
// naming the mask (also for a segment and for the whole batch's token-mean).
TEST(surrogate_rejects_weights_too_small_to_average_over) {
  const double lp_new[4] = {-2.7, -0.7, -2.3, -3.1}, lp_old[4] = {0.38, -1.8, -1.8, -1.8};
  const double adv[4] = {1.13, 1.13, -0.9, -0.9};
  const double row_tiny[4] = {1.0, 0.99999995, 2.07507571e-322, 0.0};
  const double all_tiny[4] = {1e-320, 1e-320, 1e-320, 1e-320};
  const std::int64_t seg[4] = {0, 0, 1, 1};
  struct Case {
    const double* mask;
    ppobr::Aggregation agg;
    bool segments;
  };
  const Case cases[] = {{row_tiny, ppobr::Aggregation::SeqMeanTokenMean, false},
                        {row_tiny, ppobr::Aggregation::SeqMeanTokenMean, true},
                        {all_tiny, ppobr::Aggregation::TokenMean, false}};
  for (const Case& c : cases) {
    ppobr::SurrogateInputs<double> in;
    const std::int64_t rows = c.segments ? 1 : 2, cols = c.segments ? 4 : 2;
    in.logp_new = {lp_new, rows, cols, cols, 1};
    in.logp_old = {lp_old, rows, cols, cols, 1};
    in.advantages = {adv, rows, cols, cols, 1};
    in.mask = {c.mask, rows, cols, cols, 1};
    if (c.segments) in.segment_ids = seg, in.num_segments = 2;
    ppobr::SurrogateOptions opt;
    opt.aggregation = c.agg;
    std::string outcome = "accepted";
    try {
      const ppobr::SurrogateResult r = ppobr::clipped_surrogate<double>(in, opt, nullptr);
      outcome = "accepted, loss " + std::to_string(r.loss);
    } catch (const ppobr::InvalidArgument& e) {
      outcome = e.argument() == "mask" ? "" : std::string("InvalidArgument(") + e.argument() + ")";
    }
    if (!outcome.empty())
      ppobr_test::fail(__FILE__, __LINE__, "expected InvalidArgument(mask), got " + outcome);
  }
}

// fuzz_kernel, regressions/fuzz_kernel/categorical-logits-wider-than-range-nan-entropy
// (2026-11-25): a row of 276 finite float logits spanning more than float's range made
// x - max overflow to -inf, and the entropy's term exp(x - m) (x - m) = 0 * -inf = NaN.
TEST(categorical_entropy_of_logits_wider_than_the_range_is_finite) {
  const float hi = std::numeric_limits<float>::max();
  std::vector<float> logits(276, -hi);
  logits[0] = hi;
  const std::int64_t action = 0;
  float logp = 1.0f, ent = 1.0f;
  ppobr::View2D<float> v{logits.data(), 1, 276, 276, 1};
  ppobr::categorical_logprob_entropy<float>(v, &action, 1, &logp, &ent, 1);
  if (!(ent == 0.0f && logp == 0.0f))
    ppobr_test::fail(__FILE__, __LINE__,
                     "entropy " + std::to_string(ent) + ", logp " + std::to_string(logp));
}

// fuzz_deserialize, regressions/fuzz_deserialize/restored-counter-int64-max-overflows:
// the deserializer accepts any counter >= 0, so restored bytes with updates (or
// rejected_entropy, dropped_returns, rejected_kl) = INT64_MAX made the next update overflow a
// signed integer (undefined behaviour; in practice it wraps negative and the controller's own
// bytes are then rejected by the deserializer). Either the bytes must be rejected ("state") or
// updating must keep the controller serializable.
TEST(restored_counters_at_int64_max_do_not_overflow) {
  // Constant controller: magic(8) version(4) type(4) eps(8) epsilon(8) updates(8) checksum(8).
  ppobr::ConstantController c(ppobr::ConstantConfig{});
  std::vector<std::uint8_t> bytes = c.serialize();
  CHECK(bytes.size() == 48);
  if (bytes.size() != 48) return;
  put_u64(bytes, 32, static_cast<std::uint64_t>(kI64Max));
  fix_checksum(bytes);
  std::unique_ptr<ppobr::Controller> r;
  try {
    r = ppobr::deserialize_controller(bytes.data(), bytes.size());
  } catch (const ppobr::InvalidArgument& e) {
    CHECK(e.argument() == "state");
    return;  // rejected: fine
  }
  // Accepted: an update must not overflow, and the result must still restore.
  (void)r->update(ppobr::Observation{});
  const std::vector<std::uint8_t> again = r->serialize();
  bool restores = true;
  try {
    (void)ppobr::deserialize_controller(again.data(), again.size());
  } catch (const ppobr::InvalidArgument& e) {
    restores = false;
    ppobr_test::fail(__FILE__, __LINE__,
                     std::string("a restored controller's own bytes are rejected: ") + e.what());
  }
  CHECK(restores);
}

PPOBR_TEST_MAIN
