// autograd/ops.h: every differentiable op. Each lives in autograd/ops/<name>.cpp with its forward
// and backward side by side; the arithmetic itself is in core/kernels. Shape errors name the op
// and the shapes involved.
#pragma once
#include <memory>
#include <optional>

#include "autograd/tape.h"
#include "autograd/var.h"
#include "core/blas.h"
#include "core/rng.h"
#include "core/kernels/dispatch.h"
#include "core/kernels/elementwise.h"
#include "core/kernels/expert_mlp.h"

namespace moelab::comm {
class Communicator;
struct CommStats;
}

namespace moelab::ops {

using autograd::Var;

// matmul.cpp: op(a) @ op(b). 2-D x 2-D; batched 3-D x 3-D (same batch); N-D x 2-D (leading dims
// of a flattened, a not transposed). Transposes are BLAS flags.
Var matmul(const Var& a, const Var& b, bool transpose_a = false, bool transpose_b = false);
// linear.cpp: x [..., in] @ weight[out, in]^T + bias[out] (bias optional), PyTorch's layout.
Var linear(const Var& x, const Var& weight, const Var& bias = Var());

// binary.cpp: elementwise with broadcasting of trailing dims (the smaller shape is a suffix of the larger).
Var add(const Var& a, const Var& b);
Var sub(const Var& a, const Var& b);
Var mul(const Var& a, const Var& b);
Var div(const Var& a, const Var& b);
// scale.cpp: s * x
Var scale(const Var& x, float s);

// activation.cpp
Var relu(const Var& x);
Var gelu(const Var& x);       // exact: 0.5 x (1 + erf(x / sqrt 2))
Var gelu_tanh(const Var& x);  // tanh approximation
Var silu(const Var& x);
Var activation(const Var& x, kernels::Activation act);
// glu.cpp: act(x[..., :h]) * x[..., h:] over the two halves of the last dim (SwiGLU with silu)
Var glu(const Var& x, kernels::Activation act);

// softmax.cpp: over the last dim
Var softmax(const Var& x);
Var log_softmax(const Var& x);
// kl_div.cpp: T^2 * mean over rows of KL(softmax(teacher/T) || softmax(student/T)); the teacher is a
// constant (no gradient). Output regularisation toward a previous model (Lifelong-MoE).
Var kl_div(const Var& student_logits, const Tensor& teacher_logits, float temperature = 1.f);
// cross_entropy.cpp: mean over rows of -log softmax(logits)[target]; logits [..., V], targets [...]
Var cross_entropy(const Var& logits, const IndexTensor& targets);

// layernorm.cpp / rmsnorm.cpp: over the last dim; weight/bias [C] optional
Var layernorm(const Var& x, const Var& weight, const Var& bias, float eps = 1e-5f);
Var rmsnorm(const Var& x, const Var& weight, float eps = 1e-6f);

// embedding.cpp: weight [V, C], ids [...] -> [..., C]
Var embedding(const Var& weight, const IndexTensor& ids);
// rows.cpp: x [N, C], idx [M] -> x[idx] [M, C]; and its adjoint: out [n_rows, C] with
// out[idx[i]] += w[i] * src[i] (w [M] optional and differentiable). MoE dispatch and combine.
Var gather_rows(const Var& x, const IndexTensor& idx);
Var scatter_add_rows(const Var& src, const IndexTensor& idx, int64_t n_rows, const Var& weights = Var());

// reduce.cpp: to a scalar
Var sum(const Var& x);
Var mean(const Var& x);
// reshape.cpp: a view of the value with a new shape (one -1 allowed)
Var reshape(const Var& x, const Shape& shape);

// attention.cpp: qkv [B, T, 3C] (q | k | v) -> [B, T, C], causal multi-head attention
Var causal_attention(const Var& qkv, int64_t n_head);
// The rows of causal_attention for the new positions start .. start+T-1 only (qkv [B, T, 3C]), their
// queries against keys/values [B, capacity, C] cached for positions 0 .. start+T-1. Inference only:
// an error when a gradient is wanted.
Var cached_attention(const Var& qkv, const Tensor& keys, const Tensor& values, int64_t start, int64_t n_head);
// dropout.cpp: inverted dropout with probability p, mask from rng (p = 0: identity)
Var dropout(const Var& x, float p, Rng& rng);
// allreduce.cpp: the sum of x over the processes of comm (a distributed run's batch statistics);
// backward sums the gradients the same way. comm = null or one process: x itself.
Var allreduce_sum(const Var& x, comm::Communicator* comm);
// exchange.cpp: expert parallelism's all-to-all: send_counts[p] consecutive rows of x [R, c] to
// process p, the rows received (recv_counts[p] from p, in rank order) out; backward, the reverse.
// `account`, if given, also gets the time and bytes of both (it must outlive the backward pass).
Var exchange_rows(const Var& x, const std::vector<int64_t>& send_counts, const std::vector<int64_t>& recv_counts,
                  comm::Communicator& comm, comm::CommStats* account = nullptr);

// topk.cpp: top-k over the last dim (ties: lower index first). values are differentiable
// (gradient goes to the chosen entries); indices are plain integers off the tape.
struct TopK {
  Var values;
  IndexTensor indices;
};
TopK topk(const Var& x, int64_t k);

// gather_cols.cpp: y[r, j] = x[r, idx[r, j]] for x [rows, cols], idx [rows, k] (gates of chosen experts)
Var gather_cols(const Var& x, const IndexTensor& idx);
// normalize_rows.cpp: each row of x [rows, cols] divided by its sum (top-k gate renormalisation)
Var normalize_rows(const Var& x);
// logsumexp.cpp: over the last dim ([..., C] -> [...]); router z-loss
Var logsumexp(const Var& x);
// softplus.cpp: log(1 + exp(x)), elementwise
Var softplus(const Var& x);
// cv_squared.cpp: var(v) / (mean(v)^2 + 1e-10) over all elements, population variance -> scalar
Var cv_squared(const Var& v);
// noisy_topk_load.cpp: Shazeer 2017 smooth load per expert [E] from clean/noisy logits and noise stddev
// [tokens, E]: sum over tokens of P(expert stays in the top k under fresh noise). Needs k < E.
Var noisy_topk_load(const Var& clean, const Var& noisy, const Var& stddev, int64_t k);

// moe_experts.cpp: the experts of an MoE layer on a dispatch plan. x [N, d]; gates: a flat vector
// indexed by the plan's gate_index (undefined = weight 1); one ExpertVars per expert (biases optional).
// out[t] = sum over t's kept rows r of gates[gate_index_r] * expert_{e(r)}(x[t]).
struct ExpertVars {
  Var fc_w, fc_b, proj_w, proj_b;
};
// The plan is shared with the backward closure (no copy per step).
Var moe_experts(const Var& x, std::shared_ptr<const kernels::DispatchPlan> plan, const Var& gates,
                const std::vector<ExpertVars>& experts, const kernels::ExpertMlpShape& shape);

}  // namespace moelab::ops
