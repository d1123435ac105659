// core/kernels/index.h: row gather/scatter by index lists (embedding lookup, MoE token dispatch)
// and top-k over the last dim.
#pragma once
#include <cstdint>

namespace moelab::kernels {

// out[i, :] = src[idx[i], :] for i < n_idx
void gather_rows(float* out, const float* src, const int32_t* idx, int64_t n_idx, int64_t cols);
// dst[idx[i], :] += scale[i] * src[i, :] (scale may be null = 1). Rows are added in index order i,
// so duplicate targets sum deterministically; threads split the columns.
void scatter_add_rows(float* dst, const float* src, const int32_t* idx, const float* scale, int64_t n_idx,
                      int64_t cols);

// For each row of x [rows, cols]: the k largest values, sorted descending, and their column
// indices. Ties go to the lower index. NaN never wins against a number.
void topk_rows(float* values, int32_t* indices, const float* x, int64_t rows, int64_t cols, int64_t k);

}  // namespace moelab::kernels
