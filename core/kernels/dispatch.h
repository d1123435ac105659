// core/kernels/dispatch.h: the MoE dispatch plan. Routing produces (token, expert, gate) assignments;
// the plan counting-sorts them by expert so each expert's rows are contiguous (one GEMM per expert),
// applies the capacity (an expert keeps its first `capacity` assignments in priority order), and
// lists each token's kept rows for a deterministic combine.
#pragma once
#include <cstdint>
#include <vector>

namespace moelab::kernels {

struct Assignment {
  int32_t token;       // row of the layer input
  int32_t expert;      // expert index
  int32_t gate_index;  // index into the gate vector that weights this row's output
};

struct DispatchPlan {
  int64_t n_tokens = 0, n_experts = 0;
  std::vector<int64_t> offsets;        // [E+1]: rows offsets[e] .. offsets[e+1] go to expert e
  std::vector<int32_t> token;          // [R]: source token of each row
  std::vector<int32_t> gate_index;     // [R]
  std::vector<int64_t> token_offsets;  // [N+1]: token t's rows are token_rows[token_offsets[t] ..]
  std::vector<int32_t> token_rows;     // [R]: in ascending gate_index (slot order for token choice)
  std::vector<int64_t> routed;         // [E]: assignments before capacity
  int64_t rows() const { return static_cast<int64_t>(token.size()); }
  int64_t kept(int64_t e) const { return offsets[e + 1] - offsets[e]; }
  int64_t dropped() const;             // assignments removed by the capacity
};

// `assignments` are in priority order: when an expert is over capacity it keeps the earliest ones.
// capacity < 0 = dropless. With tokens_per_group > 0 the tokens form consecutive groups of that size
// and the capacity applies to each group separately (GShard's groups). Stable: within an expert,
// rows keep the priority order.
DispatchPlan build_dispatch_plan(const std::vector<Assignment>& assignments, int64_t n_tokens, int64_t n_experts,
                                 int64_t capacity, int64_t tokens_per_group = 0);

}  // namespace moelab::kernels
