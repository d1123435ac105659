// test_exchange: expert parallelism's exchange op (ops::exchange_rows) on however many processes
// mpirun starts (1, 2 and 4 in CTest). Every process runs the same checks; any failure exits 1.
//  1. a round trip (rows out, then back) returns the input exactly, and its gradient; an account
//     passed to one exchange gets the bytes it and its backward sent to other processes;
//  2. dispatch then combine with unit gates returns the input and its gradient (top-1 routing to
//     experts spread over the processes, the experts the identity);
//  3. a gradcheck through both exchanges and a nonlinear step on the owners: the tape's gradients of
//     the global loss (the sum over processes) against central differences, each process's inputs
//     perturbed in turn while every process recomputes.
#include <cmath>
#include <cstdio>
#include <vector>

#include "autograd/ops.h"
#include "autograd/tape.h"
#include "core/comm/communicator.h"
#include "core/rng.h"

namespace ops = moelab::ops;
namespace ag = moelab::autograd;
using moelab::IndexTensor;
using moelab::Tensor;
using ag::Var;

namespace {

int failures = 0;
void expect(bool ok, const char* what, double got = 0, double want = 0) {
  if (ok) return;
  ++failures;
  std::fprintf(stderr, "FAIL (rank %d): %s (got %g, want %g)\n", moelab::comm::world().rank(), what, got, want);
}

Tensor randn(const moelab::Shape& s, uint64_t seed) {
  Tensor t = Tensor::empty(s);
  moelab::Rng(seed).fill_normal(t, 0.f, 1.f);
  return t;
}

// Rows each process sends to each other: uneven, and some zero, to exercise the counts.
std::vector<int64_t> send_counts(int rank, int size) {
  std::vector<int64_t> c(size);
  for (int p = 0; p < size; ++p) c[p] = (rank * 3 + p * 5 + 1) % 4;
  return c;
}

std::vector<int64_t> exchange_counts(moelab::comm::Communicator& comm, const std::vector<int64_t>& send) {
  std::vector<int64_t> recv(send.size());
  comm.alltoall(send.data(), recv.data(), 1);
  return recv;
}

void round_trip(moelab::comm::Communicator& comm) {
  const int64_t d = 5;
  const std::vector<int64_t> sc = send_counts(comm.rank(), comm.size()), rc = exchange_counts(comm, sc);
  int64_t rows = 0;
  for (int64_t c : sc) rows += c;
  Var x(randn({rows, d}, 100 + comm.rank()), true);
  moelab::comm::CommStats account;
  Var there = ops::exchange_rows(x, sc, rc, comm, &account);
  Var back = ops::exchange_rows(there, rc, sc, comm);
  double worst = 0;
  for (int64_t i = 0; i < x.numel(); ++i) worst = std::max(worst, std::abs(double(back.data()[i]) - x.data()[i]));
  expect(worst == 0, "round trip: the rows come back exactly", worst, 0);
  const Tensor r = randn({rows, d}, 200 + comm.rank());
  ag::backward(ops::sum(ops::mul(back, Var(r))));
  worst = 0;
  for (int64_t i = 0; i < x.numel(); ++i) worst = std::max(worst, std::abs(double(x.grad()[i]) - r[i]));
  expect(worst == 0, "round trip: the gradient comes back exactly", worst, 0);
  int64_t to_others = 0, from_others = 0;  // rows: forward sends sc, its backward sends rc
  for (int p = 0; p < comm.size(); ++p)
    if (p != comm.rank()) to_others += sc[p], from_others += rc[p];
  const double want = double(to_others + from_others) * d * sizeof(float);
  expect(double(account.alltoall_bytes) == want, "the account holds the exchange's bytes, forward and backward",
         double(account.alltoall_bytes), want);
}

// Top-1 routing of N tokens to E experts spread evenly over the processes; identity experts.
Var dispatch_combine(moelab::comm::Communicator& comm, const Var& x, const IndexTensor& expert, int64_t E,
                     const Var& gates) {
  const int P = comm.size();
  const int64_t N = x.size(0), held = E / P;
  std::vector<int64_t> sc(P, 0);
  for (int64_t n = 0; n < N; ++n) ++sc[expert[n] / held];
  std::vector<int64_t> start(P, 0);
  for (int p = 1; p < P; ++p) start[p] = start[p - 1] + sc[p - 1];
  IndexTensor order = IndexTensor::empty({N});
  for (int64_t n = 0; n < N; ++n) order[start[expert[n] / held]++] = static_cast<int32_t>(n);
  const std::vector<int64_t> rc = exchange_counts(comm, sc);
  Var at_owner = ops::exchange_rows(ops::gather_rows(x, order), sc, rc, comm);
  Var out_owner = ops::mul(at_owner, at_owner);  // an expert: elementwise square (nonlinear)
  Var back = ops::exchange_rows(out_owner, rc, sc, comm);
  Var g;
  if (gates.defined()) g = ops::reshape(ops::gather_rows(ops::reshape(gates, {N, 1}), order), {N});
  return ops::scatter_add_rows(back, order, N, g);
}

void unit_gates(moelab::comm::Communicator& comm) {
  const int64_t N = 7, d = 3, E = 4 * comm.size();
  Tensor xs = randn({N, d}, 300 + comm.rank());
  for (int64_t i = 0; i < xs.numel(); ++i) xs[i] = std::abs(xs[i]) + 0.5f;  // sqrt below recovers x
  Var x(xs, true);
  IndexTensor expert = IndexTensor::empty({N});
  moelab::Rng rng(400 + comm.rank());
  for (int64_t n = 0; n < N; ++n) expert[n] = static_cast<int32_t>(rng.randint(E));
  Var y = dispatch_combine(comm, x, expert, E, Var());  // unit gates: y = x * x
  double worst = 0;
  for (int64_t i = 0; i < x.numel(); ++i) worst = std::max(worst, std::abs(std::sqrt(double(y.data()[i])) - xs[i]));
  expect(worst < 1e-6, "dispatch + combine with unit gates returns each token's own row", worst, 0);
  const Tensor r = randn({N, d}, 500 + comm.rank());
  ag::backward(ops::sum(ops::mul(y, Var(r))));
  worst = 0;
  for (int64_t i = 0; i < x.numel(); ++i) worst = std::max(worst, std::abs(double(x.grad()[i]) - 2.0 * xs[i] * r[i]));
  expect(worst < 1e-5, "dispatch + combine: each token gets its own gradient (2 x dy)", worst, 0);
}

// The global loss: sum over processes of sum(R * dispatch_combine(x, gates)).
double global_loss(moelab::comm::Communicator& comm, const Var& x, const Var& gates, const IndexTensor& expert,
                   int64_t E, const Tensor& r) {
  Var y = dispatch_combine(comm, x, expert, E, gates);
  double l = 0;
  for (int64_t i = 0; i < y.numel(); ++i) l += double(y.data()[i]) * r[i];
  comm.allreduce_sum(&l, 1);
  return l;
}

void gradcheck(moelab::comm::Communicator& comm) {
  const int64_t N = 6, d = 3, E = 2 * comm.size();
  Var x(randn({N, d}, 600 + comm.rank()), true), gates(randn({N}, 700 + comm.rank()), true);
  IndexTensor expert = IndexTensor::empty({N});
  for (int64_t n = 0; n < N; ++n) expert[n] = static_cast<int32_t>((n * 3 + comm.rank()) % E);
  const Tensor r = randn({N, d}, 800 + comm.rank());
  ag::backward(ops::sum(ops::mul(dispatch_combine(comm, x, expert, E, gates), Var(r))));
  const Tensor dx = x.grad().clone(), dg = gates.grad().clone();
  const float eps = 1e-2f;
  double worst = 0, largest = 0;
  for (int owner = 0; owner < comm.size(); ++owner)  // every process's inputs in turn; all recompute
    for (const Var* v : {&x, &gates})
      for (int64_t i = 0; i < v->numel(); ++i) {
        float* p = v->value().data() + i;
        const float orig = *p;
        ag::NoGrad no_grad;
        if (comm.rank() == owner) *p = orig + eps;
        const double lp = global_loss(comm, x, gates, expert, E, r);
        if (comm.rank() == owner) *p = orig - eps;
        const double lm = global_loss(comm, x, gates, expert, E, r);
        if (comm.rank() == owner) *p = orig;
        if (comm.rank() != owner) continue;
        const double numeric = (lp - lm) / (2 * eps), analytic = v == &x ? dx[i] : dg[i];
        worst = std::max(worst, std::abs(numeric - analytic) / (1e-3 + 1e-2 * std::abs(numeric)));
        largest = std::max(largest, std::abs(numeric));
      }
  expect(worst <= 1, "gradcheck through both exchanges (x and gates)", worst, 1);
  expect(largest > 1e-2, "gradcheck: the gradients are not all ~0", largest, 1e-2);
}

}  // namespace

int main(int argc, char** argv) {
  moelab::comm::init(&argc, &argv);
  moelab::comm::Communicator& comm = moelab::comm::world();
  round_trip(comm);
  unit_gates(comm);
  gradcheck(comm);
  if (comm.rank() == 0)
    std::printf("%s on %d process(es)\n", failures ? "FAILED" : "exchange ops: all checks passed", comm.size());
  moelab::comm::finalize();
  return failures ? 1 : 0;
}
