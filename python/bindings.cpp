// ppobr_core._core: the one binding module. It converts NumPy arrays into strided views,
// checks dtypes (TypeError) and shapes (ValueError, via the core's InvalidArgument), releases
// the GIL around the kernels, and exposes the controllers. All math lives in cpp/.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <cmath>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "ppobr/ppobr.hpp"

namespace py = pybind11;
using ppobr::InvalidArgument;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// ppobr_core.InvalidArgumentError: a ValueError that also carries .argument.
PyObject* invalid_argument_type() {
  static PyObject* type = PyErr_NewExceptionWithDoc(
      "ppobr_core.InvalidArgumentError",
      "A bad argument or config value. A ValueError; `.argument` names the argument at fault.",
      PyExc_ValueError, nullptr);
  return type;
}

void set_invalid_argument_error(const InvalidArgument& e) {
  PyObject* type = invalid_argument_type();
  py::object inst = py::reinterpret_borrow<py::object>(type)(e.what());
  inst.attr("argument") = e.argument();
  PyErr_SetObject(type, inst.ptr());
}

[[noreturn]] void type_error(const std::string& arg, const std::string& msg) {
  throw py::type_error(arg + ": " + msg);
}

// ------------------------------------------------------------------------------------------
// Arrays

enum class Float { F32, F64 };

py::array as_array(const py::handle& obj) {
  if (py::isinstance<py::array>(obj)) return py::reinterpret_borrow<py::array>(obj);
  return py::reinterpret_steal<py::array>(
      py::module_::import("numpy").attr("asarray")(obj).release());
}

std::string dtype_str(const py::array& a) { return py::str(a.dtype()).cast<std::string>(); }

Float float_kind(const py::array& a, const char* arg) {
  py::dtype dt = a.dtype();
  if (dt.byteorder() == '>') type_error(arg, "non-native byte order is not supported");
  int num = dt.normalized_num();
  if (num == py::detail::npy_api::NPY_FLOAT_) return Float::F32;
  if (num == py::detail::npy_api::NPY_DOUBLE_) return Float::F64;
  type_error(arg, "expected a float32 or float64 array, got " + dtype_str(a));
}

// Strides must be whole elements for a View2D; anything else (rare: unaligned views) is copied.
py::array element_strided(py::array a) {
  for (py::ssize_t d = 0; d < a.ndim(); ++d)
    if (a.strides(d) % a.itemsize() != 0)
      return py::reinterpret_steal<py::array>(
          py::module_::import("numpy").attr("ascontiguousarray")(a).release());
  return a;
}

template <class T>
ppobr::View2D<T> view_of(const py::array& a) {
  ppobr::View2D<T> v;
  v.data = static_cast<const T*>(a.data());
  const auto item = static_cast<std::int64_t>(sizeof(T));
  if (a.ndim() == 1) {
    v.rows = 1;
    v.cols = a.shape(0);
    v.row_stride = 0;
    v.col_stride = a.strides(0) / item;
  } else {
    v.rows = a.shape(0);
    v.cols = a.shape(1);
    v.row_stride = a.strides(0) / item;
    v.col_stride = a.strides(1) / item;
  }
  return v;
}

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
      throw InvalidArgument(arg, "shape " + shape(a) + " does not match logp_new's " + shape(*like));
    }
  }
  if (float_kind(a, arg) != want)
    type_error(arg, "dtype " + dtype_str(a) + " differs from logp_new's; pass all float inputs "
                    "in one dtype (float32 or float64)");
  out.array = element_strided(std::move(a));
  out.present = true;
  return out;
}

// ------------------------------------------------------------------------------------------
// The fused surrogate

struct PySurrogateResult {
  double loss = 0.0;
  py::array grad;
  ppobr::SurrogateStats stats;
  std::string aggregation;

