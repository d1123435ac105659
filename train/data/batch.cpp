#include "train/data/batch.h"

#include <algorithm>
#include <cmath>

#include "core/error.h"

namespace moelab::train {

Batch sample_batch(const TokenStream& s, int64_t B, int64_t T, Rng& rng) {
  const int64_t n = static_cast<int64_t>(s.tokens.size());
  MOELAB_CHECK(n > T, "data: ", n, " tokens are too few for one block of ", T, " + 1 tokens");
  Batch b{IndexTensor::empty({B, T}), IndexTensor::empty({B, T}), {}};
  const bool with_domains = s.domain.size() == s.tokens.size();
  if (with_domains) b.domains.resize(B * T);
  for (int64_t r = 0; r < B; ++r) {
    const int64_t start = rng.randint(n - T);
    std::copy_n(s.tokens.begin() + start, T, b.ids.data() + r * T);
    std::copy_n(s.tokens.begin() + start + 1, T, b.targets.data() + r * T);
    if (with_domains) std::copy_n(s.domain.begin() + start, T, b.domains.begin() + r * T);
  }
  return b;
}

Batch batch_at(const TokenStream& s, const int32_t* starts, int64_t B, int64_t T) {
  Batch b{IndexTensor::empty({B, T}), IndexTensor::empty({B, T}), {}};
  for (int64_t r = 0; r < B; ++r) {
    MOELAB_CHECK(starts[r] >= 0 && starts[r] + T < static_cast<int64_t>(s.tokens.size()), "data: replayed offset ",
                 starts[r], " does not leave a window of ", T + 1, " tokens in ", s.tokens.size());
    std::copy_n(s.tokens.begin() + starts[r], T, b.ids.data() + r * T);
    std::copy_n(s.tokens.begin() + starts[r] + 1, T, b.targets.data() + r * T);
  }
  return b;
}

Batch sequential_batch(const TokenStream& s, int64_t B, int64_t T, int64_t i) {
  const int64_t need = (i + 1) * B * T + 1;
  MOELAB_CHECK(static_cast<int64_t>(s.tokens.size()) >= need, "data: batch ", i, " of ", B, "x", T, " needs ", need,
               " tokens, the data has ", s.tokens.size());
  Batch b{IndexTensor::empty({B, T}), IndexTensor::empty({B, T}), {}};
  const bool with_domains = s.domain.size() == s.tokens.size();
  if (with_domains) b.domains.resize(B * T);
  for (int64_t r = 0; r < B; ++r) {
    const int64_t start = (i * B + r) * T;
    std::copy_n(s.tokens.begin() + start, T, b.ids.data() + r * T);
    std::copy_n(s.tokens.begin() + start + 1, T, b.targets.data() + r * T);
    if (with_domains) std::copy_n(s.domain.begin() + start, T, b.domains.begin() + r * T);
  }
  return b;
}

double targets_per_byte(const std::vector<Batch>& batches, const std::vector<int>& bytes_per_token) {
  double targets = 0, bytes = 0;
  for (const Batch& b : batches)
    for (int64_t i = 0; i < b.targets.numel(); ++i) {
      const int32_t t = b.targets.data()[i];
      MOELAB_CHECK(t >= 0 && static_cast<size_t>(t) < bytes_per_token.size(), "data: token id ", t,
                   " is outside the tokenizer's ", bytes_per_token.size(), " tokens");
      bytes += bytes_per_token[static_cast<size_t>(t)];
      targets += 1;
    }
  return bytes > 0 ? targets / bytes : NAN;
}

}  // namespace moelab::train
