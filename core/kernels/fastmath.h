// core/kernels/fastmath.h: exp, erf, tanh that the compiler can vectorise.
// Why: glibc's expf/erff are scalar calls unless -ffast-math (which moelab avoids: it breaks NaN and
// -inf handling), and they made gelu/softmax 20-50x slower than memory bandwidth. These are
// branch-free (selects only) and propagate NaN; accuracy is stated per function.
#pragma once
#include <bit>
#include <cmath>
#include <cstdint>

namespace moelab::kernels {

// e^x with relative error < 2e-7 on [-87, 88]; 0 below, +inf above, NaN for NaN.
inline float fast_exp(float x) {
  // clamped, NaN mapped into range too (it is returned as is below; casting NaN to int is undefined)
  float xc = x >= -87.0f ? x : -87.0f;
  xc = xc <= 88.0f ? xc : 88.0f;
  // Round to nearest by adding and removing 1.5 * 2^23 (nearbyint would be a libm call).
  const float n = (xc * 1.44269504088896341f + 12582912.0f) - 12582912.0f;
  // x - n ln2 with ln2 in two parts, the large part first so the small one is not rounded away.
  const float r = std::fma(n, -1.428606765330187e-06f, std::fma(n, -0.693145751953125f, xc));
  float p = 1.984127e-4f;  // Taylor terms to r^7: |r| <= ln2/2 keeps the remainder below 1e-8
  p = std::fma(p, r, 1.3888889e-3f);
  p = std::fma(p, r, 8.3333333e-3f);
  p = std::fma(p, r, 4.1666667e-2f);
  p = std::fma(p, r, 1.6666667e-1f);
  p = std::fma(p, r, 0.5f);
  p = std::fma(p, r, 1.0f);
  p = std::fma(p, r, 1.0f);
  const float scale = std::bit_cast<float>((static_cast<int32_t>(n) + 127) << 23);
  float result = p * scale;
  result = x < -87.0f ? 0.0f : result;
  result = x > 88.0f ? INFINITY : result;
  return x != x ? x : result;
}

// erf(x) through erfc(|x|) = t exp(-z^2 + P(t)), t = 1 / (1 + z/2) (Numerical Recipes' Chebyshev
// fit, fractional error < 1.2e-7 for every z); erf = 1 - erfc has absolute error < 4e-7
// (measured 3.2e-7 near |x| = 0.04, where 1 - erfc cancels).
inline float fast_erf(float x) {
  const float z = std::fabs(x);
  const float t = 1.0f / std::fma(0.5f, z, 1.0f);
  float p = 0.17087277f;
  p = std::fma(p, t, -0.82215223f);
  p = std::fma(p, t, 1.48851587f);
  p = std::fma(p, t, -1.13520398f);
  p = std::fma(p, t, 0.27886807f);
  p = std::fma(p, t, -0.18628806f);
  p = std::fma(p, t, 0.09678418f);
  p = std::fma(p, t, 0.37409196f);
  p = std::fma(p, t, 1.00002368f);
  p = std::fma(p, t, -1.26551223f);
  const float erfc_z = t * fast_exp(-z * z + p);
  const float erf_z = 1.0f - erfc_z;
  return x < 0.0f ? -erf_z : erf_z;
}

// tanh(x) = sign(x) (1 - 2 / (e^{2|x|} + 1)); for |x| < 0.0625 the odd Taylor series avoids the
// cancellation of 1 - (nearly 1). Relative error < 4e-6 (up to ~30 ulp just above the switch
// point); used only inside gelu_tanh, where it is far below float32 training noise.
inline float fast_tanh(float x) {
  const float a = std::fabs(x);
  const float big = 1.0f - 2.0f / (fast_exp(2.0f * a) + 1.0f);
  const float x2 = x * x;
  const float small = a * std::fma(x2, std::fma(x2, std::fma(x2, -0.053968254f, 0.13333334f), -0.33333334f), 1.0f);
  const float r = a < 0.0625f ? small : big;
  return x < 0.0f ? -r : r;
}

}  // namespace moelab::kernels

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

namespace moelab::kernels {

// y[j] = e^(x[j] - shift) for j < n; returns the sum of the y. The AVX-512 path uses
// vscalefps for the 2^n step (about 3x fewer instructions than fast_exp, which the compiler
// vectorises less well); softmax and cross-entropy live on this loop. Relative error < 5e-6
// (the reduction t - round(t) on t = x log2 e loses low bits for |x| near 87).
inline float exp_shifted_sum(float* y, const float* x, int64_t n, float shift) {
  int64_t j = 0;
  float total = 0.f;
#if defined(__AVX512F__)
  const __m512 log2e = _mm512_set1_ps(1.44269504088896341f), lo = _mm512_set1_ps(-150.f);
  const __m512 vshift = _mm512_set1_ps(shift);
  const __m512 c7 = _mm512_set1_ps(1.5252733e-5f), c6 = _mm512_set1_ps(1.5403530e-4f),
               c5 = _mm512_set1_ps(1.3333558e-3f), c4 = _mm512_set1_ps(9.6181291e-3f),
               c3 = _mm512_set1_ps(5.5504109e-2f), c2 = _mm512_set1_ps(2.4022651e-1f),
               c1 = _mm512_set1_ps(6.9314718e-1f), c0 = _mm512_set1_ps(1.0f);
  __m512 acc = _mm512_setzero_ps();
  for (; j + 16 <= n; j += 16) {
    // t = (x - shift) log2 e, clamped below (so -inf gives 0, not NaN; NaN passes through).
    __m512 t = _mm512_mul_ps(_mm512_max_ps(lo, _mm512_sub_ps(_mm512_loadu_ps(x + j), vshift)), log2e);
    __m512 k = _mm512_roundscale_ps(t, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 f = _mm512_sub_ps(t, k);  // in [-0.5, 0.5]: 2^f by its Taylor series in f ln 2
    __m512 p = _mm512_fmadd_ps(c7, f, c6);
    p = _mm512_fmadd_ps(p, f, c5);
    p = _mm512_fmadd_ps(p, f, c4);
    p = _mm512_fmadd_ps(p, f, c3);
    p = _mm512_fmadd_ps(p, f, c2);
    p = _mm512_fmadd_ps(p, f, c1);
    p = _mm512_fmadd_ps(p, f, c0);
    __m512 e = _mm512_scalef_ps(p, k);
    _mm512_storeu_ps(y + j, e);
    acc = _mm512_add_ps(acc, e);
  }
  total = _mm512_reduce_add_ps(acc);
#endif
  for (; j < n; ++j) {
    y[j] = fast_exp(x[j] - shift);
    total += y[j];
  }
  return total;
}

}  // namespace moelab::kernels
