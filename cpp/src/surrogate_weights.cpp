// The surrogate's aggregation weights: mask sums per segment, per row or over the batch, and
// the factors and divisor that turn them into s_i (see surrogate_weights.hpp).

#include "surrogate_weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "ppobr/errors.hpp"
#include "kernel_threads.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace ppobr::detail {

namespace {

// float32 kernels sum weighted terms in float within a micro-block: weights summing past
// ~1e30 could overflow those partial sums (FLT_MAX ~3.4e38) and give inf/NaN statistics.
// Such input is rejected with a clear error rather than computed wrongly.
template <class T>
void check_weight_scale(double sum) {
  constexpr double kMaxFloatWeightSum = 1e30;
  if (std::is_same_v<T, float> && sum > kMaxFloatWeightSum)
    throw InvalidArgument("mask", "float32 weights summing to " + std::to_string(sum) +
                                      " (> 1e30) would overflow float32 partial sums; scale "
                                      "the weights down or pass float64");
}

// 1 / (a weight sum) in T: positive weights whose sum is so small that this overflows
// (subnormal weights, say) would turn every weighted term into inf * 0 = NaN; rejected.
template <class T>
T inverse_weight(double sum, const char* what) {
  const T f = static_cast<T>(1.0 / sum);
  if (!std::isfinite(f))
    throw InvalidArgument("mask", std::string(what) + " weights sum to " + std::to_string(sum) +
                                      ", too small to average over (1 / sum overflows); "
                                      "scale the weights up");
  return f;
}

// A partial sum and minimum of mask weights from the kernels: a non-finite sum or a negative
// or NaN minimum means a bad weight somewhere, which the rescan names precisely.
template <class T>
void check_mask_partial(const View2D<T>& mask, double sum, double minw) {
  if (!std::isfinite(sum) || minw < 0.0 || std::isnan(minw)) {
    throw_first_bad_mask_value(mask);
    throw InvalidArgument("mask", "weights sum to a non-finite value");
  }
  check_weight_scale<T>(sum);
}

// Seq* over segment ids: a histogram of weights per segment, summed sequentially in sample
// order (deterministic). The ids' range is checked here, as they are read.
template <class T>
void plan_segments(const SurrogateInputs<T>& in, const SurrogateOptions& opt,
                   const CheckedBatch& batch, WeightPlan<T>& plan) {
  const View2D<T>& mask = in.mask;
  const bool has_mask = mask.present();
  std::vector<double> wseg(static_cast<std::size_t>(in.num_segments), 0.0);
  double total = 0.0;
  for (std::int64_t i = 0; i < batch.n; ++i) {
    const std::int64_t s = in.segment_ids[i * in.segment_stride];
    if (s < 0 || s >= in.num_segments)
      throw InvalidArgument("segment_ids", "id " + std::to_string(s) + " at index " +
                                               std::to_string(i) + " outside [0, " +
                                               std::to_string(in.num_segments) + ")");
    double w = 1.0;
    if (has_mask) {
      w = static_cast<double>(mask.data[i * mask.col_stride]);
      if (!std::isfinite(w)) throw_first_bad_mask_value(mask);
      if (w < 0.0) throw_first_bad_mask_value(mask);
    }
    wseg[static_cast<std::size_t>(s)] += w;
    total += w;
  }
  if (!std::isfinite(total)) throw InvalidArgument("mask", "weights sum to a non-finite value");
  if (total == 0.0) throw_all_weights_zero();
  check_weight_scale<T>(total);
  plan.total_weight = total;
  double S = 0.0;
  for (double x : wseg) S += x > 0.0 ? 1.0 : 0.0;
  if (opt.aggregation == Aggregation::SeqMeanTokenSum) {
    plan.loss_div = S;
  } else {
    plan.factors.resize(wseg.size());
    for (std::size_t s = 0; s < wseg.size(); ++s)
      plan.factors[s] = wseg[s] > 0.0 ? inverse_weight<T>(wseg[s] * S, "a segment's") : T(0);
    plan.factor_mode = FactorMode::Segments;
    plan.loss_div = 1.0;
  }
}

// Seq* over the rows of a masked 2-D batch: per-row weights, each row summed by one thread in
// a fixed order.
template <class T>
void plan_rows(const SurrogateInputs<T>& in, const SurrogateOptions& opt, const CheckedBatch& batch,
               const Kernels<T>& K, bool mask_flat, WeightPlan<T>& plan) {
  const View2D<T>& mask = in.mask;
  const std::int64_t rows = batch.rows, cols = batch.cols;
  std::vector<double> wrow(static_cast<std::size_t>(rows)), mrow(static_cast<std::size_t>(rows));
  parallel_ranges(
      rows, pick_threads(opt.num_threads, batch.n, rows), [&](std::int64_t r0, std::int64_t r1) {
        for (std::int64_t r = r0; r < r1; ++r)
          K.mask_range(mask, mask_flat, r * cols, (r + 1) * cols, wrow[static_cast<std::size_t>(r)],
                       mrow[static_cast<std::size_t>(r)]);
      });
  double total = 0.0, S = 0.0;
  for (std::int64_t r = 0; r < rows; ++r) {
    check_mask_partial(mask, wrow[static_cast<std::size_t>(r)], mrow[static_cast<std::size_t>(r)]);
    total += wrow[static_cast<std::size_t>(r)];
    S += wrow[static_cast<std::size_t>(r)] > 0.0 ? 1.0 : 0.0;
  }
  check_mask_partial(mask, total, 0.0);
  if (total == 0.0) throw_all_weights_zero();
  plan.total_weight = total;
  if (opt.aggregation == Aggregation::SeqMeanTokenSum) {
    plan.loss_div = S;
  } else {
    plan.factors.resize(static_cast<std::size_t>(rows));
    for (std::size_t r = 0; r < plan.factors.size(); ++r)
      plan.factors[r] = wrow[r] > 0.0 ? inverse_weight<T>(wrow[r] * S, "a row's") : T(0);
    plan.factor_mode = FactorMode::Rows;
    plan.loss_div = 1.0;
  }
}

// Token-mean, or a Seq* aggregation of an unmasked 2-D batch (every row has weight `cols`:
// seq-mean-token-mean == token-mean, seq-mean-token-sum divides by the row count). The mask
// is summed per fixed block, the blocks in order, so the sum does not depend on threads.
template <class T>
void plan_batch(const SurrogateInputs<T>& in, const SurrogateOptions& opt,
                const CheckedBatch& batch, const Kernels<T>& K, bool mask_flat, int threads,
                std::int64_t nblocks, WeightPlan<T>& plan) {
  const View2D<T>& mask = in.mask;
  const std::int64_t n = batch.n;
  plan.total_weight = static_cast<double>(n);
  if (mask.present()) {
    double total = 0.0, mn = std::numeric_limits<double>::infinity();
    if (threads <= 1) {
      for (std::int64_t b = 0; b < nblocks; ++b) {
        double s, m;
        K.mask_range(mask, mask_flat, b * kBlock, std::min(n, (b + 1) * kBlock), s, m);
        total += s;
        mn = std::min(mn, m);
      }
    } else {
      const std::size_t nb = static_cast<std::size_t>(nblocks);
      std::vector<double> bs(nb), bm(nb);
      parallel_ranges(nblocks, threads, [&](std::int64_t b0, std::int64_t b1) {
        for (std::int64_t b = b0; b < b1; ++b)
          K.mask_range(mask, mask_flat, b * kBlock, std::min(n, (b + 1) * kBlock),
                       bs[static_cast<std::size_t>(b)], bm[static_cast<std::size_t>(b)]);
      });
      for (std::int64_t b = 0; b < nblocks; ++b) {
        total += bs[static_cast<std::size_t>(b)];
        mn = std::min(mn, bm[static_cast<std::size_t>(b)]);
        if (std::isnan(bm[static_cast<std::size_t>(b)])) mn = bm[static_cast<std::size_t>(b)];
      }
    }
    check_mask_partial(mask, total, mn);
    if (total == 0.0) throw_all_weights_zero();
    plan.total_weight = total;
  }
  plan.loss_div = opt.aggregation == Aggregation::SeqMeanTokenSum ? static_cast<double>(batch.rows)
                                                                  : plan.total_weight;
}

}  // namespace

