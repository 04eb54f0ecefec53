// The fused PPO clipped-surrogate kernel: validation, aggregation set-up, thread fan-out and
// the final reduction. The SIMD work itself is in kernel_surrogate.hpp, compiled once per
// instruction set below (see kernel_dispatch.hpp for why it is done this way).
//
// Behaviour the bindings rely on (the header is the contract; these are the details):
// - logp_new, logp_old and advantages are required; entropy and mask are optional (data ==
//   nullptr). Every present input must have logp_new's [rows, cols]; strides are free
//   (0 broadcasts, negative allowed). A 1-D batch is rows = 1, and is then one sequence.
// - Checks, in this order: presence and shape (logp_new, logp_old, advantages, entropy, mask),
//   empty batch ("logp_new"), options (eps_low, eps_high, dual_clip, aggregation,
//   num_threads), segment_ids (static), then data: mask values (negative / NaN / Inf /
//   all zero -> "mask") and segment id range ("segment_ids"), and last NaN/Inf in logp_new,
//   logp_old, advantages, entropy (the first input in that order that has one is named).
// - segment_ids are read only for the Seq* aggregations; with TokenMean they are ignored
//   (not read, not validated). For Seq* they must be absent when rows > 1 (the rows are the
//   sequences then) and need num_segments >= 1; ids must lie in [0, num_segments).
//   Segments need not be contiguous or sorted; ids that never occur (or only with weight 0)
//   are empty sequences and do not count in S. Without segment_ids, Seq* uses the rows.
// - grad (nullptr: skipped, same loss and statistics) receives rows * cols values, row-major.
//   It must not alias an input. If an exception is thrown, grad may have been partly written.
// - grad is 0 (possibly -0.0) wherever the clipped or the dual-clip term is selected, where
//   A == 0 and where w == 0. Samples with w == 0 contribute nothing to loss or statistics,
//   even with an extreme log-ratio (their NaN/Inf inputs are still rejected).
// - A log-ratio so large that exp overflows is valid input: r = inf; A > 0 -> clipped term
//   (grad 0), A == 0 -> obj 0, A < 0 -> obj -inf unless dual-clip bounds it (loss +inf,
//   grad +inf there). Likewise r underflows to 0.
// - Statistics: count = sum of w for every statistic (entropy: count 0 when entropy is
//   absent); dual_clip_fraction has sum 0 when dual-clip is off; ratio_min / ratio_max hold the
//   value in sum. Clip bounds are 1 - eps_low and 1 + eps_high rounded to T.
// - num_threads: 0 = automatic (1 thread below 131072 samples, then one per 65536 samples up
//   to the hardware threads), n >= 1 = n threads (at most one per 8192-sample block). Threads
//   only decide who computes which block: results are bit-identical for every thread count.
//   No heap allocation on the single-thread token-mean path; Seq* allocates per-sequence
//   arrays, threads allocate the per-block partial results.
// - Precision: the exp is the kernel's own (float <= 1.1 ulp, double <= 1 ulp measured);
//   float batches are summed in float lanes within 512-sample micro-blocks, in double above.

#include "ppobr/surrogate.hpp"

#include <algorithm>
#include <atomic>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include "ppobr/errors.hpp"
#include "kernel_dispatch.hpp"
#include "kernel_job.hpp"
#include "kernel_simd.hpp"
#include "kernel_threads.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

// ---- the per-ISA copies of the kernels ------------------------------------------------------
namespace ppobr::detail {
namespace {

// The one-lane copy is only the fallback for compilers without vector extensions (GCC and
// Clang always have the 16-byte vector copy).
#if !PPOBR_HAVE_VECTOR_EXT
namespace isa_scalar {
template <class T> using Ops = simd_scalar::Ops<T>;
#include "kernel_exp.hpp"
#include "kernel_surrogate.hpp"
}  // namespace isa_scalar
#endif

#if PPOBR_HAVE_VECTOR_EXT
namespace isa_vector {
template <class T> using Ops = simd_vec::Ops<T>;
#include "kernel_exp.hpp"
#include "kernel_surrogate.hpp"
}  // namespace isa_vector
#endif

#if PPOBR_HAVE_AVX2_CLONE
PPOBR_AVX2_REGION_BEGIN
namespace isa_avx2 {
template <class T> using Ops = simd_avx2::Ops<T>;
#include "kernel_exp.hpp"
#include "kernel_surrogate.hpp"
}  // namespace isa_avx2
PPOBR_AVX2_REGION_END
#endif

}  // namespace
}  // namespace ppobr::detail

