// The surrogate's input checks (see surrogate_validate.hpp for when each one runs).

#include "surrogate_validate.hpp"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "ppobr/errors.hpp"

namespace ppobr::detail {

namespace {

std::string shape_str(std::int64_t r, std::int64_t c) {
  return "[" + std::to_string(r) + ", " + std::to_string(c) + "]";
}

template <class T>
void check_view(const View2D<T>& v, const char* name, bool required, std::int64_t rows,
                std::int64_t cols) {
  if (!v.present()) {
    if (required) throw InvalidArgument(name, "is required");
    return;
  }
  if (v.rows != rows || v.cols != cols)
    throw InvalidArgument(name, "shape " + shape_str(v.rows, v.cols) + " does not match logp_new " +
                                    shape_str(rows, cols));
}

template <class T>
bool all_finite(const View2D<T>& v) {
  for (std::int64_t r = 0; r < v.rows; ++r) {
    const T* p = v.data + r * v.row_stride;
    for (std::int64_t c = 0; c < v.cols; ++c)
      if (!std::isfinite(p[c * v.col_stride])) return false;
  }
  return true;
}

void check_options(const SurrogateOptions& opt) {
  if (!std::isfinite(opt.eps_low) || opt.eps_low < 0.0 || opt.eps_low >= 1.0)
    throw InvalidArgument("eps_low",
                          "must be finite and in [0, 1), got " + std::to_string(opt.eps_low));
  if (!std::isfinite(opt.eps_high) || opt.eps_high < 0.0)
    throw InvalidArgument("eps_high",
                          "must be finite and >= 0, got " + std::to_string(opt.eps_high));
  if (!std::isfinite(opt.dual_clip) || (opt.dual_clip != 0.0 && !(opt.dual_clip > 1.0)))
    throw InvalidArgument("dual_clip", "must be 0 (off) or a finite constant > 1, got " +
                                           std::to_string(opt.dual_clip));
  const Aggregation agg = opt.aggregation;
  if (agg != Aggregation::TokenMean && agg != Aggregation::SeqMeanTokenMean &&
      agg != Aggregation::SeqMeanTokenSum)
    throw InvalidArgument("aggregation",
                          "unknown aggregation value " + std::to_string(static_cast<int>(agg)));
  if (opt.num_threads < 0)
    throw InvalidArgument("num_threads",
                          "must be >= 0 (0: automatic), got " + std::to_string(opt.num_threads));
}

// segment_ids are read only by the Seq* aggregations (token-mean ignores them). A Seq*
// aggregation needs to know the sequences: the rows of a 2-D batch, or the segment ids of a
// 1-D one. Without either it would silently equal token-mean (one sequence), so it is refused.
template <class T>
bool check_segments(const SurrogateInputs<T>& in, Aggregation agg, std::int64_t rows,
                    std::int64_t n) {
  if (in.batch_ndim < 0 || in.batch_ndim > 2)
    throw InvalidArgument("batch_ndim", "must be 1, 2 or 0 (read off the views), got " +
                                            std::to_string(in.batch_ndim));
  if (in.batch_ndim == 1 && rows != 1)
    throw InvalidArgument("batch_ndim", "is 1 but logp_new has " + std::to_string(rows) +
                                            " rows (a 1-D batch is one row)");
  if (agg == Aggregation::TokenMean) return false;
  if (in.segment_ids == nullptr) {
    if (is_one_dimensional(in))
      throw InvalidArgument("segment_ids", std::string("is required for aggregation '") +
                                               aggregation_name(agg) +
                                               "' on a 1-D batch (pass segment_ids, or a 2-D "
                                               "[batch, tokens] batch whose rows are the "
                                               "sequences)");
    return false;
  }
  // Segment ids cut one row into sequences; several rows already are the sequences.
  if (rows > 1)
    throw InvalidArgument("segment_ids",
                          "must be absent for a 2-D batch (its rows are the "
                          "sequences)");
  if (in.num_segments <= 0)
    throw InvalidArgument("segment_ids",
                          "num_segments must be >= 1, got " + std::to_string(in.num_segments));
  // A dense per-sequence histogram is allocated: more sequences than samples is never needed
  // (relabel the ids 0..S-1) and would let an id's magnitude decide the memory used.
  if (in.num_segments > n)
    throw InvalidArgument("segment_ids",
                          "num_segments (" + std::to_string(in.num_segments) +
                              ") exceeds the number of samples; relabel the ids 0..S-1");
  return true;
}

}  // namespace

template <class T>
CheckedBatch check_static(const SurrogateInputs<T>& in, const SurrogateOptions& opt) {
  const View2D<T>& lpn = in.logp_new;
  if (!lpn.present()) throw InvalidArgument("logp_new", "is required");
  const std::int64_t rows = lpn.rows, cols = lpn.cols;
  if (rows < 0 || cols < 0)
    throw InvalidArgument("logp_new", "negative shape " + shape_str(rows, cols));
  check_view(in.logp_old, "logp_old", true, rows, cols);
  check_view(in.advantages, "advantages", true, rows, cols);
  check_view(in.entropy, "entropy", false, rows, cols);
  check_view(in.mask, "mask", false, rows, cols);
  if (rows == 0 || cols == 0)
    throw InvalidArgument("logp_new", "empty batch " + shape_str(rows, cols));
  if (rows > std::numeric_limits<std::int64_t>::max() / 64 / cols)
    throw InvalidArgument("logp_new", "batch too large " + shape_str(rows, cols));
  CheckedBatch b;
  b.rows = rows;
  b.cols = cols;
  b.n = rows * cols;
  check_options(opt);
  b.segments = check_segments(in, opt.aggregation, rows, b.n);
  return b;
}

template <class T>
void throw_first_bad_mask_value(const View2D<T>& m) {
  for (std::int64_t r = 0; r < m.rows; ++r) {
    const T* p = m.data + r * m.row_stride;
    for (std::int64_t c = 0; c < m.cols; ++c) {
      const T w = p[c * m.col_stride];
      if (!std::isfinite(w))
        throw InvalidArgument("mask",
                              "contains NaN or Inf at index " + std::to_string(r * m.cols + c));
      if (w < T(0))
        throw InvalidArgument(
            "mask", "contains a negative weight at index " + std::to_string(r * m.cols + c));
    }
  }
}

void throw_all_weights_zero() {
  throw InvalidArgument("mask", "all weights are zero (nothing to average over)");
}

template <class T>
void throw_first_non_finite_input(const SurrogateInputs<T>& in) {
  const View2D<T>* views[4] = {&in.logp_new, &in.logp_old, &in.advantages, &in.entropy};
  const char* names[4] = {"logp_new", "logp_old", "advantages", "entropy"};
  for (int k = 0; k < 4; ++k)
    if (views[k]->present() && !all_finite(*views[k]))
      throw InvalidArgument(names[k], "contains NaN or Inf");
}

template CheckedBatch check_static<float>(const SurrogateInputs<float>&, const SurrogateOptions&);
template CheckedBatch check_static<double>(const SurrogateInputs<double>&, const SurrogateOptions&);
template void throw_first_bad_mask_value<float>(const View2D<float>&);
template void throw_first_bad_mask_value<double>(const View2D<double>&);
template void throw_first_non_finite_input<float>(const SurrogateInputs<float>&);
template void throw_first_non_finite_input<double>(const SurrogateInputs<double>&);

}  // namespace ppobr::detail
