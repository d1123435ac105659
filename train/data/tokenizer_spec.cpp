#include "train/data/tokenizer_spec.h"

#include <algorithm>
#include <filesystem>

#include "core/error.h"
#include "train/data/pretokenize.h"
#include "train/data/tokenizer_files.h"
#include "train/io/files.h"
#include "train/io/json_limits.h"

namespace moelab::train {

namespace {

constexpr size_t kChunkBytes = 1u << 20;  // decoded in parallel
constexpr size_t kCodePoints = 0x110000;

// One bit per Unicode code point: the characters seen so far.
using CharSet = std::vector<uint64_t>;

// Marks the code points of `text` (valid UTF-8, else an error naming `path` and the byte offset),
// decoding chunks of it in parallel.
void mark_chars(const std::string& text, const std::string& path, CharSet& seen) {
  const std::vector<std::string_view> chunks = safe_pieces(text, kChunkBytes);
  std::vector<std::string> errors(chunks.size());
#pragma omp parallel
  {
    CharSet mine(kCodePoints / 64, 0);
#pragma omp for schedule(dynamic, 1)
    for (int64_t c = 0; c < static_cast<int64_t>(chunks.size()); ++c) {
      try {
        for (char32_t cp : utf8_decode(std::string(chunks[c]), "tokenizer: " + path)) mine[cp / 64] |= uint64_t{1} << (cp % 64);
      } catch (const std::exception& e) {
        errors[c] = std::string(e.what()) + " (counted from byte " + std::to_string(chunks[c].data() - text.data()) + ")";
      }
    }
#pragma omp critical
    for (size_t w = 0; w < mine.size(); ++w) seen[w] |= mine[w];
  }
  for (const std::string& e : errors) MOELAB_CHECK(e.empty(), e);
}

// The char vocabulary of many files without holding them all: the set of characters seen, one
// file at a time; the tokenizer is then built from a text holding each of them once.
Tokenizer chars_of_files(const std::vector<DataFile>& files, const std::string& format) {
  const auto limit = static_cast<uint64_t>(machine_memory_bytes() / 4);
  CharSet seen(kCodePoints / 64, 0);
  for (const DataFile& f : files) {
    const std::string text = read_regular_file(f.path, "data", limit);
    const bool percent_seen = seen['%' / 64] & (uint64_t{1} << ('%' % 64));
    mark_chars(text, f.path, seen);
    if (is_fortune_file(f.path, format) && !percent_seen) {  // "%" counts only inside an entry
      const auto entries = fortune_entries(text);
      if (std::none_of(entries.begin(), entries.end(), [](std::string_view e) { return e.find('%') != e.npos; }))
        seen['%' / 64] &= ~(uint64_t{1} << ('%' % 64));
    }
  }
  std::u32string distinct;
  for (size_t cp = 0; cp < kCodePoints; ++cp)
    if (seen[cp / 64] & (uint64_t{1} << (cp % 64))) distinct.push_back(static_cast<char32_t>(cp));
  const std::string text = utf8_encode(distinct);
  return Tokenizer::chars_of({&text});
}

}  // namespace

Tokenizer tokenizer_from_spec(const std::string& spec, const std::vector<DataFile>& files, const std::string& format,
                              const std::string& what) {
  if (spec == "char") return chars_of_files(files, format);
  if (spec == "byte") return Tokenizer::bytes();
  if (spec == "gpt2") return gpt2_tokenizer();
  // otherwise: a tokenizer file (tokenizer.json, a moelab tokenizer, js-tiktoken's ranks)
  std::error_code ec;
  MOELAB_CHECK(std::filesystem::exists(spec, ec), what, ": \"", spec,
               "\" is neither char, byte, gpt2 nor an existing tokenizer file");
  try {
    return read_tokenizer_file(spec);
  } catch (const Error& e) {
    throw Error(what + ": " + e.what());
  }
}

}  // namespace moelab::train
