// core/kernels/matmul.h: (batched) matrix products on row-major buffers through cblas_sgemm.
// Transposes are BLAS flags, never copies. beta = 1 accumulates into C (how backward adds grads).
#pragma once
#include <cstdint>

#include "core/blas.h"

namespace moelab::kernels {

// For each of `batch` problems: C[m,n] = op(A) * op(B) + beta * C, where A is stored [m,k]
// (or [k,m] when ta) and B is stored [k,n] (or [n,k] when tb); consecutive problems are
// stride_a / stride_b / stride_c elements apart (stride 0 reuses the same matrix).
void matmul(Trans ta, Trans tb, int64_t batch, int64_t m, int64_t n, int64_t k, const float* a, int64_t stride_a,
            const float* b, int64_t stride_b, float* c, int64_t stride_c, float beta);

// y[rows, n] += bias[n] for every row.
void add_bias_rows(float* y, const float* bias, int64_t rows, int64_t n);
// dbias[n] += sum over rows of dy[rows, n]
void sum_rows_into(float* dbias, const float* dy, int64_t rows, int64_t n);

}  // namespace moelab::kernels
