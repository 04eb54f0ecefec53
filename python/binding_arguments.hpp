// Private to ppobr_core._core: Python arguments to C++ values with the error model's
// messages, so that no call ever answers with pybind11's "incompatible function arguments":
// every constructor and method takes (*args, **kwargs) and binds them with bind_arguments.
#pragma once

#include <pybind11/pybind11.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace ppobr_binding {

namespace py = pybind11;

// A Python signature: parameter names in order, how many may be given by position (the rest
// are keyword-only) and how many leading parameters are required.
struct Signature {
  const char* function;  // e.g. "LinearDecayController" (for the messages)
  std::vector<const char*> names;
  std::size_t num_positional;
  std::vector<const char*> required;  // names that must be given
};

// The arguments by parameter, in the signature's order; a parameter not given is a null
// handle (so that an explicit None can be told apart). Raises TypeError:
//   "<name>: is required", "<name>: is keyword-only (<function>(<signature>))",
//   "<name>: unexpected argument of <function>()", "<name>: given twice (by position and by
//   keyword)".
std::vector<py::object> bind_arguments(const Signature& sig, const py::args& args,
                                       const py::kwargs& kwargs);

// Real numbers only (Python, NumPy and 0-d array/tensor scalars): float("1.5") would parse a
// string. TypeError "<arg>: expected a real number, got <type>".
double as_real(const py::handle& obj, const char* arg);
// None or not given -> nullopt.
std::optional<double> opt_real(const py::handle& obj, const char* arg);
// Not given -> fallback; None is a wrong type.
double real_or(const py::handle& obj, const char* arg, double fallback);
// Integers only (int, NumPy integers; not bool, not float). TypeError "<arg>: expected an integer,
// got <type>".
std::int64_t int_or(const py::handle& obj, const char* arg, std::int64_t fallback);
// str only. TypeError "<arg>: expected a string, got <type>".
std::string string_or(const py::handle& obj, const char* arg, const std::string& fallback);

// A controller's entropy observation: None or not given (absent), a real number, or a 1-D
// array / list / tuple of per-step entropies, whose arithmetic mean is used: the float64 sum
// by numpy.add.reduce, divided by the count. InvalidArgumentError for an empty array or more
// than one dimension; TypeError for anything else.
std::optional<double> entropy_observation(const py::handle& obj);

}  // namespace ppobr_binding
