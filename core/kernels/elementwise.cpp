#include "core/kernels/elementwise.h"

#include <cmath>

#include "core/kernels/fastmath.h"
#include "core/parallel.h"

namespace moelab::kernels {
namespace {

constexpr int64_t kGrain = 1 << 15;  // elements per thread below which a parallel region costs more than it saves

template <class Fn>
void for_each_index(int64_t n, Fn&& fn) {
  parallel_for(n, kGrain, [&](int64_t b, int64_t e) {
#pragma omp simd
    for (int64_t i = b; i < e; ++i) fn(i);
  });
}

inline float apply(BinaryOp op, float x, float y) {
  switch (op) {
    case BinaryOp::Add: return x + y;
    case BinaryOp::Sub: return x - y;
    case BinaryOp::Mul: return x * y;
    case BinaryOp::Div: return x / y;
  }
  return 0.f;
}
// d(x op y)/dx * g and d(x op y)/dy * g
inline float grad_x(BinaryOp op, float /*x*/, float y, float g) {
  switch (op) {
    case BinaryOp::Add: case BinaryOp::Sub: return g;
    case BinaryOp::Mul: return g * y;
    case BinaryOp::Div: return g / y;
  }
  return 0.f;
}
inline float grad_y(BinaryOp op, float x, float y, float g) {
  switch (op) {
    case BinaryOp::Add: return g;
    case BinaryOp::Sub: return -g;
    case BinaryOp::Mul: return g * x;
    case BinaryOp::Div: return -g * x / (y * y);
  }
  return 0.f;
}

template <BinaryOp Op>
void binary_forward_t(const float* a, int64_t na, const float* b, int64_t nb, float* out) {
  const int64_t n = std::max(na, nb);
  if (na == nb) {
    for_each_index(n, [&](int64_t i) { out[i] = apply(Op, a[i], b[i]); });
  } else if (nb < na) {  // b repeats along the leading dims of a
    parallel_for(n / nb, std::max<int64_t>(1, kGrain / nb), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
#pragma omp simd
        for (int64_t j = 0; j < nb; ++j) out[o * nb + j] = apply(Op, a[o * nb + j], b[j]);
      }
    });
  } else {
    parallel_for(n / na, std::max<int64_t>(1, kGrain / na), [&](int64_t o0, int64_t o1) {
      for (int64_t o = o0; o < o1; ++o) {
#pragma omp simd
        for (int64_t j = 0; j < na; ++j) out[o * na + j] = apply(Op, a[j], b[o * na + j]);
      }
    });
  }
}

// Gradient of one operand: elementwise when it is full size, else summed over the repeats
// (columns split across threads, the repeat order fixed, so the sum is deterministic).
template <class Contribution>
void accumulate_grad(float* d, int64_t nd, int64_t n, Contribution&& c) {
  if (!d) return;
  if (nd == n) {
    for_each_index(n, [&](int64_t i) { d[i] += c(i); });
    return;
  }
  const int64_t repeats = n / nd;
  parallel_for(nd, std::max<int64_t>(16, kGrain / std::max<int64_t>(repeats, 1)), [&](int64_t j0, int64_t j1) {
    for (int64_t o = 0; o < repeats; ++o) {
#pragma omp simd
      for (int64_t j = j0; j < j1; ++j) d[j] += c(o * nd + j);
    }
  });
}

template <BinaryOp Op>
void binary_backward_t(const float* a, int64_t na, const float* b, int64_t nb, const float* g, float* da,
                       float* db) {
  const int64_t n = std::max(na, nb);
  accumulate_grad(da, na, n, [&](int64_t i) { return grad_x(Op, a[i % na], b[i % nb], g[i]); });
  accumulate_grad(db, nb, n, [&](int64_t i) { return grad_y(Op, a[i % na], b[i % nb], g[i]); });
}

// Specialised full-size paths keep % out of the hot loop.
template <BinaryOp Op>
void binary_backward_same(const float* a, const float* b, const float* g, float* da, float* db, int64_t n) {
  if (da) for_each_index(n, [&](int64_t i) { da[i] += grad_x(Op, a[i], b[i], g[i]); });
  if (db) for_each_index(n, [&](int64_t i) { db[i] += grad_y(Op, a[i], b[i], g[i]); });
}

constexpr float kSqrt1_2 = 0.70710678118654752f;
constexpr float kInvSqrt2Pi = 0.39894228040143268f;
constexpr float kSqrt2OverPi = 0.79788456080286536f;

inline float gelu_tanh_inner(float x) { return kSqrt2OverPi * (x + 0.044715f * x * x * x); }

