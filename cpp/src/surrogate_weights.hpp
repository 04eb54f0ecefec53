// Private: the surrogate's per-sample loss scale s_i (the aggregation weights), resolved
// from the mask and the aggregation before the fused pass (surrogate.hpp gives the math):
//   TokenMean         s_i = w_i / W                 W = sum of all weights
//   SeqMeanTokenMean  s_i = w_i / (W_seq(i) * S)    per-row or per-segment factor 1 / (W_seq S)
//   SeqMeanTokenSum   s_i = w_i / S                 S = sequences with W_seq > 0
// The mask's data checks (negative, NaN/Inf, all zero, sums a float32 kernel cannot hold or
// invert) happen here, since the weight sums are computed here anyway.
#pragma once

#include <cstdint>
#include <vector>

#include "kernel_job.hpp"
#include "surrogate_kernels.hpp"
#include "surrogate_validate.hpp"

namespace ppobr::detail {

template <class T>
struct WeightPlan {
  double total_weight = 0.0;  // W = sum of w_i (n without a mask): every statistic's count
  double loss_div = 1.0;      // loss = -(sum of factor_i * w_i * obj_i) / loss_div
  T gneg = T(0);              // -1 / loss_div in T: grad_i = gneg * factor_i * w_i * A_i * r_i
  FactorMode factor_mode = FactorMode::None;
  std::vector<T> factors;  // per row (Rows) or per segment (Segments); empty for None
};

// threads / nblocks: the fused pass's split, reused for the token-mean mask sum.
template <class T>
WeightPlan<T> plan_weights(const SurrogateInputs<T>& in, const SurrogateOptions& opt,
                           const CheckedBatch& batch, const Kernels<T>& kernels, bool mask_flat,
                           int threads, std::int64_t nblocks);

extern template WeightPlan<float> plan_weights<float>(const SurrogateInputs<float>&,
                                                      const SurrogateOptions&, const CheckedBatch&,
                                                      const Kernels<float>&, bool, int,
                                                      std::int64_t);
extern template WeightPlan<double> plan_weights<double>(const SurrogateInputs<double>&,
                                                        const SurrogateOptions&,
                                                        const CheckedBatch&, const Kernels<double>&,
                                                        bool, int, std::int64_t);

}  // namespace ppobr::detail
