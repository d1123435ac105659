#include "core/kernels/expert_mlp.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include <omp.h>

#include "core/blas.h"
#include "core/kernels/matmul.h"

namespace moelab::kernels {

namespace {

// Runs fn(e) for every expert with rows. Experts with at most a thread's share of the rows go to an
// OpenMP loop (largest first, dynamic), where BLAS is single-threaded; bigger ones run one at a time
// with all threads inside BLAS. Each expert writes only its own rows and its own weight grads, so
// results do not depend on the schedule.
template <class Fn>
void for_each_expert(const std::vector<int64_t>& offsets, Fn&& fn) {
  const int64_t E = static_cast<int64_t>(offsets.size()) - 1;
  const int64_t R = offsets[E];
  const int threads = omp_in_parallel() ? 1 : omp_get_max_threads();
  std::vector<int64_t> small;
  for (int64_t e = 0; e < E; ++e) {
    const int64_t n = offsets[e + 1] - offsets[e];
    if (n == 0) continue;
    if (threads > 1 && n * threads > R)
      fn(e);
    else
      small.push_back(e);
  }
  if (small.empty()) return;
  std::stable_sort(small.begin(), small.end(), [&](int64_t a, int64_t b) {
    return offsets[a + 1] - offsets[a] > offsets[b + 1] - offsets[b];
  });
  const int64_t rows = std::accumulate(small.begin(), small.end(), int64_t{0},
                                       [&](int64_t acc, int64_t e) { return acc + offsets[e + 1] - offsets[e]; });
  if (threads <= 1 || small.size() < 2 || rows < 16) {
    for (int64_t e : small) fn(e);
    return;
  }
  const int64_t n_small = static_cast<int64_t>(small.size());
#pragma omp parallel for schedule(dynamic, 1) num_threads(static_cast<int>(std::min<int64_t>(threads, n_small)))
  for (int64_t i = 0; i < n_small; ++i) fn(small[i]);
}

}  // namespace

void expert_mlp_forward(const ExpertMlpShape& s, const std::vector<int64_t>& offsets,
                        const std::vector<ExpertWeights>& w, const float* x, float* hpre, float* hact, float* y) {
  const int64_t d = s.dim, h = s.hidden, f = s.fc_out();
  for_each_expert(offsets, [&](int64_t e) {
    const int64_t r0 = offsets[e], n = offsets[e + 1] - r0;
    const ExpertWeights& we = w[e];
    float* hp = hpre + r0 * f;
    float* ha = hact + r0 * h;
    sgemm(Trans::No, Trans::Yes, n, f, d, 1.f, x + r0 * d, d, we.fc_w, d, 0.f, hp, f);
    if (we.fc_b) add_bias_rows(hp, we.fc_b, n, f);
    if (s.glu) {
      for (int64_t r = 0; r < n; ++r) glu_forward(s.act, ha + r * h, hp + r * f, hp + r * f + h, h);
    } else {
      activation_forward(s.act, ha, hp, n * h);
    }
    float* ye = y + r0 * d;
    sgemm(Trans::No, Trans::Yes, n, d, h, 1.f, ha, h, we.proj_w, h, 0.f, ye, d);
    if (we.proj_b) add_bias_rows(ye, we.proj_b, n, d);
  });
}

void expert_mlp_backward(const ExpertMlpShape& s, const std::vector<int64_t>& offsets,
                         const std::vector<ExpertWeights>& w, const std::vector<ExpertGrads>& g, const float* x,
                         const float* hpre, const float* hact, const float* dy, float* dx, float* dhact,
                         float* dhpre) {
  const int64_t d = s.dim, h = s.hidden, f = s.fc_out();
  // Fresh gradient buffers: zero the biases (summed into) and the weights of idle experts; the GEMMs
  // of active experts overwrite (beta = 0), which saves a memset of every expert's weight gradient.
  const int64_t E = static_cast<int64_t>(offsets.size()) - 1;
  for (int64_t e = 0; e < E; ++e) {
    const ExpertGrads& ge = g[e];
    if (!ge.overwrite) continue;
    if (ge.fc_b) std::memset(ge.fc_b, 0, sizeof(float) * f);
    if (ge.proj_b) std::memset(ge.proj_b, 0, sizeof(float) * d);
    if (offsets[e + 1] == offsets[e]) {
      if (ge.fc_w) std::memset(ge.fc_w, 0, sizeof(float) * f * d);
      if (ge.proj_w) std::memset(ge.proj_w, 0, sizeof(float) * d * h);
    }
  }
  for_each_expert(offsets, [&](int64_t e) {
    const int64_t r0 = offsets[e], n = offsets[e + 1] - r0;
    const ExpertWeights& we = w[e];
    const ExpertGrads& ge = g[e];
    const float* dye = dy + r0 * d;
    const float* ha = hact + r0 * h;
    const float* hp = hpre + r0 * f;
    float* dha = dhact + r0 * h;
    float* dhp = dhpre + r0 * f;
    const float beta = ge.overwrite ? 0.f : 1.f;
    if (ge.proj_w) sgemm(Trans::Yes, Trans::No, d, h, n, 1.f, dye, d, ha, h, beta, ge.proj_w, h);
    if (ge.proj_b) sum_rows_into(ge.proj_b, dye, n, d);
    sgemm(Trans::No, Trans::No, n, h, d, 1.f, dye, d, we.proj_w, h, 0.f, dha, h);
    std::memset(dhp, 0, sizeof(float) * n * f);
    if (s.glu) {
      for (int64_t r = 0; r < n; ++r)
        glu_backward(s.act, dhp + r * f, dhp + r * f + h, hp + r * f, hp + r * f + h, dha + r * h, h);
    } else {
      activation_backward(s.act, dhp, hp, dha, n * h);
    }
    if (ge.fc_w) sgemm(Trans::Yes, Trans::No, f, d, n, 1.f, dhp, f, x + r0 * d, d, beta, ge.fc_w, d);
    if (ge.fc_b) sum_rows_into(ge.fc_b, dhp, n, f);
    sgemm(Trans::No, Trans::No, n, d, f, 1.f, dhp, f, we.fc_w, d, 0.f, dx + r0 * d, d);
  });
}

}  // namespace moelab::kernels