// ---- ISA selection --------------------------------------------------------------------------
namespace ppobr::detail {

namespace {
std::atomic<int> g_forced_isa{-1};

Isa best_isa() noexcept {
#if PPOBR_HAVE_AVX2_CLONE
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  if (avx2) return Isa::Avx2;
#endif
#if PPOBR_HAVE_VECTOR_EXT
  return Isa::Vector;
#else
  return Isa::Scalar;
#endif
}
}  // namespace

bool isa_supported(Isa isa) noexcept {
  switch (isa) {
    case Isa::Scalar: return PPOBR_HAVE_VECTOR_EXT == 0;
    case Isa::Vector: return PPOBR_HAVE_VECTOR_EXT != 0;
    case Isa::Avx2: return best_isa() == Isa::Avx2;
  }
  return false;
}

Isa active_isa() noexcept {
  const int f = g_forced_isa.load(std::memory_order_relaxed);
  if (f >= 0) return static_cast<Isa>(f);
  return best_isa();
}

void force_isa(int isa) noexcept {
  if (isa >= 0 && !isa_supported(static_cast<Isa>(isa))) isa = -1;
  g_forced_isa.store(isa, std::memory_order_relaxed);
}

template <class T, class F>
void exp_modes(F&& f, ExpMode mode) {
  if (mode == kExpK0) f(std::integral_constant<int, kExpK0>{});
  else if (mode == kExpFast) f(std::integral_constant<int, kExpFast>{});
  else f(std::integral_constant<int, kExpSafe>{});
}

template <class T>
void exp_array(const T* x, T* y, std::int64_t n, Isa isa, ExpMode mode) {
  switch (isa) {
#if PPOBR_HAVE_AVX2_CLONE
    case Isa::Avx2:
      if (isa_supported(Isa::Avx2)) {
        exp_modes<T>(
            [&](auto m) { isa_avx2::exp_array_impl<T, decltype(m)::value>(x, y, n); }, mode);
        return;
      }
      break;
#endif
#if PPOBR_HAVE_VECTOR_EXT
    case Isa::Vector:
      exp_modes<T>(
          [&](auto m) { isa_vector::exp_array_impl<T, decltype(m)::value>(x, y, n); }, mode);
      return;
#endif
    default:
      break;
  }
#if PPOBR_HAVE_VECTOR_EXT
  exp_modes<T>([&](auto m) { isa_vector::exp_array_impl<T, decltype(m)::value>(x, y, n); }, mode);
#else
  exp_modes<T>([&](auto m) { isa_scalar::exp_array_impl<T, decltype(m)::value>(x, y, n); }, mode);
#endif
}

template void exp_array<float>(const float*, float*, std::int64_t, Isa, ExpMode);
template void exp_array<double>(const double*, double*, std::int64_t, Isa, ExpMode);

namespace {

template <class T>
struct Kernels {
  void (*run_block)(const Job<T>&, std::int64_t, BlockResult&);
  void (*mask_range)(const View2D<T>&, bool, std::int64_t, std::int64_t, double&, double&);
  T (*exp_one)(T);
};

template <class T>
Kernels<T> kernels_for(Isa isa) noexcept {
  switch (isa) {
#if PPOBR_HAVE_AVX2_CLONE
    case Isa::Avx2:
      return {&isa_avx2::run_block<T>, &isa_avx2::mask_range<T>, &isa_avx2::exp_one<T>};
#endif
#if PPOBR_HAVE_VECTOR_EXT
    default:
      return {&isa_vector::run_block<T>, &isa_vector::mask_range<T>, &isa_vector::exp_one<T>};
#else
    default:
      return {&isa_scalar::run_block<T>, &isa_scalar::mask_range<T>, &isa_scalar::exp_one<T>};
#endif
  }
}

}  // namespace
}  // namespace ppobr::detail

