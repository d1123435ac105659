// exchange_rows: expert parallelism's all-to-all. x's rows go to the processes of comm, in order:
// send_counts[p] consecutive rows to process p; y holds the rows received, recv_counts[p] from
// process p, in rank order. Backward: the reverse exchange, dx[rows sent to p] += dy[rows p sent back].
// Every process of comm calls it (and its backward) in the same order; counts must be what the
// other side expects (exchange them first). `account` (optional) gets what the exchange and its
// backward cost: comm's stats count every exchange, an account only these (e.g. one layer's).
#include <numeric>

#include "autograd/ops.h"
#include "core/comm/communicator.h"

namespace moelab::ops {

namespace {
std::vector<int64_t> times(const std::vector<int64_t>& rows, int64_t cols) {
  std::vector<int64_t> out(rows.size());
  for (size_t i = 0; i < rows.size(); ++i) out[i] = rows[i] * cols;
  return out;
}
}  // namespace

Var exchange_rows(const Var& x, const std::vector<int64_t>& send_counts, const std::vector<int64_t>& recv_counts,
                  comm::Communicator& comm, comm::CommStats* account) {
  MOELAB_CHECK(x.dim() == 2, "exchange_rows: input must be [rows, cols], got ", shape_str(x.shape()));
  const int64_t P = comm.size(), cols = x.size(1);
  MOELAB_CHECK(static_cast<int64_t>(send_counts.size()) == P && static_cast<int64_t>(recv_counts.size()) == P,
               "exchange_rows: ", send_counts.size(), " send and ", recv_counts.size(), " receive counts for ", P,
               " processes");
  const int64_t sent = std::accumulate(send_counts.begin(), send_counts.end(), int64_t{0});
  const int64_t received = std::accumulate(recv_counts.begin(), recv_counts.end(), int64_t{0});
  MOELAB_CHECK(sent == x.size(0), "exchange_rows: send counts add up to ", sent, " rows, the input has ", x.size(0));
  Var y(Tensor::empty({received, cols}));
  const std::vector<int64_t> send_floats = times(send_counts, cols), recv_floats = times(recv_counts, cols);
  comm::accounted(comm, account, [&] { comm.alltoallv(x.data(), send_floats, y.data(), recv_floats); });
  if (!autograd::needs_grad({x})) return y;
  comm::Communicator* c = &comm;
  autograd::record_collective("exchange_rows", y, [x, y, send_floats, recv_floats, c, account] {
    const Tensor dy = y.has_grad() ? y.grad() : Tensor::zeros(y.shape());
    Tensor back = Tensor::empty(x.shape());
    comm::accounted(*c, account, [&] { c->alltoallv(dy.data(), recv_floats, back.data(), send_floats); });
    kernels::axpy(x.grad_accum(), back.data(), 1.f, x.numel());
  });
  return y;
}

}  // namespace moelab::ops
