// noisy_topk_load: Shazeer et al. 2017's smooth load estimate (tensor2tensor _prob_in_top_k).
// For token n and expert i, with H = noisy logits, c = clean logits, s = noise stddev:
//   thr = (k+1)-th largest of H_n if H_ni is in the top k (strictly above it), else the k-th largest
//   P(n, i) = Phi((c_ni - thr) / s_ni)     (chance that i stays in the top k under fresh noise)
//   load_i = sum_n P(n, i)
// Gradients reach c, s and, through thr, the noisy logit that set the threshold (as in TensorFlow,
// where the threshold is a top_k value of the noisy logits).
#include <cmath>

#include "autograd/ops.h"
#include "core/kernels/index.h"

namespace moelab::ops {

Var noisy_topk_load(const Var& clean, const Var& noisy, const Var& stddev, int64_t k) {
  MOELAB_CHECK(clean.dim() == 2 && noisy.shape() == clean.shape() && stddev.shape() == clean.shape(),
               "noisy_topk_load: clean ", shape_str(clean.shape()), ", noisy ", shape_str(noisy.shape()),
               " and stddev ", shape_str(stddev.shape()), " must all be [tokens, experts]");
  const int64_t N = clean.size(0), E = clean.size(1);
  MOELAB_CHECK(k >= 1 && k < E, "noisy_topk_load: needs 1 <= k < experts, got k = ", k, " with ", E, " experts");
  Tensor top_v = Tensor::empty({N, k + 1});
  IndexTensor top_i = IndexTensor::empty({N, k + 1});
  kernels::topk_rows(top_v.data(), top_i.data(), noisy.data(), N, E, k + 1);
  Tensor z = Tensor::empty({N, E});            // standardised margin
  IndexTensor thr_col = IndexTensor::empty({N, E});  // which noisy entry set the threshold
  Var load(Tensor::zeros({E}));
  std::vector<double> acc(E, 0.0);
  for (int64_t n = 0; n < N; ++n)
    for (int64_t i = 0; i < E; ++i) {
      const float h = noisy.data()[n * E + i];
      const bool in = h > top_v[n * (k + 1) + k];
      const int64_t pos = in ? k : k - 1;
      thr_col[n * E + i] = top_i[n * (k + 1) + pos];
      const float zz = (clean.data()[n * E + i] - top_v[n * (k + 1) + pos]) / stddev.data()[n * E + i];
      z[n * E + i] = zz;
      acc[i] += 0.5 * std::erfc(-zz / std::sqrt(2.0));
    }
  for (int64_t i = 0; i < E; ++i) load.data()[i] = static_cast<float>(acc[i]);
  if (!autograd::needs_grad({clean, noisy, stddev})) return load;
  autograd::record("noisy_topk_load", load, [clean, noisy, stddev, load, z, thr_col, N, E] {
    const float* dl = load.grad().data();
    float* dc = clean.requires_grad() ? clean.grad_accum() : nullptr;
    float* dh = noisy.requires_grad() ? noisy.grad_accum() : nullptr;
    float* ds = stddev.requires_grad() ? stddev.grad_accum() : nullptr;
    const double inv_sqrt_2pi = 0.3989422804014327;
    for (int64_t n = 0; n < N; ++n)
      for (int64_t i = 0; i < E; ++i) {
        const double zz = z[n * E + i], s = stddev.data()[n * E + i];
        const double pdf = inv_sqrt_2pi * std::exp(-0.5 * zz * zz);
        const double g = dl[i] * pdf / s;  // dP/dc
        if (dc) dc[n * E + i] += static_cast<float>(g);
        if (dh) dh[n * E + thr_col[n * E + i]] -= static_cast<float>(g);
        if (ds) ds[n * E + i] -= static_cast<float>(g * zz);
      }
  });
  return load;
}

}  // namespace moelab::ops