inline float act_f(Activation act, float x) {
  switch (act) {
    case Activation::Relu: return x < 0.f ? 0.f : x;  // NaN stays NaN
    case Activation::Gelu: return 0.5f * x * (1.f + fast_erf(x * kSqrt1_2));
    case Activation::GeluTanh: return 0.5f * x * (1.f + fast_tanh(gelu_tanh_inner(x)));
    case Activation::Silu: return x / (1.f + fast_exp(-x));
  }
  return 0.f;
}
inline float act_df(Activation act, float x) {
  switch (act) {
    case Activation::Relu: return x > 0.f ? 1.f : 0.f;
    case Activation::Gelu: return 0.5f * (1.f + fast_erf(x * kSqrt1_2)) + x * kInvSqrt2Pi * fast_exp(-0.5f * x * x);
    case Activation::GeluTanh: {
      float t = fast_tanh(gelu_tanh_inner(x));
      return 0.5f * (1.f + t) + 0.5f * x * (1.f - t * t) * kSqrt2OverPi * (1.f + 3.f * 0.044715f * x * x);
    }
    case Activation::Silu: {
      float s = 1.f / (1.f + fast_exp(-x));
      return s * (1.f + x * (1.f - s));
    }
  }
  return 0.f;
}

template <Activation A>
void act_forward_t(float* out, const float* in, int64_t n) {
  for_each_index(n, [&](int64_t i) { out[i] = act_f(A, in[i]); });
}
template <Activation A>
void act_backward_t(float* din, const float* in, const float* dout, int64_t n) {
  for_each_index(n, [&](int64_t i) { din[i] += act_df(A, in[i]) * dout[i]; });
}

}  // namespace

void binary_forward(BinaryOp op, const float* a, int64_t na, const float* b, int64_t nb, float* out) {
  switch (op) {
    case BinaryOp::Add: return binary_forward_t<BinaryOp::Add>(a, na, b, nb, out);
    case BinaryOp::Sub: return binary_forward_t<BinaryOp::Sub>(a, na, b, nb, out);
    case BinaryOp::Mul: return binary_forward_t<BinaryOp::Mul>(a, na, b, nb, out);
    case BinaryOp::Div: return binary_forward_t<BinaryOp::Div>(a, na, b, nb, out);
  }
}

void binary_backward(BinaryOp op, const float* a, int64_t na, const float* b, int64_t nb, const float* g,
                     float* da, float* db) {
  const bool same = na == nb;
  switch (op) {
    case BinaryOp::Add:
      return same ? binary_backward_same<BinaryOp::Add>(a, b, g, da, db, na)
                  : binary_backward_t<BinaryOp::Add>(a, na, b, nb, g, da, db);
    case BinaryOp::Sub:
      return same ? binary_backward_same<BinaryOp::Sub>(a, b, g, da, db, na)
                  : binary_backward_t<BinaryOp::Sub>(a, na, b, nb, g, da, db);
    case BinaryOp::Mul:
      return same ? binary_backward_same<BinaryOp::Mul>(a, b, g, da, db, na)
                  : binary_backward_t<BinaryOp::Mul>(a, na, b, nb, g, da, db);
    case BinaryOp::Div:
      return same ? binary_backward_same<BinaryOp::Div>(a, b, g, da, db, na)
                  : binary_backward_t<BinaryOp::Div>(a, na, b, nb, g, da, db);
  }
}

void scale_forward(float* out, const float* in, float s, int64_t n) {
  for_each_index(n, [&](int64_t i) { out[i] = s * in[i]; });
}

void axpy(float* y, const float* x, float s, int64_t n) {
  for_each_index(n, [&](int64_t i) { y[i] += s * x[i]; });
}

void activation_forward(Activation act, float* out, const float* in, int64_t n) {
  switch (act) {
    case Activation::Relu: return act_forward_t<Activation::Relu>(out, in, n);
    case Activation::Gelu: return act_forward_t<Activation::Gelu>(out, in, n);
    case Activation::GeluTanh: return act_forward_t<Activation::GeluTanh>(out, in, n);
    case Activation::Silu: return act_forward_t<Activation::Silu>(out, in, n);
  }
}

void activation_backward(Activation act, float* din, const float* in, const float* dout, int64_t n) {
  switch (act) {
    case Activation::Relu: return act_backward_t<Activation::Relu>(din, in, dout, n);
    case Activation::Gelu: return act_backward_t<Activation::Gelu>(din, in, dout, n);
    case Activation::GeluTanh: return act_backward_t<Activation::GeluTanh>(din, in, dout, n);
    case Activation::Silu: return act_backward_t<Activation::Silu>(din, in, dout, n);
  }
}

void glu_forward(Activation act, float* out, const float* g, const float* u, int64_t n) {
  for_each_index(n, [&](int64_t i) { out[i] = act_f(act, g[i]) * u[i]; });
}

void glu_backward(Activation act, float* dg, float* du, const float* g, const float* u, const float* dout,
                  int64_t n) {
  if (dg) for_each_index(n, [&](int64_t i) { dg[i] += act_df(act, g[i]) * u[i] * dout[i]; });
  if (du) for_each_index(n, [&](int64_t i) { du[i] += act_f(act, g[i]) * dout[i]; });
}

}  // namespace moelab::kernels
