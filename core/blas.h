// core/blas.h: OpenBLAS, loaded at run time with the right kernels.
//
// Debian's OpenBLAS 0.3.21 is built with DYNAMIC_ARCH and picks its kernels from cpuid when it is
// loaded. It does not know recent Xeons and silently falls back to SSE3 "Prescott" kernels (5x
// slower sgemm). It reads OPENBLAS_CORETYPE only when the library loads, i.e. before main() if it
// were linked normally. So moelab dlopen()s the library on first use, after choosing a core type
// from cpuid (unless the user or machine already set OPENBLAS_CORETYPE, which is respected), then
// checks sgemm against a naive loop before anything trains on it.
#pragma once
#include <string>

namespace moelab {

enum class Trans { No, Yes };

struct BlasInfo {
  std::string library;         // path that was loaded
  std::string config;          // openblas_get_config()
  std::string corename;        // openblas_get_corename(): the kernels actually in use
  std::string coretype_env;    // OPENBLAS_CORETYPE in force when the library loaded ("" if none)
  std::string coretype_origin; // "user" (already set), "auto" (moelab chose it from cpuid), "none"
  std::string cpu_isa;         // best ISA seen by cpuid: avx512, avx2, sse
  double selfcheck_max_err = 0;// worst |sgemm - naive| / scale over the self-check
  int threads = 1;
};

// Loads and self-checks OpenBLAS once (thread-safe); throws moelab::Error if it cannot.
const BlasInfo& blas_info();

// C[m,n] = alpha * op(A)[m,k] * op(B)[k,n] + beta * C, row-major, lda/ldb/ldc as stored.
void sgemm(Trans ta, Trans tb, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
           int ldb, float beta, float* c, int ldc);

void blas_set_num_threads(int n);

}  // namespace moelab
