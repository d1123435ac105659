// train/data/batch.h: training and evaluation batches cut from a token stream: random windows
// (seeded), replayed window starts, or consecutive windows (the PyTorch reference's eval layout).
#pragma once
#include <cstdint>
#include <vector>

#include "core/rng.h"
#include "core/tensor.h"
#include "train/data/token_stream.h"

namespace moelab::train {

struct Batch {
  IndexTensor ids, targets;         // [B, T]
  std::vector<uint16_t> domains;    // [B * T]: source domain of each input token (empty if unknown)
};
// B random windows of T + 1 tokens (seeded, uniform over start positions of the whole stream).
Batch sample_batch(const TokenStream& s, int64_t B, int64_t T, Rng& rng);
// Row b = the window starting at starts[b] (replaying another framework's batch sequence).
Batch batch_at(const TokenStream& s, const int32_t* starts, int64_t B, int64_t T);
// Batch i, row b = the window starting at (i*B + b)*T (the PyTorch reference's eval layout).
Batch sequential_batch(const TokenStream& s, int64_t B, int64_t T, int64_t i);
// Targets per byte of the text they stand for (Tokenizer::bytes_per_token), over these batches:
// bits per byte = mean cross-entropy / ln 2 * this, comparable across char, byte and BPE models.
double targets_per_byte(const std::vector<Batch>& batches, const std::vector<int>& bytes_per_token);

}  // namespace moelab::train
