// moelab bench kernels [--repeats R] [--threads-list 1 2]
// moelab bench model CONFIG [--set ...] [--steps N] [--warmup N] [--vocab V]
#include <iostream>

#include "bench/kernels_bench.h"
#include "bench/model_bench.h"
#include "train/cli/commands.h"
#include "train/cli/options.h"
#include "train/cli/process.h"
#include "train/config/run_config.h"

namespace moelab::cli {

Run add_bench(CLI::App& app) {
  struct Args {
    bench::KernelBenchOptions kernels;
    std::string config;
    std::vector<std::string> sets;
    bench::ModelBenchOptions model;
  };
  auto a = std::make_shared<Args>();
  CLI::App* cmd = app.add_subcommand("bench", "Benchmarks");
  cmd->require_subcommand(1);
  CLI::App* kernels = cmd->add_subcommand("kernels", "GFLOP/s of matmul vs raw sgemm; GB/s of elementwise, "
                                                     "softmax, layernorm vs memcpy; at 1 and 2 threads");
  kernels->add_option("--repeats", a->kernels.repeats, "Timed repetitions per case (median reported)")
      ->check(kPositiveInt);
  kernels->add_option("--threads-list", a->kernels.thread_counts, "Thread counts to run (default: 1 2)");
  CLI::App* model = cmd->add_subcommand("model", "Time training steps of a config on random tokens");
  model->add_option("config", a->config, "JSON config")->required()->check(CLI::ExistingFile);
  model->add_option("--set", a->sets, "Override a config key: key.path=value");
  model->add_option("--steps", a->model.steps, "Timed steps (median reported)")->check(kPositiveInt);
  model->add_option("--warmup", a->model.warmup, "Untimed steps first")->check(kNonNegativeInt);
  model->add_option("--vocab", a->model.vocab, "Vocabulary size")->check(kPositiveInt);
  return [a, kernels, &app] {
    if (*kernels) return bench::run_kernel_bench(a->kernels, std::cout);
    const train::RunConfig cfg = train::load_config(a->config, a->sets);
    if (app.get_option("--threads")->count() == 0) set_threads(cfg.train.threads);  // --threads wins
    bench::run_model_bench(cfg, a->model, std::cout);
    return 0;
  };
}

}  // namespace moelab::cli
