// moelab bench kernels [--repeats R] [--threads-list 1 2]
// moelab bench model CONFIG [--set ...] [--steps N] [--warmup N] [--vocab V]
// moelab bench generate CONFIG [--set ...] [--tokens N] [--repeats R] [--vocab V]
// mpirun -np N moelab bench comm [--sizes BYTES...] [--repeats R]
#include <iostream>

#include "bench/comm_bench.h"
#include "bench/generate_bench.h"
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
    bench::CommBenchOptions comm;
    bench::GenerateBenchOptions generate;
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
  CLI::App* generate = cmd->add_subcommand("generate", "Tokens/s of greedy generation with and without the KV "
                                                       "cache (1-token prompt, untrained model)");
  generate->add_option("config", a->config, "JSON config")->required()->check(CLI::ExistingFile);
  generate->add_option("--set", a->sets, "Override a config key: key.path=value");
  generate->add_option("--tokens", a->generate.tokens, "New tokens per run")->check(kPositiveInt);
  generate->add_option("--repeats", a->generate.repeats, "Timed runs of each path (median reported)")
      ->check(CLI::Range(1, 1000));
  generate->add_option("--vocab", a->generate.vocab, "Vocabulary size")->check(kPositiveInt);
  CLI::App* comm = cmd->add_subcommand("comm", "Under mpirun: all-reduce and all-to-all time and bandwidth over "
                                               "message sizes (the inputs of a scaling projection)");
  comm->add_option("--sizes", a->comm.sizes, "Bytes per process (default: 8 B to 64 MB, powers of 4)")
      ->check(CLI::Range(int64_t{4}, int64_t{1} << 30));
  comm->add_option("--repeats", a->comm.repeats, "Samples per size (median reported)")->check(CLI::Range(1, 1000));
  return [a, kernels, comm, generate, &app] {
    if (*kernels) return bench::run_kernel_bench(a->kernels, std::cout);
    if (*comm) {
      bench::run_comm_bench(comm::world(), a->comm, std::cout);
      return 0;
    }
    const train::RunConfig cfg = train::load_config(a->config, a->sets);
    if (app.get_option("--threads")->count() == 0) set_threads(cfg.train.threads);  // --threads wins
    if (*generate)
      bench::run_generate_bench(cfg, a->generate, std::cout);
    else
      bench::run_model_bench(cfg, a->model, std::cout);
    return 0;
  };
}

}  // namespace moelab::cli
