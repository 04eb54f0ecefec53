// Private: the fused pass of the surrogate over a prepared job, and the assembly of its raw
// block sums into the loss and the (sum, count) statistics.
#pragma once

#include <cstdint>

#include "kernel_job.hpp"
#include "ppobr/surrogate.hpp"
#include "surrogate_kernels.hpp"

namespace ppobr::detail {

// Runs every block of the job (on `threads` threads when > 1) and folds the block results in
// block order, so the totals are bit-identical for every thread count.
template <class T>
BlockResult run_fused_pass(const Job<T>& job, const Kernels<T>& kernels, std::int64_t nblocks,
                           int threads);

// loss = -sums[loss] / loss_div; each statistic's count is total_weight (entropy: 0 when absent);
// ratio_min / ratio_max are exp of the extreme log-ratios, by the kernels' own exp.
template <class T>
SurrogateResult assemble_result(const BlockResult& totals, double loss_div, double total_weight,
                                bool has_entropy, const Kernels<T>& kernels);

extern template BlockResult run_fused_pass<float>(const Job<float>&, const Kernels<float>&,
                                                  std::int64_t, int);
extern template BlockResult run_fused_pass<double>(const Job<double>&, const Kernels<double>&,
                                                   std::int64_t, int);
extern template SurrogateResult assemble_result<float>(const BlockResult&, double, double, bool,
                                                       const Kernels<float>&);
extern template SurrogateResult assemble_result<double>(const BlockResult&, double, double, bool,
                                                        const Kernels<double>&);

}  // namespace ppobr::detail
