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
                                 int64_t capacity, int64_t tokens_per_group) {
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
  // which assignments each (group, expert) keeps: its first `capacity` in priority order
  const int64_t per_group = tokens_per_group > 0 ? tokens_per_group : std::max<int64_t>(n_tokens, 1);
  const int64_t groups = (n_tokens + per_group - 1) / per_group;
  std::vector<char> keep(assignments.size(), 1);
  std::vector<int64_t> kept(n_experts, 0);
  if (capacity >= 0) {
    std::vector<int64_t> used(std::max<int64_t>(groups, 1) * n_experts, 0);
    for (size_t i = 0; i < assignments.size(); ++i) {
      const Assignment& a = assignments[i];
      int64_t& u = used[a.token / per_group * n_experts + a.expert];
      keep[i] = u < capacity;
      u += keep[i];
    }
  }
  for (size_t i = 0; i < assignments.size(); ++i) kept[assignments[i].expert] += keep[i];
  // counting sort of the kept assignments by expert
  p.offsets.assign(n_experts + 1, 0);
  for (int64_t e = 0; e < n_experts; ++e) p.offsets[e + 1] = p.offsets[e] + kept[e];
  const int64_t R = p.offsets[n_experts];
  p.token.resize(R);
  p.gate_index.resize(R);
  std::vector<int64_t> fill(p.offsets.begin(), p.offsets.end() - 1);
  for (size_t i = 0; i < assignments.size(); ++i) {
    if (!keep[i]) continue;  // over capacity: dropped
    const Assignment& a = assignments[i];
    int64_t& pos = fill[a.expert];
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
