// Private: runtime choice of the instruction set the kernels run with.
//
// The library is compiled for the baseline of the target (no -march=native). The hot loops are
// compiled several times (kernel_simd.hpp lists the operation sets): the x86-64 AVX2+FMA copy
// is placed in a region compiled with target("avx2,fma") (PPOBR_AVX2_REGION_BEGIN/END below)
// and is only entered when the CPU reports AVX2 and FMA (__builtin_cpu_supports, which also
// checks that the OS saves the YMM state). Every copy lives in its own namespace inside an
// unnamed namespace, so no inline function compiled for AVX2 can be merged by the linker with
// a baseline copy of the same name.
#pragma once

#include <cstdint>

#include "kernel_simd.hpp"

#if PPOBR_HAVE_AVX2_CLONE
#if defined(__clang__)
#define PPOBR_AVX2_REGION_BEGIN \
  _Pragma("clang attribute push(__attribute__((target(\"avx2,fma\"))), apply_to = function)")
#define PPOBR_AVX2_REGION_END _Pragma("clang attribute pop")
#else
#define PPOBR_AVX2_REGION_BEGIN _Pragma("GCC push_options") _Pragma("GCC target(\"avx2,fma\")")
#define PPOBR_AVX2_REGION_END _Pragma("GCC pop_options")
#endif
#endif

namespace ppobr::detail {

enum class Isa : int {
  Scalar = 0,  // one lane, plain C++
  Vector = 1,  // 16-byte GCC/Clang vectors (SSE2 / NEON); absent on other compilers
  Avx2 = 2,    // x86-64 AVX2 + FMA
};

// Whether this build contains the copy for `isa` and the CPU can run it.
bool isa_supported(Isa isa) noexcept;
// The ISA the kernels use now: the forced one if set (tests), else the best supported one.
Isa active_isa() noexcept;
// Tests: force an ISA (must be supported), or pass -1 to go back to automatic choice.
void force_isa(int isa) noexcept;

// Tests: y[i] = exp(x[i]) with the kernels' own vectorised exp for the given ISA and variant
// (ExpMode: kExpSafe for any x; kExpFast and kExpK0 only inside their ranges, see
// kernel_simd.hpp).
template <class T>
void exp_array(const T* x, T* y, std::int64_t n, Isa isa, ExpMode mode = kExpSafe);

}  // namespace ppobr::detail
