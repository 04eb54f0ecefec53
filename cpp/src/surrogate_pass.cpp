// The surrogate's fused pass over the blocks and the assembly of its result (see
// surrogate_pass.hpp).

#include "surrogate_pass.hpp"

#include <algorithm>
#include <cstdint>
#include <limits>
#include <memory>

#include "kernel_threads.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

namespace ppobr::detail {

template <class T>
BlockResult run_fused_pass(const Job<T>& job, const Kernels<T>& K, std::int64_t nblocks,
                           int threads) {
  BlockResult tot;
  for (double& s : tot.s) s = 0.0;
  tot.dmin = std::numeric_limits<double>::infinity();
  tot.dmax = -std::numeric_limits<double>::infinity();
  auto fold = [&tot](const BlockResult& b) {
    for (int k = 0; k < kNumSums; ++k) tot.s[k] += b.s[k];
    tot.dmin = std::min(tot.dmin, b.dmin);
    tot.dmax = std::max(tot.dmax, b.dmax);
  };
  if (threads <= 1) {
    // no heap allocation on this path
    for (std::int64_t b = 0; b < nblocks; ++b) {
      BlockResult br;
      K.run_block(job, b, br);
      fold(br);
    }
  } else {
    std::unique_ptr<BlockResult[]> parts(new BlockResult[static_cast<std::size_t>(nblocks)]);
    parallel_ranges(nblocks, threads, [&](std::int64_t b0, std::int64_t b1) {
      for (std::int64_t b = b0; b < b1; ++b)
        K.run_block(job, b, parts[static_cast<std::size_t>(b)]);
    });
    for (std::int64_t b = 0; b < nblocks; ++b) fold(parts[static_cast<std::size_t>(b)]);
  }
  return tot;
}

template <class T>
SurrogateResult assemble_result(const BlockResult& tot, double loss_div, double total_weight,
                                bool has_entropy, const Kernels<T>& K) {
  SurrogateResult res;
  res.loss = -tot.s[kSumLoss] / loss_div;
  SurrogateStats& st = res.stats;
  st.count.fill(total_weight);
  st.sum[kEntropy] = has_entropy ? tot.s[kSumEnt] : 0.0;
  if (!has_entropy) st.count[kEntropy] = 0.0;
  st.sum[kRatioMean] = tot.s[kSumRatio];
  st.sum[kRatioMin] = static_cast<double>(K.exp_one(static_cast<T>(tot.dmin)));
  st.sum[kRatioMax] = static_cast<double>(K.exp_one(static_cast<T>(tot.dmax)));
  st.sum[kClipFraction] = tot.s[kSumClip];
  st.sum[kClipFractionLow] = tot.s[kSumLow];
  st.sum[kClipFractionHigh] = tot.s[kSumHigh];
  st.sum[kDualClipFraction] = tot.s[kSumDual];
  st.sum[kKlK1] = -tot.s[kSumD];
  st.sum[kKlK2] = 0.5 * tot.s[kSumD2];
  st.sum[kKlK3] = tot.s[kSumK3];
  return res;
}

template BlockResult run_fused_pass<float>(const Job<float>&, const Kernels<float>&, std::int64_t,
                                           int);
template BlockResult run_fused_pass<double>(const Job<double>&, const Kernels<double>&,
                                            std::int64_t, int);
template SurrogateResult assemble_result<float>(const BlockResult&, double, double, bool,
                                                const Kernels<float>&);
template SurrogateResult assemble_result<double>(const BlockResult&, double, double, bool,
                                                 const Kernels<double>&);

}  // namespace ppobr::detail
