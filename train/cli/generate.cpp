// moelab generate CKPT [--prompt S] [--tokens N] [--temperature T] [--top-k K] [--seed S] [--no-kv-cache]
#include <iostream>

#include "train/cli/commands.h"
#include "train/cli/options.h"
#include "train/generate.h"

namespace moelab::cli {

Run add_generate(CLI::App& app) {
  struct Args {
    std::string checkpoint;
    train::GenerateOptions opts;
    bool no_kv_cache = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("generate", "Sample text from a checkpoint");
  cmd->add_option("checkpoint", a->checkpoint, "Run folder or its model.safetensors")->required();
  cmd->add_option("--prompt", a->opts.prompt, "Text to continue");
  cmd->add_option("--tokens", a->opts.tokens, "Tokens to generate")->check(kNonNegativeInt);
  cmd->add_option("--temperature", a->opts.temperature, "Sampling temperature (0 = greedy)")->check(kNonNegativeNumber);
  cmd->add_option("--top-k", a->opts.top_k, "Sample among the k most likely tokens (0 = all)")->check(kNonNegativeInt);
  cmd->add_option("--seed", a->opts.seed, "Sampling seed")->check(kNonNegativeInt);
  cmd->add_flag("--no-kv-cache", a->no_kv_cache,
                "Recompute the whole context for every token (same tokens, slower; for comparison)");
  return [a] {
    a->opts.kv_cache = !a->no_kv_cache;
    // the text appears as it is sampled, so Ctrl-C keeps what was printed
    train::run_generate(a->checkpoint, a->opts, [](const std::string& piece) { std::cout << piece << std::flush; });
    std::cout << "\n";
    return 0;
  };
}

}  // namespace moelab::cli
