// add / sub / mul / div with trailing-dim broadcasting. The smaller operand's gradient is the
// output gradient's contribution summed over the repeated leading dims (kernels::binary_backward).
#include "autograd/ops.h"

namespace moelab::ops {
namespace {

bool is_suffix(const Shape& small, const Shape& big) {
  if (small.size() > big.size()) return false;
  return std::equal(small.rbegin(), small.rend(), big.rbegin());
}

Var binary(kernels::BinaryOp op, const char* name, const Var& a, const Var& b) {
  const bool a_big = a.dim() >= b.dim();
  const Shape& big = a_big ? a.shape() : b.shape();
  const Shape& small = a_big ? b.shape() : a.shape();
  MOELAB_CHECK(is_suffix(small, big), name, ": shapes ", shape_str(a.shape()), " and ", shape_str(b.shape()),
               " do not broadcast (the smaller must equal the trailing dims of the larger)");
  Var y(Tensor::empty(big));
  kernels::binary_forward(op, a.data(), a.numel(), b.data(), b.numel(), y.data());
  if (!autograd::needs_grad({a, b})) return y;
  autograd::record(name, y, [op, a, b, y] {
    kernels::binary_backward(op, a.data(), a.numel(), b.data(), b.numel(), y.grad().data(),
                             a.requires_grad() ? a.grad_accum() : nullptr,
                             b.requires_grad() ? b.grad_accum() : nullptr);
  });
  return y;
}

}  // namespace

Var add(const Var& a, const Var& b) { return binary(kernels::BinaryOp::Add, "add", a, b); }
Var sub(const Var& a, const Var& b) { return binary(kernels::BinaryOp::Sub, "sub", a, b); }
Var mul(const Var& a, const Var& b) { return binary(kernels::BinaryOp::Mul, "mul", a, b); }
Var div(const Var& a, const Var& b) { return binary(kernels::BinaryOp::Div, "div", a, b); }

}  // namespace moelab::ops
