// Private: the thread fan-out of the kernels.
//
// Work is a range of independent units (blocks, rows). Each thread gets one contiguous share;
// the calling thread runs the first share itself, so one thread means no thread is created.
// Which thread computes a unit never changes what is computed for it: callers write per-unit
// results and combine them in unit order.
#pragma once

#include <algorithm>
#include <cstdint>
#include <exception>
#include <thread>
#include <vector>

namespace ppobr::detail {

inline int hardware_threads() noexcept {
  unsigned h = std::thread::hardware_concurrency();
  return h == 0 ? 1 : static_cast<int>(std::min<unsigned>(h, 256));
}

// Automatic thread count: 1 below kAutoThreadsMin elements (thread start-up costs more than
// it saves there), then one thread per kElemsPerThread elements, up to the hardware threads.
inline constexpr std::int64_t kAutoThreadsMin = std::int64_t{1} << 17;
inline constexpr std::int64_t kElemsPerThread = std::int64_t{1} << 16;

// requested: the user's num_threads (0 = automatic, >= 1 exact); n: elements; units: how many
// independent work units there are (never more threads than units).
inline int pick_threads(int requested, std::int64_t n, std::int64_t units) noexcept {
  std::int64_t t;
  if (requested > 0) {
    t = requested;
  } else if (n < kAutoThreadsMin) {
    t = 1;
  } else {
    t = std::min<std::int64_t>(hardware_threads(), n / kElemsPerThread);
  }
  t = std::min<std::int64_t>(t, units);
  return static_cast<int>(std::max<std::int64_t>(t, 1));
}

// fn(begin, end) for contiguous shares of [0, count); `threads` shares. An exception thrown by
// fn is rethrown here (the first one, in share order) after all threads have joined. If the
// system refuses a new thread, that share runs on the calling thread instead.
template <class F>
void parallel_ranges(std::int64_t count, int threads, const F& fn) {
  if (count <= 0) return;
  if (threads <= 1 || count == 1) {
    fn(std::int64_t{0}, count);
    return;
  }
  const std::int64_t t = std::min<std::int64_t>(threads, count);
  auto share = [&](std::int64_t k) { return count * k / t; };
  std::vector<std::exception_ptr> errors(static_cast<std::size_t>(t));
  std::vector<std::thread> pool;
  pool.reserve(static_cast<std::size_t>(t - 1));
  auto run = [&](std::int64_t k) {
    try {
      fn(share(k), share(k + 1));
    } catch (...) {
      errors[static_cast<std::size_t>(k)] = std::current_exception();
    }
  };
  for (std::int64_t k = 1; k < t; ++k) {
    try {
      pool.emplace_back(run, k);
    } catch (...) {
      run(k);  // could not start a thread: do the share here
    }
  }
  run(0);
  for (auto& th : pool) th.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace ppobr::detail
