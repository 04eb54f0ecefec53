/* The memory-bandwidth floor of benchmarks/kernels.py: the cheapest single-thread loops with the
   fused surrogate kernel's memory traffic. Compiled at run time by bandwidth_floor.py with
   cc -O3 -march=native and called through ctypes. */
#include <stddef.h>
/* 4 float32 streams in, 1 out: the memory traffic of the fused kernel (20 bytes/element). */
void stream4to1(const float* restrict a, const float* restrict b, const float* restrict c,
                const float* restrict d, float* restrict o, long n) {
  for (long i = 0; i < n; ++i) o[i] = (a[i] - b[i]) * c[i] + d[i];
}
/* The same with non-temporal stores where the compiler offers them (x86 AVX): a plain store
   first reads the output line into the cache (read-for-ownership), so the loop above moves
   24 bytes/element; streaming stores skip that read and move the 20 bytes of the floor. */
#if defined(__AVX__)
#include <immintrin.h>
int stream4to1_nt(const float* restrict a, const float* restrict b, const float* restrict c,
                  const float* restrict d, float* restrict o, long n) {
  long i = 0;
  for (; i < n && ((unsigned long)(o + i) & 31u) != 0; ++i) o[i] = (a[i] - b[i]) * c[i] + d[i];
  for (; i + 8 <= n; i += 8) {
    __m256 x = _mm256_sub_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i));
    x = _mm256_add_ps(_mm256_mul_ps(x, _mm256_loadu_ps(c + i)), _mm256_loadu_ps(d + i));
    _mm256_stream_ps(o + i, x);
  }
  for (; i < n; ++i) o[i] = (a[i] - b[i]) * c[i] + d[i];
  _mm_sfence();
  return 1;
}
#else
int stream4to1_nt(const float* a, const float* b, const float* c, const float* d, float* o,
                  long n) {
  (void)a;
  (void)b;
  (void)c;
  (void)d;
  (void)o;
  (void)n;
  return 0;
}
#endif
/* read-only: 4 bytes/element */
float sum1(const float* restrict a, long n) {
  float s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
  long i = 0;
  for (; i + 8 <= n; i += 8) {
    s0 += a[i];
    s1 += a[i + 1];
    s2 += a[i + 2];
    s3 += a[i + 3];
    s4 += a[i + 4];
    s5 += a[i + 5];
    s6 += a[i + 6];
    s7 += a[i + 7];
  }
  for (; i < n; ++i) s0 += a[i];
  return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
}
