// moelab eval CKPT [--data PATH]... [--val-of RUN]... [--batch B] [--batches N] [--dump-tokens FILE] [--grads-out FILE]
#include <iostream>

#include "train/cli/commands.h"
#include "train/cli/options.h"
#include "train/evaluate.h"

namespace moelab::cli {

Run add_eval(CLI::App& app) {
  struct Args {
    std::string checkpoint;
    train::EvalOptions opts;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("eval", "Mean cross-entropy of a checkpoint on one or more datasets");
  cmd->add_option("checkpoint", a->checkpoint, "Run folder or its model.safetensors")->required();
  cmd->add_option("--data", a->opts.data, "Text files or folders, one loss each (default: the run's val split)");
  cmd->add_option("--val-of", a->opts.val_of,
                  "Run folders: the val split of each one's data, one loss each (e.g. an earlier stage's data)");
  cmd->add_option("--batch", a->opts.batch, "Rows per batch")->check(kPositiveInt);
  cmd->add_option("--batches", a->opts.batches, "Batches (consecutive windows from the start)")->check(kPositiveInt);
  cmd->add_option("--dump-tokens", a->opts.dump_tokens, "Write the first dataset's evaluated tokens (uint16 LE)");
  cmd->add_option("--grads-out", a->opts.grads_out,
                  "Write d(mean total loss)/d(parameter) on the first dataset (safetensors), to compare with PyTorch");
  return [a] {
    train::run_eval(a->checkpoint, a->opts, std::cout);
    return 0;
  };
}

}  // namespace moelab::cli
