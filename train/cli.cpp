// moelab: the command-line entry point.
#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "bench/kernels_bench.h"
#include "core/blas.h"
#include "core/error.h"
#include "core/parallel.h"
#include "train/config.h"
#include "train/expand.h"
#include "train/report.h"
#include "train/trainer.h"

namespace {

// CLI11's stock number validators print their range as 0 to 1.8e308 for a typo; these say what
// was expected and what was given.
CLI::Validator number_at_least(double least, bool whole) {
  const std::string what = std::string(whole ? "a whole number" : "a number") + " >= " +
                           (least == static_cast<long long>(least) ? std::to_string(static_cast<long long>(least))
                                                                   : std::to_string(least));
  return CLI::Validator(
      [=](std::string& s) -> std::string {
        size_t used = 0;
        double v = 0;
        try {
          v = whole ? static_cast<double>(std::stoll(s, &used)) : std::stod(s, &used);
        } catch (const std::exception&) {
          used = 0;
        }
        if (used != s.size() || s.empty()) return "expected " + what + ", got '" + s + "'";
        if (v < least) return "expected " + what + ", got " + s;
        return "";
      },
      whole ? "INT>=" + std::to_string(static_cast<long long>(least)) : "NUMBER>=" + std::to_string(least));
}
const CLI::Validator kPositiveInt = number_at_least(1, true);
const CLI::Validator kNonNegativeInt = number_at_least(0, true);
const CLI::Validator kNonNegativeNumber = number_at_least(0, false);

void print_info() {
  const moelab::BlasInfo& b = moelab::blas_info();
  std::printf("moelab %s\n", MOELAB_VERSION);
  std::printf("blas library : %s\n", b.library.c_str());
  std::printf("blas config  : %s\n", b.config.c_str());
  std::printf("blas kernels : %s (OPENBLAS_CORETYPE=%s, %s)\n", b.corename.c_str(),
              b.coretype_env.empty() ? "unset" : b.coretype_env.c_str(),
              b.coretype_origin == "user"  ? "set by the user/machine, respected"
              : b.coretype_origin == "auto" ? "chosen by moelab from cpuid"
                                            : "library default");
  std::printf("cpu isa      : %s\n", b.cpu_isa.c_str());
  std::printf("compiled by  : %s\n", MOELAB_BUILD_FLAGS);
  std::printf("sgemm check  : ok (worst relative error %.2e vs a naive loop)\n", b.selfcheck_max_err);
  std::printf("threads      : %d (OpenMP and OpenBLAS share one libgomp pool)\n", moelab::num_threads());
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"moelab: train and study Mixture-of-Experts language models on CPU"};
  app.require_subcommand(0, 1);
  bool version = false;
  app.add_flag("--version", version, "Print version, BLAS library, kernels and threads");
  int threads = 0;
  app.add_option("--threads", threads, "Threads for OpenMP loops and BLAS (default: OMP_NUM_THREADS or all cores)")
      ->check(kPositiveInt);

  CLI::App* info = app.add_subcommand("info", "Show the BLAS library, kernel set, self-check and threads");
  CLI::App* bench = app.add_subcommand("bench", "Benchmarks");
  bench->require_subcommand(1);
  app.footer("Examples:\n  moelab train configs/default.json\n  moelab train configs/shakespeare_char.json --set data.train=data/tinyshakespeare.txt\n  moelab eval runs/default\n  moelab generate runs/default --prompt \"Q: \" --tokens 200\n  moelab report runs/switch runs/aux_free --out report.html\n  moelab bench model configs/shakespeare_char.json --threads 2");
  CLI::App* bench_kernels = bench->add_subcommand("kernels", "GFLOP/s of matmul vs raw sgemm; GB/s of elementwise, "
                                                             "softmax, layernorm vs memcpy; at 1 and 2 threads");
  moelab::bench::KernelBenchOptions kb;
  bench_kernels->add_option("--repeats", kb.repeats, "Timed repetitions per case (median reported)")
      ->check(kPositiveInt);
  bench_kernels->add_option("--threads-list", kb.thread_counts, "Thread counts to run (default: 1 2)");

  // train
  CLI::App* train = app.add_subcommand("train", "Train a model from a JSON config");
  std::string config_path;
  std::vector<std::string> sets;
  std::string out_dir;
  moelab::train::TrainOptions topts;
  train->add_option("config", config_path, "JSON config (see docs/config.md)")->required()->check(CLI::ExistingFile);
  train->add_option("--set", sets, "Override a config key: key.path=value (value as JSON, or a bare string)");
  train->add_option("--out", out_dir, "Run folder (overrides train.out_dir)");
  train->add_flag("--resume", topts.resume, "Continue from the checkpoint in the run folder");

  // eval
  CLI::App* eval = app.add_subcommand("eval", "Mean cross-entropy of a checkpoint on one or more datasets");
  std::string ckpt;
  moelab::train::EvalOptions eopts;
  eval->add_option("checkpoint", ckpt, "Run folder or its model.safetensors")->required();
  eval->add_option("--data", eopts.data, "Text files or folders, one loss each (default: the run's val split)");
  eval->add_option("--val-of", eopts.val_of,
                   "Run folders: the val split of each one's data, one loss each (e.g. an earlier stage's data)");
  eval->add_option("--batch", eopts.batch, "Rows per batch")->check(kPositiveInt);
  eval->add_option("--batches", eopts.batches, "Batches (consecutive windows from the start)")->check(kPositiveInt);
  eval->add_option("--dump-tokens", eopts.dump_tokens, "Write the first dataset's evaluated tokens (uint16 LE)");
  eval->add_option("--grads-out", eopts.grads_out,
                   "Write d(mean total loss)/d(parameter) on the first dataset (safetensors), to compare with PyTorch");

