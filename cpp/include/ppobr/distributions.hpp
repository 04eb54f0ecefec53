// Fused helpers for the two policy families PPO uses.
#pragma once

#include <cstdint>

#include "ppobr/surrogate.hpp"  // View2D

namespace ppobr {

// Categorical policy from logits [N, A] and integer actions [N], one pass per row:
//   logp_i    = logits[i, a_i] - logsumexp(logits[i, :])
//   entropy_i = logsumexp(logits[i, :]) - sum_j p_ij * logits[i, j],  p = softmax(logits[i, :])
// Outputs are contiguous arrays of N elements (either may be nullptr to skip it).
// Throws InvalidArgument("logits") for an empty or non-finite input, ("actions") for an
// action outside [0, A).
template <class T>
void categorical_logprob_entropy(const View2D<T>& logits, const std::int64_t* actions,
                                 std::int64_t action_stride, T* logp_out, T* entropy_out,
                                 int num_threads = 0);

// Diagonal Gaussian policy: entropy_i = sum_d log_std[i, d] + D * (1 + log(2 pi)) / 2
// for log_std [N, D]; output contiguous N elements.
template <class T>
void gaussian_entropy(const View2D<T>& log_std, T* entropy_out);

}  // namespace ppobr