// ---- public API -----------------------------------------------------------------------------
namespace ppobr {

Aggregation parse_aggregation(const char* name) {
  if (name != nullptr) {
    if (std::strcmp(name, "token-mean") == 0) return Aggregation::TokenMean;
    if (std::strcmp(name, "seq-mean-token-mean") == 0) return Aggregation::SeqMeanTokenMean;
    if (std::strcmp(name, "seq-mean-token-sum") == 0) return Aggregation::SeqMeanTokenSum;
  }
  throw InvalidArgument("aggregation",
                        std::string("unknown aggregation '") + (name ? name : "(null)") +
                            "'; expected 'token-mean', 'seq-mean-token-mean' or "
                            "'seq-mean-token-sum'");
}

const char* aggregation_name(Aggregation a) noexcept {
  switch (a) {
    case Aggregation::TokenMean: return "token-mean";
    case Aggregation::SeqMeanTokenMean: return "seq-mean-token-mean";
    case Aggregation::SeqMeanTokenSum: return "seq-mean-token-sum";
  }
  return "unknown";
}

double SurrogateStats::mean(int k) const noexcept {
  if (k < 0 || k >= kNumStats) return std::numeric_limits<double>::quiet_NaN();
  const std::size_t i = static_cast<std::size_t>(k);
  if (!(count[i] != 0.0)) return std::numeric_limits<double>::quiet_NaN();
  if (k == kRatioMin || k == kRatioMax) return sum[i];
  return sum[i] / count[i];
}

namespace {

using detail::BlockResult;
using detail::FactorMode;
using detail::Job;

std::string shape_str(std::int64_t r, std::int64_t c) {
  return "[" + std::to_string(r) + ", " + std::to_string(c) + "]";
}

template <class T>
void check_view(const View2D<T>& v, const char* name, bool required, std::int64_t rows,
                std::int64_t cols) {
  if (!v.present()) {
    if (required) throw InvalidArgument(name, "is required");
    return;
  }
  if (v.rows != rows || v.cols != cols)
    throw InvalidArgument(name, "shape " + shape_str(v.rows, v.cols) +
                                    " does not match logp_new " + shape_str(rows, cols));
}

template <class T>
bool all_finite(const View2D<T>& v) {
  for (std::int64_t r = 0; r < v.rows; ++r) {
    const T* p = v.data + r * v.row_stride;
    for (std::int64_t c = 0; c < v.cols; ++c)
      if (!std::isfinite(p[c * v.col_stride])) return false;
  }
  return true;
}

// First bad mask value (row-major): throws with a precise message; returns if none.
template <class T>
void rescan_mask(const View2D<T>& m) {
  for (std::int64_t r = 0; r < m.rows; ++r) {
    const T* p = m.data + r * m.row_stride;
    for (std::int64_t c = 0; c < m.cols; ++c) {
      const T w = p[c * m.col_stride];
      if (!std::isfinite(w))
        throw InvalidArgument("mask",
                              "contains NaN or Inf at index " + std::to_string(r * m.cols + c));
      if (w < T(0))
        throw InvalidArgument("mask", "contains a negative weight at index " +
                                          std::to_string(r * m.cols + c));
    }
  }
}

[[noreturn]] void throw_all_zero() {
  throw InvalidArgument("mask", "all weights are zero (nothing to average over)");
}

}  // namespace

template <class T>
SurrogateResult clipped_surrogate(const SurrogateInputs<T>& in, const SurrogateOptions& opt,
                                  T* grad) {
  // ---- shapes
  const View2D<T>& lpn = in.logp_new;
  if (!lpn.present()) throw InvalidArgument("logp_new", "is required");
  const std::int64_t rows = lpn.rows, cols = lpn.cols;
  if (rows < 0 || cols < 0)
    throw InvalidArgument("logp_new", "negative shape " + shape_str(rows, cols));
  check_view(in.logp_old, "logp_old", true, rows, cols);
  check_view(in.advantages, "advantages", true, rows, cols);
  check_view(in.entropy, "entropy", false, rows, cols);
  check_view(in.mask, "mask", false, rows, cols);
  if (rows == 0 || cols == 0)
    throw InvalidArgument("logp_new", "empty batch " + shape_str(rows, cols));
  if (rows > std::numeric_limits<std::int64_t>::max() / 64 / cols)
    throw InvalidArgument("logp_new", "batch too large " + shape_str(rows, cols));
  const std::int64_t n = rows * cols;

  // ---- options
  if (!std::isfinite(opt.eps_low) || opt.eps_low < 0.0 || opt.eps_low >= 1.0)
    throw InvalidArgument("eps_low",
                          "must be finite and in [0, 1), got " + std::to_string(opt.eps_low));
  if (!std::isfinite(opt.eps_high) || opt.eps_high < 0.0)
    throw InvalidArgument("eps_high",
                          "must be finite and >= 0, got " + std::to_string(opt.eps_high));
  if (!std::isfinite(opt.dual_clip) || (opt.dual_clip != 0.0 && !(opt.dual_clip > 1.0)))
    throw InvalidArgument("dual_clip", "must be 0 (off) or a finite constant > 1, got " +
                                           std::to_string(opt.dual_clip));
  const Aggregation agg = opt.aggregation;
  if (agg != Aggregation::TokenMean && agg != Aggregation::SeqMeanTokenMean &&
      agg != Aggregation::SeqMeanTokenSum)
    throw InvalidArgument("aggregation", "unknown aggregation value " +
                                             std::to_string(static_cast<int>(agg)));
  if (opt.num_threads < 0)
    throw InvalidArgument("num_threads", "must be >= 0 (0: automatic), got " +
                                             std::to_string(opt.num_threads));

  // ---- segments (static)
  const bool segs = in.segment_ids != nullptr && agg != Aggregation::TokenMean;
  if (segs) {
    if (rows > 1)
      throw InvalidArgument("segment_ids", "must be absent for a 2-D batch (its rows are the "
                                           "sequences)");
    if (in.num_segments <= 0)
      throw InvalidArgument("segment_ids", "num_segments must be >= 1, got " +
                                               std::to_string(in.num_segments));
    // A dense per-sequence histogram is allocated: more sequences than samples is never needed
    // (relabel the ids 0..S-1) and would let an id's magnitude decide the memory used.
    if (in.num_segments > n)
      throw InvalidArgument("segment_ids", "num_segments (" + std::to_string(in.num_segments) +
                                               ") exceeds the number of samples; relabel the ids 0..S-1");
  }

  // ---- the job
  Job<T> job{};
  const View2D<T>* views[5] = {&in.logp_new, &in.logp_old, &in.advantages, &in.entropy, &in.mask};
  for (int k = 0; k < 5; ++k) {
    job.in[k] = *views[k];
    job.flat[k] = job.in[k].present() && detail::is_flat(job.in[k]);
  }
  job.rows = rows;
  job.cols = cols;
  job.n = n;
  job.grad = grad;
  // inputs + gradient beyond ~8 MiB do not stay in this core's share of the cache between
  // calls: then prefetch one micro-block ahead (below that the prefetches only cost)
  job.prefetch = static_cast<double>(n) * sizeof(T) * 5.0 > 8.0 * (1 << 20);
  job.lo = static_cast<T>(1.0 - opt.eps_low);
  job.hi = static_cast<T>(1.0 + opt.eps_high);
  job.dual = static_cast<T>(opt.dual_clip);  // 0: off
  job.factor_mode = FactorMode::None;

  const detail::Kernels<T> K = detail::kernels_for<T>(detail::active_isa());
  const std::int64_t nblocks = (n + detail::kBlock - 1) / detail::kBlock;
  const int threads = detail::pick_threads(opt.num_threads, n, nblocks);
  const View2D<T>& mask = in.mask;
  const bool has_mask = mask.present();

  // ---- weights and the aggregation scale
  double W = static_cast<double>(n);  // sum of weights
  double loss_div = 1.0;              // loss = -sum(factor * w * obj) / loss_div
  std::vector<T> factors;             // per row or per segment (factor modes only)
  // float32 kernels sum weighted terms in float within a micro-block: weights summing past
  // ~1e30 could overflow those partial sums (FLT_MAX ~3.4e38) and give inf/NaN statistics.
  // Such input is rejected with a clear error rather than computed wrongly.
  auto check_weight_scale = [&](double sum) {
    constexpr double kMaxFloatWeightSum = 1e30;
    if (std::is_same_v<T, float> && sum > kMaxFloatWeightSum)
      throw InvalidArgument("mask", "float32 weights summing to " + std::to_string(sum) +
                                        " (> 1e30) would overflow float32 partial sums; scale "
                                        "the weights down or pass float64");
  };
  // 1 / (a weight sum) in T: positive weights whose sum is so small that this overflows
  // (subnormal weights, say) would turn every weighted term into inf * 0 = NaN; rejected.
  auto inverse_weight = [&](double sum, const char* what) -> T {
    const T f = static_cast<T>(1.0 / sum);
    if (!std::isfinite(f))
      throw InvalidArgument("mask", std::string(what) + " weights sum to " + std::to_string(sum) +
                                        ", too small to average over (1 / sum overflows); "
                                        "scale the weights up");
    return f;
  };
  auto check_mask_partial = [&](double sum, double minw) {
    if (!std::isfinite(sum) || minw < 0.0 || std::isnan(minw)) {
      rescan_mask(mask);
      throw InvalidArgument("mask", "weights sum to a non-finite value");
    }
    check_weight_scale(sum);
  };

  const bool rows_mode = !segs && agg != Aggregation::TokenMean && has_mask;
  if (segs) {
    // histogram of weights per segment, sequential (sample order => deterministic)
    std::vector<double> wseg(static_cast<std::size_t>(in.num_segments), 0.0);
    double total = 0.0;
    for (std::int64_t i = 0; i < n; ++i) {
      const std::int64_t s = in.segment_ids[i * in.segment_stride];
      if (s < 0 || s >= in.num_segments)
        throw InvalidArgument("segment_ids", "id " + std::to_string(s) + " at index " +
                                                 std::to_string(i) + " outside [0, " +
                                                 std::to_string(in.num_segments) + ")");
      double w = 1.0;
      if (has_mask) {
        w = static_cast<double>(mask.data[i * mask.col_stride]);
        if (!std::isfinite(w)) rescan_mask(mask);
        if (w < 0.0) rescan_mask(mask);
      }
      wseg[static_cast<std::size_t>(s)] += w;
      total += w;
    }
    if (!std::isfinite(total)) throw InvalidArgument("mask", "weights sum to a non-finite value");
    if (total == 0.0) throw_all_zero();
    check_weight_scale(total);
    W = total;
    double S = 0.0;
    for (double x : wseg) S += x > 0.0 ? 1.0 : 0.0;
    if (agg == Aggregation::SeqMeanTokenSum) {
      loss_div = S;
    } else {
      factors.resize(wseg.size());
      for (std::size_t s = 0; s < wseg.size(); ++s)
        factors[s] = wseg[s] > 0.0 ? inverse_weight(wseg[s] * S, "a segment's") : T(0);
      job.factor_mode = FactorMode::Segments;
      job.seg_factor = factors.data();
      job.seg_ids = in.segment_ids;
      job.seg_stride = in.segment_stride;
      loss_div = 1.0;
    }
  } else if (rows_mode) {
    // per-row weights (each row summed by one thread in a fixed order)
    std::vector<double> wrow(static_cast<std::size_t>(rows)), mrow(static_cast<std::size_t>(rows));
    const bool mflat = job.flat[4];
    detail::parallel_ranges(rows, detail::pick_threads(opt.num_threads, n, rows),
                            [&](std::int64_t r0, std::int64_t r1) {
                              for (std::int64_t r = r0; r < r1; ++r)
                                K.mask_range(mask, mflat, r * cols, (r + 1) * cols,
                                             wrow[static_cast<std::size_t>(r)],
                                             mrow[static_cast<std::size_t>(r)]);
                            });
    double total = 0.0, S = 0.0;
    for (std::int64_t r = 0; r < rows; ++r) {
      check_mask_partial(wrow[static_cast<std::size_t>(r)], mrow[static_cast<std::size_t>(r)]);
      total += wrow[static_cast<std::size_t>(r)];
      S += wrow[static_cast<std::size_t>(r)] > 0.0 ? 1.0 : 0.0;
    }
    check_mask_partial(total, 0.0);
    if (total == 0.0) throw_all_zero();
    W = total;
    if (agg == Aggregation::SeqMeanTokenSum) {
      loss_div = S;
    } else {
      factors.resize(static_cast<std::size_t>(rows));
      for (std::size_t r = 0; r < factors.size(); ++r)
        factors[r] = wrow[r] > 0.0 ? inverse_weight(wrow[r] * S, "a row's") : T(0);
      job.factor_mode = FactorMode::Rows;
      job.row_factor = factors.data();
      loss_div = 1.0;
    }
  } else {
    // token-mean, or a Seq* aggregation of an unmasked 2-D batch (all rows have `cols` weight:
    // seq-mean-token-mean == token-mean, seq-mean-token-sum divides by the row count)
    if (has_mask) {
      double total = 0.0, mn = std::numeric_limits<double>::infinity();
      if (threads <= 1) {
        for (std::int64_t b = 0; b < nblocks; ++b) {
          double s, m;
          K.mask_range(mask, job.flat[4], b * detail::kBlock,
                       std::min(n, (b + 1) * detail::kBlock), s, m);
          total += s;
          mn = std::min(mn, m);
        }
      } else {
        const std::size_t nb = static_cast<std::size_t>(nblocks);
        std::vector<double> bs(nb), bm(nb);
        detail::parallel_ranges(nblocks, threads, [&](std::int64_t b0, std::int64_t b1) {
          for (std::int64_t b = b0; b < b1; ++b)
            K.mask_range(mask, job.flat[4], b * detail::kBlock,
                         std::min(n, (b + 1) * detail::kBlock), bs[static_cast<std::size_t>(b)],
                         bm[static_cast<std::size_t>(b)]);
        });
        for (std::int64_t b = 0; b < nblocks; ++b) {
          total += bs[static_cast<std::size_t>(b)];
          mn = std::min(mn, bm[static_cast<std::size_t>(b)]);
          if (std::isnan(bm[static_cast<std::size_t>(b)])) mn = bm[static_cast<std::size_t>(b)];
        }
      }
      check_mask_partial(total, mn);
      if (total == 0.0) throw_all_zero();
      W = total;
    }
    loss_div = agg == Aggregation::SeqMeanTokenSum ? static_cast<double>(rows) : W;
  }
  // (without a mask loss_div is a count >= 1, so only weights can make this overflow)
  job.gneg = -inverse_weight(loss_div, "the");

  // ---- the fused pass
  BlockResult tot;
  for (double& s : tot.s) s = 0.0;
  tot.dmin = std::numeric_limits<double>::infinity();
  tot.dmax = -std::numeric_limits<double>::infinity();
  auto fold = [&tot](const BlockResult& b) {
    for (int k = 0; k < detail::kNumSums; ++k) tot.s[k] += b.s[k];
    tot.dmin = std::min(tot.dmin, b.dmin);
    tot.dmax = std::max(tot.dmax, b.dmax);
  };
  if (threads <= 1) {
    for (std::int64_t b = 0; b < nblocks; ++b) {
      BlockResult br;
      K.run_block(job, b, br);
      fold(br);
    }
  } else {
    std::unique_ptr<BlockResult[]> parts(new BlockResult[static_cast<std::size_t>(nblocks)]);
    detail::parallel_ranges(nblocks, threads, [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t b = b0; b < b1; ++b)
        K.run_block(job, b, parts[static_cast<std::size_t>(b)]);
    });
    for (std::int64_t b = 0; b < nblocks; ++b) fold(parts[static_cast<std::size_t>(b)]);
  }

