// Fused helpers for the two policy families PPO uses (see ppobr/distributions.hpp).
//
// Details the bindings rely on:
// - categorical_logprob_entropy: logits [N, A] with any strides; actions[i * action_stride]
//   (int64). actions may be nullptr only when logp_out is nullptr. Rows are checked in order;
//   the first bad row decides the error: an action outside [0, A) -> "actions", then NaN/Inf
//   in that row's logits -> "logits". Empty logits (N == 0 or A == 0) -> "logits";
//   num_threads < 0 -> "num_threads". Results do not depend on the thread count (each row is
//   computed by one thread, always the same way).
//   Per row: m = max, s = sum exp(x - m), t = sum exp(x - m)(x - m) with the kernels' exp
//   (float lanes within 512-element chunks, double above); logp = (x_a - m) - log s,
//   entropy = log s - t / s, both formed in double and rounded to T once.
// - gaussian_entropy: log_std [N, D] with any strides, D >= 1 (D == 0 or N == 0 -> "log_std",
//   like NaN/Inf -> "log_std"); sum over d in double. entropy_out may be nullptr (check only).

#include "ppobr/distributions.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ppobr/errors.hpp"
#include "kernel_dispatch.hpp"
#include "kernel_job.hpp"
#include "kernel_simd.hpp"
#include "kernel_threads.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace ppobr::detail {

struct SoftmaxRow {
  double m = 0, s = 0, t = 0;
  bool finite = true;
};

namespace {

#if !PPOBR_HAVE_VECTOR_EXT
namespace isa_scalar {
template <class T>
using Ops = simd_scalar::Ops<T>;
#include "kernel_exp.hpp"
#include "kernel_categorical.hpp"
}  // namespace isa_scalar
#endif

#if PPOBR_HAVE_VECTOR_EXT
namespace isa_vector {
template <class T>
using Ops = simd_vec::Ops<T>;
#include "kernel_exp.hpp"
#include "kernel_categorical.hpp"
}  // namespace isa_vector
#endif

#if PPOBR_HAVE_AVX2_CLONE
PPOBR_AVX2_REGION_BEGIN
namespace isa_avx2 {
template <class T>
using Ops = simd_avx2::Ops<T>;
#include "kernel_exp.hpp"
#include "kernel_categorical.hpp"
}  // namespace isa_avx2
PPOBR_AVX2_REGION_END
#endif

template <class T>
using RowFn = void (*)(const T*, std::int64_t, SoftmaxRow&);

template <class T>
RowFn<T> row_kernel(Isa isa) noexcept {
  switch (isa) {
#if PPOBR_HAVE_AVX2_CLONE
    case Isa::Avx2:
      return &isa_avx2::softmax_row<T>;
#endif
#if PPOBR_HAVE_VECTOR_EXT
    default:
      return &isa_vector::softmax_row<T>;
#else
    default:
      return &isa_scalar::softmax_row<T>;
#endif
  }
}

}  // namespace
}  // namespace ppobr::detail

