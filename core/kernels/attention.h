// core/kernels/attention.h: causal multi-head self-attention on a fused qkv buffer.
// qkv [B, T, 3C] holds q | k | v per token (heads are hd-wide column blocks, hd = C / H); the
// per-(batch, head) matrices are addressed in place through BLAS leading dimensions, so heads
// are never copied out. probs [B, H, T, T] keeps the masked softmax for backward.
#pragma once
#include <cstdint>

namespace moelab::kernels {

void causal_attention_forward(float* out, float* probs, const float* qkv, int64_t B, int64_t T, int64_t C,
                              int64_t H);
// Inference with a key/value cache: qkv [B, T, 3C] holds the T new positions start .. start+T-1;
// keys, values [B, capacity, C] hold positions 0 .. start+T-1 (the new ones' already written).
// out [B, T, C] equals the rows start.. of causal_attention_forward on the whole sequence.
void cached_attention_forward(float* out, const float* qkv, const float* keys, const float* values, int64_t B,
                              int64_t T, int64_t start, int64_t capacity, int64_t C, int64_t H);
// dqkv += gradient of out w.r.t. qkv (dqkv must be initialised).
void causal_attention_backward(float* dqkv, const float* dout, const float* qkv, const float* probs, int64_t B,
                               int64_t T, int64_t C, int64_t H);

}  // namespace moelab::kernels