  py::dict named(int which) const {  // 0: means, 1: sums, 2: counts
    py::dict d;
    for (int k = 0; k < ppobr::kNumStats; ++k) {
      double v = which == 0 ? stats.mean(k) : which == 1 ? stats.sum[k] : stats.count[k];
      d[ppobr::kStatNames[k]] = v;
    }
    return d;
  }
};

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
  if (!py::isinstance<py::array>(obj)) type_error("out", "expected a NumPy array");
  auto a = py::reinterpret_borrow<py::array>(obj);
  if (a.dtype().normalized_num() != py::dtype::of<T>().normalized_num() || a.dtype().byteorder() == '>')
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
      if (x.shape(d) == 0) { xhi = xlo; break; }
      const py::ssize_t span = (x.shape(d) - 1) * x.strides(d);
      if (span < 0) xlo += span; else xhi += span;
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
    throw InvalidArgument("dual_clip", "must be > 1 (or None to disable), got " +
                                           std::to_string(*dual_clip));
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
      if (lo < 0) throw InvalidArgument("segment_ids", "ids must be in [0, 2^63), got " + std::to_string(lo));
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

// ------------------------------------------------------------------------------------------
// Distributions

template <class T>
py::tuple run_categorical(const py::array& logits, const py::array_t<std::int64_t>& actions,
                          int num_threads) {
  auto v = view_of<T>(logits);
  py::array_t<T> logp(logits.shape(0)), ent(logits.shape(0));
  T* lp = logp.mutable_data();
  T* en = ent.mutable_data();
  const std::int64_t* a = actions.data();
  const std::int64_t astride = actions.strides(0) / static_cast<py::ssize_t>(sizeof(std::int64_t));
  {
    py::gil_scoped_release release;
    ppobr::categorical_logprob_entropy<T>(v, a, astride, lp, en, num_threads);
  }
  return py::make_tuple(logp, ent);
}

py::tuple categorical_logprob_entropy(const py::object& logits_obj, const py::object& actions_obj,
                                      int num_threads) {
  py::array logits = as_array(logits_obj);
  if (logits.ndim() != 2) throw InvalidArgument("logits", "expected a 2-D [batch, actions] array");
  Float kind = float_kind(logits, "logits");
  logits = element_strided(logits);
  py::array act = as_array(actions_obj);
  if (act.dtype().kind() != 'i' && act.dtype().kind() != 'u')
    type_error("actions", "expected an integer array, got " + dtype_str(act));
  if (act.ndim() != 1 || act.shape(0) != logits.shape(0))
    throw InvalidArgument("actions", "expected a 1-D array with one action per row of logits");
  auto a64 = py::array_t<std::int64_t, py::array::forcecast>::ensure(act);
  if (num_threads < 0) throw InvalidArgument("num_threads", "must be >= 0 (0: automatic)");
  if (kind == Float::F32) return run_categorical<float>(logits, a64, num_threads);
  return run_categorical<double>(logits, a64, num_threads);
}

template <class T>
py::array run_gaussian(const py::array& log_std) {
  auto v = view_of<T>(log_std);
  py::array_t<T> out(v.rows);
  T* o = out.mutable_data();
  {
    py::gil_scoped_release release;
    ppobr::gaussian_entropy<T>(v, o);
  }
  return out;
}

py::object gaussian_entropy(const py::object& log_std_obj) {
  py::array log_std = as_array(log_std_obj);
  if (log_std.ndim() != 1 && log_std.ndim() != 2)
    throw InvalidArgument("log_std", "expected a 1-D [dims] or 2-D [batch, dims] array");
  Float kind = float_kind(log_std, "log_std");
  log_std = element_strided(log_std);
  py::array out = kind == Float::F32 ? run_gaussian<float>(log_std) : run_gaussian<double>(log_std);
  if (log_std.ndim() == 1) return out.attr("reshape")(py::tuple());  // 0-d: one distribution
  return std::move(out);
}

// ------------------------------------------------------------------------------------------
// Controllers

