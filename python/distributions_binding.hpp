// Private to ppobr_core._core: the fused policy helpers categorical_logprob_entropy and
// gaussian_entropy (the math is in cpp/src/distributions.cpp).
#pragma once

#include <pybind11/pybind11.h>

namespace ppobr_binding {

void bind_distributions(pybind11::module_& m);

}  // namespace ppobr_binding
