// ppobr_core._jax_ffi: the fused clipped-surrogate kernel (ppobr::clipped_surrogate) as an XLA
// FFI handler, so that a jitted JAX program calls it directly on its CPU buffers (no host
// round trip, no copies). Python side: adapters/ppobr_jax/_ffi.py (jax.ffi.ffi_call + a
// custom_vjp that reuses the kernel's gradient).
//
// Built only when jax's FFI headers are found at configure time (jax.ffi.include_dir()); the
// headers are header-only, so the module links nothing of jax.
//
// Call signature (all buffers on the host):
//   operands: logp_new, logp_old, advantages  [n] or [rows, cols], float32 or float64 (T)
//             entropy, mask                   same shape as logp_new, T; ignored unless
//                                             has_entropy / has_mask
//             segment_ids                     [n] int64; ignored unless has_segments
//             eps_low, eps_high, dual_clip    0-d T (traced values: a new eps never recompiles;
//                                             dual_clip 0 = off)
//   attributes: aggregation (int32: 0 token-mean, 1 seq-mean-token-mean, 2 seq-mean-token-sum),
//               has_entropy, has_mask, has_segments (int32 0/1), num_segments (int64),
//               num_threads (int32, 0 = automatic)
//   results: loss (0-d T), grad (logp_new's shape, T), sums [11], counts [11] (float32 or
//            float64: the statistics dtype of the caller)
// Invalid input (NaN/Inf values, negative or all-zero mask, bad eps...) returns an
// InvalidArgument error naming the argument, raised by jax when the computation runs.
#include <cstdint>
#include <exception>
#include <string>

#include "ppobr/errors.hpp"
#include "ppobr/surrogate.hpp"
#include "xla/ffi/api/ffi.h"

#include <pybind11/pybind11.h>

namespace ffi = xla::ffi;

namespace {

template <class T>
ppobr::View2D<T> view_of(const ffi::AnyBuffer& b, std::int64_t rows, std::int64_t cols) {
  ppobr::View2D<T> v;
  v.data = reinterpret_cast<const T*>(b.untyped_data());
  v.rows = rows;
  v.cols = cols;
  v.row_stride = rows == 1 ? 0 : cols;  // XLA buffers are dense row-major
  v.col_stride = 1;
  return v;
}

template <class T>
double scalar_of(const ffi::AnyBuffer& b) {
  return static_cast<double>(*reinterpret_cast<const T*>(b.untyped_data()));
}

template <class T, class S>
ffi::Error run(const ffi::AnyBuffer& lpn, const ffi::AnyBuffer& lpo, const ffi::AnyBuffer& adv,
               const ffi::AnyBuffer& ent, const ffi::AnyBuffer& mask, const ffi::AnyBuffer& seg,
               const ffi::AnyBuffer& eps_low, const ffi::AnyBuffer& eps_high,
               const ffi::AnyBuffer& dual_clip, std::int32_t aggregation, std::int32_t has_entropy,
               std::int32_t has_mask, std::int32_t has_segments, std::int64_t num_segments,
               std::int32_t num_threads, ffi::Result<ffi::AnyBuffer> loss,
               ffi::Result<ffi::AnyBuffer> grad, ffi::Result<ffi::AnyBuffer> sums,
               ffi::Result<ffi::AnyBuffer> counts) {
  const auto dims = lpn.dimensions();
  std::int64_t rows = 1, cols = 0;
  if (dims.size() == 1) {
    cols = dims[0];
  } else if (dims.size() == 2) {
    rows = dims[0];
    cols = dims[1];
  } else {
    return ffi::Error::InvalidArgument("logp_new: expected a 1-D or 2-D array");
  }
  const std::int64_t n = rows * cols;
  for (const ffi::AnyBuffer* b : {&lpo, &adv}) {
    if (static_cast<std::int64_t>(b->element_count()) != n)
      return ffi::Error::InvalidArgument("logp_old / advantages: size differs from logp_new's");
  }
  ppobr::SurrogateInputs<T> in;
  in.batch_ndim = static_cast<int>(dims.size());  // a Seq* aggregation of a 1-D batch needs ids
  in.logp_new = view_of<T>(lpn, rows, cols);
  in.logp_old = view_of<T>(lpo, rows, cols);
  in.advantages = view_of<T>(adv, rows, cols);
  if (has_entropy) {
    if (static_cast<std::int64_t>(ent.element_count()) != n ||
        ent.element_type() != lpn.element_type())
      return ffi::Error::InvalidArgument("entropy: shape or dtype differs from logp_new's");
    in.entropy = view_of<T>(ent, rows, cols);
  }
  if (has_mask) {
    if (static_cast<std::int64_t>(mask.element_count()) != n ||
        mask.element_type() != lpn.element_type())
      return ffi::Error::InvalidArgument("mask: shape or dtype differs from logp_new's");
    in.mask = view_of<T>(mask, rows, cols);
  }
  if (has_segments) {
    if (seg.element_type() != ffi::DataType::S64 ||
        static_cast<std::int64_t>(seg.element_count()) != n)
      return ffi::Error::InvalidArgument("segment_ids: expected int64 ids, one per sample");
    in.segment_ids = reinterpret_cast<const std::int64_t*>(seg.untyped_data());
    in.segment_stride = 1;
    in.num_segments = num_segments;
  }
  ppobr::SurrogateOptions opt;
  opt.eps_low = scalar_of<T>(eps_low);
  opt.eps_high = scalar_of<T>(eps_high);
  opt.dual_clip = scalar_of<T>(dual_clip);
  switch (aggregation) {
    case 0:
      opt.aggregation = ppobr::Aggregation::TokenMean;
      break;
    case 1:
      opt.aggregation = ppobr::Aggregation::SeqMeanTokenMean;
      break;
    case 2:
      opt.aggregation = ppobr::Aggregation::SeqMeanTokenSum;
      break;
    default:
      return ffi::Error::InvalidArgument("aggregation: unknown code " +
                                         std::to_string(aggregation));
  }
  opt.num_threads = num_threads;
  if (static_cast<std::int64_t>(grad->element_count()) != n ||
      grad->element_type() != lpn.element_type())
    return ffi::Error::InvalidArgument("grad: result buffer does not match logp_new");
  if (sums->element_count() != ppobr::kNumStats || counts->element_count() != ppobr::kNumStats)
    return ffi::Error::InvalidArgument("sums / counts: result buffers must hold 11 values");
  ppobr::SurrogateResult r;
  try {
    r = ppobr::clipped_surrogate<T>(in, opt, reinterpret_cast<T*>(grad->untyped_data()));
  } catch (const ppobr::InvalidArgument& e) {
    return ffi::Error::InvalidArgument(e.what());
  } catch (const std::exception& e) {
    return ffi::Error::Internal(e.what());
  }
  *reinterpret_cast<T*>(loss->untyped_data()) = static_cast<T>(r.loss);
  S* s = reinterpret_cast<S*>(sums->untyped_data());
  S* c = reinterpret_cast<S*>(counts->untyped_data());
  for (int k = 0; k < ppobr::kNumStats; ++k) {
    s[k] = static_cast<S>(r.stats.sum[k]);
    c[k] = static_cast<S>(r.stats.count[k]);
  }
  return ffi::Error::Success();
}

ffi::Error ClippedSurrogateImpl(ffi::AnyBuffer lpn, ffi::AnyBuffer lpo, ffi::AnyBuffer adv,
                                ffi::AnyBuffer ent, ffi::AnyBuffer mask, ffi::AnyBuffer seg,
                                ffi::AnyBuffer eps_low, ffi::AnyBuffer eps_high,
                                ffi::AnyBuffer dual_clip, std::int32_t aggregation,
                                std::int32_t has_entropy, std::int32_t has_mask,
                                std::int32_t has_segments, std::int64_t num_segments,
                                std::int32_t num_threads, ffi::Result<ffi::AnyBuffer> loss,
                                ffi::Result<ffi::AnyBuffer> grad, ffi::Result<ffi::AnyBuffer> sums,
                                ffi::Result<ffi::AnyBuffer> counts) {
  const auto t = lpn.element_type();
  if (lpo.element_type() != t || adv.element_type() != t)
    return ffi::Error::InvalidArgument("logp_old / advantages: dtype differs from logp_new's");
  const bool s64 = sums->element_type() == ffi::DataType::F64;
  if (!s64 && sums->element_type() != ffi::DataType::F32)
    return ffi::Error::InvalidArgument("sums: expected float32 or float64");
#define PPOBR_RUN(T, S)                                                                            \
  run<T, S>(lpn, lpo, adv, ent, mask, seg, eps_low, eps_high, dual_clip, aggregation, has_entropy, \
            has_mask, has_segments, num_segments, num_threads, loss, grad, sums, counts)
  if (t == ffi::DataType::F32) return s64 ? PPOBR_RUN(float, double) : PPOBR_RUN(float, float);
  if (t == ffi::DataType::F64) return s64 ? PPOBR_RUN(double, double) : PPOBR_RUN(double, float);
#undef PPOBR_RUN
  return ffi::Error::InvalidArgument("logp_new: expected float32 or float64");
}

}  // namespace

