// clipped_surrogate's conversion of NumPy inputs into the core's views and options, and
// its result type (see surrogate_binding.hpp).

#include "surrogate_binding.hpp"

#include <cmath>
#include <cstdint>
#include <initializer_list>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "binding_arrays.hpp"
#include "binding_errors.hpp"
#include "ppobr/errors.hpp"

namespace ppobr_binding {

using ppobr::InvalidArgument;

py::dict PySurrogateResult::named(int which) const {
  py::dict d;
  for (int k = 0; k < ppobr::kNumStats; ++k) {
    double v = which == 0 ? stats.mean(k) : which == 1 ? stats.sum[k] : stats.count[k];
    d[ppobr::kStatNames[k]] = v;
  }
  return d;
}

namespace {

// One float input of the kernel: converted, dtype- and rank-checked against the reference.
struct FloatArg {
  py::array array;
  bool present = false;
};

FloatArg float_arg(const py::object& obj, const char* arg, const py::array* like, Float want) {
  FloatArg out;
  if (obj.is_none()) return out;
  py::array a = as_array(obj);
  if (a.ndim() != 1 && a.ndim() != 2)
    throw InvalidArgument(arg, "expected a 1-D [batch] or 2-D [batch, tokens] array, got " +
                                   std::to_string(a.ndim()) + " dimensions");
  if (like != nullptr) {
    bool same = a.ndim() == like->ndim();
    for (py::ssize_t d = 0; same && d < a.ndim(); ++d) same = a.shape(d) == like->shape(d);
    if (!same) {
      auto shape = [](const py::array& x) { return py::str(x.attr("shape")).cast<std::string>(); };
      throw InvalidArgument(arg,
                            "shape " + shape(a) + " does not match logp_new's " + shape(*like));
    }
  }
  if (float_kind(a, arg) != want)
    type_error(arg, "dtype " + dtype_str(a) +
                        " differs from logp_new's; pass all float inputs "
                        "in one dtype (float32 or float64)");
  out.array = element_strided(std::move(a));
  out.present = true;
  return out;
}

struct EpsChoice {
  double low, high;
};

EpsChoice choose_eps(std::optional<double> eps, std::optional<double> eps_low,
                     std::optional<double> eps_high) {
  if (eps) {
    if (eps_low || eps_high)
      throw InvalidArgument("eps", "give either eps (symmetric) or eps_low and eps_high, not both");
    if (!(std::isfinite(*eps) && *eps >= 0.0 && *eps < 1.0))
      throw InvalidArgument("eps", "must be finite and in [0, 1), got " + std::to_string(*eps));
    return {*eps, *eps};
  }
  if (eps_low && eps_high) return {*eps_low, *eps_high};
  if (eps_low) throw InvalidArgument("eps_high", "eps_low was given without eps_high");
  if (eps_high) throw InvalidArgument("eps_low", "eps_high was given without eps_low");
  throw InvalidArgument("eps", "the clip range is required: pass eps, or eps_low and eps_high");
}

// The user's gradient buffer (out=): same shape and dtype as logp_new, C-contiguous, writeable,
// and sharing no memory with any input (the kernel must never overwrite what it reads).
template <class T>
py::array_t<T> checked_out(const py::object& obj, const py::array& like,
                           std::initializer_list<const FloatArg*> inputs) {
  if (!py::isinstance<py::array>(obj))
    type_error("out", "expected a NumPy array, got " + type_name(obj));
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (a.dtype().normalized_num() != py::dtype::of<T>().normalized_num() ||
      a.dtype().byteorder() == '>')
    type_error("out", "dtype " + dtype_str(a) + " differs from logp_new's");
  bool same = a.ndim() == like.ndim();
  for (py::ssize_t d = 0; same && d < a.ndim(); ++d) same = a.shape(d) == like.shape(d);
  if (!same) throw InvalidArgument("out", "must have logp_new's shape");
  if (!(a.flags() & py::array::c_style)) throw InvalidArgument("out", "must be C-contiguous");
  if (!a.writeable()) throw InvalidArgument("out", "is read-only");
  const auto* lo = static_cast<const char*>(a.data());
  const char* hi = lo + a.nbytes();
  for (const FloatArg* in : inputs) {
    if (!in->present) continue;
    const py::array& x = in->array;
    // Byte range spanned by a strided array (strides may be negative).
    const char* xlo = static_cast<const char*>(x.data());
    const char* xhi = xlo;
    for (py::ssize_t d = 0; d < x.ndim(); ++d) {
      if (x.shape(d) == 0) {
        xhi = xlo;
        break;
      }
      const py::ssize_t span = (x.shape(d) - 1) * x.strides(d);
      if (span < 0)
        xlo += span;
      else
        xhi += span;
    }
    xhi += x.itemsize();
    if (lo < xhi && xlo < hi)
      throw InvalidArgument("out", "shares memory with an input; pass a separate buffer");
  }
  return py::reinterpret_borrow<py::array_t<T>>(a);
}

template <class T>
PySurrogateResult run_surrogate(const FloatArg& lpn, const FloatArg& lpo, const FloatArg& adv,
                                const FloatArg& ent, const FloatArg& mask,
                                const py::array_t<std::int64_t>* seg, std::int64_t num_segments,
                                const ppobr::SurrogateOptions& opt, const py::object& out_obj) {
  ppobr::SurrogateInputs<T> in;
  // the caller's rank: a Seq* aggregation of a 1-D batch needs segment_ids (the core checks)
  in.batch_ndim = static_cast<int>(lpn.array.ndim());
  in.logp_new = view_of<T>(lpn.array);
  in.logp_old = view_of<T>(lpo.array);
  in.advantages = view_of<T>(adv.array);
  if (ent.present) in.entropy = view_of<T>(ent.array);
  if (mask.present) in.mask = view_of<T>(mask.array);
  if (seg != nullptr) {
    in.segment_ids = seg->data();
    in.segment_stride = seg->strides(0) / static_cast<py::ssize_t>(sizeof(std::int64_t));
    in.num_segments = num_segments;
  }
  PySurrogateResult out;
  py::array_t<T> grad;
  if (out_obj.is_none()) {
    std::vector<py::ssize_t> shape(lpn.array.shape(), lpn.array.shape() + lpn.array.ndim());
    grad = py::array_t<T>(shape);
  } else {
    grad = checked_out<T>(out_obj, lpn.array, {&lpn, &lpo, &adv, &ent, &mask});
  }
  T* g = grad.mutable_data();
  ppobr::SurrogateResult r;
  {
    py::gil_scoped_release release;
    r = ppobr::clipped_surrogate<T>(in, opt, g);
  }
  out.loss = r.loss;
  out.stats = r.stats;
  out.grad = std::move(grad);
  out.aggregation = ppobr::aggregation_name(opt.aggregation);
  return out;
}

}  // namespace

PySurrogateResult clipped_surrogate(const py::object& logp_new, const py::object& logp_old,
                                    const py::object& advantages, std::optional<double> eps,
                                    std::optional<double> eps_low, std::optional<double> eps_high,
                                    std::optional<double> dual_clip, const py::object& entropy,
                                    const py::object& mask, const py::object& segment_ids,
                                    const std::string& aggregation, int num_threads,
                                    const py::object& out) {
  if (logp_new.is_none()) throw InvalidArgument("logp_new", "is required");
  py::array ref = as_array(logp_new);
  if (ref.ndim() != 1 && ref.ndim() != 2)
    throw InvalidArgument("logp_new", "expected a 1-D [batch] or 2-D [batch, tokens] array, got " +
                                          std::to_string(ref.ndim()) + " dimensions");
  const Float kind = float_kind(ref, "logp_new");
  FloatArg lpn = float_arg(ref, "logp_new", nullptr, kind);
  if (logp_old.is_none()) throw InvalidArgument("logp_old", "is required");
  if (advantages.is_none()) throw InvalidArgument("advantages", "is required");
  FloatArg lpo = float_arg(logp_old, "logp_old", &ref, kind);
  FloatArg adv = float_arg(advantages, "advantages", &ref, kind);
  FloatArg ent = float_arg(entropy, "entropy", &ref, kind);
  FloatArg msk;
  if (!mask.is_none()) {
    py::array m = as_array(mask);
    if (m.dtype().kind() == 'b') {  // boolean masks are common: convert to weights 0/1
      m = py::reinterpret_steal<py::array>(
          m.attr("astype")(kind == Float::F32 ? "float32" : "float64").release());
    }
    msk = float_arg(m, "mask", &ref, kind);
  }

  ppobr::SurrogateOptions opt;
  EpsChoice e = choose_eps(eps, eps_low, eps_high);
  opt.eps_low = e.low;
  opt.eps_high = e.high;
  opt.dual_clip = dual_clip.value_or(0.0);
  if (dual_clip && !(*dual_clip > 1.0))
    throw InvalidArgument("dual_clip",
                          "must be > 1 (or None to disable), got " + std::to_string(*dual_clip));
  opt.aggregation = ppobr::parse_aggregation(aggregation.c_str());
  if (num_threads < 0) throw InvalidArgument("num_threads", "must be >= 0 (0: automatic)");
  opt.num_threads = num_threads;

  std::optional<py::array_t<std::int64_t>> seg;
  std::int64_t num_segments = 0;
  if (!segment_ids.is_none()) {
    py::array s = as_array(segment_ids);
    if (s.dtype().kind() != 'i' && s.dtype().kind() != 'u')
      type_error("segment_ids", "expected an integer array, got " + dtype_str(s));
    if (s.ndim() != 1 || ref.ndim() != 1 || s.shape(0) != ref.shape(0))
      throw InvalidArgument("segment_ids",
                            "expected a 1-D integer array as long as a 1-D logp_new (for 2-D "
                            "[batch, tokens] input the rows are the sequences)");
    seg = py::array_t<std::int64_t, py::array::forcecast>::ensure(s);
    if (!seg) type_error("segment_ids", "cannot be converted to int64");
    if (seg->size() > 0) {
      // Ids are non-negative labels: equal id, same sequence. Ids already in [0, batch) go to
      // the kernel as they are; larger ones are relabelled 0..S-1 first, so memory never
      // depends on the ids' magnitude.
      py::module_ np = py::module_::import("numpy");
      const auto lo = np.attr("min")(*seg).cast<std::int64_t>();
      const auto hi = np.attr("max")(*seg).cast<std::int64_t>();
      if (lo < 0)
        throw InvalidArgument("segment_ids", "ids must be in [0, 2^63), got " + std::to_string(lo));
      if (hi < seg->size()) {
        num_segments = hi + 1;
      } else {
        py::tuple uniq = np.attr("unique")(*seg, py::arg("return_inverse") = true);
        num_segments = py::len(uniq[0]);
        seg = py::array_t<std::int64_t, py::array::forcecast>::ensure(uniq[1].attr("reshape")(-1));
      }
    }
  }
  const py::array_t<std::int64_t>* segp = seg ? &*seg : nullptr;
  if (kind == Float::F32)
    return run_surrogate<float>(lpn, lpo, adv, ent, msk, segp, num_segments, opt, out);
  return run_surrogate<double>(lpn, lpo, adv, ent, msk, segp, num_segments, opt, out);
}

void bind_surrogate_result(py::module_& m) {
  py::class_<PySurrogateResult>(m, "SurrogateResult",
                                "Output of clipped_surrogate: loss, grad and statistics.")
      .def_readonly("loss", &PySurrogateResult::loss,
                    "-(aggregated clipped objective): the quantity to minimise.")
      .def_readonly("grad", &PySurrogateResult::grad, "d loss / d logp_new, shaped like logp_new.")
      .def_readonly("aggregation", &PySurrogateResult::aggregation)
      .def_property_readonly(
          "stats", [](const PySurrogateResult& r) { return r.named(0); },
          "Weighted means of the statistics (NaN where nothing was counted).")
      .def_property_readonly(
          "sums", [](const PySurrogateResult& r) { return r.named(1); },
          "Weighted sums (ratio_min / ratio_max: the min / max): all-reduce with +, (min, max).")
      .def_property_readonly(
          "counts", [](const PySurrogateResult& r) { return r.named(2); },
          "Total weight behind each statistic: all-reduce with +.")
      .def_property_readonly(
          "sums_array",
          [](const PySurrogateResult& r) {
            return py::array_t<double>(ppobr::kNumStats, r.stats.sum.data());
          },
          "The sums as a float64 array in STAT_NAMES order (cheap to move into a tensor).")
      .def_property_readonly(
          "counts_array",
          [](const PySurrogateResult& r) {
            return py::array_t<double>(ppobr::kNumStats, r.stats.count.data());
          },
          "The counts as a float64 array in STAT_NAMES order.")
      .def("__repr__", [](const PySurrogateResult& r) {
        return "SurrogateResult(loss=" + py::repr(py::float_(r.loss)).cast<std::string>() +
               ", clip_fraction=" +
               py::repr(py::float_(r.stats.mean(ppobr::kClipFraction))).cast<std::string>() +
               ", kl_k3=" + py::repr(py::float_(r.stats.mean(ppobr::kKlK3))).cast<std::string>() +
               ")";
      });
}

}  // namespace ppobr_binding
