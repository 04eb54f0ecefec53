// Private to ppobr_core._core: clipped_surrogate's Python entry point, a METH_FASTCALL
// builtin with its own argument parsing (interned keyword names). pybind11's generic keyword
// dispatch costs several microseconds per call, more than the kernel itself at N = 1e3.
#pragma once

#include <pybind11/pybind11.h>

namespace ppobr_binding {

// Adds clipped_surrogate (with its docstring) to module m.
void add_clipped_surrogate(pybind11::module_& m);

}  // namespace ppobr_binding
