// optim/optimizer.h: optimizers over named parameters. optim/ sees a parameter as a Var plus its
// name, whether it decays and whether it is frozen; it knows nothing of layers. A frozen
// parameter is skipped entirely: no update, no weight decay, no state created or changed.
#pragma once
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "autograd/var.h"

namespace moelab::optim {

using autograd::Var;

struct ParamRef {
  std::string name;
  Var var;
  bool decay = true;
  bool frozen = false;
  int64_t frozen_rows = 0;  // leading rows (of dim 0) left exactly as they are: no update, decay or state change
};

class Optimizer {
 public:
  explicit Optimizer(std::vector<ParamRef> params) : params_(std::move(params)) {}
  virtual ~Optimizer() = default;
  // grad_scale multiplies every gradient as it is read (global-norm clipping without a separate pass).
  virtual void step(float lr, float grad_scale = 1.f) = 0;
  void zero_grad();  // drops gradients (they are re-created by the next backward)
  std::vector<ParamRef>& params() { return params_; }
  int64_t steps() const { return step_; }

  // State for checkpoints: tensors by "<slot>.<param name>", plus the step counter.
  virtual std::map<std::string, Tensor> state() const = 0;
  virtual void load_state(const std::map<std::string, Tensor>& state, int64_t step) = 0;

 protected:
  std::vector<ParamRef> params_;
  int64_t step_ = 0;
};

struct AdamWConfig {
  float beta1 = 0.9f, beta2 = 0.95f, eps = 1e-8f, weight_decay = 0.1f;
};

// PyTorch's AdamW: p -= lr*wd*p (decaying params only); m, v moments; p -= lr/bc1 * m / (sqrt(v)/sqrt(bc2) + eps).
class AdamW : public Optimizer {
 public:
  AdamW(std::vector<ParamRef> params, AdamWConfig cfg);
  void step(float lr, float grad_scale = 1.f) override;
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& state, int64_t step) override;

 private:
  AdamWConfig cfg_;
  std::vector<Tensor> m_, v_;  // allocated on the first step a parameter is updated
};

struct SGDConfig {
  float momentum = 0.9f, weight_decay = 0.f;
};

// PyTorch's SGD: g += wd*p; buf = momentum*buf + g; p -= lr*buf.
class SGD : public Optimizer {
 public:
  SGD(std::vector<ParamRef> params, SGDConfig cfg);
  void step(float lr, float grad_scale = 1.f) override;
  std::map<std::string, Tensor> state() const override;
  void load_state(const std::map<std::string, Tensor>& state, int64_t step) override;

 private:
  SGDConfig cfg_;
  std::vector<Tensor> buf_;
};

// Scales all non-frozen gradients so their global L2 norm is at most max_norm (PyTorch's
// clip_grad_norm_: coefficient max_norm / (norm + 1e-6), capped at 1). Returns the norm before clipping.
double clip_grad_norm(std::vector<ParamRef>& params, double max_norm);
// The global L2 norm of the trainable gradients (parallel, deterministic), and the factor that
// clip_grad_norm would apply (1 when max_norm <= 0 or the norm is within it): pass it to step().
double grad_norm(const std::vector<ParamRef>& params);
float clip_scale(double norm, double max_norm);

struct ScheduleConfig {
  float lr = 1e-3f, min_lr = 1e-4f;
  int warmup_iters = 100, lr_decay_iters = 2000;
  bool decay = true;
};
// nanoGPT's schedule: linear warmup lr*(it+1)/(warmup+1), cosine to min_lr at lr_decay_iters, then min_lr.
float lr_at(const ScheduleConfig& s, int64_t it);

}  // namespace moelab::optim
