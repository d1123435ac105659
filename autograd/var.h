// autograd/var.h: Var, a cheap shared handle to a value tensor and its gradient.
// Copies of a Var refer to the same value and gradient (like a PyTorch tensor with requires_grad).
#pragma once
#include <memory>
#include <string>

#include "core/tensor.h"

namespace moelab::autograd {

class Var {
 public:
  Var() = default;
  explicit Var(Tensor value, bool requires_grad = false);

  bool defined() const { return impl_ != nullptr; }
  const Tensor& value() const { return impl_->value; }
  float* data() const { return impl_->value.data(); }
  const Shape& shape() const { return impl_->value.shape(); }
  int dim() const { return impl_->value.dim(); }
  int64_t size(int d) const { return impl_->value.size(d); }
  int64_t numel() const { return impl_->value.numel(); }
  float item() const { return impl_->value.item(); }

  bool requires_grad() const { return impl_->requires_grad; }
  void set_requires_grad(bool r) const { impl_->requires_grad = r; }

  bool has_grad() const { return impl_->grad.defined(); }
  const Tensor& grad() const { return impl_->grad; }  // undefined until something accumulates into it
  // The gradient buffer to accumulate (+=) into, allocated and zeroed on first use.
  float* grad_accum() const;
  // For writers that can overwrite instead of add (GEMM with beta = 0): the buffer, and whether it
  // was just allocated (its contents are then undefined and must be overwritten, not added to).
  float* grad_for_write(bool* fresh) const;
  void zero_grad() const;     // keeps the buffer, fills zeros
  void clear_grad() const;    // drops the buffer
  void set_grad(Tensor g) const;

  bool same(const Var& o) const { return impl_ == o.impl_; }

  // Tape bookkeeping (autograd/tape.cpp): which tape generation produced this Var, if any.
  int64_t tape_epoch() const { return impl_->tape_epoch; }
  void set_tape_epoch(int64_t e) const { impl_->tape_epoch = e; }

 private:
  struct Impl {
    Tensor value;
    mutable Tensor grad;
    bool requires_grad = false;
    bool grad_fresh = false;  // grad allocated but not yet written
    int64_t tape_epoch = -1;
  };
  std::shared_ptr<Impl> impl_;
};

}  // namespace moelab::autograd
