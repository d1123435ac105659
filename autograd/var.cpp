#include "autograd/var.h"

namespace moelab::autograd {

Var::Var(Tensor value, bool requires_grad) : impl_(std::make_shared<Impl>()) {
  impl_->value = std::move(value);
  impl_->requires_grad = requires_grad;
}

float* Var::grad_accum() const {
  if (!impl_->grad.defined()) {
    impl_->grad = Tensor::zeros(shape());
  } else if (impl_->grad_fresh) {
    impl_->grad.fill(0.f);
  }
  impl_->grad_fresh = false;
  return impl_->grad.data();
}

float* Var::grad_for_write(bool* fresh) const {
  if (!impl_->grad.defined()) {
    impl_->grad = Tensor::empty(shape());
    impl_->grad_fresh = true;
  }
  *fresh = impl_->grad_fresh;
  impl_->grad_fresh = false;  // the caller writes it now
  return impl_->grad.data();
}

void Var::zero_grad() const {
  if (impl_->grad.defined()) impl_->grad.fill(0.f);
  impl_->grad_fresh = false;
}

void Var::clear_grad() const {
  impl_->grad = Tensor();
  impl_->grad_fresh = false;
}

void Var::set_grad(Tensor g) const {
  MOELAB_CHECK(g.shape() == shape(), "set_grad: gradient shape ", shape_str(g.shape()), " does not match value ",
               shape_str(shape()));
  impl_->grad = std::move(g);
  impl_->grad_fresh = false;
}

}  // namespace moelab::autograd
