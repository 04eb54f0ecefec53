// Private: the surrogate's input checks. The static ones (shapes, options, segment ids'
// presence) run before any data is read; the data ones (mask values, NaN/Inf in the inputs)
// run only when a sum the kernels computed anyway says something is wrong, so a valid batch
// is read once.
#pragma once

#include <cstdint>

#include "ppobr/surrogate.hpp"

namespace ppobr::detail {

// The batch the static checks accepted.
struct CheckedBatch {
  std::int64_t rows = 0, cols = 0, n = 0;  // n = rows * cols >= 1
  bool segments = false;                   // a Seq* aggregation over segment_ids
};

// Presence and shape of every input, the empty batch, the options, and segment_ids (present
// only where they mean something; required for a Seq* aggregation of a 1-D batch). Throws
// InvalidArgument naming the first argument at fault, in that order.
template <class T>
CheckedBatch check_static(const SurrogateInputs<T>& in, const SurrogateOptions& opt);

// Whether the batch is 1-D: SurrogateInputs::batch_ndim, or when that is 0, View2D's
// convention for a 1-D array (rows == 1, row_stride == 0).
template <class T>
bool is_one_dimensional(const SurrogateInputs<T>& in) noexcept {
  if (in.batch_ndim != 0) return in.batch_ndim == 1;
  return in.logp_new.rows == 1 && in.logp_new.row_stride == 0;
}

// Throws InvalidArgument("mask") for the first NaN/Inf or negative weight (row-major);
// returns if there is none.
template <class T>
void throw_first_bad_mask_value(const View2D<T>& mask);

[[noreturn]] void throw_all_weights_zero();

// Called when the fused pass's loss or log-ratio sum is non-finite: throws
// InvalidArgument naming the first of logp_new, logp_old, advantages, entropy holding a NaN
// or Inf; returns when none does (the sum is then legitimately infinite, e.g. exp overflow
// with A < 0 and no dual-clip).
template <class T>
void throw_first_non_finite_input(const SurrogateInputs<T>& in);

}  // namespace ppobr::detail
