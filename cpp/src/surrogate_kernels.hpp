// Private: the table of compiled kernels the surrogate front end calls, one entry per
// instruction set (surrogate_kernels.cpp compiles kernel_surrogate.hpp once per ISA and picks
// the entry for the CPU it runs on; kernel_dispatch.hpp explains why).
#pragma once

#include <cstdint>

#include "kernel_dispatch.hpp"
#include "kernel_job.hpp"

namespace ppobr::detail {

template <class T>
struct Kernels {
  // Block b of the fused pass: loss, gradient and the raw statistic sums of its samples.
  void (*run_block)(const Job<T>&, std::int64_t, BlockResult&);
  // Sum and minimum of the mask weights over the flattened range [begin, end).
  void (*mask_range)(const View2D<T>&, bool, std::int64_t, std::int64_t, double&, double&);
  // The kernels' own exp of one value (ratio_min / ratio_max come from the extreme log-ratios).
  T (*exp_one)(T);
};

// The kernels compiled for `isa` (the baseline copy when this build lacks it).
template <class T>
Kernels<T> kernels_for(Isa isa) noexcept;

extern template Kernels<float> kernels_for<float>(Isa) noexcept;
extern template Kernels<double> kernels_for<double>(Isa) noexcept;

}  // namespace ppobr::detail
