// bilinear_glu.h: a new FFN kind, the bilinear GLU of Shazeer 2020 ("GLU Variants Improve
// Transformer", eq. 6): FFN(x) = W2 ((W1 x) * (W3 x)), a GLU with no activation and no biases.
//
// Config: model.ffn.type = "bilinear_glu" for the dense layers; model.ffn.params.hidden is the width
// of the product (default 2/3 of ffn.mult * n_embd, the paper's parameter-matched width).
// Parameters: transformer.h.<layer>.mlp.{w1,w3,w2}.weight, PyTorch [out, in] layouts.
#pragma once
#include <memory>

#include "layers/basic.h"
#include "layers/ffn.h"

namespace custom {

class BilinearGLU : public moelab::nn::FeedForward {
 public:
  explicit BilinearGLU(const moelab::nn::FfnArgs& a);
  moelab::autograd::Var forward(const moelab::autograd::Var& x, const moelab::nn::FfnContext& ctx) override;

  std::shared_ptr<moelab::nn::Linear> w1, w3, w2;  // d -> hidden, d -> hidden, hidden -> d
};

// The factory register_ffn() takes.
std::shared_ptr<moelab::nn::FeedForward> make_bilinear_glu(const moelab::nn::FfnArgs& a);

}  // namespace custom
