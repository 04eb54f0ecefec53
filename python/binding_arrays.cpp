// NumPy arrays to the core's strided views (see binding_arrays.hpp).

#include "binding_arrays.hpp"

#include <utility>

#include "binding_errors.hpp"

namespace ppobr_binding {

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

py::array element_strided(py::array a) {
  for (py::ssize_t d = 0; d < a.ndim(); ++d)
    if (a.strides(d) % a.itemsize() != 0)
      return py::reinterpret_steal<py::array>(
          py::module_::import("numpy").attr("ascontiguousarray")(a).release());
  return a;
}

}  // namespace ppobr_binding
