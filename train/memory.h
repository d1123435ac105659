// train/memory.h: what a training run holds in memory, measured against what it must hold.
// "Needed" = parameters + gradients + the optimizer's state (AdamW: 2 moments) + activations,
// where activations are the tensor bytes the autograd tape keeps alive from the end of the
// forward to the backward (measured on a real step, so MoE dispatch buffers count).
#pragma once
#include <cstddef>
#include <cstdint>
#include <string>

#include "layers/config.h"

namespace moelab::train {

struct ProcessMemory {
  size_t rss_bytes = 0;       // resident now (/proc/self/statm)
  size_t peak_rss_bytes = 0;  // high-water mark (getrusage ru_maxrss)
};
ProcessMemory process_memory();

struct MemoryBudget {
  size_t params_bytes = 0;           // parameter values (buffers included)
  size_t grads_bytes = 0;            // one gradient per trainable parameter
  size_t optimizer_bytes = 0;        // optimizer state tensors (AdamW: m and v)
  size_t activations_bytes = 0;      // held by the tape after the forward
  size_t baseline_rss_bytes = 0;     // the process before the model existed (code, libraries, corpus)
  size_t needed() const { return params_bytes + grads_bytes + optimizer_bytes + activations_bytes; }
};

// "memory: peak RSS 104.2 MB = 1.21x needed 86.3 MB (params 10.6, grads 10.6, optimizer 21.2,
// activations 43.9); process baseline 22.0 MB"
std::string describe(const MemoryBudget& b, const ProcessMemory& m);

// A lower bound on what training `m` (vocab_size set) with `batch_size` rows of block_size tokens
// needs: parameters with their gradients and AdamW's two moments, one step's activations, and
// `eval_batches` fixed eval batches. Throws, naming the keys that drive it, when that exceeds this
// machine's memory: a typo (n_embd 1e6, batch_size 2e9) is an error before anything is allocated.
void check_fits_in_memory(const nn::ModelConfig& m, int64_t batch_size, int64_t eval_batches);

// A fixed mmap threshold for glibc's malloc (4 MiB): glibc otherwise raises it (up to 32 MiB)
// whenever a large block is freed, after which large transients come from the heap and leave it
// fragmented (tens of MB of RSS that no tensor uses). 4 MiB keeps per-step scratch vectors (e.g.
// attention's T x T) on the heap, where they are reused without page faults; tensors are cached
// by core/storage. A process-wide setting: the program calls it (train/cli/process.cpp).
void use_fixed_mmap_threshold();

}  // namespace moelab::train