  // ---- NaN / Inf in the inputs: the raw sums are non-finite; find the culprit
  const bool has_ent = in.entropy.present();
  if (!std::isfinite(tot.s[detail::kSumLoss]) || !std::isfinite(tot.s[detail::kSumD]) ||
      (has_ent && !std::isfinite(tot.s[detail::kSumEnt]))) {
    const char* names[4] = {"logp_new", "logp_old", "advantages", "entropy"};
    for (int k = 0; k < 4; ++k)
      if (views[k]->present() && !all_finite(*views[k]))
        throw InvalidArgument(names[k], "contains NaN or Inf");
    // otherwise: legitimately infinite (e.g. exp overflow with A < 0 and no dual-clip)
  }

  // ---- result
  SurrogateResult res;
  res.loss = -tot.s[detail::kSumLoss] / loss_div;
  SurrogateStats& st = res.stats;
  st.count.fill(W);
  st.sum[kEntropy] = has_ent ? tot.s[detail::kSumEnt] : 0.0;
  if (!has_ent) st.count[kEntropy] = 0.0;
  st.sum[kRatioMean] = tot.s[detail::kSumRatio];
  st.sum[kRatioMin] = static_cast<double>(K.exp_one(static_cast<T>(tot.dmin)));
  st.sum[kRatioMax] = static_cast<double>(K.exp_one(static_cast<T>(tot.dmax)));
  st.sum[kClipFraction] = tot.s[detail::kSumClip];
  st.sum[kClipFractionLow] = tot.s[detail::kSumLow];
  st.sum[kClipFractionHigh] = tot.s[detail::kSumHigh];
  st.sum[kDualClipFraction] = tot.s[detail::kSumDual];
  st.sum[kKlK1] = -tot.s[detail::kSumD];
  st.sum[kKlK2] = 0.5 * tot.s[detail::kSumD2];
  st.sum[kKlK3] = tot.s[detail::kSumK3];
  return res;
}

template SurrogateResult clipped_surrogate<float>(const SurrogateInputs<float>&,
                                                  const SurrogateOptions&, float*);
template SurrogateResult clipped_surrogate<double>(const SurrogateInputs<double>&,
                                                   const SurrogateOptions&, double*);

}  // namespace ppobr
