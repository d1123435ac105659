// moelab train CONFIG [--set key.path=value]... [--out DIR] [--resume]
#include <iostream>

#include "core/blas.h"
#include "core/comm/communicator.h"
#include "train/cli/commands.h"
#include "train/cli/process.h"
#include "train/config/run_config.h"
#include "train/trainer.h"

namespace moelab::cli {

Run add_train(CLI::App& app) {
  struct Args {
    std::string config;
    std::vector<std::string> sets;
    std::string out;
    bool resume = false;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("train", "Train a model from a JSON config");
  cmd->add_option("config", a->config, "JSON config (see docs/config.md)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--set", a->sets, "Override a config key: key.path=value (value as JSON, or a bare string)");
  cmd->add_option("--out", a->out, "Run folder (overrides train.out_dir)");
  cmd->add_flag("--resume", a->resume, "Continue from the checkpoint in the run folder");
  return [a, &app] {
    if (!a->out.empty()) a->sets.push_back("train.out_dir=" + a->out);
    const train::RunConfig cfg = train::load_config(a->config, a->sets);
    if (app.get_option("--threads")->count() == 0) set_threads(cfg.train.threads);  // --threads wins
    tune_malloc_for_training();
    blas_info();  // load and self-check the kernels before any training
    train::TrainOptions opts;
    opts.resume = a->resume;
    opts.stop_signal = catch_stop_signals();
    opts.world = &comm::world();  // all processes under mpirun, else just this one
    train::run_training(cfg, opts, std::cout);
    return 0;
  };
}

}  // namespace moelab::cli
