// core/kernels/elementwise.h: binary ops with trailing-dim broadcasting, scaling, activations.
// Backward functions accumulate (+=) into their gradient outputs; a null gradient pointer is skipped.
#pragma once
#include <cstdint>

namespace moelab::kernels {

enum class BinaryOp { Add, Sub, Mul, Div };

// out[i] = a[i % na] (op) b[i % nb] for i < max(na, nb); the smaller count must divide the larger
// (the smaller operand's shape is a suffix of the larger's).
void binary_forward(BinaryOp op, const float* a, int64_t na, const float* b, int64_t nb, float* out);
void binary_backward(BinaryOp op, const float* a, int64_t na, const float* b, int64_t nb, const float* dout,
                     float* da, float* db);

void scale_forward(float* out, const float* in, float s, int64_t n);  // out = s * in
void axpy(float* y, const float* x, float s, int64_t n);               // y += s * x

enum class Activation { Relu, Gelu, GeluTanh, Silu };
void activation_forward(Activation act, float* out, const float* in, int64_t n);
void activation_backward(Activation act, float* din, const float* in, const float* dout, int64_t n);

// SwiGLU-style gate: out = act(g) * u on two equal halves (used by GLU FFNs).
void glu_forward(Activation act, float* out, const float* g, const float* u, int64_t n);
void glu_backward(Activation act, float* dg, float* du, const float* g, const float* u, const float* dout, int64_t n);

}  // namespace moelab::kernels
