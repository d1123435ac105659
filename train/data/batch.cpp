#include "train/data/batch.h"

#include <algorithm>
#include <cmath>
#include <vector>

#include "core/error.h"

namespace moelab::train {

namespace {
// Row r of `b` = the window of T + 1 tokens at `start`: inputs, targets shifted by one, domains.
void fill_row(Batch& b, const TokenStream& s, int64_t r, int64_t start, int64_t T, std::vector<int32_t>& window) {
  s.read(start, T + 1, window.data());
  std::copy_n(window.begin(), T, b.ids.data() + r * T);
  std::copy_n(window.begin() + 1, T, b.targets.data() + r * T);
  if (!b.domains.empty()) s.read_domains(start, T, b.domains.data() + r * T);
}

Batch empty_batch(const TokenStream& s, int64_t B, int64_t T) {
  Batch b{IndexTensor::empty({B, T}), IndexTensor::empty({B, T}), {}};
  if (s.has_domains()) b.domains.resize(B * T);
  return b;
}
}  // namespace

Batch sample_batch(const TokenStream& s, int64_t B, int64_t T, Rng& rng) {
  const int64_t n = s.size();
  MOELAB_CHECK(n > T, "data: ", n, " tokens are too few for one block of ", T, " + 1 tokens");
  Batch b = empty_batch(s, B, T);
  std::vector<int32_t> window(T + 1);
  for (int64_t r = 0; r < B; ++r) fill_row(b, s, r, rng.randint(n - T), T, window);
  return b;
}

Batch batch_at(const TokenStream& s, const int32_t* starts, int64_t B, int64_t T) {
  Batch b{IndexTensor::empty({B, T}), IndexTensor::empty({B, T}), {}};
  std::vector<int32_t> window(T + 1);
  for (int64_t r = 0; r < B; ++r) {
    MOELAB_CHECK(starts[r] >= 0 && starts[r] + T < s.size(), "data: replayed offset ", starts[r],
                 " does not leave a window of ", T + 1, " tokens in ", s.size());
    fill_row(b, s, r, starts[r], T, window);
  }
  return b;
}

Batch sequential_batch(const TokenStream& s, int64_t B, int64_t T, int64_t i) {
  const int64_t need = (i + 1) * B * T + 1;
  MOELAB_CHECK(s.size() >= need, "data: batch ", i, " of ", B, "x", T, " needs ", need, " tokens, the data has ",
               s.size());
  Batch b = empty_batch(s, B, T);
  std::vector<int32_t> window(T + 1);
  for (int64_t r = 0; r < B; ++r) fill_row(b, s, r, (i * B + r) * T, T, window);
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
