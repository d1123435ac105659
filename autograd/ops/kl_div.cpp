// kl_div: distillation toward a fixed teacher (Lifelong-MoE's output regulariser).
//   p = softmax(teacher / T), q = softmax(student / T), over the last dim, per row
//   y = T^2 * mean over rows of sum_v p_v (log p_v - log q_v)        (KL(teacher || student))
//   dy/dstudent = T * (q - p) / rows
// T^2 keeps the gradient scale independent of the temperature (Hinton et al. 2015).
#include <cmath>

#include "autograd/ops.h"
#include "core/kernels/softmax.h"

namespace moelab::ops {

Var kl_div(const Var& student_logits, const Tensor& teacher_logits, float temperature) {
  MOELAB_CHECK(student_logits.shape() == teacher_logits.shape(), "kl_div: student ", shape_str(student_logits.shape()),
               " and teacher ", shape_str(teacher_logits.shape()), " logits differ in shape");
  MOELAB_CHECK(temperature > 0, "kl_div: temperature must be > 0, got ", temperature);
  const int64_t V = student_logits.shape().back(), rows = student_logits.numel() / V;
  Tensor logp = Tensor::empty({rows, V}), logq = Tensor::empty({rows, V});
  Tensor st = Tensor::empty({rows, V}), tt = Tensor::empty({rows, V});
  for (int64_t i = 0; i < rows * V; ++i) {
    st[i] = student_logits.data()[i] / temperature;
    tt[i] = teacher_logits[i] / temperature;
  }
  kernels::log_softmax_forward(logq.data(), st.data(), rows, V);
  kernels::log_softmax_forward(logp.data(), tt.data(), rows, V);
  double total = 0;
  for (int64_t r = 0; r < rows; ++r) {
    double s = 0;
    for (int64_t v = 0; v < V; ++v) {
      const double lp = logp[r * V + v];
      s += std::exp(lp) * (lp - logq[r * V + v]);
    }
    total += s;
  }
  Var y(Tensor::full({}, static_cast<float>(temperature * temperature * total / rows)));
  if (!autograd::needs_grad({student_logits})) return y;
  autograd::record("kl_div", y, [student_logits, y, logp, logq, rows, V, temperature] {
    const float g = y.grad().item() * temperature / static_cast<float>(rows);
    float* dx = student_logits.grad_accum();
    for (int64_t i = 0; i < rows * V; ++i) dx[i] += g * (std::exp(logq[i]) - std::exp(logp[i]));
  });
  return y;
}

}  // namespace moelab::ops
