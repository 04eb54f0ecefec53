// Private to ppobr_core._core: how C++ exceptions become Python exceptions. One translation
// serves both the pybind11-registered functions and the hand-written fast path.
#pragma once

#include <pybind11/pybind11.h>

#include <exception>
#include <string>

#include "ppobr/errors.hpp"

namespace ppobr_binding {

namespace py = pybind11;

// ppobr_core.InvalidArgumentError: a ValueError that also carries .argument.
PyObject* invalid_argument_type();

// Sets the Python error for the C++ exception p (InvalidArgument -> InvalidArgumentError with
// .argument; pybind11's own errors as they are; std exceptions as pybind11 maps them).
void set_python_error(std::exception_ptr p);

// Installs set_python_error as a pybind11 exception translator and exports
// InvalidArgumentError from module m.
void register_error_translation(py::module_& m);

// TypeError "<arg>: <msg>" (the error model's message form).
[[noreturn]] void type_error(const std::string& arg, const std::string& msg);

// The name the error messages use for the type of obj, e.g. "str", "ndarray", "NoneType".
std::string type_name(const py::handle& obj);

}  // namespace ppobr_binding
