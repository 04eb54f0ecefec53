// ppobr_core._core: the one binding module. Each part lives in a file of its own:
//   binding_errors     C++ exceptions -> Python (InvalidArgumentError, TypeError, ...)
//   binding_arrays     NumPy arrays -> the core's strided views, dtype checks
//   binding_arguments  Python values -> C++ values, argument binding without pybind11's
//                      "incompatible arguments" answers, the controllers' entropy observation
//   surrogate_binding  clipped_surrogate's conversion and its SurrogateResult
//   surrogate_fast_path clipped_surrogate's METH_FASTCALL entry point
//   distributions_binding, controllers_binding
// All math lives in cpp/.
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <string>
#include <vector>

#include "binding_errors.hpp"
#include "controllers_binding.hpp"
#include "distributions_binding.hpp"
#include "ppobr/surrogate.hpp"
#include "surrogate_binding.hpp"
#include "surrogate_fast_path.hpp"

namespace py = pybind11;

PYBIND11_MODULE(_core, m) {
  m.doc() = "ppobr_core native module (private; use the ppobr_core package).";
  m.attr("__version__") = PPOBR_VERSION;
  ppobr_binding::register_error_translation(m);
  m.attr("STAT_NAMES") = py::tuple(
      py::cast(std::vector<std::string>(ppobr::kStatNames.begin(), ppobr::kStatNames.end())));
  ppobr_binding::bind_surrogate_result(m);
  ppobr_binding::add_clipped_surrogate(m);
  ppobr_binding::bind_distributions(m);
  ppobr_binding::bind_controllers(m);
}
