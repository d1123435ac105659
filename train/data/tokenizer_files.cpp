#include "train/data/tokenizer_files.h"

#include <cstdlib>
#include <filesystem>

#include "core/error.h"
#include "train/io/atomic_file.h"
#include "train/io/files.h"
#include "train/io/json_limits.h"

namespace moelab::train {
namespace {

constexpr uint64_t kMaxTokenizerBytes = uint64_t{1} << 30;

bool looks_like_js(const std::string& text) {
  const size_t start = text.find_first_not_of(" \t\r\n");
  // js-tiktoken's ES module ("export default {...}") or its CommonJS build ("'use strict'; ... module.exports")
  return start != std::string::npos && text[start] != '{' && text.find("bpe_ranks") != std::string::npos;
}

}  // namespace

Tokenizer read_tokenizer_file(const std::string& path) {
  const std::string text = read_regular_file(path, "tokenizer", kMaxTokenizerBytes);
  if (looks_like_js(text)) {
    Bpe bpe = Bpe::from_tiktoken_js(text, path);
    bpe.set_name("gpt2");
    return Tokenizer::bpe(std::move(bpe));
  }
  const nlohmann::json j = parse_json(text, path, 16);
  MOELAB_CHECK(j.is_object(), path,
               ": not a tokenizer (expected a tokenizer.json object or js-tiktoken's ranks module)");
  if (j.contains("model")) return Tokenizer::bpe(Bpe::from_hf_json(j, path));
  MOELAB_CHECK(j.contains("type"), path, ": neither a Hugging Face tokenizer.json (no \"model\") nor a moelab tokenizer (no \"type\")");
  return Tokenizer::from_json(j);
}

void write_tokenizer_file(const std::string& path, const Tokenizer& tok) {
  const nlohmann::json j = tok.bpe_model() ? tok.bpe_model()->to_hf_json() : tok.to_json();
  write_file_atomic(path, j.dump(1) + "\n");
}

Tokenizer gpt2_tokenizer(const std::string& ranks_path) {
  std::string path = ranks_path;
  if (path.empty()) {
    std::vector<std::string> candidates;
    if (const char* env = std::getenv("MOELAB_GPT2_RANKS"); env && *env) candidates.push_back(env);
    const std::string rel = "node_modules/js-tiktoken/dist/ranks/gpt2.js";
    candidates.push_back(rel);
    candidates.push_back("/usr/local/lib/" + rel);
    candidates.push_back("/usr/lib/" + rel);
    for (const std::string& c : candidates) {
      std::error_code ec;
      if (std::filesystem::is_regular_file(c, ec)) {
        path = c;
        break;
      }
    }
    MOELAB_CHECK(!path.empty(), "tokenizer gpt2: GPT-2's ranks were not found (looked for $MOELAB_GPT2_RANKS, ./", rel,
                 " and npm's global folders); run `npm install js-tiktoken` here or `npm install -g js-tiktoken`, "
                 "or give the file: data.tokenizer_path, or --tokenizer PATH on the command line");
  }
  Tokenizer tok = read_tokenizer_file(path);
  MOELAB_CHECK(tok.vocab_size() == 50257 && tok.end_of_text() == 50256, "tokenizer gpt2: ", path, " holds ",
               tok.vocab_size(), " tokens, not GPT-2's 50257 with <|endoftext|> = 50256");
  return tok;
}

}  // namespace moelab::train