  // generate
  CLI::App* gen = app.add_subcommand("generate", "Sample text from a checkpoint");
  moelab::train::GenerateOptions gopts;
  gen->add_option("checkpoint", ckpt, "Run folder or its model.safetensors")->required();
  gen->add_option("--prompt", gopts.prompt, "Text to continue");
  gen->add_option("--tokens", gopts.tokens, "Tokens to generate")->check(kNonNegativeInt);
  gen->add_option("--temperature", gopts.temperature, "Sampling temperature (0 = greedy)")->check(kNonNegativeNumber);
  gen->add_option("--top-k", gopts.top_k, "Sample among the k most likely tokens (0 = all)")->check(kNonNegativeInt);
  gen->add_option("--seed", gopts.seed, "Sampling seed");

  // report
  CLI::App* report = app.add_subcommand(
      "report", "Compare runs' metrics.jsonl in one self-contained HTML page (inline SVG): loss curves, routing "
                "balance, expert-load heatmaps, domain x expert matrices, a summary table");
  moelab::train::ReportOptions ropts;
  report->add_option("runs", ropts.runs, "Run folders, each with metrics.jsonl; runs are named by folder")
      ->required();
  report->add_option("--out", ropts.out, "HTML file to write (replaced atomically)")->capture_default_str();
  report->add_option("--csv", ropts.csv_dir,
                     "Also write train.csv, eval.csv, routing.csv, domain_expert.csv in this folder (docs/metrics.md)");
  report->footer("Unreadable lines of metrics.jsonl are skipped with a warning naming file and line.");

  // expand
  CLI::App* expand = app.add_subcommand(
      "expand", "Grow an MoE checkpoint's experts (Lifelong-MoE) or turn dense FFN layers into MoE (sparse upcycling)");
  moelab::train::ExpandOptions xopts;
  expand->add_option("checkpoint", xopts.checkpoint, "Run folder or its model.safetensors")->required();
  expand->add_option("--out", xopts.out, "New run folder (checkpoint at step 0)")->required();
  expand->add_option("--add-experts", xopts.add_experts, "Experts (and router rows) to add to each chosen MoE layer")
      ->check(kPositiveInt);
  expand->add_option("--to-moe", xopts.to_moe, "Upcycle: E experts, each a copy of the layer's dense MLP")
      ->check(kPositiveInt);
  expand->add_option("--layers", xopts.layers, "Layers to change (default: every MoE layer / every dense layer)");
  expand->add_option("--expert-init", xopts.expert_init, "New experts: copy (expert e mod E_old, + noise) or fresh")
      ->capture_default_str();
  expand->add_option("--noise", xopts.noise, "Relative noise on copied tensors (default 0.01 growing, 0 upcycling)");
  expand->add_option("--router-init", xopts.router_init,
                     "New router rows: unrouted (never chosen at step 0; admitted by bias balancing), copy, fresh")
      ->capture_default_str();
  expand->add_option("--admit-rate", xopts.admit_rate, "unrouted: bias balancing rate that admits new experts")
      ->capture_default_str();
  expand->add_option("--topk", xopts.top_k, "Upcycle: experts per token (gates renormalised)")->capture_default_str();
  expand->add_option("--router-std", xopts.router_std, "Upcycle: router init std")->capture_default_str();
  expand->add_option("--seed", xopts.seed, "Noise and init seed")->capture_default_str();

  // bench CONFIG
  CLI::App* bench_model = bench->add_subcommand("model", "Time training steps of a config on random tokens");
  moelab::train::BenchOptions bopts;
  bench_model->add_option("config", config_path, "JSON config")->required()->check(CLI::ExistingFile);
  bench_model->add_option("--set", sets, "Override a config key: key.path=value");
  bench_model->add_option("--steps", bopts.steps, "Timed steps (median reported)")->check(kPositiveInt);
  bench_model->add_option("--warmup", bopts.warmup, "Untimed steps first")->check(kNonNegativeInt);
  bench_model->add_option("--vocab", bopts.vocab, "Vocabulary size")->check(kPositiveInt);

  CLI11_PARSE(app, argc, argv);
  try {
    if (threads > 0) moelab::set_num_threads(threads);
    if (version || *info || app.get_subcommands().empty()) {
      print_info();
      if (app.get_subcommands().empty() && !version) std::printf("\n%s", app.help().c_str());
      return 0;
    }
    if (*bench_kernels) return moelab::bench::run_kernel_bench(kb, std::cout);
    if (*train) {
      if (!out_dir.empty()) sets.push_back("train.out_dir=" + out_dir);
      moelab::train::RunConfig cfg = moelab::train::load_config(config_path, sets);
      moelab::blas_info();  // load and self-check the kernels before any training
      moelab::train::run_training(cfg, topts, std::cout);
    }
    if (*eval) moelab::train::run_eval(ckpt, eopts, std::cout);
    if (*gen) std::cout << moelab::train::run_generate(ckpt, gopts) << "\n";
    if (*report) {
      const moelab::train::ReportResult r = moelab::train::write_report(ropts, std::cerr);
      std::cout << "wrote " << r.html_path;
      for (const std::string& f : r.csv_files) std::cout << ", " << f;
      if (r.skipped_lines > 0) std::cout << " (" << r.skipped_lines << " unreadable line(s) skipped)";
      std::cout << "\n";
    }
    if (*expand) moelab::train::run_expand(xopts, std::cout);
    if (*bench_model) moelab::train::run_bench(moelab::train::load_config(config_path, sets), bopts, std::cout);
  } catch (const moelab::Error& e) {
    std::fprintf(stderr, "moelab: error: %s\n", e.what());
    return 1;
  }
  return 0;
}
