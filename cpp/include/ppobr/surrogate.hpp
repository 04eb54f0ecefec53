// The fused PPO clipped-surrogate kernel.
//
// For samples i with weight w_i (mask; 1 if absent), log-ratio d_i = logp_new_i - logp_old_i,
// ratio r_i = exp(d_i) and advantage A_i:
//
//   clip_i = clamp(r_i, 1 - eps_low, 1 + eps_high)
//   obj_i  = min(r_i * A_i, clip_i * A_i)
//   if dual_clip c > 0 and A_i < 0:  obj_i = max(obj_i, c * A_i)          (dual-clip, Ye et al.
//   2020)
//
//   loss = - sum_i s_i * obj_i          (the quantity to minimise)
//   grad_i = d loss / d logp_new_i = - s_i * A_i * r_i  when the unclipped term r_i*A_i is the
//            one selected (ties count as unclipped), else 0.
//
// The per-sample scale s_i depends on the aggregation:
//   TokenMean         s_i = w_i / sum_j w_j
//   SeqMeanTokenMean  s_i = w_i / (W_seq(i) * S)   W_seq = sum of weights in i's sequence,
//   SeqMeanTokenSum   s_i = w_i / S                S = number of sequences with W_seq > 0
// Sequences are the rows of a [batch, tokens] input, or given by per-sample segment_ids
// (required for the Seq* aggregations of a 1-D batch).
//
// Statistics are returned as (sum, count) pairs, weighted by w_i, so that summing both over
// workers and dividing gives exact global means. count is sum w_i over the samples the
// statistic covers. The exceptions: ratio_min / ratio_max hold the min / max of r_i over
// samples with w_i > 0 in `sum` (reduce them with min / max, not +).
//
// One pass over the data; float32 or float64; any strides; threads for large batches with
// results bit-identical for every thread count (fixed-size blocks, fixed reduction order).
#pragma once

#include <array>
#include <cstdint>

namespace ppobr {

// A read-only 2-D view: element (r, c) is data[r * row_stride + c * col_stride].
// Strides are in elements and may be any value (including 0 for broadcasting).
// A 1-D array of length n is the view rows = 1, cols = n, row_stride = 0.
template <class T>
struct View2D {
  const T* data = nullptr;  // nullptr: the input is absent (only entropy and mask may be)
  std::int64_t rows = 0;
  std::int64_t cols = 0;
  std::int64_t row_stride = 0;
  std::int64_t col_stride = 1;

  bool present() const noexcept { return data != nullptr; }
  std::int64_t size() const noexcept { return rows * cols; }
};

enum class Aggregation {
  TokenMean,         // mean over all (weighted) tokens/samples
  SeqMeanTokenMean,  // per-sequence weighted mean, then mean over non-empty sequences
  SeqMeanTokenSum,   // per-sequence weighted sum, then mean over non-empty sequences
};

// Parses "token-mean", "seq-mean-token-mean", "seq-mean-token-sum"; throws
// InvalidArgument("aggregation").
Aggregation parse_aggregation(const char* name);
const char* aggregation_name(Aggregation a) noexcept;

struct SurrogateOptions {
  double eps_low = 0.2;    // lower clip: r >= 1 - eps_low;  must be finite, in [0, 1)
  double eps_high = 0.2;   // upper clip: r <= 1 + eps_high; must be finite, >= 0
  double dual_clip = 0.0;  // 0: off; else the constant c of dual-clip, must be > 1
  Aggregation aggregation = Aggregation::TokenMean;
  int num_threads = 0;  // 0: automatic (by batch size and hardware); 1: single thread
};

template <class T>
struct SurrogateInputs {
  View2D<T> logp_new;
  View2D<T> logp_old;
  View2D<T> advantages;
  View2D<T> entropy;  // optional, per-sample entropy (statistics only)
  View2D<T> mask;     // optional, per-sample weights >= 0 (0 excludes a sample)
  // Optional sequence ids for the Seq* aggregations of a 1-D batch: segment_ids[i * segment_stride]
  // in [0, num_segments). Must be absent for 2-D input (rows are the sequences there).
  const std::int64_t* segment_ids = nullptr;
  std::int64_t segment_stride = 1;
  std::int64_t num_segments = 0;
  // The rank of the caller's batch, which decides whether a Seq* aggregation knows its
  // sequences: 1 ([batch]; logp_new has one row): segment_ids are then required (without them
  // the batch would silently be one sequence, i.e. token-mean); 2 (the default, [batch,
  // tokens]): the rows are the sequences; 0: read it off the views, 1-D when logp_new has
  // rows == 1 and row_stride == 0 (View2D's convention for a 1-D array; the C ABI's default).
  int batch_ndim = 2;
};

// Statistic slots, in this order everywhere (C++, Python dict keys, C ABI).
enum Stat : int {
  kEntropy = 0,
  kRatioMean,
  kRatioMin,
  kRatioMax,
  kClipFraction,      // |r - 1| beyond the band: r < 1 - eps_low or r > 1 + eps_high
  kClipFractionLow,   // the low bound binds:  A < 0 and r < 1 - eps_low
  kClipFractionHigh,  // the high bound binds: A > 0 and r > 1 + eps_high
  kDualClipFraction,  // the dual-clip bound binds: A < 0 and c * A > min(r A, clip(r) A)
  kKlK1,              // k1 = -log r
  kKlK2,              // k2 = (log r)^2 / 2
  kKlK3,              // k3 = (r - 1) - log r
  kNumStats
};

inline constexpr std::array<const char*, kNumStats> kStatNames = {"entropy",
                                                                  "ratio_mean",
                                                                  "ratio_min",
                                                                  "ratio_max",
                                                                  "clip_fraction",
                                                                  "clip_fraction_low",
                                                                  "clip_fraction_high",
                                                                  "dual_clip_fraction",
                                                                  "kl_k1",
                                                                  "kl_k2",
                                                                  "kl_k3"};

struct SurrogateStats {
  std::array<double, kNumStats> sum{};
  std::array<double, kNumStats> count{};
  double mean(int k) const noexcept;  // sum / count (ratio_min/max: the value), NaN if count == 0
};

struct SurrogateResult {
  double loss = 0.0;
  SurrogateStats stats;
};

// Computes loss, gradient and statistics in one pass.
// grad: contiguous output of rows * cols elements (row-major), or nullptr to skip it.
// Throws InvalidArgument naming the argument for: shape mismatch, empty batch, non-finite
// values in any input, negative or all-zero mask, bad eps/dual_clip, bad batch_ndim, bad or
// missing segment ids (Seq* of a 1-D batch).
template <class T>
SurrogateResult clipped_surrogate(const SurrogateInputs<T>& in, const SurrogateOptions& opt,
                                  T* grad);

extern template SurrogateResult clipped_surrogate<float>(const SurrogateInputs<float>&,
                                                         const SurrogateOptions&, float*);
extern template SurrogateResult clipped_surrogate<double>(const SurrogateInputs<double>&,
                                                          const SurrogateOptions&, double*);

}  // namespace ppobr