double as_real(const py::handle& obj, const char* arg) {
  // Numbers only (Python, NumPy and 0-d tensor scalars): float("1.5") would parse a string.
  if (!PyNumber_Check(obj.ptr()))
    type_error(arg, std::string("expected a real number, got ") +
                        py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  try {
    return py::float_(py::reinterpret_borrow<py::object>(obj)).cast<double>();
  } catch (py::error_already_set&) {
    type_error(arg, std::string("expected a real number, got ") +
                        py::str(py::type::of(obj).attr("__name__")).cast<std::string>());
  }
}

std::optional<double> opt_real(const py::object& obj, const char* arg) {
  if (obj.is_none()) return std::nullopt;
  return as_real(obj, arg);
}

double update_controller(ppobr::Controller& c, const py::object& entropy,
                         const py::object& episode_returns, const py::object& kl) {
  ppobr::Observation obs;
  obs.entropy = opt_real(entropy, "entropy");
  obs.kl = opt_real(kl, "kl");
  py::array_t<double> rets;
  if (!episode_returns.is_none()) {
    py::array r = as_array(episode_returns);
    char k = r.dtype().kind();
    if (k != 'f' && k != 'i' && k != 'u')
      type_error("episode_returns", "expected real numbers, got " + dtype_str(r));
    rets = py::array_t<double, py::array::c_style | py::array::forcecast>::ensure(
        r.attr("reshape")(-1));
    obs.episode_returns = rets.data();
    obs.num_episode_returns = static_cast<std::size_t>(rets.size());
  }
  return c.update(obs);
}

py::dict items_dict(const ppobr::Diagnostics& items) {
  py::dict d;
  for (const auto& kv : items) d[py::str(kv.first)] = kv.second;
  return d;
}

py::bytes state_bytes(const ppobr::Controller& c) {
  auto b = c.serialize();
  return py::bytes(reinterpret_cast<const char*>(b.data()), b.size());
}

std::unique_ptr<ppobr::Controller> controller_from_state(const py::object& state) {
  py::object blob = state;
  if (py::isinstance<py::dict>(state)) {
    py::dict d = py::reinterpret_borrow<py::dict>(state);
    if (!d.contains("state"))
      throw InvalidArgument("state_dict", "missing key 'state' (expected the dict from state_dict())");
    blob = d["state"];
  }
  if (!py::isinstance<py::bytes>(blob))
    type_error("state_dict", "expected the dict from state_dict() or its 'state' bytes");
  std::string s = blob.cast<std::string>();
  return ppobr::deserialize_controller(reinterpret_cast<const std::uint8_t*>(s.data()), s.size());
}

template <class C>
void load_into(C& self, const py::object& state) {
  auto restored = controller_from_state(state);
  auto* same = dynamic_cast<C*>(restored.get());
  if (same == nullptr)
    throw InvalidArgument("state_dict", std::string("holds a '") + restored->name() +
                                            "' controller, not '" + self.name() + "'");
  self = *same;
}

py::object wrap_controller(std::unique_ptr<ppobr::Controller> c);

// Methods every controller class shares.
template <class C, class PyClass>
void common_controller_methods(PyClass& cls) {
  cls.def(
         "update",
         [](C& self, const py::object& entropy, const py::object& episode_returns,
            const py::object& kl) { return update_controller(self, entropy, episode_returns, kl); },
         py::arg("entropy") = py::none(), py::arg("episode_returns") = py::none(), py::kw_only(),
         py::arg("kl") = py::none(),
         "Takes the last rollout's mean policy entropy and the returns of the episodes that\n"
         "finished in it (oldest first; None or [] if none did), and for KL-adaptive the\n"
         "measured KL of the last update. Returns the clip range for the next update epochs.")
      .def_property_readonly("epsilon", &C::epsilon, "The current clip range.")
      .def_property_readonly("name", [](const C& self) { return std::string(self.name()); })
      .def_property_readonly(
          "diagnostics", [](const C& self) { return items_dict(self.diagnostics()); },
          "The last update's signals as a dict (epsilon first).")
      .def_property_readonly(
          "config", [](const C& self) { return items_dict(self.config_items()); },
          "The validated config as a dict.")
      .def(
          "state_dict",
          [](const C& self) {
            py::dict d;
            d["controller"] = std::string(self.name());
            d["state"] = state_bytes(self);
            return d;
          },
          "Config and state as {'controller': name, 'state': bytes} (versioned, checksummed).")
      .def(
          "load_state_dict", [](C& self, const py::object& sd) { load_into(self, sd); },
          py::arg("state_dict"),
          "Restores config and state from state_dict(); the controller then continues "
          "bit-identically.")
      .def("__copy__", [](const C& self) { return C(self); })
      .def("__deepcopy__", [](const C& self, const py::dict&) { return C(self); }, py::arg("memo"))
      .def(py::pickle([](const C& self) { return state_bytes(self); },
                      [](const py::bytes& b) {
                        auto r = controller_from_state(b);
                        auto* same = dynamic_cast<C*>(r.get());
                        if (same == nullptr) throw InvalidArgument("state", "wrong controller type");
                        return C(*same);
                      }))
      .def("__repr__", [](const C& self) {
        std::string s = std::string(self.name()) + "(";
        bool first = true;
        for (const auto& kv : self.config_items()) {
          s += (first ? "" : ", ") + kv.first + "=" + py::repr(py::float_(kv.second)).cast<std::string>();
          first = false;
        }
        return s + ", epsilon=" + py::repr(py::float_(self.epsilon())).cast<std::string>() + ")";
      });
}

ppobr::PPOBRConfig make_ppobr_config(double eps0, double lambda1, double lambda2,
                                     std::int64_t window, const std::string& psi_mode,
                                     const py::object& entropy_ref, double entropy_floor,
                                     const py::object& eps_min, const py::object& eps_max) {
  ppobr::PPOBRConfig c;
  c.eps0 = eps0;
  c.lambda1 = lambda1;
  c.lambda2 = lambda2;
  c.window = window;
  c.psi_mode = ppobr::parse_psi_mode(psi_mode.c_str());
  c.entropy_ref = opt_real(entropy_ref, "entropy_ref");
  c.entropy_floor = entropy_floor;
  c.eps_min = opt_real(eps_min, "eps_min");
  c.eps_max = opt_real(eps_max, "eps_max");
  return c;
}


// ------------------------------------------------------------------------------------------
// clipped_surrogate's fast entry point: vectorcall argument parsing with interned names.

const char* const kSurrogateDoc =
    "clipped_surrogate(logp_new, logp_old, advantages, *, eps=None, eps_low=None, eps_high=None, "
    "dual_clip=None, entropy=None, mask=None, segment_ids=None, aggregation='token-mean', "
    "num_threads=0, out=None)\n--\n\n"
    R"doc(PPO's clipped surrogate, its gradient and its statistics in one fused pass.

With d = logp_new - logp_old, r = exp(d), clip(r) = clamp(r, 1 - eps_low, 1 + eps_high):

    obj_i = min(r_i A_i, clip(r_i) A_i)            (dual_clip c: obj_i = max(obj_i, c A_i) for A_i < 0)
    loss  = -sum_i s_i obj_i                       (s_i: aggregation weights, below)
    grad_i = d loss / d logp_new_i = -s_i A_i r_i  where the unclipped term is selected, else 0

Aggregation (mask weights w_i, default 1):
    "token-mean"           s_i = w_i / sum w
    "seq-mean-token-mean"  s_i = w_i / (W_seq(i) * S)   (mean per sequence, then over sequences)
    "seq-mean-token-sum"   s_i = w_i / S                (sum per sequence, then mean over sequences)
with sequences the rows of 2-D [batch, tokens] input or given by 1-D integer segment_ids
(labels >= 0: equal id, same sequence), and S the
number of sequences with positive weight.

Inputs are float32 or float64 arrays (one dtype for all), 1-D or 2-D, any strides. eps gives a
symmetric clip range; eps_low / eps_high an asymmetric one ("clip-higher"). The GIL is released;
num_threads=0 picks threads by batch size, and results do not depend on the thread count.
out: an optional C-contiguous array (logp_new's shape and dtype, no memory shared with the
inputs) that receives the gradient, so a training loop can reuse one buffer.

Returns a SurrogateResult: .loss, .grad, .stats (weighted means: entropy, ratio_mean, ratio_min,
ratio_max, clip_fraction, clip_fraction_low, clip_fraction_high, dual_clip_fraction, kl_k1 = -log r,
kl_k2 = (log r)^2 / 2, kl_k3 = (r - 1) - log r), and .sums / .counts for exact all-reduce.
Raises InvalidArgumentError (a ValueError) naming the argument for bad shapes, values or options,
and TypeError for bad dtypes.)doc";

