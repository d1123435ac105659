// layers/basic.h: Linear, Embedding and the norms. Parameter layouts follow PyTorch.
#pragma once
#include "autograd/ops.h"
#include "core/rng.h"
#include "layers/module.h"

namespace moelab::nn {

// A fresh tensor drawn from N(0, std) (parameter init).
Tensor normal(const Shape& s, float std, Rng& rng);

// y = x W^T + b, W [out, in] ~ N(0, init_std), b = 0.
class Linear : public Module {
 public:
  Linear(int64_t in, int64_t out, bool bias, float init_std, Rng& rng);
  Var forward(const Var& x) const { return ops::linear(x, weight, bias); }
  Var weight, bias;
};

class Embedding : public Module {
 public:
  Embedding(int64_t num, int64_t dim, float init_std, Rng& rng);
  Var forward(const IndexTensor& ids) const { return ops::embedding(weight, ids); }
  Var weight;
};

// LayerNorm (weight 1, bias 0 unless bias = false; eps 1e-5) or RMSNorm (weight 1), chosen by name.
class Norm : public Module {
 public:
  Norm(const std::string& kind, int64_t dim, bool bias);
  Var forward(const Var& x) const;
  Var weight, bias;

 private:
  bool rms_;
};

}  // namespace moelab::nn
