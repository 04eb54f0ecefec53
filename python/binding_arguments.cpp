// Python arguments to C++ values with the error model's messages (see binding_arguments.hpp).

#include "binding_arguments.hpp"

#include <pybind11/numpy.h>

#include <cstring>

#include "binding_arrays.hpp"
#include "binding_errors.hpp"
#include "ppobr/errors.hpp"

namespace ppobr_binding {

namespace {

std::string signature_text(const Signature& sig) {
  std::string s = std::string(sig.function) + "(";
  for (std::size_t i = 0; i < sig.names.size(); ++i) {
    if (i > 0) s += ", ";
    if (i == sig.num_positional) s += "*, ";
    s += sig.names[i];
  }
  return s + ")";
}

std::size_t index_of(const Signature& sig, const char* name) {
  for (std::size_t i = 0; i < sig.names.size(); ++i)
    if (std::strcmp(sig.names[i], name) == 0) return i;
  return sig.names.size();
}

bool given(const py::handle& obj) { return obj.ptr() != nullptr; }

}  // namespace

std::vector<py::object> bind_arguments(const Signature& sig, const py::args& args,
                                       const py::kwargs& kwargs) {
  std::vector<py::object> out(sig.names.size());
  const std::size_t nargs = args.size();
  if (nargs > sig.num_positional) {
    if (nargs > sig.names.size() || sig.num_positional == sig.names.size())
      type_error(sig.function, "takes at most " + std::to_string(sig.num_positional) +
                                   " positional arguments, got " + std::to_string(nargs) + " (" +
                                   signature_text(sig) + ")");
    type_error(sig.names[sig.num_positional], "is keyword-only (" + signature_text(sig) + ")");
  }
  for (std::size_t i = 0; i < nargs; ++i) out[i] = args[i];
  for (auto kv : kwargs) {
    const std::string key = py::str(kv.first).cast<std::string>();
    const std::size_t i = index_of(sig, key.c_str());
    if (i == sig.names.size())
      type_error(key, "unexpected keyword argument of " + signature_text(sig));
    if (given(out[i])) type_error(key, "given twice (by position and by keyword)");
    out[i] = py::reinterpret_borrow<py::object>(kv.second);
  }
  for (const char* name : sig.required)
    if (!given(out[index_of(sig, name)])) type_error(name, "is required");
  return out;
}

double as_real(const py::handle& obj, const char* arg) {
  if (!PyNumber_Check(obj.ptr())) type_error(arg, "expected a real number, got " + type_name(obj));
  try {
    return py::float_(py::reinterpret_borrow<py::object>(obj)).cast<double>();
  } catch (py::error_already_set&) {
    type_error(arg, "expected a real number, got " + type_name(obj));
  }
}

std::optional<double> opt_real(const py::handle& obj, const char* arg) {
  if (!given(obj) || obj.is_none()) return std::nullopt;
  return as_real(obj, arg);
}

double real_or(const py::handle& obj, const char* arg, double fallback) {
  if (!given(obj)) return fallback;
  return as_real(obj, arg);
}

std::int64_t int_or(const py::handle& obj, const char* arg, std::int64_t fallback) {
  if (!given(obj)) return fallback;
  // bool is an int in Python, but window=True is a mistake; floats (even 10.0) are refused.
  if (PyBool_Check(obj.ptr()) || PyFloat_Check(obj.ptr()) || !PyIndex_Check(obj.ptr()))
    type_error(arg, "expected an integer, got " + type_name(obj));
  py::object index = py::reinterpret_steal<py::object>(PyNumber_Index(obj.ptr()));
  if (!index) {
    PyErr_Clear();
    type_error(arg, "expected an integer, got " + type_name(obj));
  }
  int overflow = 0;
  const long long v = PyLong_AsLongLongAndOverflow(index.ptr(), &overflow);
  if (overflow != 0)
    throw ppobr::InvalidArgument(
        arg, "outside the int64 range, got " + py::repr(index).cast<std::string>());
  if (v == -1 && PyErr_Occurred()) throw py::error_already_set();
  return static_cast<std::int64_t>(v);
}

std::string string_or(const py::handle& obj, const char* arg, const std::string& fallback) {
  if (!given(obj)) return fallback;
  if (!PyUnicode_Check(obj.ptr())) type_error(arg, "expected a string, got " + type_name(obj));
  return obj.cast<std::string>();
}

std::optional<double> entropy_observation(const py::handle& obj) {
  const char* arg = "entropy";
  if (!given(obj) || obj.is_none()) return std::nullopt;
  const std::string wrong = "expected a real number or a 1-D array of them, got ";
  if (PyUnicode_Check(obj.ptr()) || PyBytes_Check(obj.ptr()))
    type_error(arg, wrong + type_name(obj));
  // the common case, a Python number, without touching numpy
  if (PyFloat_Check(obj.ptr()) || PyLong_Check(obj.ptr())) return as_real(obj, arg);
  py::module_ np = py::module_::import("numpy");
  const bool array_like =
      PyList_Check(obj.ptr()) || PyTuple_Check(obj.ptr()) || py::isinstance<py::array>(obj) ||
      (py::hasattr(obj, "__array__") && !py::isinstance(obj, np.attr("generic")));
  if (!array_like) return as_real(obj, arg);
  py::array a;
  try {
    a = py::reinterpret_steal<py::array>(np.attr("asarray")(obj).release());
  } catch (py::error_already_set&) {
    type_error(arg, wrong + type_name(obj));
  }
  const char kind = a.dtype().kind();
  if (kind == 'b' || kind == 'c')
    type_error(arg, "expected real numbers, got a " + dtype_str(a) + " array");
  if (kind != 'f' && kind != 'i' && kind != 'u') type_error(arg, wrong + type_name(obj));
  if (a.ndim() > 1)
    throw ppobr::InvalidArgument(arg, "expected a number or a 1-D array of per-step values, got " +
                                          std::to_string(a.ndim()) + " dimensions");
  if (a.ndim() == 1 && a.size() == 0)
    throw ppobr::InvalidArgument(arg,
                                 "empty array (pass a number or at least one per-step entropy)");
  py::object a64 = a.attr("astype")("float64");
  if (a.ndim() == 0) return py::float_(a64).cast<double>();
  // The same mean as ppobr_torch's: numpy's float64 sum, divided by the count.
  // A NaN/Inf step, or a sum past float64, makes the mean non-finite: that is the NaN policy's
  // case (the update is skipped and counted), not something to warn about.
  py::object quiet = np.attr("errstate")(py::arg("invalid") = "ignore", py::arg("over") = "ignore");
  quiet.attr("__enter__")();
  py::object total;
  try {
    total = np.attr("add").attr("reduce")(a64);
  } catch (...) {
    quiet.attr("__exit__")(py::none(), py::none(), py::none());
    throw;
  }
  quiet.attr("__exit__")(py::none(), py::none(), py::none());
  const double sum = py::float_(total).cast<double>();
  return sum / static_cast<double>(a.size());
}

}  // namespace ppobr_binding