XLA_FFI_DEFINE_HANDLER_SYMBOL(PpobrClippedSurrogate, ClippedSurrogateImpl,
                              ffi::Ffi::Bind()
                                  .Arg<ffi::AnyBuffer>()  // logp_new
                                  .Arg<ffi::AnyBuffer>()  // logp_old
                                  .Arg<ffi::AnyBuffer>()  // advantages
                                  .Arg<ffi::AnyBuffer>()  // entropy
                                  .Arg<ffi::AnyBuffer>()  // mask
                                  .Arg<ffi::AnyBuffer>()  // segment_ids
                                  .Arg<ffi::AnyBuffer>()  // eps_low
                                  .Arg<ffi::AnyBuffer>()  // eps_high
                                  .Arg<ffi::AnyBuffer>()  // dual_clip
                                  .Attr<std::int32_t>("aggregation")
                                  .Attr<std::int32_t>("has_entropy")
                                  .Attr<std::int32_t>("has_mask")
                                  .Attr<std::int32_t>("has_segments")
                                  .Attr<std::int64_t>("num_segments")
                                  .Attr<std::int32_t>("num_threads")
                                  .Ret<ffi::AnyBuffer>()    // loss
                                  .Ret<ffi::AnyBuffer>()    // grad
                                  .Ret<ffi::AnyBuffer>()    // sums
                                  .Ret<ffi::AnyBuffer>());  // counts

PYBIND11_MODULE(_jax_ffi, m) {
  m.doc() = "ppobr_core._jax_ffi: XLA FFI handlers of the ppobr kernels (used by ppobr_jax).";
  m.attr("API_VERSION") = 1;
  m.def(
      "registrations",
      []() {
        pybind11::dict d;
        d["ppobr_clipped_surrogate"] =
            pybind11::capsule(reinterpret_cast<void*>(PpobrClippedSurrogate));
        return d;
      },
      "{target name: PyCapsule of the XLA FFI handler}, for jax.ffi.register_ffi_target.");
}
