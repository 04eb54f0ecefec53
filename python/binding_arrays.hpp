// Private to ppobr_core._core: NumPy arrays to the core's strided views, with the dtype
// checks of the error model (TypeError "<arg>: expected a float32 or float64 array, got ...").
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <cstdint>
#include <string>

#include "ppobr/surrogate.hpp"

namespace ppobr_binding {

namespace py = pybind11;

enum class Float { F32, F64 };

// obj itself when it is an ndarray, else np.asarray(obj).
py::array as_array(const py::handle& obj);

std::string dtype_str(const py::array& a);

// float32 / float64, else TypeError naming arg (non-native byte order too).
Float float_kind(const py::array& a, const char* arg);

// Strides must be whole elements for a View2D; anything else (rare: unaligned views) is copied.
py::array element_strided(py::array a);

// A 1-D array is the view rows = 1, row_stride = 0 (View2D's convention); 2-D keeps its strides.
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

}  // namespace ppobr_binding
