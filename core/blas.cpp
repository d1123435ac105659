#include "core/blas.h"

#include <dlfcn.h>

#include <cmath>
#include <cstdlib>
#include <mutex>
#include <vector>

#include "core/error.h"
#include "core/parallel.h"

#ifndef MOELAB_OPENBLAS_LIBRARY
#define MOELAB_OPENBLAS_LIBRARY "libopenblas.so.0"
#endif

namespace moelab {
namespace {

// CBLAS enum values, fixed by the CBLAS standard.
constexpr int kRowMajor = 101, kNoTrans = 111, kTrans = 112;
using SgemmFn = void (*)(int, int, int, int, int, int, float, const float*, int, const float*, int, float, float*,
                         int);
using CharFn = char* (*)();
using SetThreadsFn = void (*)(int);

struct Blas {
  SgemmFn sgemm = nullptr;
  SetThreadsFn set_threads = nullptr;
  BlasInfo info;
};

std::string cpu_isa() {
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return "avx512";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "avx2";
  return "sse";
}

// Kernel set for this CPU's float32 GEMM. SkylakeX is OpenBLAS's AVX-512 sgemm (newer names such as
// SapphireRapids/Cooperlake use the same sgemm); Haswell its AVX2+FMA one.
const char* coretype_for(const std::string& isa) {
  if (isa == "avx512") return "SkylakeX";
  if (isa == "avx2") return "Haswell";
  return nullptr;
}

template <class F>
F symbol(void* lib, const char* name, const std::string& path) {
  void* p = dlsym(lib, name);
  MOELAB_CHECK(p, "BLAS: ", path, " has no symbol ", name, " (is it OpenBLAS?)");
  return reinterpret_cast<F>(p);
}

// sgemm vs a naive triple loop, all four transpose combinations, odd sizes.
double selfcheck(SgemmFn gemm) {
  const int m = 37, n = 29, k = 53;
  std::vector<float> a(m * k), b(k * n), c(m * n);
  for (int i = 0; i < m * k; ++i) a[i] = std::sin(0.37f * i);
  for (int i = 0; i < k * n; ++i) b[i] = std::cos(0.11f * i);
  double worst = 0;
  for (int ta = 0; ta < 2; ++ta)
    for (int tb = 0; tb < 2; ++tb) {
      // Stored layouts: A is [m,k] or [k,m]; B is [k,n] or [n,k].
      gemm(kRowMajor, ta ? kTrans : kNoTrans, tb ? kTrans : kNoTrans, m, n, k, 1.f, a.data(), ta ? m : k,
           b.data(), tb ? k : n, 0.f, c.data(), n);
      for (int i = 0; i < m; ++i)
        for (int j = 0; j < n; ++j) {
          double ref = 0;
          for (int p = 0; p < k; ++p) {
            double av = ta ? a[p * m + i] : a[i * k + p];
            double bv = tb ? b[j * k + p] : b[p * n + j];
            ref += av * bv;
          }
          worst = std::max(worst, std::abs(ref - c[i * n + j]) / (1.0 + std::abs(ref)));
        }
    }
  return worst;
}

Blas load() {
  Blas blas;
  BlasInfo& info = blas.info;
  info.cpu_isa = cpu_isa();
  if (const char* user = std::getenv("OPENBLAS_CORETYPE"); user && *user) {
    info.coretype_env = user;
    info.coretype_origin = "user";
  } else if (const char* chosen = coretype_for(info.cpu_isa)) {
    setenv("OPENBLAS_CORETYPE", chosen, 1);  // overwrite: an empty value counts as unset
    info.coretype_env = chosen;
    info.coretype_origin = "auto";
  } else {
    info.coretype_origin = "none";
  }
  const char* override_path = std::getenv("MOELAB_BLAS_LIBRARY");
  info.library = override_path && *override_path ? override_path : MOELAB_OPENBLAS_LIBRARY;
  void* lib = dlopen(info.library.c_str(), RTLD_NOW | RTLD_GLOBAL);
  MOELAB_CHECK(lib, "BLAS: cannot load ", info.library, ": ", dlerror(),
               " (install it with: apt-get install libopenblas0-openmp, or point MOELAB_BLAS_LIBRARY at an OpenBLAS)");
  blas.sgemm = symbol<SgemmFn>(lib, "cblas_sgemm", info.library);
  blas.set_threads = symbol<SetThreadsFn>(lib, "openblas_set_num_threads", info.library);
  info.corename = symbol<CharFn>(lib, "openblas_get_corename", info.library)();
  info.config = symbol<CharFn>(lib, "openblas_get_config", info.library)();
  info.selfcheck_max_err = selfcheck(blas.sgemm);
  MOELAB_CHECK(info.selfcheck_max_err < 1e-4, "BLAS: sgemm self-check failed with kernels '", info.corename,
               "' (OPENBLAS_CORETYPE=", info.coretype_env, "): worst relative error ", info.selfcheck_max_err,
               ". Set OPENBLAS_CORETYPE to a kernel set known to work on this CPU (e.g. Haswell or Prescott).");
  // Same pool size as our OpenMP loops: the OpenMP build of OpenBLAS shares libgomp's pool with them.
  blas.set_threads(omp_get_max_threads());
  info.threads = omp_get_max_threads();
  return blas;
}

Blas& instance() {
  static Blas blas = load();
  return blas;
}

}  // namespace

const BlasInfo& blas_info() {
  Blas& b = instance();
  b.info.threads = omp_get_max_threads();
  return b.info;
}

void sgemm(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b, int ldb,
           float beta, float* c, int ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {  // BLAS may not touch C when k == 0; define it: C = beta * C
    for (int i = 0; i < m; ++i)
      for (int j = 0; j < n; ++j) c[i * ldc + j] = beta == 0.f ? 0.f : beta * c[i * ldc + j];
    return;
  }
  instance().sgemm(kRowMajor, ta == Trans::Yes ? kTrans : kNoTrans, tb == Trans::Yes ? kTrans : kNoTrans, m, n,
                   k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void blas_set_num_threads(int n) { instance().set_threads(n); }

int num_threads() { return omp_get_max_threads(); }

void set_num_threads(int n) {
  MOELAB_CHECK(n >= 1, "threads must be >= 1, got ", n);
  omp_set_num_threads(n);
  blas_set_num_threads(n);
}

}  // namespace moelab
