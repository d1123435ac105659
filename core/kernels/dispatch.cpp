#include "core/kernels/dispatch.h"

#include <algorithm>

#include "core/error.h"

namespace moelab::kernels {

int64_t DispatchPlan::dropped() const {
  int64_t d = 0;
  for (int64_t e = 0; e < n_experts; ++e) d += routed[e] - kept(e);
  return d;
}

DispatchPlan build_dispatch_plan(const std::vector<Assignment>& assignments, int64_t n_tokens, int64_t n_experts,
                                 int64_t capacity) {
  DispatchPlan p;
  p.n_tokens = n_tokens;
  p.n_experts = n_experts;
  p.routed.assign(n_experts, 0);
  for (const Assignment& a : assignments) {
    MOELAB_CHECK(a.expert >= 0 && a.expert < n_experts && a.token >= 0 && a.token < n_tokens,
                 "dispatch: assignment (token ", a.token, ", expert ", a.expert, ") out of range for ", n_tokens,
                 " tokens and ", n_experts, " experts");
    ++p.routed[a.expert];
  }
  // counting sort by expert, truncated at the capacity
  p.offsets.assign(n_experts + 1, 0);
  for (int64_t e = 0; e < n_experts; ++e)
    p.offsets[e + 1] = p.offsets[e] + (capacity < 0 ? p.routed[e] : std::min(p.routed[e], capacity));
  const int64_t R = p.offsets[n_experts];
  p.token.resize(R);
  p.gate_index.resize(R);
  std::vector<int64_t> fill(p.offsets.begin(), p.offsets.end() - 1);
  for (const Assignment& a : assignments) {
    int64_t& pos = fill[a.expert];
    if (pos == p.offsets[a.expert + 1]) continue;  // over capacity: dropped
    p.token[pos] = a.token;
    p.gate_index[pos] = a.gate_index;
    ++pos;
  }
  // per-token row lists for the combine, in ascending gate_index
  p.token_offsets.assign(n_tokens + 1, 0);
  for (int64_t r = 0; r < R; ++r) ++p.token_offsets[p.token[r] + 1];
  for (int64_t t = 0; t < n_tokens; ++t) p.token_offsets[t + 1] += p.token_offsets[t];
  p.token_rows.resize(R);
  std::vector<int64_t> tfill(p.token_offsets.begin(), p.token_offsets.end() - 1);
  for (int64_t r = 0; r < R; ++r) p.token_rows[tfill[p.token[r]]++] = static_cast<int32_t>(r);
  for (int64_t t = 0; t < n_tokens; ++t)
    std::sort(p.token_rows.begin() + p.token_offsets[t], p.token_rows.begin() + p.token_offsets[t + 1],
              [&](int32_t a, int32_t b) { return p.gate_index[a] < p.gate_index[b]; });
  return p;
}

}  // namespace moelab::kernels
