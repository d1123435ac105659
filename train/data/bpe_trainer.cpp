#include "train/data/bpe_trainer.h"

#include <omp.h>

#include <chrono>
#include <queue>
#include <unordered_map>

#include "core/error.h"
#include "train/data/pretokenize.h"

namespace moelab::train {
namespace {

using WordCounts = std::unordered_map<std::string, int64_t>;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

WordCounts count_words(const std::vector<std::string_view>& documents) {
  // documents in pieces of about 1 MB (safe_pieces), so counting runs in parallel even on one big file
  std::vector<std::string_view> chunks;
  for (std::string_view d : documents)
    for (std::string_view piece : safe_pieces(d, size_t{1} << 20)) chunks.push_back(piece);
  std::vector<WordCounts> per_thread(static_cast<size_t>(omp_get_max_threads()));
#pragma omp parallel for schedule(dynamic, 1)
  for (int64_t c = 0; c < static_cast<int64_t>(chunks.size()); ++c) {
    WordCounts& counts = per_thread[static_cast<size_t>(omp_get_thread_num())];
    split_gpt2_words(chunks[c], [&](std::string_view w) { ++counts[std::string(w)]; });
  }
  WordCounts all = std::move(per_thread[0]);
  for (size_t t = 1; t < per_thread.size(); ++t)
    for (auto& [w, n] : per_thread[t]) all[w] += n;
  return all;
}

uint64_t pair_key(int32_t a, int32_t b) { return (uint64_t(uint32_t(a)) << 32) | uint32_t(b); }

struct Candidate {
  int64_t count;
  uint64_t pair;
  // the priority queue's top is the largest: higher count, then the smaller pair
  bool operator<(const Candidate& o) const { return count != o.count ? count < o.count : pair > o.pair; }
};

}  // namespace

Bpe train_bpe(const std::vector<std::string_view>& documents, const BpeTrainOptions& opts, BpeTrainStats* stats) {
  const int target = opts.vocab_size - 256 - static_cast<int>(opts.special_tokens.size());
  MOELAB_CHECK(target >= 0, "tokenizer: vocab_size ", opts.vocab_size, " is below the 256 bytes + ",
               opts.special_tokens.size(), " special token(s)");
  BpeTrainStats st;
  for (std::string_view d : documents) st.bytes += static_cast<double>(d.size());
  auto t0 = std::chrono::steady_clock::now();
  WordCounts counted = count_words(documents);
  st.distinct_words = counted.size();
  st.count_seconds = seconds_since(t0);
  t0 = std::chrono::steady_clock::now();

  // Words in a fixed order (sorted), so the where-lists and thus the result do not depend on hashing.
  std::vector<std::pair<std::string, int64_t>> sorted(counted.begin(), counted.end());
  counted.clear();
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::vector<int32_t>> words(sorted.size());
  std::vector<int64_t> freq(sorted.size());
  std::unordered_map<uint64_t, int64_t> pair_count;
  std::unordered_map<uint64_t, std::vector<int32_t>> where;  // words holding the pair (may repeat)
  for (size_t w = 0; w < sorted.size(); ++w) {
    for (char c : sorted[w].first) words[w].push_back(static_cast<unsigned char>(c));
    freq[w] = sorted[w].second;
    for (size_t i = 0; i + 1 < words[w].size(); ++i) {
      const uint64_t p = pair_key(words[w][i], words[w][i + 1]);
      pair_count[p] += freq[w];
      where[p].push_back(static_cast<int32_t>(w));
    }
  }
  sorted.clear();
  std::priority_queue<Candidate> heap;
  for (const auto& [p, n] : pair_count) heap.push({n, p});

  std::vector<std::pair<int32_t, int32_t>> merges;
  std::vector<int> visited(words.size(), -1);  // merge number that last rewrote the word
  std::vector<uint64_t> touched;
  while (static_cast<int>(merges.size()) < target && !heap.empty()) {
    const Candidate top = heap.top();
    heap.pop();
    auto it = pair_count.find(top.pair);
    const int64_t now = it == pair_count.end() ? 0 : it->second;
    if (now != top.count) {  // stale entry: its count dropped since it was pushed
      if (now > 0) heap.push({now, top.pair});
      continue;
    }
    if (now <= 0) break;
    const auto a = static_cast<int32_t>(top.pair >> 32), b = static_cast<int32_t>(top.pair & 0xFFFFFFFFu);
    const auto id = static_cast<int32_t>(256 + merges.size());
    const int m = static_cast<int>(merges.size());
    merges.emplace_back(a, b);
    touched.clear();
    std::vector<int32_t> holders = std::move(where[top.pair]);
    where.erase(top.pair);
    for (int32_t w : holders) {
      if (visited[w] == m) continue;
      visited[w] = m;
      std::vector<int32_t>& s = words[w];
      std::vector<int32_t> merged;
      merged.reserve(s.size());
      for (size_t i = 0; i < s.size(); ++i) {
        if (i + 1 < s.size() && s[i] == a && s[i + 1] == b) {
          merged.push_back(id);
          ++i;
        } else {
          merged.push_back(s[i]);
        }
      }
      if (merged.size() == s.size()) continue;  // a stale where-entry
      for (size_t i = 0; i + 1 < s.size(); ++i) pair_count[pair_key(s[i], s[i + 1])] -= freq[w];
      for (size_t i = 0; i + 1 < merged.size(); ++i) {
        const uint64_t p = pair_key(merged[i], merged[i + 1]);
        pair_count[p] += freq[w];
        if (merged[i] == id || merged[i + 1] == id) {
          where[p].push_back(w);
          touched.push_back(p);
        }
      }
      s = std::move(merged);
    }
    pair_count.erase(top.pair);
    std::sort(touched.begin(), touched.end());
    touched.erase(std::unique(touched.begin(), touched.end()), touched.end());
    for (uint64_t p : touched) heap.push({pair_count[p], p});
  }
  st.merges = static_cast<int>(merges.size());
  st.merge_seconds = seconds_since(t0);
  if (stats) *stats = st;
  return Bpe::from_merges(merges, opts.special_tokens);
}

}  // namespace moelab::train
