// allreduce_sum: y = sum over the processes of comm of x (every process gets the same y);
// dx += sum over the processes of dy. Every process holds the same loss built on y, and training
// divides summed gradients by the process count, so this backward gives each process's x its
// share of one process's gradient. comm = null or one process: the identity.
#include "autograd/ops.h"
#include "core/comm/communicator.h"

namespace moelab::ops {

Var allreduce_sum(const Var& x, comm::Communicator* comm) {
  if (!comm || comm->size() == 1) return x;
  Var y(x.value().clone());
  comm->allreduce_sum(y.data(), y.numel());
  if (!autograd::needs_grad({x})) return y;
  autograd::record_collective("allreduce_sum", y, [x, y, comm] {
    Tensor g = y.has_grad() ? y.grad().clone() : Tensor::zeros(y.shape());
    comm->allreduce_sum(g.data(), g.numel());
    kernels::axpy(x.grad_accum(), g.data(), 1.f, x.numel());
  });
  return y;
}

}  // namespace moelab::ops
