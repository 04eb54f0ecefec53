// categorical_logprob_entropy and gaussian_entropy: NumPy in, NumPy out, the GIL released
// around the kernels.

#include "distributions_binding.hpp"

#include <pybind11/numpy.h>

#include <cstdint>
#include <utility>

#include "binding_arguments.hpp"
#include "binding_arrays.hpp"
#include "binding_errors.hpp"
#include "ppobr/distributions.hpp"
#include "ppobr/errors.hpp"

namespace ppobr_binding {

namespace {

using ppobr::InvalidArgument;

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

}  // namespace

void bind_distributions(py::module_& m) {
  m.def(
      "categorical_logprob_entropy",
      [](const py::args& args, const py::kwargs& kwargs) {
        static const Signature sig{"categorical_logprob_entropy",
                                   {"logits", "actions", "num_threads"},
                                   2,
                                   {"logits", "actions"}};
        const auto a = bind_arguments(sig, args, kwargs);
        std::int64_t threads = int_or(a[2], "num_threads", 0);
        if (threads > 4096)
          throw InvalidArgument("num_threads", "must be in [0, 4096] (0: automatic)");
        if (threads < 0) threads = -1;  // rejected, with its message, below
        return categorical_logprob_entropy(a[0], a[1], static_cast<int>(threads));
      },
      R"doc(categorical_logprob_entropy(logits, actions, *, num_threads=0)

Log-probability of the taken actions and entropy of a categorical policy, fused.

logits [N, A] float32/float64, actions [N] integers in [0, A). Returns (logp [N], entropy [N]):
    logp_i = logits[i, a_i] - logsumexp(logits[i])
    entropy_i = logsumexp(logits[i]) - sum_j softmax(logits[i])_j logits[i, j])doc");

  m.def(
      "gaussian_entropy",
      [](const py::args& args, const py::kwargs& kwargs) {
        static const Signature sig{"gaussian_entropy", {"log_std"}, 1, {"log_std"}};
        return gaussian_entropy(bind_arguments(sig, args, kwargs)[0]);
      },
      R"doc(gaussian_entropy(log_std)

Entropy of diagonal Gaussians: sum_d log_std[..., d] + D (1 + log 2 pi) / 2.

log_std [N, D] gives [N] entropies; log_std [D] gives a 0-d array.)doc");
}

}  // namespace ppobr_binding
