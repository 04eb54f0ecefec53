// Private: what the surrogate front end (surrogate.cpp) hands to the per-ISA block kernels
// (kernel_surrogate.hpp), and what a block hands back.
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstring>

#include "ppobr/surrogate.hpp"

namespace ppobr::detail {

// Fixed decomposition of the flattened index space [0, N) (row-major over [rows, cols]):
// blocks of kBlock elements, each cut into micro-blocks of kMicro. Float partial sums live in
// SIMD lanes for one micro-block and are then added (in double) to the block's lanes; blocks
// are combined in block order, in double. Threads only choose which blocks they compute, so
// results are bit-identical for every thread count.
inline constexpr std::int64_t kMicro = 512;
inline constexpr std::int64_t kBlock = 8192;
static_assert(kBlock % kMicro == 0, "blocks hold whole micro-blocks");

// Per-element factor of the loss/gradient scale (s_i = g * factor_i * w_i).
enum class FactorMode : int {
  None,      // factor 1
  Rows,      // factor = row_factor[i / cols]
  Segments,  // factor = seg_factor[segment_ids[i * segment_stride]]
};

template <class T>
struct Job {
  // inputs (logp_new, logp_old, advantages, entropy, mask); entropy/mask data may be null
  View2D<T> in[5];
  bool flat[5];  // element (r, c) at data[r * cols + c]
  std::int64_t rows, cols, n;
  T* grad;        // contiguous output or null
  bool prefetch;  // prefetch the next micro-block (batches too large to stay in cache)
  T lo, hi;       // 1 - eps_low, 1 + eps_high (rounded to T)
  T dual;         // dual-clip constant c (> 1); 0 when off
  T gneg;         // gradient constant: grad_i = gneg * factor_i * w_i * A_i * r_i (selected)
  FactorMode factor_mode;
  const T* row_factor;          // FactorMode::Rows: [rows]
  const T* seg_factor;          // FactorMode::Segments: [num_segments]
  const std::int64_t* seg_ids;  // FactorMode::Segments
  std::int64_t seg_stride;
};

enum Sum : int {
  kSumLoss = 0,  // sum factor_i * w_i * obj_i
  kSumEnt,       // sum w * entropy
  kSumRatio,     // sum w * r
  kSumD,         // sum w * d   (d = logp_new - logp_old, raw: non-finite input shows here)
  kSumD2,        // sum w * d^2
  kSumK3,        // sum w * ((r - 1) - d)
  kSumClip,      // sum w [r < lo or r > hi]
  kSumLow,       // sum w [A < 0 and r < lo]
  kSumHigh,      // sum w [A > 0 and r > hi]
  kSumDual,      // sum w [dual-clip binds]
  kNumSums
};

struct BlockResult {
  double s[kNumSums];
  double dmin;  // min / max of d over samples with w > 0 (+inf / -inf if none)
  double dmax;
};

// Element (r, c) of v is at v.data[r * v.cols + c] (so [i, i + n) of the flattened index is
// v.data + i).
template <class T>
inline bool is_flat(const View2D<T>& v) noexcept {
  return (v.rows <= 1 || v.row_stride == v.cols) && (v.cols <= 1 || v.col_stride == 1);
}

// dst[0, cnt) = elements [i, i + cnt) of v in row-major order (any strides).
template <class T>
inline void gather(T* dst, const View2D<T>& v, std::int64_t i, std::int64_t cnt) {
  if (is_flat(v)) {
    std::memcpy(dst, v.data + i, static_cast<std::size_t>(cnt) * sizeof(T));
    return;
  }
  std::int64_t r = i / v.cols, c = i - r * v.cols;
  const std::int64_t s = v.col_stride;
  while (cnt > 0) {
    const std::int64_t k = std::min(cnt, v.cols - c);
    const T* p = v.data + r * v.row_stride + c * s;
    if (s == 1) {
      std::memcpy(dst, p, static_cast<std::size_t>(k) * sizeof(T));
    } else {
      for (std::int64_t t = 0; t < k; ++t) dst[t] = p[t * s];
    }
    dst += k;
    cnt -= k;
    ++r;
    c = 0;
  }
}

}  // namespace ppobr::detail
