#include "core/kernels/attention.h"

#include <cmath>
#include <vector>

#include "core/blas.h"
#include "core/kernels/fastmath.h"
#include "core/parallel.h"

namespace moelab::kernels {
namespace {
// (batch, head) pairs per thread so a chunk holds at least ~32k multiply-adds; tiny problems stay serial.
int64_t pair_grain(int64_t madds_per_pair) {
  return std::max<int64_t>(1, (int64_t{1} << 15) / std::max<int64_t>(1, madds_per_pair));
}

// row[0, visible) = softmax of itself; row[visible, width) = 0 (the masked, later positions).
void softmax_visible_prefix(float* row, int64_t visible, int64_t width) {
  float m = -INFINITY;
  for (int64_t j = 0; j < visible; ++j) m = m > row[j] ? m : row[j];
  const float inv = 1.f / exp_shifted_sum(row, row, visible, m);
  for (int64_t j = 0; j < visible; ++j) row[j] *= inv;
  for (int64_t j = visible; j < width; ++j) row[j] = 0.f;
}
}  // namespace

// out[b, t, h*hd:(h+1)*hd] = softmax_causal(q k^T / sqrt(hd)) v for each (b, h), one pair per
// thread at a time (BLAS runs single-threaded inside the parallel region).
void causal_attention_forward(float* out, float* probs, const float* qkv, int64_t B, int64_t T, int64_t C,
                              int64_t H) {
  const int64_t hd = C / H, ld = 3 * C;
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  parallel_for(B * H, pair_grain(T * T * hd), [&](int64_t p0, int64_t p1) {
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p / H, h = p % H;
      const float* q = qkv + b * T * ld + h * hd;
      const float* k = q + C;
      const float* v = q + 2 * C;
      float* s = probs + p * T * T;
      sgemm(Trans::No, Trans::Yes, T, T, hd, scale, q, ld, k, ld, 0.f, s, T);
      for (int64_t i = 0; i < T; ++i) softmax_visible_prefix(s + i * T, i + 1, T);
      sgemm(Trans::No, Trans::No, T, hd, T, 1.f, s, T, v, ld, 0.f, out + b * T * C + h * hd, C);
    }
  });
}

// The same maths for the new positions only: their queries against the cached keys of every
// position so far. One (b, h): S = q K[0, L)^T / sqrt(hd) [T, L], row i sees start + i + 1 keys.
void cached_attention_forward(float* out, const float* qkv, const float* keys, const float* values, int64_t B,
                              int64_t T, int64_t start, int64_t capacity, int64_t C, int64_t H) {
  const int64_t hd = C / H, ld = 3 * C, L = start + T;
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  parallel_for(B * H, pair_grain(T * L * hd), [&](int64_t p0, int64_t p1) {
    std::vector<float> s(T * L);
    for (int64_t p = p0; p < p1; ++p) {
      const int64_t b = p / H, h = p % H;
      const float* q = qkv + b * T * ld + h * hd;
      const float* k = keys + b * capacity * C + h * hd;
      const float* v = values + b * capacity * C + h * hd;
      sgemm(Trans::No, Trans::Yes, T, L, hd, scale, q, ld, k, C, 0.f, s.data(), L);
      for (int64_t i = 0; i < T; ++i) softmax_visible_prefix(s.data() + i * L, start + i + 1, L);
      sgemm(Trans::No, Trans::No, T, hd, L, 1.f, s.data(), L, v, C, 0.f, out + b * T * C + h * hd, C);
    }
  });
}

// With P the probabilities and dY the output gradient of one (b, h):
//   dV = P^T dY,  dP = dY V^T,  dS = P * (dP - rowsum(dP * P)),  dQ = dS K / sqrt(hd),  dK = dS^T Q / sqrt(hd)
void causal_attention_backward(float* dqkv, const float* dout, const float* qkv, const float* probs, int64_t B,
                               int64_t T, int64_t C, int64_t H) {
  const int64_t hd = C / H, ld = 3 * C;
  const float scale = 1.f / std::sqrt(static_cast<float>(hd));
  parallel_for(B * H, pair_grain(T * T * hd), [&](int64_t p0, int64_t p1) {
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
