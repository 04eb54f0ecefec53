// clipped_surrogate's fast entry point: vectorcall argument parsing with interned names,
// then the conversion in surrogate_binding.cpp; errors go through the one translation of
// binding_errors.cpp.

#include "surrogate_fast_path.hpp"

#include <exception>
#include <string>
#include <utility>

#include "binding_arguments.hpp"
#include "binding_errors.hpp"
#include "ppobr/errors.hpp"
#include "surrogate_binding.hpp"

namespace ppobr_binding {

namespace {

using ppobr::InvalidArgument;

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
(labels >= 0: equal id, same sequence; required by the seq-mean aggregations of a 1-D batch),
and S the number of sequences with positive weight.

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
constexpr const char* kSurrogateArgs[] = {
    "logp_new", "logp_old", "advantages",  "eps",         "eps_low",     "eps_high", "dual_clip",
    "entropy",  "mask",     "segment_ids", "aggregation", "num_threads", "out"};
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
      type_error(kSurrogateArgs[kSurrogatePositional],
                 "is keyword-only (clipped_surrogate takes 3 positional arguments: logp_new, "
                 "logp_old, advantages; pass the others by keyword)");
    PyObject* vals[kSurrogateNumArgs] = {};
    for (Py_ssize_t i = 0; i < nargs; ++i) vals[i] = args[i];
    const Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t k = 0; k < nkw; ++k) {
      PyObject* key = PyTuple_GET_ITEM(kwnames, k);
      int idx = surrogate_arg_index(key);
      if (idx < 0)
        type_error(py::str(key).cast<std::string>(),
                   "unexpected keyword argument of clipped_surrogate()");
      if (vals[idx] != nullptr)
        type_error(kSurrogateArgs[idx], "given twice (by position and by keyword)");
      vals[idx] = args[nargs + k];
    }
    for (int i = 0; i < kSurrogatePositional; ++i)
      if (vals[i] == nullptr) type_error(kSurrogateArgs[i], "is required");
    auto obj = [&](int i) {
      return py::reinterpret_borrow<py::object>(vals[i] != nullptr ? vals[i] : Py_None);
    };
    std::string aggregation = "token-mean";
    if (vals[10] != nullptr && vals[10] != Py_None) {
      if (!PyUnicode_Check(vals[10]))
        type_error("aggregation", "expected a string, got " + type_name(vals[10]));
      aggregation = py::reinterpret_borrow<py::str>(vals[10]).cast<std::string>();
    }
    int num_threads = 0;
    if (vals[11] != nullptr && vals[11] != Py_None) {
      if (!PyLong_Check(vals[11]) || PyBool_Check(vals[11]))
        type_error("num_threads", "expected an integer, got " + type_name(vals[11]));
      long v = PyLong_AsLong(vals[11]);
      if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
      if (v < 0 || v > 4096)
        throw InvalidArgument("num_threads", "must be in [0, 4096] (0: automatic)");
      num_threads = static_cast<int>(v);
    }
    PySurrogateResult r = clipped_surrogate(
        obj(0), obj(1), obj(2), opt_real(obj(3), "eps"), opt_real(obj(4), "eps_low"),
        opt_real(obj(5), "eps_high"), opt_real(obj(6), "dual_clip"), obj(7), obj(8), obj(9),
        aggregation, num_threads, obj(12));
    return py::cast(std::move(r), py::return_value_policy::move).release().ptr();
  } catch (...) {
    set_python_error(std::current_exception());
  }
  return nullptr;
}

}  // namespace

void add_clipped_surrogate(py::module_& m) {
  static PyMethodDef surrogate_def[] = {
      {"clipped_surrogate",
       reinterpret_cast<PyCFunction>(reinterpret_cast<void (*)()>(&fast_clipped_surrogate)),
       METH_FASTCALL | METH_KEYWORDS, kSurrogateDoc},
      {nullptr, nullptr, 0, nullptr}};
  init_surrogate_arg_names();
  if (PyModule_AddFunctions(m.ptr(), surrogate_def) != 0) throw py::error_already_set();
}

}  // namespace ppobr_binding
