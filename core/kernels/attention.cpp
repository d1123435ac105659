#include "core/kernels/attention.h"

#include <cmath>
#include <vector>

#include "core/blas.h"
#include "core/kernels/fastmath.h"
#include "core/parallel.h"

namespace moelab::kernels {
namespace {
// (batch, head) pairs per thread so a chunk holds at least ~32k multiply-adds; tiny problems stay serial.
int64_t pair_grain(int64_t T, int64_t hd) { return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, T * T * hd)); }
}  // namespace

// out[b, t, h*hd:(h+1)*hd] = softmax_causal(q k^T / sqrt(hd)) v for each (b, h), one pair per
// thread at a time (BLAS runs single-threaded inside the parallel region).
void causal_attention_forward(float* out, float* probs, const float* qkv, int64_t B, int64_t T, int64_t C,
                              int64_t H) {
  const int64_t hd = C / H, ld = 3 * C;
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  parallel_for(B * H, pair_grain(T, hd), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p / H, h = p % H;
      const float* q = qkv + b * T * ld + h * hd;
      const float* k = q + C;
      const float* v = q + 2 * C;
      float* s = probs + p * T * T;
      sgemm(Trans::No, Trans::Yes, T, T, hd, scale, q, ld, k, ld, 0.f, s, T);
      for (int64_t i = 0; i < T; ++i) {
        float* row = s + i * T;
        float m = -INFINITY;
        for (int64_t j = 0; j <= i; ++j) m = m > row[j] ? m : row[j];
        const float inv = 1.f / exp_shifted_sum(row, row, i + 1, m);
        for (int64_t j = 0; j <= i; ++j) row[j] *= inv;
        for (int64_t j = i + 1; j < T; ++j) row[j] = 0.f;
      }
      sgemm(Trans::No, Trans::No, T, hd, T, 1.f, s, T, v, ld, 0.f, out + b * T * C + h * hd, C);
    }
  });
}

// With P the probabilities and dY the output gradient of one (b, h):
//   dV = P^T dY,  dP = dY V^T,  dS = P * (dP - rowsum(dP * P)),  dQ = dS K / sqrt(hd),  dK = dS^T Q / sqrt(hd)
void causal_attention_backward(float* dqkv, const float* dout, const float* qkv, const float* probs, int64_t B,
                               int64_t T, int64_t C, int64_t H) {
  const int64_t hd = C / H, ld = 3 * C;
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  parallel_for(B * H, pair_grain(T, hd), [&](int64_t p0, int64_t p1) {
    std::vector<float> ds(T * T);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p / H, h = p % H;
      const float* q = qkv + b * T * ld + h * hd;
      const float* k = q + C;
      const float* v = q + 2 * C;
      float* dq = dqkv + b * T * ld + h * hd;
      float* dk = dq + C;
      float* dv = dq + 2 * C;
      const float* dy = dout + b * T * C + h * hd;
      const float* P = probs + p * T * T;
      sgemm(Trans::Yes, Trans::No, T, hd, T, 1.f, P, T, dy, C, 1.f, dv, ld);
      sgemm(Trans::No, Trans::Yes, T, T, hd, 1.f, dy, C, v, ld, 0.f, ds.data(), T);
      for (int64_t i = 0; i < T; ++i) {
        float* row = ds.data() + i * T;
        const float* pr = P + i * T;
        float dot = 0.f;
        for (int64_t j = 0; j <= i; ++j) dot += row[j] * pr[j];
        for (int64_t j = 0; j <= i; ++j) row[j] = pr[j] * (row[j] - dot);
        for (int64_t j = i + 1; j < T; ++j) row[j] = 0.f;
      }
      sgemm(Trans::No, Trans::No, T, hd, T, scale, ds.data(), T, k, ld, 1.f, dq, ld);
      sgemm(Trans::Yes, Trans::No, T, hd, T, scale, ds.data(), T, q, ld, 1.f, dk, ld);
    }
  });
}

}  // namespace moelab::kernels