constexpr int kSurrogatePositional = 3;
constexpr const char* kSurrogateArgs[] = {"logp_new", "logp_old",   "advantages",  "eps",
                                          "eps_low",  "eps_high",   "dual_clip",   "entropy",
                                          "mask",     "segment_ids", "aggregation", "num_threads",
                                          "out"};
constexpr int kSurrogateNumArgs = sizeof(kSurrogateArgs) / sizeof(kSurrogateArgs[0]);
PyObject* g_surrogate_arg_names[kSurrogateNumArgs] = {};

void init_surrogate_arg_names() {
  for (int i = 0; i < kSurrogateNumArgs; ++i)
    if (g_surrogate_arg_names[i] == nullptr) {
      g_surrogate_arg_names[i] = PyUnicode_InternFromString(kSurrogateArgs[i]);
      if (g_surrogate_arg_names[i] == nullptr) throw py::error_already_set();
    }
}

int surrogate_arg_index(PyObject* key) {
  for (int i = 0; i < kSurrogateNumArgs; ++i)
    if (key == g_surrogate_arg_names[i]) return i;  // the common case: interned keyword
  for (int i = 0; i < kSurrogateNumArgs; ++i) {
    int eq = PyObject_RichCompareBool(key, g_surrogate_arg_names[i], Py_EQ);
    if (eq < 0) throw py::error_already_set();
    if (eq == 1) return i;
  }
  return -1;
}


