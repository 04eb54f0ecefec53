// The per-instruction-set copies of the surrogate kernels and the run-time choice between
// them. kernel_exp.hpp and kernel_surrogate.hpp are compiled once per ISA below, each copy in
// its own namespace (see kernel_dispatch.hpp for why it is done this way); kernels_for() hands
// the front end (surrogate.cpp) the copy to call.

#include "surrogate_kernels.hpp"

#include <atomic>
#include <cstdint>
#include <type_traits>

#include "kernel_dispatch.hpp"
#include "kernel_job.hpp"
#include "kernel_simd.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"
#endif

// ---- the per-ISA copies of the kernels ------------------------------------------------------
namespace ppobr::detail {
namespace {

// The one-lane copy is only the fallback for compilers without vector extensions (GCC and
// Clang always have the 16-byte vector copy).
#if !PPOBR_HAVE_VECTOR_EXT
namespace isa_scalar {
template <class T>
using Ops = simd_scalar::Ops<T>;
#include "kernel_exp.hpp"
#include "kernel_surrogate.hpp"
}  // namespace isa_scalar
#endif

#if PPOBR_HAVE_VECTOR_EXT
namespace isa_vector {
template <class T>
using Ops = simd_vec::Ops<T>;
#include "kernel_exp.hpp"
#include "kernel_surrogate.hpp"
}  // namespace isa_vector
#endif

#if PPOBR_HAVE_AVX2_CLONE
PPOBR_AVX2_REGION_BEGIN
namespace isa_avx2 {
template <class T>
using Ops = simd_avx2::Ops<T>;
#include "kernel_exp.hpp"
#include "kernel_surrogate.hpp"
}  // namespace isa_avx2
PPOBR_AVX2_REGION_END
#endif

}  // namespace
}  // namespace ppobr::detail

// ---- ISA selection --------------------------------------------------------------------------
namespace ppobr::detail {

namespace {
std::atomic<int> g_forced_isa{-1};

Isa best_isa() noexcept {
#if PPOBR_HAVE_AVX2_CLONE
  static const bool avx2 = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  }();
  if (avx2) return Isa::Avx2;
#endif
#if PPOBR_HAVE_VECTOR_EXT
  return Isa::Vector;
#else
  return Isa::Scalar;
#endif
}
}  // namespace

bool isa_supported(Isa isa) noexcept {
  switch (isa) {
    case Isa::Scalar:
      return PPOBR_HAVE_VECTOR_EXT == 0;
    case Isa::Vector:
      return PPOBR_HAVE_VECTOR_EXT != 0;
    case Isa::Avx2:
      return best_isa() == Isa::Avx2;
  }
  return false;
}

Isa active_isa() noexcept {
  const int f = g_forced_isa.load(std::memory_order_relaxed);
  if (f >= 0) return static_cast<Isa>(f);
  return best_isa();
}

void force_isa(int isa) noexcept {
  if (isa >= 0 && !isa_supported(static_cast<Isa>(isa))) isa = -1;
  g_forced_isa.store(isa, std::memory_order_relaxed);
}

template <class T, class F>
void exp_modes(F&& f, ExpMode mode) {
  if (mode == kExpK0)
    f(std::integral_constant<int, kExpK0>{});
  else if (mode == kExpFast)
    f(std::integral_constant<int, kExpFast>{});
  else
    f(std::integral_constant<int, kExpSafe>{});
}

template <class T>
void exp_array(const T* x, T* y, std::int64_t n, Isa isa, ExpMode mode) {
  switch (isa) {
#if PPOBR_HAVE_AVX2_CLONE
    case Isa::Avx2:
      if (isa_supported(Isa::Avx2)) {
        exp_modes<T>([&](auto m) { isa_avx2::exp_array_impl<T, decltype(m)::value>(x, y, n); },
                     mode);
        return;
      }
      break;
#endif
#if PPOBR_HAVE_VECTOR_EXT
    case Isa::Vector:
      exp_modes<T>([&](auto m) { isa_vector::exp_array_impl<T, decltype(m)::value>(x, y, n); },
                   mode);
      return;
#endif
    default:
      break;
  }
#if PPOBR_HAVE_VECTOR_EXT
  exp_modes<T>([&](auto m) { isa_vector::exp_array_impl<T, decltype(m)::value>(x, y, n); }, mode);
#else
  exp_modes<T>([&](auto m) { isa_scalar::exp_array_impl<T, decltype(m)::value>(x, y, n); }, mode);
#endif
}

template void exp_array<float>(const float*, float*, std::int64_t, Isa, ExpMode);
template void exp_array<double>(const double*, double*, std::int64_t, Isa, ExpMode);

template <class T>
Kernels<T> kernels_for(Isa isa) noexcept {
  switch (isa) {
#if PPOBR_HAVE_AVX2_CLONE
    case Isa::Avx2:
      return {&isa_avx2::run_block<T>, &isa_avx2::mask_range<T>, &isa_avx2::exp_one<T>};
#endif
#if PPOBR_HAVE_VECTOR_EXT
    default:
      return {&isa_vector::run_block<T>, &isa_vector::mask_range<T>, &isa_vector::exp_one<T>};
#else
    default:
      return {&isa_scalar::run_block<T>, &isa_scalar::mask_range<T>, &isa_scalar::exp_one<T>};
#endif
  }
}

template Kernels<float> kernels_for<float>(Isa) noexcept;
template Kernels<double> kernels_for<double>(Isa) noexcept;

}  // namespace ppobr::detail
