// moelab prepare DATA... --tokenizer T --out DIR [--val-fraction F] [--shard-tokens N] [--format F] [--name N]
#include <unistd.h>

#include <cstdio>
#include <iostream>

#include "core/parallel.h"
#include "train/cli/commands.h"
#include "train/cli/options.h"
#include "train/data/prepare.h"
#include "train/io/files.h"

namespace moelab::cli {

Run add_prepare(CLI::App& app) {
  auto o = std::make_shared<train::PrepareOptions>();
  CLI::App* cmd = app.add_subcommand(
      "prepare", "Tokenise text files into token shards (llm.c's .bin format) that training reads from disk");
  cmd->add_option("data", o->inputs, "Text files or folders (each file is a domain; each fortune a document)")
      ->required();
  cmd->add_option("--tokenizer", o->tokenizer, "char (built from the data), byte, gpt2, or a tokenizer file (tokenizer.json, js-tiktoken ranks)")
      ->required();
  cmd->add_option("--out", o->out_dir, "Folder for the shards, tokenizer.json and meta.json (new, empty, or an "
                                        "earlier prepare's output)")
      ->required();
  cmd->add_option("--val-fraction", o->val_fraction, "The last fraction of each file's tokens, for the val shard")
      ->check(kNonNegativeNumber);
  cmd->add_option("--shard-tokens", o->shard_tokens, "Tokens per train shard")->check(kPositiveInt);
  cmd->add_option("--format", o->format, "auto | text | fortunes (as data.format)");
  cmd->add_option("--name", o->name, "Shard name prefix (default: the first input's file name)");
  return [o] {
    const train::PrepareResult r = train::prepare_shards(*o, std::cerr, ::isatty(STDERR_FILENO) != 0);
    std::printf("prepared %s in %.1f s (%.1f MB/s, %d threads): %lld train + %lld val tokens in %d shards -> %s\n",
                train::human_bytes(static_cast<double>(r.input_bytes)).c_str(), r.seconds,
                static_cast<double>(r.input_bytes) / 1e6 / std::max(r.seconds, 1e-9), num_threads(),
                static_cast<long long>(r.train_tokens), static_cast<long long>(r.val_tokens), r.shards,
                o->out_dir.c_str());
    return 0;
  };
}

}  // namespace moelab::cli
