// The fused PPO clipped-surrogate kernel's front end: clipped_surrogate() runs its steps in
// order, each in a file of its own:
//   1. check_static          (surrogate_validate.cpp)  shapes, options, segment ids
//   2. plan_weights          (surrogate_weights.cpp)   mask sums and the aggregation's scale
//   3. run_fused_pass        (surrogate_pass.cpp)      the SIMD kernels over fixed blocks
//   4. non-finite input      (surrogate_validate.cpp)  names the input when a sum is NaN/Inf
//   5. assemble_result       (surrogate_pass.cpp)      loss and (sum, count) statistics
// The SIMD work itself is in kernel_surrogate.hpp, compiled once per instruction set in
// surrogate_kernels.cpp (see kernel_dispatch.hpp for why it is done this way).
//
// Behaviour the bindings rely on (the header is the contract; these are the details):
// - logp_new, logp_old and advantages are required; entropy and mask are optional (data ==
//   nullptr). Every present input must have logp_new's [rows, cols]; strides are free
//   (0 broadcasts, negative allowed). A 1-D batch is rows = 1 and batch_ndim = 1 (or 0 with
//   View2D's convention row_stride = 0).
// - Checks, in this order: presence and shape (logp_new, logp_old, advantages, entropy, mask),
//   empty batch ("logp_new"), options (eps_low, eps_high, dual_clip, aggregation,
//   num_threads), batch_ndim and segment_ids (static), then data: mask values (negative /
//   NaN / Inf / all zero -> "mask") and segment id range ("segment_ids"), and last NaN/Inf in
//   logp_new, logp_old, advantages, entropy (the first input in that order that has one is named).
// - segment_ids are read only for the Seq* aggregations; with TokenMean they are ignored
//   (not read, not validated). For Seq* they are required for a 1-D batch (else it would
//   silently be one sequence, i.e. token-mean), must be absent when rows > 1 (the rows are
//   the sequences) and need num_segments >= 1; ids must lie in [0, num_segments).
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

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>

#include "ppobr/errors.hpp"
#include "kernel_job.hpp"
#include "kernel_threads.hpp"
#include "surrogate_kernels.hpp"
#include "surrogate_pass.hpp"
#include "surrogate_validate.hpp"
#include "surrogate_weights.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace ppobr {

Aggregation parse_aggregation(const char* name) {
  if (name != nullptr) {
    if (std::strcmp(name, "token-mean") == 0) return Aggregation::TokenMean;
    if (std::strcmp(name, "seq-mean-token-mean") == 0) return Aggregation::SeqMeanTokenMean;
    if (std::strcmp(name, "seq-mean-token-sum") == 0) return Aggregation::SeqMeanTokenSum;
  }
  throw InvalidArgument("aggregation", std::string("unknown aggregation '") +
                                           (name ? name : "(null)") +
                                           "'; expected 'token-mean', 'seq-mean-token-mean' or "
                                           "'seq-mean-token-sum'");
}

const char* aggregation_name(Aggregation a) noexcept {
  switch (a) {
    case Aggregation::TokenMean:
      return "token-mean";
    case Aggregation::SeqMeanTokenMean:
      return "seq-mean-token-mean";
    case Aggregation::SeqMeanTokenSum:
      return "seq-mean-token-sum";
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

// The kernels' job for a checked batch: the input views, the clip bounds rounded to T, and
// the aggregation's factors (which must outlive the job).
template <class T>
detail::Job<T> make_job(const SurrogateInputs<T>& in, const SurrogateOptions& opt,
                        const detail::CheckedBatch& batch, T* grad) {
  detail::Job<T> job{};
  const View2D<T>* views[5] = {&in.logp_new, &in.logp_old, &in.advantages, &in.entropy, &in.mask};
  for (int k = 0; k < 5; ++k) {
    job.in[k] = *views[k];
    job.flat[k] = job.in[k].present() && detail::is_flat(job.in[k]);
  }
  job.rows = batch.rows;
  job.cols = batch.cols;
  job.n = batch.n;
  job.grad = grad;
  // inputs + gradient beyond ~8 MiB do not stay in this core's share of the cache between
  // calls: then prefetch one micro-block ahead (below that the prefetches only cost)
  job.prefetch = static_cast<double>(batch.n) * sizeof(T) * 5.0 > 8.0 * (1 << 20);
  job.lo = static_cast<T>(1.0 - opt.eps_low);
  job.hi = static_cast<T>(1.0 + opt.eps_high);
  job.dual = static_cast<T>(opt.dual_clip);  // 0: off
  job.factor_mode = detail::FactorMode::None;
  return job;
}

template <class T>
void attach_factors(detail::Job<T>& job, const detail::WeightPlan<T>& plan,
                    const SurrogateInputs<T>& in) {
  job.factor_mode = plan.factor_mode;
  job.gneg = plan.gneg;
  if (plan.factor_mode == detail::FactorMode::Rows) {
    job.row_factor = plan.factors.data();
  } else if (plan.factor_mode == detail::FactorMode::Segments) {
    job.seg_factor = plan.factors.data();
    job.seg_ids = in.segment_ids;
    job.seg_stride = in.segment_stride;
  }
}

}  // namespace

template <class T>
SurrogateResult clipped_surrogate(const SurrogateInputs<T>& in, const SurrogateOptions& opt,
                                  T* grad) {
  const detail::CheckedBatch batch = detail::check_static(in, opt);
  detail::Job<T> job = make_job(in, opt, batch, grad);

  const detail::Kernels<T> K = detail::kernels_for<T>(detail::active_isa());
  const std::int64_t nblocks = (batch.n + detail::kBlock - 1) / detail::kBlock;
  const int threads = detail::pick_threads(opt.num_threads, batch.n, nblocks);

  const detail::WeightPlan<T> plan =
      detail::plan_weights(in, opt, batch, K, job.flat[4], threads, nblocks);
  attach_factors(job, plan, in);

  const detail::BlockResult tot = detail::run_fused_pass(job, K, nblocks, threads);

  // NaN / Inf in the inputs makes the raw sums non-finite: find the culprit
  const bool has_ent = in.entropy.present();
  if (!std::isfinite(tot.s[detail::kSumLoss]) || !std::isfinite(tot.s[detail::kSumD]) ||
      (has_ent && !std::isfinite(tot.s[detail::kSumEnt])))
    detail::throw_first_non_finite_input(in);

  return detail::assemble_result(tot, plan.loss_div, plan.total_weight, has_ent, K);
}

template SurrogateResult clipped_surrogate<float>(const SurrogateInputs<float>&,
                                                  const SurrogateOptions&, float*);
template SurrogateResult clipped_surrogate<double>(const SurrogateInputs<double>&,
                                                   const SurrogateOptions&, double*);

}  // namespace ppobr
