// Timing harness for the fused surrogate kernel (not a test; built by hand):
//   cmake --build build/kernel --target ppobr_core
//   g++ -O2 -std=c++17 -Icpp/include cpp/bench/bench_surrogate.cpp build/kernel/cpp/libppobr_core.a
//   \
//       -lpthread -o build/bench_surrogate && build/bench_surrogate [threads]
// Prints ns/element (best of many short repetitions: the machine may be shared) for N = 1e3 ..
// 1e7, float32 and float64, token-mean, no mask, gradient on, for two kinds of data:
//   realistic: logp_new = logp_old + 0.15 N(0,1), entropy given (benchmarks/kernels.py's data:
//              |d| < ln2 almost everywhere, where the kernel's exp needs no range reduction)
//   far:       logp_new = logp_old + 1.0 N(0,1), no entropy (the general exp almost everywhere)
// then a few variants (mask, strided, seq-mean) of the realistic data.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <random>
#include <string>
#include <vector>

#include "ppobr/surrogate.hpp"

using namespace ppobr;

static double g_spread = 0.1;

template <class T>
struct Data {
  std::vector<T> lpn, lpo, adv, ent, mask, grad;
  explicit Data(std::int64_t n) : lpn(n), lpo(n), adv(n), ent(n), mask(n), grad(n) {
    std::mt19937_64 g(42);
    std::normal_distribution<double> nd;
    for (std::int64_t i = 0; i < n; ++i) {
      lpo[i] = T(-1.0 - std::abs(nd(g)));
      lpn[i] = T(lpo[i] + g_spread * nd(g));
      adv[i] = T(nd(g));
      ent[i] = T(std::abs(nd(g)));
      mask[i] = T((g() % 10) != 0);
    }
  }
};

template <class T>
View2D<T> v1(const std::vector<T>& x, std::int64_t n, std::int64_t stride = 1) {
  View2D<T> v;
  v.data = x.data();
  v.rows = 1;
  v.cols = n;
  v.row_stride = 0;
  v.col_stride = stride;
  return v;
}

template <class T>
double bench(std::int64_t n, int threads, bool use_mask, bool use_ent, int stride = 1,
             Aggregation agg = Aggregation::TokenMean, std::int64_t rows = 1) {
  Data<T> d(n * stride);
  SurrogateInputs<T> in;
  in.logp_new = v1(d.lpn, n, stride);
  in.logp_old = v1(d.lpo, n, stride);
  in.advantages = v1(d.adv, n, stride);
  if (use_ent) in.entropy = v1(d.ent, n, stride);
  if (use_mask) in.mask = v1(d.mask, n, stride);
  if (rows > 1) {
    for (View2D<T>* v : {&in.logp_new, &in.logp_old, &in.advantages, &in.entropy, &in.mask}) {
      v->rows = rows;
      v->cols = n / rows;
      v->row_stride = v->cols * stride;
    }
  }
  SurrogateOptions opt;
  opt.num_threads = threads;
  opt.aggregation = agg;
  // many short samples, best one: the machine is shared, the minimum is the stable number
  const std::int64_t target = 2000000;  // elements per timing sample
  const int reps = static_cast<int>(std::max<std::int64_t>(1, target / n));
  double best = 1e30;
  volatile double sink = 0;
  for (int s = 0; s < 40; ++s) {
    auto t0 = std::chrono::steady_clock::now();
    for (int r = 0; r < reps; ++r) sink = sink + clipped_surrogate<T>(in, opt, d.grad.data()).loss;
    auto t1 = std::chrono::steady_clock::now();
    best = std::min(best, std::chrono::duration<double, std::nano>(t1 - t0).count() / reps);
  }
  return best;
}

int main(int argc, char** argv) {
  int threads = argc > 1 ? std::atoi(argv[1]) : 1;
  std::printf("threads=%d (0 = auto)\n", threads);
  for (double spread : {0.15, 1.0}) {
    g_spread = spread;
    const bool ent = spread < 0.5;
    std::printf("d = logp_new - logp_old ~ %.2f N(0,1)%s:\n", spread, ent ? ", with entropy" : "");
    std::printf("%10s %14s %14s %14s %14s\n", "N", "f32 ns/elem", "f32 us/call", "f64 ns/elem",
                "f64 us/call");
    for (std::int64_t n : {1000LL, 10000LL, 100000LL, 1000000LL, 10000000LL}) {
      double f = bench<float>(n, threads, false, ent);
      double dd = bench<double>(n, threads, false, ent);
      std::printf("%10lld %14.3f %14.3f %14.3f %14.3f\n", (long long)n, f / n, f / 1000, dd / n,
                  dd / 1000);
    }
  }
  g_spread = 0.15;
  std::printf("variants at N=1e5 / 1e7 float32 (ns/elem):\n");
  for (std::int64_t n : {100000LL, 10000000LL}) {
    std::printf(
        "  N=%lld no entropy %.3f | mask %.3f | mask+ent %.3f | stride2 %.3f | "
        "seq-mean-token-mean rows=100 mask %.3f\n",
        (long long)n, bench<float>(n, threads, false, false) / n,
        bench<float>(n, threads, true, false) / n, bench<float>(n, threads, true, true) / n,
        bench<float>(n, threads, false, false, 2) / n,
        bench<float>(n, threads, true, false, 1, Aggregation::SeqMeanTokenMean, 100) / n);
  }
  return 0;
}
