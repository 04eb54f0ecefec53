// Private to ppobr_core._core: the clip-range controllers (the math is in
// cpp/src/controllers.cpp) and load_controller.
#pragma once

#include <pybind11/pybind11.h>

namespace ppobr_binding {

void bind_controllers(pybind11::module_& m);

}  // namespace ppobr_binding
