// Private to ppobr_core._core: clipped_surrogate's conversion of NumPy inputs into the
// core's views and options, and its result type. The Python entry point that parses the
// arguments is surrogate_fast_path.cpp.
#pragma once

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include <optional>
#include <string>

#include "ppobr/surrogate.hpp"

namespace ppobr_binding {

namespace py = pybind11;

struct PySurrogateResult {
  double loss = 0.0;
  py::array grad;
  ppobr::SurrogateStats stats;
  std::string aggregation;

  py::dict named(int which) const;  // 0: means, 1: sums, 2: counts
};

// The whole call with its arguments already unpacked (None: not given). Checks dtypes
// (TypeError), shapes and options (InvalidArgumentError), releases the GIL around the kernel.
PySurrogateResult clipped_surrogate(const py::object& logp_new, const py::object& logp_old,
                                    const py::object& advantages, std::optional<double> eps,
                                    std::optional<double> eps_low, std::optional<double> eps_high,
                                    std::optional<double> dual_clip, const py::object& entropy,
                                    const py::object& mask, const py::object& segment_ids,
                                    const std::string& aggregation, int num_threads,
                                    const py::object& out);

// Registers the SurrogateResult class.
void bind_surrogate_result(py::module_& m);

}  // namespace ppobr_binding
