// The training loop. run_training() at the bottom is the recipe; the named steps above it are
// in the order it calls them.
#include "train/trainer.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>
#include <set>

#include "autograd/tape.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/storage.h"
#include "optim/registry.h"
#include "train/checkpoint/checkpoint.h"
#include "train/checkpoint/run_dir.h"
#include "train/data/batch.h"
#include "train/data/corpus.h"
#include "train/distributed.h"
#include "train/evaluate.h"
#include "train/io/atomic_file.h"
#include "train/io/files.h"
#include "train/io/json_limits.h"
#include "train/lifelong.h"
#include "train/memory.h"
#include "layers/flops.h"
#include "train/routing_metrics.h"

namespace moelab::train {
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

std::unique_ptr<optim::Optimizer> make_optimizer(nn::GPT& model, const OptimConfig& cfg) {
  std::vector<optim::ParamRef> refs;
  for (auto& np : model.named_parameters())
    refs.push_back({np.name, np.param->var, nn::decays(np.param->role), np.param->frozen, np.param->frozen_rows});
  return optim::make_optimizer(cfg.type, std::move(refs), cfg);
}

namespace {

// Everything one training run holds, filled in by the set-up steps below.
struct Run {
  RunConfig cfg;
  std::string out_dir;
  std::unique_ptr<Distributed> dist;            // the processes of this run (one, without mpirun)
  std::optional<RunLock> lock;                  // one writer per run folder
  std::unique_ptr<LoadedModel> resumed;         // --resume: the checkpoint continued
  std::unique_ptr<LoadedModel> init;            // a lifelong stage: the checkpoint it starts from
  std::unique_ptr<LoadedModel> teacher;         // a lifelong stage with kl_weight > 0
  Corpus corpus;
  TokenStream old_val;                          // a lifelong stage: the previous stage's held-out data
  std::unique_ptr<nn::GPT> model;
  std::unique_ptr<optim::Optimizer> opt;
  TrainState state;                             // where training starts (0, or the resumed step)
  std::vector<Batch> val_batches, train_eval_batches, old_val_batches;  // fixed: drawn once, seeded
  double val_targets_per_byte = NAN, train_targets_per_byte = NAN, old_val_targets_per_byte = NAN;  // for bits per byte
  Rng sampler{0, 2};
  std::vector<int32_t> replay;                  // train.batch_offsets
  std::ofstream metrics;
  std::unique_ptr<ModelRoutingMetrics> train_routing, eval_routing;
  MemoryBudget memory;
  bool tty = false;
  // progress
  double val_loss = NAN;
  int64_t saved_step = -1;
  int bad_steps = 0;
  clock_type::time_point t_start, t_last;
  int64_t tokens_since_log = 0;
};

// What one training step computed.
struct Step {
  int64_t number = 0;  // steps done after it (1-based, as logged)
  float lr = 0;
  nn::ModelOutput out;
  double loss = 0, objective = 0, grad_norm = 0, kl = NAN;
  bool finite() const { return std::isfinite(objective) && std::isfinite(grad_norm); }
};

// ---- set-up --------------------------------------------------------------------------------

// The run folder: a lock (taken before reading a checkpoint to resume) and, with --resume, its checkpoint.
void open_run_folder(Run& run, const TrainOptions& opts) {
  std::error_code ec;
  MOELAB_CHECK(!fs::exists(run.out_dir, ec) || fs::is_directory(run.out_dir, ec), "train.out_dir: ", run.out_dir,
               " exists and is not a folder");
  if (run.dist->root() && fs::is_directory(run.out_dir, ec)) run.lock.emplace(run.out_dir);  // rank 0 writes
  if (!opts.resume) return;
  MOELAB_CHECK(fs::is_directory(run.out_dir, ec) && fs::exists(checkpoint_dir(run.out_dir) + "/model.json", ec),
               "--resume: no checkpoint in ", run.out_dir);
  run.resumed = std::make_unique<LoadedModel>(load_checkpoint(run.out_dir));
}

// Text -> tokens. A resumed run keeps its checkpoint's tokenizer; a lifelong stage takes the model
// config and tokenizer of the checkpoint it continues.
void load_data(Run& run, std::ostream& log) {
  RunConfig& cfg = run.cfg;
  if (!cfg.lifelong.init_from.empty()) {
    run.init = std::make_unique<LoadedModel>(load_checkpoint(cfg.lifelong.init_from));
    cfg.model = run.init->config.model;
    log << "lifelong: model and tokenizer from " << cfg.lifelong.init_from << " (its model config replaces this one's)\n";
  }
  const Tokenizer* tokenizer = run.resumed ? &run.resumed->tokenizer : run.init ? &run.init->tokenizer : nullptr;
  run.corpus = build_corpus(cfg.data, tokenizer);
  ::malloc_trim(0);  // the files' text and decode buffers are gone; hand their pages back
  run.memory.baseline_rss_bytes = process_memory().rss_bytes;  // code, libraries, corpus (and a resumed checkpoint)
  cfg.model.vocab_size = run.corpus.tokenizer.vocab_size();

  const Corpus& c = run.corpus;
  const int64_t T = cfg.model.block_size;
  std::string sources;  // "a.txt, b.txt and 3 more", for errors about a split's size
  for (size_t i = 0; i < c.domains.size() && i < 3; ++i) sources += (i ? ", " : "") + c.domains[i];
  if (c.domains.size() > 3) sources += " and " + std::to_string(c.domains.size() - 3) + " more";
  MOELAB_CHECK(c.train.size() > T, "data: the training split has ", c.train.size(),
               " tokens (from ", sources, "), fewer than one block of ", T + 1, " (model.block_size ", T, " + 1)");
  MOELAB_CHECK(c.val.size() > T, "data: the validation split has ", c.val.size(),
               " tokens (from ", sources, "), fewer than one block of ", T + 1,
               c.from_token_files ? " (give data.val, or a folder prepared with --val-fraction > 0: token files are "
                                    "not split by data.val_fraction)"
                                  : " (raise data.val_fraction or give data.val)");
}

// A lifelong stage's forgetting, measured as it trains: the held-out data of the distribution the
// init_from checkpoint learned (its saved data config, which `moelab expand` copies from the checkpoint
// it grew; or lifelong.old_val), tokenized with this stage's tokenizer (init_from's).
void load_old_domain(Run& run, std::ostream& log) {
  const LifelongConfig& l = run.cfg.lifelong;
  if (l.init_from.empty()) return;
  std::string source = l.old_val.empty() ? "the val split of " + l.init_from + "'s data" : "";
  for (const std::string& p : l.old_val) source += (source.empty() ? "" : ", ") + p;
  try {
    run.old_val = l.old_val.empty() ? val_split_of(l.init_from, run.corpus.tokenizer)
                                    : whole_files(l.old_val, run.cfg.data, run.corpus.tokenizer);
  } catch (const std::exception& e) {
    throw Error(l.old_val.empty() ? "lifelong.init_from: " + l.init_from + ": the val split of its data, for "
                                        "old_val_loss (lifelong.old_val names other files): " + std::string(e.what())
                                  : "lifelong.old_val: " + std::string(e.what()));
  }
  const int64_t T = run.cfg.model.block_size;
  MOELAB_CHECK(run.old_val.size() > T, l.old_val.empty() ? "lifelong.init_from" : "lifelong.old_val", ": ", source,
               " has ", run.old_val.size(), " tokens, fewer than one block of ", T + 1, " (model.block_size ", T,
               " + 1) to measure old_val_loss on", l.old_val.empty() ? " (name other data with lifelong.old_val)" : "");
  log << "lifelong: old_val_loss on " << source << " (" << run.old_val.size() << " tokens)\n";
}

// Expert choice ranks tokens across the batch, so a token's output depends on later tokens.
void warn_if_not_causal(nn::GPT& model, std::ostream& log) {
  for (int l : model.moe_layers())
    if (!model.moe(l).router->causal()) {
      log << "warning: layer " << l << "'s router (" << model.config().moe.router.type
          << ") is not causal: a token's routing depends on other tokens of the batch, including later ones, "
             "so the LM loss can leak future information (docs/moe.md)\n";
      return;
    }
}

// Top-1 with renormalised gates (renorm or topk_softmax over the one kept logit): the gate is always 1,
// so the LM loss gives the router no gradient; it learns from aux losses alone (Switch keeps the
// softmax probability as the gate).
void warn_if_gate_constant(nn::GPT& model, std::ostream& log) {
  const auto& moe = model.config().moe;
  if (model.moe_layers().empty() || moe.router.type != "topk" || moe.top_k != 1) return;
  if (moe.router.renorm || moe.router.topk_softmax)
    log << "warning: top_k 1 with model.moe.router." << (moe.router.renorm ? "renorm" : "topk_softmax")
        << ": the one kept gate is always 1, so the router learns only from the aux losses, not from the LM "
           "loss (Switch's top-1 uses the softmax probability: set it false)\n";
}

// The positions of the model's own RNG streams (dropout, router noise / random routing), so a
// resumed run draws exactly what the uninterrupted run would have.
std::map<std::string, uint64_t> model_rng_counters(nn::GPT& model) {
  std::map<std::string, uint64_t> c{{"dropout", model.dropout_rng().counter()}};
  for (int l : model.moe_layers()) c["route.h" + std::to_string(l)] = model.moe(l).route_rng().counter();
  return c;
}

void set_model_rng_counters(nn::GPT& model, const std::map<std::string, uint64_t>& c) {
  if (auto it = c.find("dropout"); it != c.end()) model.dropout_rng().set_counter(it->second);
  for (int l : model.moe_layers())
    if (auto it = c.find("route.h" + std::to_string(l)); it != c.end()) model.moe(l).route_rng().set_counter(it->second);
}

// The first key where two JSON values differ ("" if they are equal), with both values.
std::string first_difference(const nlohmann::json& a, const nlohmann::json& b, const std::string& path) {
  if (a.is_object() && b.is_object()) {
    std::set<std::string> keys;
    for (const auto& [k, v] : a.items()) keys.insert(k);
    for (const auto& [k, v] : b.items()) keys.insert(k);
    for (const std::string& k : keys) {
      const std::string sub = first_difference(a.contains(k) ? a.at(k) : nlohmann::json(), b.contains(k) ? b.at(k) : nlohmann::json(),
                                               path + "." + k);
      if (!sub.empty()) return sub;
    }
    return "";
  }
  if (a == b) return "";
  return path + " is " + dump_json(a) + " in the checkpoint but " + dump_json(b) + " in this config";
}

// A resumed run continues the checkpoint's model: the whole model section and the tokenizer must be
// the checkpoint's (only the loop, the data files and the optimizer settings may change).
void check_resume_matches(const Run& run) {
  const std::string where = run.resumed->dir;
  const std::string model_diff =
      first_difference(to_json(run.resumed->config)["model"], to_json(run.cfg)["model"], "model");
  MOELAB_CHECK(model_diff.empty(), "--resume: ", model_diff, " (", where, "); a resumed run keeps its model: start a new ",
               "run, or continue from this one with lifelong.init_from");
  if (run.corpus.from_token_files) return;  // their tokenizer was checked against the checkpoint's in load_data
  // the checkpoint's tokenizer is used (a BPE learned at start is not learned again); gpt2 is a BPE
  const std::string had = run.resumed->tokenizer.kind();
  const std::string wants = run.cfg.data.tokenizer == "gpt2" ? "bpe" : run.cfg.data.tokenizer;
  MOELAB_CHECK(had == wants, "--resume: data.tokenizer is \"", had, "\" in the checkpoint but \"",
               run.cfg.data.tokenizer, "\" in this config (", where, ")");
}

// Model (fresh, from a lifelong init_from, or resumed), its frozen parts, the teacher, the optimizer.
void build_model(Run& run, std::ostream& log) {
  RunConfig& cfg = run.cfg;
  if (run.resumed) check_resume_matches(run);
  run.dist->check_same_run(cfg, run.corpus.tokenizer.to_json().dump());
  const int64_t rows = cfg.train.batch_size / run.dist->size();  // this process's share of each batch
  check_fits_in_memory(cfg.model, rows, (run.init ? 3 : 2) * int64_t{cfg.train.eval_iters});
  run.model = std::make_unique<nn::GPT>(cfg.model, cfg.train.seed, run.dist->expert_parallel());
  nn::GPT& model = *run.model;
  model.set_partition(run.dist->partition(cfg.train.batch_size));
  warn_if_not_causal(model, log);
  warn_if_gate_constant(model, log);
  if (run.init) {
    if (!run.resumed)
      load_parameters(model, model_tensors(*run.init->model), run.init->dir + "/model.safetensors",
                      run.dist->expert_parallel() != nullptr);
    apply_lifelong_freezing(model, cfg.lifelong, run.init->sidecar, log);  // before the optimizer sees the params
    if (cfg.lifelong.kl_weight > 0) {
      const std::string path = teacher_path(cfg.lifelong, run.init->sidecar);
      run.teacher = std::make_unique<LoadedModel>(load_checkpoint(path));
      // the KL compares distributions token by token: the vocabularies must be the same tokens in the same order
      MOELAB_CHECK(run.teacher->tokenizer.to_json() == run.corpus.tokenizer.to_json(), "lifelong.teacher: ", path,
                   " has another vocabulary than the student (", run.teacher->tokenizer.vocab_size(), " vs ",
                   run.corpus.tokenizer.vocab_size(), " tokens",
                   run.teacher->tokenizer.vocab_size() == run.corpus.tokenizer.vocab_size() ? ", not the same characters" : "",
                   "): the KL term needs the same tokens");
      run.teacher->model->set_training(false);
      run.teacher->model->set_partition(run.dist->partition(cfg.train.batch_size));
      log << "lifelong: output regularisation toward " << path << " (kl_weight " << cfg.lifelong.kl_weight
          << ", temperature " << cfg.lifelong.kl_temperature << ")\n";
    }
  }
  run.opt = make_optimizer(model, cfg.optim);
  if (run.resumed) {
    // parameters and buffers (e.g. the bias of aux-loss-free balancing), as loaded and checked
    load_parameters(model, model_tensors(*run.resumed->model), run.resumed->dir + "/model.safetensors",
                    run.dist->expert_parallel() != nullptr);
    load_optimizer_state(run.resumed->dir, *run.opt, run.resumed->state.step);
    run.state = run.resumed->state;
    set_model_rng_counters(model, run.state.rng_counters);
  }
  run.saved_step = run.resumed ? run.state.step : -1;
}

// The fixed evaluation batches, the training sampler (or the replayed batch starts).
void prepare_batches(Run& run) {
  const RunConfig& cfg = run.cfg;
  const int64_t B = cfg.train.batch_size, T = cfg.model.block_size;
  Rng eval_rng(cfg.train.seed, 7);
  for (int i = 0; i < cfg.train.eval_iters; ++i) run.val_batches.push_back(sample_batch(run.corpus.val, B, T, eval_rng));
  for (int i = 0; i < cfg.train.eval_iters; ++i)
    run.train_eval_batches.push_back(sample_batch(run.corpus.train, B, T, eval_rng));
  const std::vector<int> bytes_per_token = run.corpus.tokenizer.bytes_per_token();
  run.val_targets_per_byte = targets_per_byte(run.val_batches, bytes_per_token);
  run.train_targets_per_byte = targets_per_byte(run.train_eval_batches, bytes_per_token);
  if (run.old_val.size() > 0) {  // seeded as the val batches are: the same windows when the data is the same
    Rng old_rng(cfg.train.seed, 7);
    for (int i = 0; i < cfg.train.eval_iters; ++i) run.old_val_batches.push_back(sample_batch(run.old_val, B, T, old_rng));
    run.old_val_targets_per_byte = targets_per_byte(run.old_val_batches, bytes_per_token);
  }
  run.sampler = Rng(cfg.train.seed, 2);
  run.sampler.set_counter(run.state.sampler_counter);
  if (cfg.train.batch_offsets.empty()) return;
  const std::string bytes = read_regular_file(cfg.train.batch_offsets, "train.batch_offsets",
                                             static_cast<uint64_t>(machine_memory_bytes() / 4));
  run.replay.resize(bytes.size() / 4);
  std::memcpy(run.replay.data(), bytes.data(), run.replay.size() * 4);
  MOELAB_CHECK(static_cast<int64_t>(run.replay.size()) >= int64_t{cfg.train.max_iters} * B, "train.batch_offsets: ",
               cfg.train.batch_offsets, " holds ", run.replay.size(), " offsets, ", cfg.train.max_iters, " steps of ",
               B, " need ", int64_t{cfg.train.max_iters} * B);
}

// One row of metrics.jsonl, written through (a full disk is an error now, not a silently short log).
// File names that are not valid UTF-8 are written with U+FFFD in their place.
void write_row(Run& run, const nlohmann::json& row) {
  if (!run.dist->root()) return;
  run.metrics << dump_json(row) << "\n" << std::flush;
  MOELAB_CHECK(run.metrics, "train.out_dir: cannot write ", run.out_dir, "/metrics.jsonl (disk full?)");
}

// The eval windows' token view (docs/metrics.md): each id's text and class. Off without routing
// metrics, for a dense model, or when the (token x expert) tables of all MoE layers would pass 8M
// counts (64 MB of doubles, and as much again to sum them over processes).
std::shared_ptr<const TokenVocabulary> eval_token_vocabulary(const Run& run) {
  const nn::GPT& model = *run.model;
  int64_t all_experts = 0;
  for (int l : model.moe_layers()) all_experts += model.moe(l).num_experts();
  const int vocab = run.corpus.tokenizer.vocab_size();
  if (!run.cfg.train.routing_metrics || all_experts == 0 ||
      static_cast<int64_t>(vocab) * all_experts > (int64_t{8} << 20))
    return nullptr;
  std::vector<std::string> texts(static_cast<size_t>(vocab));
  for (int32_t id = 0; id < vocab; ++id) texts[id] = run.corpus.tokenizer.decode({id});
  return TokenVocabulary::from_texts(std::move(texts));
}

// The run folder is created only now that everything that can fail on bad input has been checked.
void start_metrics(Run& run, const TrainOptions& opts, std::ostream& log) {
  const RunConfig& cfg = run.cfg;
  nn::GPT& model = *run.model;
  for (int l : model.moe_layers()) model.moe(l).set_collect_stats(cfg.train.routing_metrics);
  const auto domains = static_cast<int64_t>(run.corpus.domains.size());
  run.train_routing = std::make_unique<ModelRoutingMetrics>(model, domains);
  run.eval_routing = std::make_unique<ModelRoutingMetrics>(model, domains, eval_token_vocabulary(run));
  run.t_start = run.t_last = clock_type::now();
  if (!run.dist->root()) return;  // the run folder and the log are rank 0's
  std::error_code ec;
  fs::create_directories(run.out_dir, ec);
  MOELAB_CHECK(fs::is_directory(run.out_dir), "train.out_dir: cannot create ", run.out_dir, ": ", ec.message());
  if (!run.lock) run.lock.emplace(run.out_dir);
  const fs::path checkpoints = fs::path(run.out_dir) / "checkpoints";
  MOELAB_CHECK(!fs::exists(fs::symlink_status(checkpoints, ec)) || fs::is_directory(checkpoints, ec), "train.out_dir: ",
               checkpoints.string(), " is not a folder (checkpoints are saved there); move it away or give another --out");
  remove_stale_temps(run.out_dir);  // what a killed run left; only moelab's own names
  if (!run.resumed && fs::exists(run.out_dir + "/model.json", ec))
    log << "note: " << run.out_dir << " holds an earlier run's checkpoint; this new run's checkpoints replace it as "
        << "they are saved (--resume continues it instead; checkpoints/ keeps the last " << cfg.train.keep_checkpoints
        << ")\n";
  if (run.resumed) drop_metrics_after(run.out_dir + "/metrics.jsonl", run.state.step);

  std::vector<std::string> domain_names;
  for (const std::string& d : run.corpus.domains) domain_names.push_back(fs::path(d).filename().string());
  const nlohmann::json start = {{"event", "start"},
                                {"step", run.state.step},
                                {"moelab_version", MOELAB_VERSION_STRING},
                                {"num_experts", cfg.model.moe.num_experts},
                                {"top_k", cfg.model.moe.top_k},
                                {"router", cfg.model.moe.enabled() ? cfg.model.moe.router.type : ""},
                                {"moe_layers", model.moe_layers()},
                                {"parameters", model.num_parameters()},
                                {"flops_per_token", nn::flops_per_token(model.config())},  // compute-matched comparisons
                                {"domains", domain_names},
                                {"config", to_json(cfg)}};
  const std::string metrics_path = output_file(run.out_dir + "/metrics.jsonl", "train.out_dir");
  run.metrics.open(metrics_path, opts.resume ? std::ios::app : std::ios::trunc);
  MOELAB_CHECK(run.metrics, "train.out_dir: cannot write ", run.out_dir, "/metrics.jsonl");
  write_row(run, start);
  run.tty = isatty(fileno(stdout));
  log << "moelab train: " << model.num_parameters() << " parameters, vocab " << cfg.model.vocab_size << ", "
      << run.corpus.train.size() << " train / " << run.corpus.val.size() << " val tokens from "
      << run.corpus.domains.size() << " files, " << num_threads() << " threads"
      << (run.dist->single() ? std::string() : " x " + std::to_string(run.dist->size()) + " processes")
      << ", out " << run.out_dir << "\n";
}

// ---- one step ------------------------------------------------------------------------------


// The mean loss over fixed batches (each process evaluates its rows; the mean is the whole batches').
double mean_loss(nn::GPT& model, const Distributed& dist, const std::vector<Batch>& batches,
                 ModelRoutingMetrics* routing) {
  autograd::NoGrad no_grad;
  model.set_training(false);
  double total = 0;
  for (const Batch& global : batches) {
    const Batch b = dist.local_rows(global);
    nn::ModelOutput out = model.forward(b.ids, b.targets);
    total += out.loss.item();
    if (routing) routing->add(out, b.domains, &b.ids);
  }
  model.set_training(true);
  return dist.mean(total / static_cast<double>(batches.size()));
}

// Loss on the fixed val and train batches: an eval row (with the eval batches' routing) and a log line.
void evaluate(Run& run, int64_t step, std::ostream& log) {
  const bool routing = run.cfg.train.routing_metrics && !run.eval_routing->empty();
  run.val_loss = mean_loss(*run.model, *run.dist, run.val_batches, routing ? run.eval_routing.get() : nullptr);
  const double train_loss = mean_loss(*run.model, *run.dist, run.train_eval_batches, nullptr);
  // bits per byte: the loss in bits over the bytes of text the targets stand for (any tokenizer)
  const double val_bpb = run.val_loss / std::log(2.0) * run.val_targets_per_byte;
  const double train_bpb = train_loss / std::log(2.0) * run.train_targets_per_byte;
  const double elapsed = std::chrono::duration<double>(clock_type::now() - run.t_start).count();
  nlohmann::json row{{"step", step}, {"val_loss", run.val_loss}, {"train_loss", train_loss}, {"elapsed_s", elapsed}};
  if (std::isfinite(val_bpb) && std::isfinite(train_bpb)) {
    row["val_bpb"] = val_bpb;
    row["train_bpb"] = train_bpb;
  }
  double old_val_loss = NAN;
  if (!run.old_val_batches.empty()) {  // a lifelong stage: the previous distribution's held-out data
    old_val_loss = mean_loss(*run.model, *run.dist, run.old_val_batches, nullptr);
    row["old_val_loss"] = old_val_loss;
    const double old_val_bpb = old_val_loss / std::log(2.0) * run.old_val_targets_per_byte;
    if (std::isfinite(old_val_bpb)) row["old_val_bpb"] = old_val_bpb;
  }
  if (routing) row["moe"] = run.eval_routing->take(run.dist->world());
  write_row(run, row);
  if (run.tty) log << "\r\033[K";
  char line[160];
  std::snprintf(line, sizeof line, "step %6lld  eval: train loss %.4f  val loss %.4f  val bpb %.4f",
                static_cast<long long>(step), train_loss, run.val_loss, val_bpb);
  log << line;
  if (!run.old_val_batches.empty()) {
    std::snprintf(line, sizeof line, "  old val loss %.4f", old_val_loss);
    log << line;
  }
  log << "\n" << std::flush;
}

// Forward, the lifelong KL term, backward, gradient norm. The update itself is apply_update().
Step forward_backward(Run& run, int64_t step) {
  const RunConfig& cfg = run.cfg;
  const int64_t B = cfg.train.batch_size, T = cfg.model.block_size;
  Step s;
  s.number = step + 1;
  s.lr = optim::lr_at(cfg.optim.schedule, step);
  // every process samples the same global batch and takes its own rows
  const Batch batch = run.dist->local_rows(run.replay.empty() ? sample_batch(run.corpus.train, B, T, run.sampler)
                                                              : batch_at(run.corpus.train, run.replay.data() + step * B, B, T));
  const bool first_step = step == run.state.step;  // activations are measured once
  const size_t live_before_forward = first_step ? allocator_stats().live_requested_bytes : 0;
  s.out = run.model->forward(batch.ids, batch.targets);
  if (first_step) run.memory.activations_bytes = allocator_stats().live_requested_bytes - live_before_forward;
  s.loss = run.dist->mean(s.out.loss.item());
  if (cfg.train.routing_metrics) run.train_routing->add(s.out, batch.domains);
  autograd::Var objective = s.out.total;
  if (run.teacher) {  // Lifelong-MoE: stay close to the previous model's outputs on the new data
    Tensor teacher_logits;
    {
      autograd::NoGrad no_grad;
      teacher_logits = run.teacher->model->forward(batch.ids).logits.value();
    }
    autograd::Var kl = ops::kl_div(s.out.logits, teacher_logits, static_cast<float>(cfg.lifelong.kl_temperature));
    s.kl = run.dist->mean(kl.item());
    objective = ops::add(objective, ops::scale(kl, static_cast<float>(cfg.lifelong.kl_weight)));
  }
  s.objective = run.dist->mean(objective.item());
  run.dist->prepare_gradients(run.opt->params());
  autograd::backward(objective, run.dist->gradient_hook(run.model->block_tape_starts()));
  run.dist->average_gradients(run.opt->params());  // every process then holds the one-process gradient
  s.grad_norm = run.dist->grad_norm(run.opt->params());
  return s;
}

// The name of the first parameter whose gradient holds NaN or Inf ("none" if all are finite).
std::string first_non_finite_grad(const std::vector<optim::ParamRef>& params) {
  for (const optim::ParamRef& p : params) {
    if (!p.var.has_grad()) continue;
    const float* g = p.var.grad().data();
    for (int64_t i = 0; i < p.var.numel(); ++i)
      if (!std::isfinite(g[i])) return p.name;
  }
  return "none";
}

// A step with a non-finite loss or gradient changes nothing (no update, no optimizer state, no
// checkpoint); too many in a row abort.
void skip_step(Run& run, const Step& s, std::ostream& log) {
  const std::string param = first_non_finite_grad(run.opt->params());
  const std::string what = std::isfinite(s.objective) ? "gradient" : "loss";
  ++run.bad_steps;
  log << "step " << s.number << ": non-finite " << what << " (first non-finite gradient: " << param
      << "); step skipped, " << run.bad_steps << " in a row\n";
  write_row(run, {{"step", s.number}, {"skipped", true}, {"non_finite", what}, {"param", param}});
  run.opt->zero_grad();
  MOELAB_CHECK(run.bad_steps < run.cfg.train.max_bad_steps, "training: ", run.bad_steps,
               " consecutive steps with a non-finite loss or gradient (last at step ", s.number,
               ", first non-finite gradient: ", param, "); aborting (train.max_bad_steps = ",
               run.cfg.train.max_bad_steps, "); checkpoints already in ", run.out_dir, " are untouched");
}

// The optimizer step with global-norm clipping folded into the gradient scale.
void apply_update(Run& run, const Step& s) {
  run.bad_steps = 0;
  run.opt->step(s.lr, optim::clip_scale(s.grad_norm, run.cfg.optim.grad_clip));
  run.opt->zero_grad();
  run.tokens_since_log += int64_t{run.cfg.train.batch_size} * run.cfg.model.block_size;
}

// Each weighted aux loss per layer ("aux.switch.h1") and summed over layers ("aux.switch"), plus total
// (means over the processes of a distributed run).
nlohmann::json aux_metrics(const nn::ModelOutput& out, const Distributed& dist) {
  nlohmann::json j;
  std::map<std::string, double> sums;
  for (const nn::LayerAuxLoss& a : out.aux) {
    const double v = dist.mean(a.value.item());
    j["aux." + a.name + ".h" + std::to_string(a.layer)] = v;
    sums[a.name] += v;
  }
  for (const auto& [name, v] : sums) j["aux." + name] = v;
  j["total_loss"] = dist.mean(out.total.item());
  return j;
}

std::string fmt_duration(double s) {
  char buf[32];
  const int t = static_cast<int>(s);
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  return buf;
}

// A training row in metrics.jsonl and a progress line (a bar on a terminal).
void log_step(Run& run, const Step& s, std::ostream& log) {
  const RunConfig& cfg = run.cfg;
  const auto now = clock_type::now();
  const double dt = std::chrono::duration<double>(now - run.t_last).count();
  const double tps = static_cast<double>(run.tokens_since_log) / std::max(dt, 1e-9);
  nlohmann::json row{{"step", s.number}, {"loss", s.loss}, {"lr", s.lr}, {"grad_norm", s.grad_norm},
                     {"tokens_per_s", tps}, {"rss_mb", process_memory().rss_bytes / 1048576.0},
                     {"tensor_mb", allocator_stats().live_bytes / 1048576.0}};
  if (!s.out.aux.empty()) row.update(aux_metrics(s.out, *run.dist));
  if (run.teacher) row["kl"] = s.kl;
  if (cfg.train.routing_metrics && !run.train_routing->empty()) row["moe"] = run.train_routing->take(run.dist->world());
  if (!run.dist->single()) {  // rank 0's communication since the last row
    row["dist"] = run.dist->take_comm_stats();
    row["dist"]["processes"] = run.dist->size();
    row["dist"]["expert_parallel"] = run.dist->expert_parallel_size();
  }
  write_row(run, row);
  const double elapsed = std::chrono::duration<double>(now - run.t_start).count();
  const double eta = elapsed / static_cast<double>(s.number - run.state.step) *
                     static_cast<double>(cfg.train.max_iters - s.number);
  char line[200];
  if (run.tty) {
    const int width = 30, filled = static_cast<int>(width * s.number / std::max(1, cfg.train.max_iters));
    std::snprintf(line, sizeof line, "\r\033[K[%-*s] step %lld/%d  loss %.4f  %.0f tok/s  ETA %s", width,
                  std::string(filled, '#').c_str(), static_cast<long long>(s.number), cfg.train.max_iters, s.loss, tps,
                  fmt_duration(eta).c_str());
  } else {
    std::snprintf(line, sizeof line, "step %6lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s\n",
                  static_cast<long long>(s.number), s.loss, s.lr, tps, fmt_duration(eta).c_str());
  }
  log << line << std::flush;
  run.t_last = now;
  run.tokens_since_log = 0;
}

// At most one checkpoint per step (a signal may follow a periodic save). A model whose outputs are
// not finite is never published: its parameters can all be finite and still overflow in a forward
// pass (a diverged run), so one validation batch is evaluated first.
void save(Run& run, int64_t at) {
  if (at == run.saved_step) return;
  const double probe = mean_loss(*run.model, *run.dist, {run.val_batches.front()}, nullptr);
  MOELAB_CHECK(std::isfinite(probe), "training: after step ", at, " the model's loss on a validation batch is ", probe,
               ": it diverged (optim.lr ", run.cfg.optim.schedule.lr, ")", "; no checkpoint is written",
               run.saved_step >= 0 ? "; latest still names step " + std::to_string(run.saved_step)
                                   : std::string(" (none was saved before)"));
  run.dist->check_replicas_equal(*run.model);
  // expert parallelism: rank 0 gathers the experts the others hold, and writes one standard checkpoint
  CheckpointTensors tensors;
  tensors.model = model_tensors(*run.model);
  tensors.optimizer = run.opt->state();
  tensors.optimizer_step = run.opt->steps();
  for (auto* part : {&tensors.model, &tensors.optimizer})
    for (auto& [name, t] : run.dist->gather_experts(*part)) (*part)[name] = t;
  if (run.dist->root())
    save_checkpoint(run.out_dir, tensors, run.model->config(), run.cfg, run.corpus.tokenizer,
                    {at, run.sampler.counter(), model_rng_counters(*run.model)});
  if (run.dist->world()) run.dist->world()->barrier();  // every process continues once it is published
  run.saved_step = at;
}

// ---- the end -------------------------------------------------------------------------------

// What the run needed in memory against its peak, and what routing metrics cost.
void report_costs(Run& run, std::ostream& log) {
  const RunConfig& cfg = run.cfg;
  if (cfg.train.max_iters > run.state.step) {
    MemoryBudget& m = run.memory;
    for (const auto& [name, t] : model_tensors(*run.model)) m.params_bytes += t.numel() * sizeof(float);
    for (const auto& np : run.model->named_parameters())
      if (!np.param->frozen) m.grads_bytes += np.param->var.numel() * sizeof(float);
    for (const auto& [name, t] : run.opt->state()) m.optimizer_bytes += t.numel() * sizeof(float);
    log << describe(m, process_memory()) << "\n";
  }
  if (cfg.train.routing_metrics && !run.train_routing->empty()) {
    const double seconds = std::chrono::duration<double>(clock_type::now() - run.t_start).count();
    char line[160];
    std::snprintf(line, sizeof line, "routing metrics: %.3f s of %.1f s training (%.2f%%)\n",
                  run.train_routing->seconds(), seconds, 100.0 * run.train_routing->seconds() / std::max(seconds, 1e-9));
    log << line;
  }
}

// A signal may reach the processes of a distributed run at different steps: they stop together.
bool stop_requested(const TrainOptions& opts, const Distributed& dist) {
  return dist.any(opts.stop_signal && *opts.stop_signal != 0);
}

}  // namespace

double run_training(const RunConfig& cfg, const TrainOptions& opts, std::ostream& root_log) {
  Run run;
  run.cfg = cfg;
  run.out_dir = cfg.train.out_dir;
  run.dist = std::make_unique<Distributed>(opts.world, cfg);
  std::ostream no_log(nullptr);  // the other processes of a distributed run print nothing
  std::ostream& log = run.dist->root() ? root_log : no_log;
  open_run_folder(run, opts);
  load_data(run, log);
  load_old_domain(run, log);
  build_model(run, log);
  prepare_batches(run);
  start_metrics(run, opts, log);

  const int64_t max_iters = cfg.train.max_iters;
  for (int64_t step = run.state.step;; ++step) {
    if (step % cfg.train.eval_interval == 0 || step >= max_iters) evaluate(run, step, log);  // and always at the end
    if (step >= max_iters) break;

    const Step s = forward_backward(run, step);
    if (!s.finite()) {
      skip_step(run, s, log);
      continue;
    }
    apply_update(run, s);
    if (s.number % cfg.train.log_interval == 0 || s.number == max_iters) log_step(run, s, log);
    if (cfg.train.checkpoint_interval > 0 && s.number % cfg.train.checkpoint_interval == 0) save(run, s.number);
    if (stop_requested(opts, *run.dist)) {
      save(run, s.number);
      log << (run.tty ? "\n" : "") << "interrupted by signal " << (opts.stop_signal ? *opts.stop_signal : 0)
          << " after step " << s.number
          << ": checkpoint saved in " << run.out_dir << "; continue with --resume\n";
      return run.val_loss;
    }
  }
  save(run, std::max(run.state.step, max_iters));  // a resume past max_iters keeps its step
  log << "saved " << run.out_dir << "/model.safetensors (val loss " << run.val_loss << ")\n";
  report_costs(run, log);
  return run.val_loss;
}

}  // namespace moelab::train
