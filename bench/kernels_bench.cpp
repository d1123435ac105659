#include "bench/kernels_bench.h"

#include <cstdio>
#include <cstring>
#include <string>

#include "autograd/ops.h"
#include "bench/timing.h"
#include "core/kernels/matmul.h"
#include "core/parallel.h"
#include "core/rng.h"

namespace moelab::bench {
namespace {

using autograd::Var;

struct GemmCase {
  std::string name;
  int64_t m, n, k;
  bool ta, tb;
};

std::vector<GemmCase> gemm_cases() {
  std::vector<GemmCase> cases;
  for (int64_t s : {128, 256, 512, 1024}) cases.push_back({std::to_string(s) + "^3", s, s, s, false, false});
  // Transformer shapes (M tokens = 768 = batch 12 x block 64): forward x.W and the two gradient
  // products of the same GEMM (dx = dy.W^T with B transposed, dW = x^T.dy with A transposed).
  auto add_family = [&](int64_t m, int64_t k, int64_t n) {
    std::string base = "[";  // (built by += : GCC 12 warns falsely of an overlapping memcpy on "[" + ...)
    base += std::to_string(m) + "x" + std::to_string(k) + "].[" + std::to_string(k) + "x" + std::to_string(n) + "]";
    cases.push_back({base, m, n, k, false, false});
    cases.push_back({base + " dA=dC.B^T", m, k, n, false, true});
    cases.push_back({base + " dB=A^T.dC", k, n, m, true, false});
  };
  add_family(768, 128, 384);
  add_family(768, 512, 128);
  return cases;
}

Tensor random(const Shape& s, uint64_t seed) {
  Tensor t = Tensor::empty(s);
  Rng(seed).fill_normal(t);
  return t;
}

void gemm_table(int repeats, std::ostream& out) {  // at the current thread count
  char line[256];
  std::snprintf(line, sizeof line, "%-34s %10s %10s %8s\n", "matmul case (M,N,K)", "sgemm", "op", "op/raw");
  out << line;
  for (const GemmCase& c : gemm_cases()) {
    Tensor a = random(c.ta ? Shape{c.k, c.m} : Shape{c.m, c.k}, 1);
    Tensor b = random(c.tb ? Shape{c.n, c.k} : Shape{c.k, c.n}, 2);
    Tensor cbuf = Tensor::empty({c.m, c.n});
    const double flops = 2.0 * c.m * c.n * c.k;
    auto raw = [&] {
      sgemm(c.ta ? Trans::Yes : Trans::No, c.tb ? Trans::Yes : Trans::No, c.m, c.n, c.k, 1.f, a.data(),
            c.ta ? c.m : c.k, b.data(), c.tb ? c.k : c.n, 0.f, cbuf.data(), c.n);
    };
    Var va(a), vb(b);
    auto op = [&] {
      autograd::NoGrad ng;
      Var y = ops::matmul(va, vb, c.ta, c.tb);
    };
    // Interleave the two so drift on a noisy machine hits both alike.
    double t_raw = median_seconds(raw, repeats), t_op = median_seconds(op, repeats);
    t_raw = std::min(t_raw, median_seconds(raw, repeats));
    t_op = std::min(t_op, median_seconds(op, repeats));
    std::snprintf(line, sizeof line, "%-34s %10.1f %10.1f %7.1f%%\n", c.name.c_str(), flops / t_raw * 1e-9,
                  flops / t_op * 1e-9, 100.0 * t_raw / t_op);
    out << line;
  }
}

void parallel_memcpy(float* dst, const float* src, int64_t n) {
  parallel_for(n, 1 << 16, [&](int64_t b, int64_t e) { std::memcpy(dst + b, src + b, (e - b) * sizeof(float)); });
}

void bandwidth_table(int repeats, std::ostream& out) {
  char line[256];
  std::snprintf(line, sizeof line, "%-28s %10s %10s %10s %8s\n", "op (bytes moved)", "size", "memcpy", "op", "op/memcpy");
  out << line;
  for (int64_t mb : {1, 8, 32}) {
    const int64_t n = mb * (1 << 20) / 4;  // floats per operand
    const int64_t cols = 256, rows = n / cols;
    Tensor a = random({rows, cols}, 3), b = random({rows, cols}, 4), dst = Tensor::empty({rows, cols});
    Var va(a), vb(b), w(Tensor::full({cols}, 1.f)), bias(Tensor::zeros({cols}));
    struct Case {
      const char* name;
      double bytes;  // bytes the op must read + write
      std::function<void()> run;
    };
    const double nb = 4.0 * n;
    std::vector<Case> cases = {
        {"add a+b (r 2N, w N)", 3 * nb, [&] { autograd::NoGrad g; Var y = ops::add(va, vb); }},
        {"gelu (r N, w N)", 2 * nb, [&] { autograd::NoGrad g; Var y = ops::gelu(va); }},
        {"softmax rows of 256 (r N, w N)", 2 * nb, [&] { autograd::NoGrad g; Var y = ops::softmax(va); }},
        {"layernorm rows of 256 (r N, w N)", 2 * nb, [&] { autograd::NoGrad g; Var y = ops::layernorm(va, w, bias); }},
    };
    // memcpy moves 2N bytes (read N, write N) for N bytes copied.
    const double t_copy = median_seconds([&] { parallel_memcpy(dst.data(), a.data(), n); }, repeats);
    const double copy_gbs = 2 * nb / t_copy * 1e-9;
    for (const Case& c : cases) {
      const double t = median_seconds(c.run, repeats);
      const double gbs = c.bytes / t * 1e-9;
      std::snprintf(line, sizeof line, "%-28s %8lldMB %8.1f GB/s %6.1f GB/s %7.1f%%\n", c.name,
                    static_cast<long long>(mb), copy_gbs, gbs, 100.0 * gbs / copy_gbs);
      out << line;
    }
  }
}

}  // namespace

int run_kernel_bench(const KernelBenchOptions& opts, std::ostream& out) {
  const BlasInfo& info = blas_info();
  out << "moelab bench kernels: BLAS " << info.corename << " kernels (" << info.library << "), median of "
      << opts.repeats << " samples; GFLOP/s for matmul, GB/s of bytes read + written otherwise\n";
  const int restore = num_threads();
  for (int t : opts.thread_counts) {
    set_num_threads(t);
    out << "\n== threads: " << t << " ==\n";
    gemm_table(opts.repeats, out);
    out << "\n";
    bandwidth_table(opts.repeats, out);
  }
  set_num_threads(restore);
  return 0;
}

}  // namespace moelab::bench
