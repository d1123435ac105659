#include "train/memory.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>

#include "core/error.h"
#include "core/storage.h"
#include "train/io/files.h"

namespace moelab::train {

ProcessMemory process_memory() {
  ProcessMemory m;
  if (FILE* f = std::fopen("/proc/self/statm", "r")) {
    unsigned long size = 0, resident = 0;
    if (std::fscanf(f, "%lu %lu", &size, &resident) == 2)
      m.rss_bytes = resident * static_cast<size_t>(::sysconf(_SC_PAGESIZE));
    std::fclose(f);
  }
  struct rusage ru;
  if (::getrusage(RUSAGE_SELF, &ru) == 0) m.peak_rss_bytes = static_cast<size_t>(ru.ru_maxrss) * 1024;
  return m;
}

std::string describe(const MemoryBudget& b, const ProcessMemory& m) {
  const double mb = 1.0 / (1024.0 * 1024.0);
  const AllocatorStats a = allocator_stats();
  const struct mallinfo2 mi = ::mallinfo2();
  char line[512];
  std::snprintf(line, sizeof line,
                "memory: peak RSS %.1f MB = %.2fx needed %.1f MB (params %.1f, grads %.1f, optimizer %.1f, "
                "activations %.1f); %.2fx after the process baseline of %.1f MB; tensors: peak %.1f MB live, %.1f MB cached "
                "for reuse; malloc: %.1f MB in use, %.1f MB free in its arenas",
                m.peak_rss_bytes * mb, static_cast<double>(m.peak_rss_bytes) / static_cast<double>(b.needed()),
                b.needed() * mb, b.params_bytes * mb, b.grads_bytes * mb, b.optimizer_bytes * mb,
                b.activations_bytes * mb,
                static_cast<double>(m.peak_rss_bytes - b.baseline_rss_bytes) / static_cast<double>(b.needed()),
                b.baseline_rss_bytes * mb, a.peak_live_bytes * mb, a.cached_bytes * mb, (mi.uordblks + mi.hblkhd) * mb, mi.fordblks * mb);
  return line;
}

void check_fits_in_memory(const nn::ModelConfig& m, int64_t batch_size, int64_t eval_batches) {
  const double ram = machine_memory_bytes();
  if (ram <= 0) return;
  const double params = m.min_parameter_count(ram / 16);
  const double param_bytes = 16 * params;  // value, gradient, two AdamW moments (float32)
  // activations kept for the backward, per token, in floats: per layer the two norms' outputs, qkv,
  // attention's output and projection, the residual, the causal attention weights (heads x T) and
  // the FFN's hidden pre- and post-activation; at the end the final norm, the logits and their softmax
  const double d = m.n_embd, T = m.block_size, tokens = static_cast<double>(batch_size) * T;
  double per_token = 2.0 * m.vocab_size + d;
  for (int l = 0; l < m.n_layer && per_token * tokens * 4 <= ram; ++l) {  // stops early on absurd sizes
    double hidden = static_cast<double>(m.ffn.mult) * d;
    if (m.moe.enabled() && m.moe.is_moe_layer(l, m.n_layer)) {
      const double expert = m.moe.expert_hidden > 0 ? m.moe.expert_hidden : hidden;
      const double E = m.moe.experts_at(l);  // expert choice: ec_factor experts per token on average, at most E
      const double active = m.moe.router.type == "soft"            ? E
                            : m.moe.router.type == "expert_choice" ? std::min(m.moe.router.ec_factor, E)
                                                                    : m.moe.top_k;
      hidden = active * expert + m.moe.shared_experts * (m.moe.shared_hidden > 0 ? m.moe.shared_hidden : expert);
    }
    per_token += 9 * d + static_cast<double>(m.n_head) * T + 2 * hidden;
  }
  const double activation_bytes = 4 * per_token * tokens;
  const double eval_bytes = 10.0 * static_cast<double>(eval_batches) * tokens;  // ids, targets (int32), domains (uint16)
  const double needed = param_bytes + activation_bytes + eval_bytes;
  MOELAB_CHECK(needed <= ram, "model: n_layer ", m.n_layer, ", n_embd ", m.n_embd, ", vocab ", m.vocab_size, " make at least ",
               params, " parameters, which need ", human_bytes(param_bytes),
               " for values, gradients and optimizer state; with one step's activations (train.batch_size ", batch_size,
               " x model.block_size ", m.block_size, ": ", human_bytes(activation_bytes), ") and ", eval_batches,
               " fixed eval batches (", human_bytes(eval_bytes), ") this run needs at least ", human_bytes(needed),
               "; this machine has ", human_bytes(ram));
}

void use_fixed_mmap_threshold() { ::mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024); }

}  // namespace moelab::train
