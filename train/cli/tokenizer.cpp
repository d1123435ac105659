// moelab tokenizer train DATA... --vocab-size N --out tokenizer.json
// moelab tokenizer encode --tokenizer SPEC FILE... [--stats]
#include <chrono>
#include <cstdio>
#include <iostream>

#include "core/error.h"
#include "core/parallel.h"
#include "train/cli/commands.h"
#include "train/cli/options.h"
#include "train/data/bpe_trainer.h"
#include "train/data/corpus.h"
#include "train/data/tokenizer_files.h"
#include "train/data/tokenizer_spec.h"
#include "train/io/files.h"

namespace moelab::cli {
namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace

Run add_tokenizer(CLI::App& app) {
  struct Args {
    std::vector<std::string> data;
    std::string format = "auto", out, spec;
    int vocab_size = 4096;
    bool stats = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("tokenizer", "Learn a byte-level BPE tokenizer, or encode files with one");
  cmd->require_subcommand(1);
  CLI::App* train_cmd = cmd->add_subcommand("train", "Learn byte-level BPE merges (GPT-2 style) from text files");
  train_cmd->add_option("data", a->data, "Text files or folders (as data.train)")->required();
  train_cmd->add_option("--vocab-size", a->vocab_size, "Tokens: 256 bytes + merges + <|endoftext|>")
      ->check(number_at_least(257, true));
  train_cmd->add_option("--format", a->format, "auto | text | fortunes (as data.format)")
      ->check(CLI::IsMember({"auto", "text", "fortunes"}));
  train_cmd->add_option("--out", a->out, "Where to write the Hugging Face tokenizer.json")->required();
  CLI::App* encode_cmd = cmd->add_subcommand("encode", "Print each file's token ids as a JSON array, one line per file");
  encode_cmd->add_option("files", a->data, "Files to encode, read as bytes")->required();
  encode_cmd->add_option("--tokenizer", a->spec, "gpt2, byte, or a tokenizer file (tokenizer.json, js-tiktoken ranks)")
      ->required();
  encode_cmd->add_flag("--stats", a->stats, "Print tokens, MB/s and threads on stderr instead of the ids");
  return [a, train_cmd] {
    if (*train_cmd) {
      const std::vector<train::Document> docs = train::read_documents(a->data, a->format);
      std::vector<std::string_view> texts;
      for (const auto& d : docs) texts.push_back(d.text);
      train::BpeTrainStats st;
      const auto t0 = std::chrono::steady_clock::now();
      train::Bpe bpe = train::train_bpe(texts, train::BpeTrainOptions{a->vocab_size}, &st);
      const double total = seconds_since(t0);
      train::write_tokenizer_file(a->out, train::Tokenizer::bpe(std::move(bpe)));
      std::printf("learned %d merges (vocab %d) from %s in %zu file(s), %zu distinct words, on %d thread(s)\n",
                  st.merges, 256 + st.merges + 1, train::human_bytes(st.bytes).c_str(), docs.size(), st.distinct_words,
                  num_threads());
      std::printf("time %.2f s (%.1f MB/s): counting words %.2f s, merging %.2f s\n", total, st.bytes / 1e6 / total,
                  st.count_seconds, st.merge_seconds);
      if (st.merges < a->vocab_size - 257)
        std::printf("note: the text ran out of pairs after %d merges (asked for %d)\n", st.merges, a->vocab_size - 257);
      std::printf("wrote %s\n", a->out.c_str());
      return 0;
    }
    const train::Tokenizer tok = train::tokenizer_from_spec(a->spec, {}, "auto", "tokenizer encode --tokenizer");
    double bytes = 0, seconds = 0;
    size_t tokens = 0;
    for (const std::string& f : a->data) {
      const std::string text = train::read_regular_file(f, "tokenizer encode", uint64_t{1} << 34);
      const auto t0 = std::chrono::steady_clock::now();
      const std::vector<int32_t> ids = tok.bpe_model() ? tok.bpe_model()->encode_parallel(text) : tok.encode(text, f);
      seconds += seconds_since(t0);
      bytes += static_cast<double>(text.size());
      tokens += ids.size();
      if (a->stats) continue;
      std::string line = "[";
      for (size_t i = 0; i < ids.size(); ++i) (line += i ? "," : "") += std::to_string(ids[i]);
      std::cout << line << "]\n";
    }
    if (a->stats)
      std::fprintf(stderr, "%zu tokens from %s in %.3f s: %.2f MB/s, %.2f bytes/token, %d thread(s)\n", tokens,
                   train::human_bytes(bytes).c_str(), seconds, bytes / 1e6 / std::max(seconds, 1e-9),
                   bytes / std::max<double>(1.0, static_cast<double>(tokens)), num_threads());
    return 0;
  };
}

}  // namespace moelab::cli