template <class T>
WeightPlan<T> plan_weights(const SurrogateInputs<T>& in, const SurrogateOptions& opt,
                           const CheckedBatch& batch, const Kernels<T>& kernels, bool mask_flat,
                           int threads, std::int64_t nblocks) {
  WeightPlan<T> plan;
  const bool per_row =
      !batch.segments && opt.aggregation != Aggregation::TokenMean && in.mask.present();
  if (batch.segments)
    plan_segments(in, opt, batch, plan);
  else if (per_row)
    plan_rows(in, opt, batch, kernels, mask_flat, plan);
  else
    plan_batch(in, opt, batch, kernels, mask_flat, threads, nblocks, plan);
  // (without a mask loss_div is a count >= 1, so only weights can make this overflow)
  plan.gneg = -inverse_weight<T>(plan.loss_div, "the");
  return plan;
}

template WeightPlan<float> plan_weights<float>(const SurrogateInputs<float>&,
                                               const SurrogateOptions&, const CheckedBatch&,
                                               const Kernels<float>&, bool, int, std::int64_t);
template WeightPlan<double> plan_weights<double>(const SurrogateInputs<double>&,
                                                 const SurrogateOptions&, const CheckedBatch&,
                                                 const Kernels<double>&, bool, int, std::int64_t);

}  // namespace ppobr::detail
