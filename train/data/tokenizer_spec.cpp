#include "train/data/tokenizer_spec.h"

#include <filesystem>
#include <numeric>

#include "core/error.h"
#include "train/io/files.h"
#include "train/io/json_limits.h"

namespace moelab::train {

namespace {

// The char vocabulary of many files without holding them all: each file's distinct characters
// (decoded from its own vocabulary) are kept, and the union of those makes the tokenizer.
Tokenizer chars_of_files(const std::vector<DataFile>& files, const std::string& format) {
  const auto limit = static_cast<uint64_t>(machine_memory_bytes() / 4);
  std::vector<std::string> distinct;
  std::vector<std::string> names;
  for (const DataFile& f : files) {
    std::string text = read_regular_file(f.path, "data", limit);
    if (is_fortune_file(f.path, format)) {
      std::string entries;
      for (std::string_view e : fortune_entries(text)) entries += e;
      text = std::move(entries);
    }
    const Tokenizer own = Tokenizer::chars_of({&text}, {f.path});
    std::vector<int32_t> ids(own.vocab_size());
    std::iota(ids.begin(), ids.end(), 0);
    distinct.push_back(own.decode(ids));
    names.push_back(f.path);
  }
  std::vector<const std::string*> texts;
  for (const std::string& d : distinct) texts.push_back(&d);
  return Tokenizer::chars_of(texts, names);
}

}  // namespace

Tokenizer tokenizer_from_spec(const std::string& spec, const std::vector<DataFile>& files, const std::string& format,
                              const std::string& what) {
  if (spec == "char") return chars_of_files(files, format);
  if (spec == "byte") return Tokenizer::bytes();
  // otherwise: a file holding a moelab tokenizer's JSON
  std::error_code ec;
  MOELAB_CHECK(std::filesystem::exists(spec, ec), what, ": \"", spec,
               "\" is neither char, byte nor an existing tokenizer JSON file");
  const std::string text = read_regular_file(spec, what, 1u << 30);
  try {
    return Tokenizer::from_json(parse_json(text, spec, 64));
  } catch (const Error& e) {
    throw Error(what + ": " + spec + " is not a moelab tokenizer (char, byte or a tokenizer JSON file): " + e.what());
  }
}

}  // namespace moelab::train