PyObject* fast_clipped_surrogate(PyObject*, PyObject* const* args, Py_ssize_t nargsf,
                                 PyObject* kwnames) {
  try {
    const Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if (nargs > kSurrogatePositional)
      throw py::type_error("clipped_surrogate() takes 3 positional arguments (logp_new, logp_old, "
                           "advantages); pass the others by keyword");
    PyObject* vals[kSurrogateNumArgs] = {};
    for (Py_ssize_t i = 0; i < nargs; ++i) vals[i] = args[i];
    const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; ++k) {
      PyObject* key = PyTuple_GET_ITEM(kwnames, k);
      int idx = surrogate_arg_index(key);
      if (idx < 0)
        throw py::type_error("clipped_surrogate() got an unexpected keyword argument '" +
                             py::str(key).cast<std::string>() + "'");
      if (vals[idx] != nullptr)
        throw py::type_error(std::string("clipped_surrogate() got multiple values for argument '") +
                             kSurrogateArgs[idx] + "'");
      vals[idx] = args[nargs + k];
    }
    for (int i = 0; i < kSurrogatePositional; ++i)
      if (vals[i] == nullptr)
        throw py::type_error(std::string("clipped_surrogate() missing required argument '") +
                             kSurrogateArgs[i] + "'");
    auto obj = [&](int i) {
      return py::reinterpret_borrow<py::object>(vals[i] != nullptr ? vals[i] : Py_None);
    };
    std::string aggregation = "token-mean";
    if (vals[10] != nullptr && vals[10] != Py_None) {
      if (!PyUnicode_Check(vals[10])) type_error("aggregation", "expected a string");
      aggregation = py::reinterpret_borrow<py::str>(vals[10]).cast<std::string>();
    }
    int num_threads = 0;
    if (vals[11] != nullptr && vals[11] != Py_None) {
      if (!PyLong_Check(vals[11]) || PyBool_Check(vals[11])) type_error("num_threads", "expected an int");
      long v = PyLong_AsLong(vals[11]);
      if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
      if (v < 0 || v > 4096) throw InvalidArgument("num_threads", "must be in [0, 4096] (0: automatic)");
      num_threads = static_cast<int>(v);
    }
    PySurrogateResult r = clipped_surrogate(
        obj(0), obj(1), obj(2), opt_real(obj(3), "eps"), opt_real(obj(4), "eps_low"),
        opt_real(obj(5), "eps_high"), opt_real(obj(6), "dual_clip"), obj(7), obj(8), obj(9),
        aggregation, num_threads, obj(12));
    return py::cast(std::move(r), py::return_value_policy::move).release().ptr();
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const InvalidArgument& e) {
    set_invalid_argument_error(e);
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  }
  return nullptr;
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "ppobr_core native module (private; use the ppobr_core package).";
  m.attr("__version__") = PPOBR_VERSION;

  PyObject* exc = invalid_argument_type();
  Py_INCREF(exc);
  m.attr("InvalidArgumentError") = py::handle(exc);
  py::register_exception_translator([](std::exception_ptr p) {
    try {
      if (p) std::rethrow_exception(p);
    } catch (const InvalidArgument& e) {
      set_invalid_argument_error(e);
    }
  });

  m.attr("STAT_NAMES") = py::tuple(py::cast(std::vector<std::string>(
      ppobr::kStatNames.begin(), ppobr::kStatNames.end())));

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

  // clipped_surrogate is registered as a METH_FASTCALL builtin (see fast_clipped_surrogate):
  // pybind11's generic keyword dispatch costs several microseconds per call, more than the
  // kernel itself at N = 1e3.
  static PyMethodDef surrogate_def[] = {
      {"clipped_surrogate", reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&fast_clipped_surrogate)),
       METH_FASTCALL | METH_KEYWORDS, kSurrogateDoc},
      {nullptr, nullptr, 0, nullptr}};
  init_surrogate_arg_names();
  if (PyModule_AddFunctions(m.ptr(), surrogate_def) != 0) throw py::error_already_set();

  m.def("categorical_logprob_entropy", &categorical_logprob_entropy, py::arg("logits"),
        py::arg("actions"), py::kw_only(), py::arg("num_threads") = 0,
        R"doc(Log-probability of the taken actions and entropy of a categorical policy, fused.

logits [N, A] float32/float64, actions [N] integers in [0, A). Returns (logp [N], entropy [N]):
    logp_i = logits[i, a_i] - logsumexp(logits[i])
    entropy_i = logsumexp(logits[i]) - sum_j softmax(logits[i])_j logits[i, j])doc");

  m.def("gaussian_entropy", &gaussian_entropy, py::arg("log_std"),
        R"doc(Entropy of diagonal Gaussians: sum_d log_std[..., d] + D (1 + log 2 pi) / 2.

log_std [N, D] gives [N] entropies; log_std [D] gives a 0-d array.)doc");

  // Controllers ---------------------------------------------------------------------------
  py::class_<ppobr::Controller>(m, "Controller",
                                "Base of the clip-range controllers (not constructible).");

  py::class_<ppobr::PPOBRController, ppobr::Controller> ppobr_cls(m, "PPOBRController", R"doc(
PPO-BR's adaptive clip range (Rahman, arXiv 2505.17714), with SPEC.md's default signals:

    eps_t = clip(eps0 (1 + lambda1 tanh(phi(H_t)) - lambda2 tanh(psi(z_t))), eps_min, eps_max)
    phi(H) = clip((H - entropy_floor) / (entropy_ref - entropy_floor), 0, 1)
    z = (mean(newer k/2 returns) - mean(older k/2)) / (std(last k returns) + 1e-8 (1 + |mean|))
    psi = 1 - tanh(|z|)  ("plateau": contract when returns stop moving)  or  clip(z, 0, 1)  ("progress")

psi is 0 until `window` (k) episode returns have been seen. entropy_ref defaults to the first
entropy observed (for n discrete actions, log(n) is the natural choice). Default bounds are the
paper's Lemma 1: eps_min = eps0 (1 - lambda2), eps_max = eps0 (1 + lambda1). lambda1 = lambda2 = 0
is plain PPO (eps0 exactly). Non-finite returns are dropped; an update with a non-finite entropy
is rejected whole (epsilon and state unchanged); both are counted in .diagnostics.)doc");
  ppobr_cls.def(py::init([](double eps0, double lambda1, double lambda2, std::int64_t window,
                            const std::string& psi_mode, const py::object& entropy_ref,
                            double entropy_floor, const py::object& eps_min,
                            const py::object& eps_max) {
                  return ppobr::PPOBRController(make_ppobr_config(
                      eps0, lambda1, lambda2, window, psi_mode, entropy_ref, entropy_floor,
                      eps_min, eps_max));
                }),
                py::arg("eps0") = 0.2, py::arg("lambda1") = 0.5, py::arg("lambda2") = 0.3,
                py::arg("window") = 10, py::arg("psi_mode") = "plateau",
                py::arg("entropy_ref") = py::none(), py::arg("entropy_floor") = 0.0,
                py::arg("eps_min") = py::none(), py::arg("eps_max") = py::none());
  common_controller_methods<ppobr::PPOBRController>(ppobr_cls);

  py::class_<ppobr::ConstantController, ppobr::Controller> const_cls(
      m, "ConstantController", "Plain PPO: a fixed clip range eps.");
  const_cls.def(py::init([](double eps) {
                  ppobr::ConstantConfig c;
                  c.eps = eps;
                  return ppobr::ConstantController(c);
                }),
                py::arg("eps") = 0.2);
  common_controller_methods<ppobr::ConstantController>(const_cls);

  py::class_<ppobr::LinearDecayController, ppobr::Controller> lin_cls(m, "LinearDecayController", R"doc(
Linear schedule: the t-th update (t = 0, 1, ...) returns
    eps_start + (eps_end - eps_start) * min(t, total_updates) / total_updates.)doc");
  lin_cls.def(py::init([](double eps_start, double eps_end, std::int64_t total_updates) {
                ppobr::LinearDecayConfig c;
                c.eps_start = eps_start;
                c.eps_end = eps_end;
                c.total_updates = total_updates;
                return ppobr::LinearDecayController(c);
              }),
              py::arg("eps_start") = 0.2, py::arg("eps_end") = 0.0, py::kw_only(),
              py::arg("total_updates"));
  common_controller_methods<ppobr::LinearDecayController>(lin_cls);

  py::class_<ppobr::KLAdaptiveController, ppobr::Controller> kl_cls(m, "KLAdaptiveController", R"doc(
KL-adaptive clip range: after an update whose measured KL exceeds kl_target * tolerance,
eps /= rate; below kl_target / tolerance, eps *= rate; then clip to [eps_min, eps_max].
update() requires kl=...; a non-finite kl leaves eps unchanged (counted).)doc");
  kl_cls.def(py::init([](double eps0, double kl_target, double tolerance, double rate,
                         double eps_min, double eps_max) {
               ppobr::KLAdaptiveConfig c;
               c.eps0 = eps0;
               c.kl_target = kl_target;
               c.tolerance = tolerance;
               c.rate = rate;
               c.eps_min = eps_min;
               c.eps_max = eps_max;
               return ppobr::KLAdaptiveController(c);
             }),
             py::arg("eps0") = 0.2, py::arg("kl_target") = 0.01, py::arg("tolerance") = 1.5,
             py::arg("rate") = 1.5, py::arg("eps_min") = 0.02, py::arg("eps_max") = 0.5);
  common_controller_methods<ppobr::KLAdaptiveController>(kl_cls);

  m.def(
      "load_controller",
      [](const py::object& state_dict) { return wrap_controller(controller_from_state(state_dict)); },
      py::arg("state_dict"),
      "Rebuilds whichever controller a state_dict() (or its 'state' bytes) holds.");
}

namespace {
py::object wrap_controller(std::unique_ptr<ppobr::Controller> c) {
  if (auto* p = dynamic_cast<ppobr::PPOBRController*>(c.get())) return py::cast(*p);
  if (auto* p = dynamic_cast<ppobr::ConstantController*>(c.get())) return py::cast(*p);
  if (auto* p = dynamic_cast<ppobr::LinearDecayController*>(c.get())) return py::cast(*p);
  if (auto* p = dynamic_cast<ppobr::KLAdaptiveController*>(c.get())) return py::cast(*p);
  throw InvalidArgument("state_dict", "unknown controller type");
}
}  // namespace
