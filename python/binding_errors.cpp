// C++ exceptions to Python exceptions, for every entry point of ppobr_core._core.

#include "binding_errors.hpp"

#include <new>
#include <stdexcept>

namespace ppobr_binding {

PyObject* invalid_argument_type() {
  static PyObject* type = PyErr_NewExceptionWithDoc(
      "ppobr_core.InvalidArgumentError",
      "A bad argument or config value. A ValueError; `.argument` names the argument at fault.",
      PyExc_ValueError, nullptr);
  return type;
}

namespace {

void set_invalid_argument_error(const ppobr::InvalidArgument& e) {
  PyObject* type = invalid_argument_type();
  py::object inst = py::reinterpret_borrow<py::object>(type)(e.what());
  inst.attr("argument") = e.argument();
  PyErr_SetObject(type, inst.ptr());
}

}  // namespace

void set_python_error(std::exception_ptr p) {
  // The order matters: InvalidArgument is a std::invalid_argument, and pybind11's
  // builtin_exception a std::runtime_error.
  try {
    std::rethrow_exception(p);
  } catch (py::error_already_set& e) {
    e.restore();
  } catch (const py::builtin_exception& e) {
    e.set_error();
  } catch (const ppobr::InvalidArgument& e) {
    try {
      set_invalid_argument_error(e);
    } catch (py::error_already_set& inner) {  // (only if building the exception itself failed)
      inner.restore();
    }
  } catch (const std::bad_alloc&) {
    PyErr_SetString(PyExc_MemoryError, "std::bad_alloc");
  } catch (const std::domain_error& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::invalid_argument& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::length_error& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::out_of_range& e) {
    PyErr_SetString(PyExc_IndexError, e.what());
  } catch (const std::range_error& e) {
    PyErr_SetString(PyExc_ValueError, e.what());
  } catch (const std::overflow_error& e) {
    PyErr_SetString(PyExc_OverflowError, e.what());
  } catch (const std::exception& e) {
    PyErr_SetString(PyExc_RuntimeError, e.what());
  } catch (...) {
    PyErr_SetString(PyExc_RuntimeError, "unknown C++ exception");
  }
}

void register_error_translation(py::module_& m) {
  PyObject* exc = invalid_argument_type();
  Py_INCREF(exc);
  m.attr("InvalidArgumentError") = py::handle(exc);
  py::register_exception_translator([](std::exception_ptr p) {
    if (p) set_python_error(p);
  });
}

void type_error(const std::string& arg, const std::string& msg) {
  throw py::type_error(arg + ": " + msg);
}

std::string type_name(const py::handle& obj) {
  return py::str(py::type::of(obj).attr("__name__")).cast<std::string>();
}

}  // namespace ppobr_binding
