// core/kernels/expert_mlp.h: E small MLPs, each on its own contiguous block of rows (grouped GEMM).
// Expert e owns rows offsets[e] .. offsets[e+1] of every [R, *] buffer. Cost follows the rows each
// expert got, never E x tokens. Threads: experts run in parallel with single-threaded BLAS; an expert
// holding more than a thread's share of the rows runs alone with threaded BLAS (collapsed routing).
#pragma once
#include <cstdint>
#include <vector>

#include "core/kernels/elementwise.h"

namespace moelab::kernels {

struct ExpertMlpShape {
  int64_t dim = 0;     // d: input and output width
  int64_t hidden = 0;  // h: activation width (c_fc has 2h outputs when glu)
  Activation act = Activation::Gelu;
  bool glu = false;
  int64_t fc_out() const { return glu ? 2 * hidden : hidden; }
};

struct ExpertWeights {  // PyTorch layouts; biases may be null
  const float* fc_w;    // [fc_out, d]
  const float* fc_b;    // [fc_out]
  const float* proj_w;  // [d, h]
  const float* proj_b;  // [d]
};

struct ExpertGrads {  // accumulated (+=), or overwritten when `overwrite`; a null pointer is skipped
  float* fc_w;
  float* fc_b;
  float* proj_w;
  float* proj_b;
  bool overwrite = false;  // the buffers are fresh (uninitialised): write, do not add
};

// hpre [R, fc_out] = x W1^T + b1; hact [R, h] = act(hpre) (or glu); y [R, d] = hact W2^T + b2.
void expert_mlp_forward(const ExpertMlpShape& s, const std::vector<int64_t>& offsets,
                        const std::vector<ExpertWeights>& w, const float* x, float* hpre, float* hact, float* y);

// From dy [R, d]: weight grads (+=) and dx [R, d] (overwritten). Scratch: dhact [R, h], dhpre [R, fc_out].
void expert_mlp_backward(const ExpertMlpShape& s, const std::vector<int64_t>& offsets,
                         const std::vector<ExpertWeights>& w, const std::vector<ExpertGrads>& g, const float* x,
                         const float* hpre, const float* hact, const float* dy, float* dx, float* dhact,
                         float* dhpre);

}  // namespace moelab::kernels