namespace ppobr {

template <class T>
void categorical_logprob_entropy(const View2D<T>& logits, const std::int64_t* actions,
                                 std::int64_t action_stride, T* logp_out, T* entropy_out,
                                 int num_threads) {
  if (!logits.present()) throw InvalidArgument("logits", "is required");
  const std::int64_t n = logits.rows, a = logits.cols;
  const std::string shape = "[" + std::to_string(n) + ", " + std::to_string(a) + "]";
  if (n < 0 || a < 0) throw InvalidArgument("logits", "negative shape " + shape);
  if (n == 0 || a == 0) throw InvalidArgument("logits", "empty input " + shape);
  if (n > std::numeric_limits<std::int64_t>::max() / 64 / a)
    throw InvalidArgument("logits", "input too large");
  if (logp_out != nullptr && actions == nullptr)
    throw InvalidArgument("actions", "is required to compute log-probabilities");
  if (num_threads < 0)
    throw InvalidArgument("num_threads",
                          "must be >= 0 (0: automatic), got " + std::to_string(num_threads));

  const detail::RowFn<T> row_fn = detail::row_kernel<T>(detail::active_isa());
  const int threads = detail::pick_threads(num_threads, n * a, n);
  const bool contiguous_rows = a == 1 || logits.col_stride == 1;

  // the first failing row (n if none): each share stops at its own first failure; the error
  // is then rebuilt for the lowest such row, so it does not depend on the thread count
  std::atomic<std::int64_t> first_bad{n};
  auto fail_at = [&first_bad](std::int64_t i) {
    std::int64_t cur = first_bad.load(std::memory_order_relaxed);
    while (i < cur && !first_bad.compare_exchange_weak(cur, i, std::memory_order_relaxed)) {
    }
  };
  auto row_ptr = [&](std::int64_t i, std::vector<T>& buf) {
    const T* row = logits.data + i * logits.row_stride;
    if (contiguous_rows) return row;
    buf.resize(static_cast<std::size_t>(a));
    for (std::int64_t j = 0; j < a; ++j)
      buf[static_cast<std::size_t>(j)] = row[j * logits.col_stride];
    return static_cast<const T*>(buf.data());
  };
  detail::parallel_ranges(n, threads, [&](std::int64_t r0, std::int64_t r1) {
    std::vector<T> rowbuf;
    for (std::int64_t i = r0; i < r1; ++i) {
      std::int64_t act = 0;
      if (actions != nullptr) {
        act = actions[i * action_stride];
        if (act < 0 || act >= a) {
          fail_at(i);
          return;
        }
      }
      const T* row = row_ptr(i, rowbuf);
      detail::SoftmaxRow st;
      row_fn(row, a, st);
      if (!st.finite) {
        fail_at(i);
        return;
      }
      const double ls = std::log(st.s);
      if (logp_out != nullptr)
        logp_out[i] = static_cast<T>((static_cast<double>(row[act]) - st.m) - ls);
      if (entropy_out != nullptr) entropy_out[i] = static_cast<T>(ls - st.t / st.s);
    }
  });
  const std::int64_t bad = first_bad.load();
  if (bad < n) {
    if (actions != nullptr) {
      const std::int64_t act = actions[bad * action_stride];
      if (act < 0 || act >= a)
        throw InvalidArgument("actions", "action " + std::to_string(act) + " at row " +
                                             std::to_string(bad) + " outside [0, " +
                                             std::to_string(a) + ")");
    }
    throw InvalidArgument("logits", "contains NaN or Inf (row " + std::to_string(bad) + ")");
  }
}

template <class T>
void gaussian_entropy(const View2D<T>& log_std, T* entropy_out) {
  if (!log_std.present()) throw InvalidArgument("log_std", "is required");
  const std::int64_t n = log_std.rows, dim = log_std.cols;
  if (n <= 0 || dim <= 0)
    throw InvalidArgument("log_std", "empty or negative shape [" + std::to_string(n) + ", " +
                                         std::to_string(dim) + "]");
  if (n > std::numeric_limits<std::int64_t>::max() / 64 / dim)
    throw InvalidArgument("log_std", "input too large");
  const double c = static_cast<double>(dim) * 0.5 * (1.0 + std::log(2.0 * 3.14159265358979323846));
  for (std::int64_t i = 0; i < n; ++i) {
    const T* row = log_std.data + i * log_std.row_stride;
    double s = 0.0;
    for (std::int64_t j = 0; j < dim; ++j) s += static_cast<double>(row[j * log_std.col_stride]);
    if (!std::isfinite(s)) {
      for (std::int64_t j = 0; j < dim; ++j)
        if (!std::isfinite(row[j * log_std.col_stride]))
          throw InvalidArgument("log_std", "contains NaN or Inf (row " + std::to_string(i) + ")");
      throw InvalidArgument("log_std", "row sum overflows (row " + std::to_string(i) + ")");
    }
    if (entropy_out != nullptr) entropy_out[i] = static_cast<T>(s + c);
  }
}

template void categorical_logprob_entropy<float>(const View2D<float>&, const std::int64_t*,
                                                 std::int64_t, float*, float*, int);
template void categorical_logprob_entropy<double>(const View2D<double>&, const std::int64_t*,
                                                  std::int64_t, double*, double*, int);
template void gaussian_entropy<float>(const View2D<float>&, float*);
template void gaussian_entropy<double>(const View2D<double>&, double*);

}  // namespace ppobr
