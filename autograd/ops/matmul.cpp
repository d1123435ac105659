// matmul: C = op(A) op(B). Backward, with dC the output gradient (stored layouts):
//   A B     : dA = dC B^T      dB = A^T dC
//   A B^T   : dA = dC B        dB = dC^T A
//   A^T B   : dA = B dC^T      dB = A dC
//   A^T B^T : dA = B^T dC^T    dB = dC^T A^T
// Gradients are written by GEMM with beta 0 into a fresh buffer, beta 1 to accumulate.
#include "autograd/ops.h"
#include "core/kernels/matmul.h"

namespace moelab::ops {
namespace {

struct Dims {
  int64_t batch, m, n, k, stride_a, stride_b;
  Shape out;
};

Dims infer(const Var& a, const Var& b, bool ta, bool tb) {
  const Shape& sa = a.shape();
  const Shape& sb = b.shape();
  auto fail = [&](const char* why) {
    return Error(detail::concat("matmul: ", why, ": a ", shape_str(sa), (ta ? " (transposed)" : ""), ", b ",
                                shape_str(sb), (tb ? " (transposed)" : "")));
  };
  Dims d{};
  if (sa.size() == 2 && sb.size() == 2) {
    d.batch = 1;
    d.m = ta ? sa[1] : sa[0];
    d.k = ta ? sa[0] : sa[1];
    d.out = {d.m, 0};
  } else if (sa.size() == 3 && sb.size() == 3) {
    if (sa[0] != sb[0]) throw fail("batch sizes differ");
    d.batch = sa[0];
    d.m = ta ? sa[2] : sa[1];
    d.k = ta ? sa[1] : sa[2];
    d.out = {d.batch, d.m, 0};
  } else if (sa.size() > 2 && sb.size() == 2) {
    if (ta) throw fail("an N-D left operand cannot be transposed");
    d.batch = 1;
    d.k = sa.back();
    d.m = a.numel() / std::max<int64_t>(d.k, 1);
    if (d.k == 0) d.m = numel_of(Shape(sa.begin(), sa.end() - 1));
    d.out = Shape(sa.begin(), sa.end() - 1);
    d.out.push_back(0);
  } else {
    throw fail("unsupported ranks (2-D x 2-D, 3-D x 3-D or N-D x 2-D)");
  }
  const int64_t kb = tb ? sb[sb.size() - 1] : sb[sb.size() - 2];
  d.n = tb ? sb[sb.size() - 2] : sb[sb.size() - 1];
  if (kb != d.k) throw fail(detail::concat("inner dimensions differ (", d.k, " vs ", kb, ")").c_str());
  d.out.back() = d.n;
  d.stride_a = sb.size() == 3 ? d.m * d.k : 0;
  d.stride_b = sb.size() == 3 ? d.k * d.n : 0;
  return d;
}

Trans t(bool x) { return x ? Trans::Yes : Trans::No; }

}  // namespace

Var matmul(const Var& a, const Var& b, bool ta, bool tb) {
  const Dims d = infer(a, b, ta, tb);
  Var c(Tensor::empty(d.out));
  const int64_t sc = d.m * d.n;
  kernels::matmul(t(ta), t(tb), d.batch, d.m, d.n, d.k, a.data(), d.stride_a, b.data(), d.stride_b, c.data(),
                  d.batch > 1 ? sc : 0, 0.f);
  if (!autograd::needs_grad({a, b})) return c;
  autograd::record("matmul", c, [a, b, c, d, ta, tb] {
    const float* dc = c.grad().data();
    const int64_t sc = d.batch > 1 ? d.m * d.n : 0;
    if (a.requires_grad()) {
      bool fresh;
      float* da = a.grad_for_write(&fresh);
      const float beta = fresh ? 0.f : 1.f;
      if (!ta) {  // dA [m,k] = dC [m,n] . op(B)^T
        kernels::matmul(Trans::No, tb ? Trans::No : Trans::Yes, d.batch, d.m, d.k, d.n, dc, sc, b.data(),
                        d.stride_b, da, d.stride_a, beta);
      } else {  // dA stored [k,m] = op(B) [k,n] . dC^T
        kernels::matmul(tb ? Trans::Yes : Trans::No, Trans::Yes, d.batch, d.k, d.m, d.n, b.data(), d.stride_b, dc,
                        sc, da, d.stride_a, beta);
      }
    }
    if (b.requires_grad()) {
      bool fresh;
      float* db = b.grad_for_write(&fresh);
      const float beta = fresh ? 0.f : 1.f;
      if (!tb) {  // dB [k,n] = op(A)^T [k,m] . dC [m,n]
        kernels::matmul(ta ? Trans::No : Trans::Yes, Trans::No, d.batch, d.k, d.n, d.m, a.data(), d.stride_a, dc, sc,
                        db, d.stride_b, beta);
      } else {  // dB stored [n,k] = dC^T [n,m] . op(A) [m,k]
        kernels::matmul(Trans::Yes, ta ? Trans::Yes : Trans::No, d.batch, d.n, d.k, d.m, dc, sc, a.data(),
                        d.stride_a, db, d.stride_b, beta);
      }
    }
  });
  return c;
}

}  // namespace moelab::ops
