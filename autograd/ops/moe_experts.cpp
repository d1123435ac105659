// moe_experts: the MoE layer's expert compute as one op.
//   forward:  xin = x[plan.token]            (rows contiguous per expert)
//             y_r = expert_e(xin_r)          (one GEMM pair per expert on its rows)
//             out[t] = sum over t's rows r, in plan order, of gate[gate_index_r] * y_r
//   backward: dy_r = gate_r * dout[t_r];  dgate_r = <y_r, dout[t_r]>
//             expert backward gives dW, db and dxin;  dx[t] += sum over t's rows of dxin_r
// Token-order sums (never atomic scatters) keep it deterministic and independent of the thread count.
#include <cstring>
#include <memory>

#include "autograd/ops.h"
#include "core/kernels/index.h"
#include "core/parallel.h"

namespace moelab::ops {

namespace {
bool any_requires_grad(const Var& x, const Var& gates, const std::vector<ExpertVars>& ex) {
  if (!autograd::grad_enabled()) return false;
  if (x.requires_grad() || (gates.defined() && gates.requires_grad())) return true;
  for (const ExpertVars& e : ex)
    for (const Var* v : {&e.fc_w, &e.fc_b, &e.proj_w, &e.proj_b})
      if (v->defined() && v->requires_grad()) return true;
  return false;
}

float* grad_or_null(const Var& v) { return v.defined() && v.requires_grad() ? v.grad_accum() : nullptr; }

// Gradient buffers of one expert. When all four are freshly allocated (the usual case: each expert's
// weights are used once per step) the kernel overwrites them instead of zero-filling and adding.
kernels::ExpertGrads expert_grads(const ExpertVars& ev) {
  std::vector<const Var*> vars;
  for (const Var* v : {&ev.fc_w, &ev.fc_b, &ev.proj_w, &ev.proj_b})
    if (v->defined() && v->requires_grad()) vars.push_back(v);
  bool all_fresh = !vars.empty();
  for (const Var* v : vars) all_fresh = all_fresh && !v->has_grad();
  if (!all_fresh) return {grad_or_null(ev.fc_w), grad_or_null(ev.fc_b), grad_or_null(ev.proj_w), grad_or_null(ev.proj_b)};
  auto fresh = [](const Var& v) -> float* {
    if (!v.defined() || !v.requires_grad()) return nullptr;
    bool is_fresh = false;
    return v.grad_for_write(&is_fresh);
  };
  return {fresh(ev.fc_w), fresh(ev.fc_b), fresh(ev.proj_w), fresh(ev.proj_b), true};
}
const float* data_or_null(const Var& v) { return v.defined() ? v.data() : nullptr; }
}  // namespace

Var moe_experts(const Var& x, std::shared_ptr<const kernels::DispatchPlan> plan, const Var& gates,
                const std::vector<ExpertVars>& experts, const kernels::ExpertMlpShape& shape) {
  const int64_t d = shape.dim, h = shape.hidden, f = shape.fc_out();
  MOELAB_CHECK(x.dim() == 2 && x.size(1) == d, "moe_experts: input must be [tokens, ", d, "], got ",
               shape_str(x.shape()));
  MOELAB_CHECK(plan->n_tokens == x.size(0), "moe_experts: plan for ", plan->n_tokens, " tokens, input has ",
               x.size(0));
  MOELAB_CHECK(static_cast<int64_t>(experts.size()) == plan->n_experts, "moe_experts: plan for ",
               plan->n_experts, " experts, got ", experts.size());
  for (size_t e = 0; e < experts.size(); ++e) {
    const ExpertVars& ev = experts[e];
    const bool shapes_ok = ev.fc_w.shape() == Shape{f, d} && ev.proj_w.shape() == Shape{d, h};
    MOELAB_CHECK(shapes_ok, "moe_experts: expert ", e,
                 " has c_fc ", shape_str(ev.fc_w.shape()), " and c_proj ", shape_str(ev.proj_w.shape()),
                 ", expected [", f, ", ", d, "] and [", d, ", ", h, "]");
  }
  const int64_t G = gates.defined() ? gates.numel() : 0;
  for (int32_t gi : plan->gate_index)
    MOELAB_CHECK(!gates.defined() || (gi >= 0 && gi < G), "moe_experts: gate index ", gi, " outside [0, ", G, ")");

  const int64_t N = x.size(0), R = plan->rows();
  std::vector<kernels::ExpertWeights> w;
  for (const ExpertVars& ev : experts)
    w.push_back({ev.fc_w.data(), data_or_null(ev.fc_b), ev.proj_w.data(), data_or_null(ev.proj_b)});

  Tensor xin = Tensor::empty({R, d}), hpre = Tensor::empty({R, f}), hact = Tensor::empty({R, h}),
         y = Tensor::empty({R, d});
  kernels::gather_rows(xin.data(), x.data(), plan->token.data(), R, d);
  kernels::expert_mlp_forward(shape, plan->offsets, w, xin.data(), hpre.data(), hact.data(), y.data());

  Var out(Tensor::zeros({N, d}));
  const float* gv = gates.defined() ? gates.data() : nullptr;
  {
    float* o = out.data();
    const float* yd = y.data();
    parallel_for(N, std::max<int64_t>(1, 4096 / d), [&](int64_t t0, int64_t t1) {
      for (int64_t t = t0; t < t1; ++t)
        for (int64_t i = plan->token_offsets[t]; i < plan->token_offsets[t + 1]; ++i) {
          const int64_t r = plan->token_rows[i];
          kernels::axpy(o + t * d, yd + r * d, gv ? gv[plan->gate_index[r]] : 1.f, d);
        }
    });
  }
  if (!any_requires_grad(x, gates, experts)) return out;

  autograd::record("moe_experts", out, [x, gates, experts, shape, plan, w, xin, hpre, hact, y, out, N, R, d, h, f] {
    const float* dout = out.grad().data();
    const float* gv = gates.defined() ? gates.data() : nullptr;
    // dgate and dy, one row at a time (each row has its own gate entry)
    Tensor dy = Tensor::empty({R, d});
    float* dg = gates.defined() && gates.requires_grad() ? gates.grad_accum() : nullptr;
    const float* yd = y.data();
    parallel_for(R, std::max<int64_t>(1, 4096 / d), [&](int64_t r0, int64_t r1) {
      for (int64_t r = r0; r < r1; ++r) {
        const float* go = dout + int64_t{plan->token[r]} * d;
        const float g = gv ? gv[plan->gate_index[r]] : 1.f;
        float* dyr = dy.data() + r * d;
        for (int64_t j = 0; j < d; ++j) dyr[j] = g * go[j];
      }
    });
    if (dg)  // serial: several rows may share a gate entry only through the plan, so keep the order fixed
      for (int64_t r = 0; r < R; ++r) {
        const float* go = dout + int64_t{plan->token[r]} * d;
        const float* yr = yd + r * d;
        double s = 0;
        for (int64_t j = 0; j < d; ++j) s += static_cast<double>(yr[j]) * go[j];
        dg[plan->gate_index[r]] += static_cast<float>(s);
      }
    std::vector<kernels::ExpertGrads> g;
    for (const ExpertVars& ev : experts) g.push_back(expert_grads(ev));
    Tensor dxin = Tensor::empty({R, d}), dhact = Tensor::empty({R, h}), dhpre = Tensor::empty({R, f});
    kernels::expert_mlp_backward(shape, plan->offsets, w, g, xin.data(), hpre.data(), hact.data(), dy.data(),
                                 dxin.data(), dhact.data(), dhpre.data());
    if (x.requires_grad()) {
      float* dx = x.grad_accum();
      const float* dxi = dxin.data();
      parallel_for(N, std::max<int64_t>(1, 4096 / d), [&](int64_t t0, int64_t t1) {
        for (int64_t t = t0; t < t1; ++t)
          for (int64_t i = plan->token_offsets[t]; i < plan->token_offsets[t + 1]; ++i)
            kernels::axpy(dx + t * d, dxi + int64_t{plan->token_rows[i]} * d, 1.f, d);
      });
    }
  });
  return out;
}

}  // namespace moelab::ops
