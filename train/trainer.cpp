#include "train/trainer.h"

#include <malloc.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <optional>

#include "autograd/tape.h"
#include "core/error.h"
#include "core/parallel.h"
#include "core/storage.h"
#include "train/checkpoint.h"
#include "train/balance.h"
#include "train/data.h"
#include "train/lifelong.h"
#include "train/memory.h"
#include "train/optimizers.h"
#include "train/run_dir.h"
#include "train/safetensors.h"

namespace moelab::train {
namespace fs = std::filesystem;
using clock_type = std::chrono::steady_clock;

namespace {

std::vector<optim::ParamRef> param_refs(nn::GPT& model) {
  std::vector<optim::ParamRef> refs;
  for (auto& np : model.named_parameters())
    refs.push_back({np.name, np.param->var, nn::decays(np.param->role), np.param->frozen, np.param->frozen_rows});
  return refs;
}

std::unique_ptr<optim::Optimizer> make_optimizer(nn::GPT& model, const OptimConfig& o) {
  return train::make_optimizer(o.type, param_refs(model), o);
}

// One RoutingWindow per MoE layer (docs/metrics.md).
struct RoutingWindows {
  std::vector<int> layers;
  std::vector<RoutingWindow> windows;
  RoutingWindows(nn::GPT& model, int64_t num_domains) : layers(model.moe_layers()) {
    for (int l : layers) windows.emplace_back(model.moe(l).num_experts(), num_domains);
  }
  double seconds = 0;  // time spent on routing metrics (layers' stats + windows + JSON)
  void add(nn::GPT& model, const nn::ModelOutput& out, const Batch& b) {
    const auto t0 = clock_type::now();
    for (size_t i = 0; i < layers.size(); ++i) {
      seconds += model.moe(layers[i]).last_stats().collect_seconds;
      std::vector<std::pair<std::string, double>> aux;
      for (const nn::LayerAuxLoss& a : out.aux)
        if (a.layer == layers[i]) aux.emplace_back(a.name, a.value.item());
      windows[i].add(model.moe(layers[i]).last_stats(), b.domains, aux);
    }
    seconds += std::chrono::duration<double>(clock_type::now() - t0).count();
  }
  // {"h1": {...}, ...} and a fresh window
  nlohmann::json take(nn::GPT& model) {
    const auto t0 = clock_type::now();
    nlohmann::json j = nlohmann::json::object();
    for (size_t i = 0; i < layers.size(); ++i) {
      std::vector<float> bias;
      for (const nn::NamedBuffer& nb : model.moe(layers[i]).named_buffers())
        if (nb.name == "router.bias_balance") bias.assign(nb.tensor->data(), nb.tensor->data() + nb.tensor->numel());
      j["h" + std::to_string(layers[i])] = windows[i].to_json(bias);
      windows[i].reset();
    }
    seconds += std::chrono::duration<double>(clock_type::now() - t0).count();
    return j;
  }
};

double mean_loss(nn::GPT& model, const std::vector<Batch>& batches, RoutingWindows* routing = nullptr) {
  autograd::NoGrad no_grad;
  model.set_training(false);
  double total = 0;
  for (const Batch& b : batches) {
    nn::ModelOutput out = model.forward(b.ids, b.targets);
    total += out.loss.item();
    if (routing) routing->add(model, out, b);
  }
  model.set_training(true);
  return total / static_cast<double>(batches.size());
}

// Each weighted aux loss per layer ("aux.switch.h1") and summed over layers ("aux.switch"), plus total.
nlohmann::json aux_metrics(const nn::ModelOutput& out) {
  nlohmann::json j;
  std::map<std::string, double> sums;
  for (const nn::LayerAuxLoss& a : out.aux) {
    const double v = a.value.item();
    j["aux." + a.name + ".h" + std::to_string(a.layer)] = v;
    sums[a.name] += v;
  }
  for (const auto& [name, v] : sums) j["aux." + name] = v;
  j["total_loss"] = out.total.item();
  return j;
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

// SIGINT / SIGTERM while training: finish the current step, save a checkpoint, return normally.
volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int sig) { g_stop_signal = sig; }

class StopSignals {  // installs the handlers for the duration of a training run
 public:
  StopSignals() {
    g_stop_signal = 0;
    old_int_ = std::signal(SIGINT, on_stop_signal);
    old_term_ = std::signal(SIGTERM, on_stop_signal);
  }
  ~StopSignals() {
    std::signal(SIGINT, old_int_);
    std::signal(SIGTERM, old_term_);
  }
  int received() const { return g_stop_signal; }

 private:
  void (*old_int_)(int);
  void (*old_term_)(int);
};

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

void apply_threads(int threads) {
  if (threads > 0) set_num_threads(threads);
}

std::string fmt_duration(double s) {
  char buf[32];
  const int t = static_cast<int>(s);
  std::snprintf(buf, sizeof buf, "%d:%02d:%02d", t / 3600, t / 60 % 60, t % 60);
  return buf;
}

}  // namespace

double flops_per_token(const RunConfig& cfg, int vocab) {
  const nn::ModelConfig& m = cfg.model;
  const double d = m.n_embd, glu = m.ffn.activation == "swiglu" ? 2 : 1;
  auto ffn_params = [&](double hidden) { return glu * hidden * d + hidden * d; };
  double params = vocab * d;  // wte doubles as lm_head
  for (int l = 0; l < m.n_layer; ++l) {
    params += 4 * d * d;  // c_attn + c_proj
    if (!m.moe.is_moe_layer(l, m.n_layer)) {
      params += ffn_params(m.ffn.mult * d);
      continue;
    }
    // active experts per token: k for token choice, ec_factor on average for expert choice, all for soft
    const std::string& type = m.moe.router.type;
    const double E = m.moe.experts_at(l);
    const double active = type == "soft" ? E : type == "expert_choice" ? m.moe.router.ec_factor : m.moe.top_k;
    const double hidden = m.moe.expert_hidden > 0 ? m.moe.expert_hidden : m.ffn.mult * d;
    const double shared_hidden = m.moe.shared_hidden > 0 ? m.moe.shared_hidden : hidden;
    params += active * ffn_params(hidden) + m.moe.shared_experts * ffn_params(shared_hidden);
    if (type != "hash") params += E * d * (type == "noisy_topk" ? 2 : 1);  // router
  }
  return 6 * params + 12 * m.n_layer * m.block_size * d;
}

double run_training(const RunConfig& cfg_in, const TrainOptions& opts, std::ostream& log) {
  RunConfig cfg = cfg_in;
  apply_threads(cfg.train.threads);
  // A fixed mmap threshold: glibc otherwise raises it (up to 32 MiB) whenever a large block is
  // freed, after which large transients come from the heap and leave it fragmented (tens of MB of
  // RSS that no tensor uses). 4 MiB keeps per-step scratch vectors (e.g. attention's T x T) on
  // the heap, where they are reused without page faults; tensors are cached by core/storage.
  ::mallopt(M_MMAP_THRESHOLD, 4 * 1024 * 1024);
  const std::string out_dir = cfg.train.out_dir;
  std::error_code ec;
  MOELAB_CHECK(!fs::exists(out_dir, ec) || fs::is_directory(out_dir, ec), "train.out_dir: ", out_dir,
               " exists and is not a folder");

  // 1. data and tokenizer (a resumed run keeps the checkpoint's tokenizer)
  std::optional<RunLock> lock;  // one writer per run folder; taken before reading a checkpoint to resume
  if (fs::is_directory(out_dir, ec)) lock.emplace(out_dir);
  std::unique_ptr<LoadedModel> resumed;
  if (opts.resume) {
    MOELAB_CHECK(fs::is_directory(out_dir, ec) && fs::exists(checkpoint_dir(out_dir) + "/model.json", ec),
                 "--resume: no checkpoint in ", out_dir);
    resumed = std::make_unique<LoadedModel>(load_checkpoint(out_dir));
  }
  // a lifelong stage continues a checkpoint: its model config and tokenizer
  std::unique_ptr<LoadedModel> init;
  if (!cfg.lifelong.init_from.empty()) {
    init = std::make_unique<LoadedModel>(load_checkpoint(cfg.lifelong.init_from));
    cfg.model = init->config.model;
    log << "lifelong: model and tokenizer from " << cfg.lifelong.init_from << " (its model config replaces this one's)\n";
  }
  Corpus corpus = build_corpus(cfg.data, resumed ? &resumed->tokenizer : init ? &init->tokenizer : nullptr);
  ::malloc_trim(0);  // the files' text and decode buffers are gone; hand their pages back
  MemoryBudget memory;
  memory.baseline_rss_bytes = process_memory().rss_bytes;  // code, libraries, corpus (and a resumed checkpoint)
  cfg.model.vocab_size = corpus.tokenizer.vocab_size();
  const int64_t B = cfg.train.batch_size, T = cfg.model.block_size;
  auto sources = [&] {  // "a.txt, b.txt and 3 more", for errors about a split's size
    std::string s;
    for (size_t i = 0; i < corpus.domains.size() && i < 3; ++i) s += (i ? ", " : "") + corpus.domains[i];
    if (corpus.domains.size() > 3) s += " and " + std::to_string(corpus.domains.size() - 3) + " more";
    return s;
  };
  MOELAB_CHECK(static_cast<int64_t>(corpus.train.tokens.size()) > T, "data: the training split has ",
               corpus.train.tokens.size(), " tokens (from ", sources(), "), fewer than one block of ", T + 1,
               " (model.block_size ", T, " + 1)");
  MOELAB_CHECK(static_cast<int64_t>(corpus.val.tokens.size()) > T, "data: the validation split has ",
               corpus.val.tokens.size(), " tokens (from ", sources(), "), fewer than one block of ", T + 1,
               " (raise data.val_fraction or give data.val)");

  // 2. model and optimizer (first: does it fit? A typo such as n_embd 12800 must be an error, not
  // an allocation failure or the OOM killer halfway through)
  {
    const double ram = static_cast<double>(::sysconf(_SC_PHYS_PAGES)) * static_cast<double>(::sysconf(_SC_PAGESIZE));
    const double per_param = 16;  // value, gradient and two AdamW moments, float32
    const double params = cfg.model.min_parameter_count(ram / per_param);
    MOELAB_CHECK(ram <= 0 || params * per_param <= ram, "model: n_layer ", cfg.model.n_layer, ", n_embd ",
                 cfg.model.n_embd, ", vocab ", cfg.model.vocab_size, " make at least ", params,
                 " parameters, which need ", params * per_param / 1e9, " GB for values, gradients and optimizer state; "
                 "this machine has ", ram / 1e9, " GB");
  }
  nn::GPT model(cfg.model, cfg.train.seed);
  warn_if_not_causal(model, log);
  if (init) {
    if (!resumed) load_parameters(model, model_tensors(*init->model), init->dir + "/model.safetensors");
    apply_lifelong_freezing(model, cfg.lifelong, init->sidecar, log);  // before the optimizer sees the params
  }
  std::unique_ptr<LoadedModel> teacher;
  if (init && cfg.lifelong.kl_weight > 0) {
    const std::string path = teacher_path(cfg.lifelong, init->sidecar);
    teacher = std::make_unique<LoadedModel>(load_checkpoint(path));
    MOELAB_CHECK(teacher->tokenizer.vocab_size() == corpus.tokenizer.vocab_size(), "lifelong.teacher: ", path,
                 " has vocab ", teacher->tokenizer.vocab_size(), ", the student ", corpus.tokenizer.vocab_size());
    teacher->model->set_training(false);
    log << "lifelong: output regularisation toward " << path << " (kl_weight " << cfg.lifelong.kl_weight
        << ", temperature " << cfg.lifelong.kl_temperature << ")\n";
  }
  auto opt = make_optimizer(model, cfg.optim);
  TrainState state;
  if (resumed) {
    // parameters and buffers (e.g. the bias of aux-loss-free balancing), as loaded and checked
    load_parameters(model, model_tensors(*resumed->model), resumed->dir + "/model.safetensors");
    load_optimizer_state(resumed->dir, *opt, resumed->state.step);
    state = resumed->state;
    set_model_rng_counters(model, state.rng_counters);
  }
  fs::create_directories(out_dir, ec);
  MOELAB_CHECK(fs::is_directory(out_dir), "train.out_dir: cannot create ", out_dir, ": ", ec.message());
  if (!lock) lock.emplace(out_dir);
  if (!resumed && fs::exists(out_dir + "/model.json", ec))
    log << "note: " << out_dir << " holds an earlier run's checkpoint; this new run's checkpoints replace it as they "
        << "are saved (--resume continues it instead; checkpoints/ keeps the last " << cfg.train.keep_checkpoints
        << ")\n";
  if (resumed) drop_metrics_after(out_dir + "/metrics.jsonl", state.step);

  // 3. fixed evaluation batches, the training sampler
  Rng eval_rng(cfg.train.seed, 7);
  std::vector<Batch> val_batches, train_eval_batches;
  for (int i = 0; i < cfg.train.eval_iters; ++i) val_batches.push_back(sample_batch(corpus.val, B, T, eval_rng));
  for (int i = 0; i < cfg.train.eval_iters; ++i)
    train_eval_batches.push_back(sample_batch(corpus.train, B, T, eval_rng));
  Rng sampler(cfg.train.seed, 2);
  sampler.set_counter(state.sampler_counter);
  std::vector<int32_t> replay;  // train.batch_offsets: another run's batch starts, step by step
  if (!cfg.train.batch_offsets.empty()) {
    std::ifstream f(cfg.train.batch_offsets, std::ios::binary);
    MOELAB_CHECK(f, "train.batch_offsets: cannot open ", cfg.train.batch_offsets);
    const std::string bytes((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
    replay.resize(bytes.size() / 4);
    std::memcpy(replay.data(), bytes.data(), replay.size() * 4);
    MOELAB_CHECK(static_cast<int64_t>(replay.size()) >= int64_t{cfg.train.max_iters} * B, "train.batch_offsets: ",
                 cfg.train.batch_offsets, " holds ", replay.size(), " offsets, ", cfg.train.max_iters, " steps of ", B,
                 " need ", int64_t{cfg.train.max_iters} * B);
  }

  std::ofstream metrics(out_dir + "/metrics.jsonl", opts.resume ? std::ios::app : std::ios::trunc);
  MOELAB_CHECK(metrics, "train.out_dir: cannot write ", out_dir, "/metrics.jsonl");
  const bool tty = isatty(fileno(stdout));
  std::vector<std::string> domain_names;
  for (const std::string& d : corpus.domains) domain_names.push_back(fs::path(d).filename().string());
  metrics << nlohmann::json{{"event", "start"},
                            {"step", state.step},
                            {"moelab_version", MOELAB_VERSION_STRING},
                            {"num_experts", cfg.model.moe.num_experts},
                            {"top_k", cfg.model.moe.top_k},
                            {"router", cfg.model.moe.enabled() ? cfg.model.moe.router.type : ""},
                            {"moe_layers", model.moe_layers()},
                            {"domains", domain_names},
                            {"config", to_json(cfg)}}
                 .dump()
          << "\n";
  for (int l : model.moe_layers()) model.moe(l).set_collect_stats(cfg.train.routing_metrics);
  RoutingWindows train_routing(model, static_cast<int64_t>(corpus.domains.size()));
  RoutingWindows eval_routing(model, static_cast<int64_t>(corpus.domains.size()));
  log << "moelab train: " << model.num_parameters() << " parameters, vocab " << cfg.model.vocab_size << ", "
      << corpus.train.tokens.size() << " train / " << corpus.val.tokens.size() << " val tokens from "
      << corpus.domains.size() << " files, " << num_threads() << " threads, out " << out_dir << "\n";

  // 4. the loop
  double val_loss = NAN;
  const auto t_start = clock_type::now();
  auto t_last = t_start;
  int64_t tokens_since = 0;
  int bad_steps = 0;
  StopSignals stop;
  int64_t saved_step = resumed ? state.step : -1;
  auto save = [&](int64_t at) {  // at most one checkpoint per step (a signal may follow a periodic save)
    if (at == saved_step) return;
    save_checkpoint(out_dir, model, opt.get(), cfg, corpus.tokenizer, {at, sampler.counter(), model_rng_counters(model)});
    saved_step = at;
  };
  for (int64_t step = state.step;; ++step) {
    if (step % cfg.train.eval_interval == 0 || step == cfg.train.max_iters) {
      val_loss = mean_loss(model, val_batches, cfg.train.routing_metrics ? &eval_routing : nullptr);
      const double train_loss = mean_loss(model, train_eval_batches);
      nlohmann::json row{{"step", step}, {"val_loss", val_loss}, {"train_loss", train_loss}};
      if (cfg.train.routing_metrics && !eval_routing.layers.empty()) row["moe"] = eval_routing.take(model);
      metrics << row.dump() << "\n" << std::flush;
      if (tty) log << "\r\033[K";
      char line[160];
      std::snprintf(line, sizeof line, "step %6lld  eval: train loss %.4f  val loss %.4f\n",
                    static_cast<long long>(step), train_loss, val_loss);
      log << line << std::flush;
    }
    if (step >= cfg.train.max_iters) break;

    const float lr = optim::lr_at(cfg.optim.schedule, step);
    Batch batch = replay.empty() ? sample_batch(corpus.train, B, T, sampler)
                                 : batch_at(corpus.train, replay.data() + step * B, B, T);
    const bool first_step = step == state.step;  // activations are measured once
    const size_t live_before_forward = first_step ? allocator_stats().live_requested_bytes : 0;
    nn::ModelOutput out = model.forward(batch.ids, batch.targets);
    if (first_step) memory.activations_bytes = allocator_stats().live_requested_bytes - live_before_forward;
    const double loss = out.loss.item();
    if (cfg.train.routing_metrics) train_routing.add(model, out, batch);
    autograd::Var objective = out.total;
    double kl = NAN;
    if (teacher) {  // Lifelong-MoE: stay close to the previous model's outputs on the new data
      Tensor teacher_logits;
      {
        autograd::NoGrad no_grad;
        teacher_logits = teacher->model->forward(batch.ids).logits.value();
      }
      autograd::Var k = ops::kl_div(out.logits, teacher_logits, static_cast<float>(cfg.lifelong.kl_temperature));
      kl = k.item();
      objective = ops::add(objective, ops::scale(k, static_cast<float>(cfg.lifelong.kl_weight)));
    }
    const double objective_value = objective.item();
    autograd::backward(objective);
    const double grad_norm = optim::grad_norm(opt->params());
    if (!std::isfinite(objective_value) || !std::isfinite(grad_norm)) {
      // a bad step changes nothing: no update, no optimizer state, no checkpoint
      const std::string param = first_non_finite_grad(opt->params());
      const std::string what = std::isfinite(objective_value) ? "gradient" : "loss";
      ++bad_steps;
      log << "step " << step + 1 << ": non-finite " << what << " (first non-finite gradient: " << param
          << "); step skipped, " << bad_steps << " in a row\n";
      metrics << nlohmann::json{{"step", step + 1}, {"skipped", true}, {"non_finite", what}, {"param", param}}.dump()
              << "\n" << std::flush;
      opt->zero_grad();
      MOELAB_CHECK(bad_steps < cfg.train.max_bad_steps, "training: ", bad_steps,
                   " consecutive steps with a non-finite loss or gradient (last at step ", step + 1,
                   ", first non-finite gradient: ", param, "); aborting (train.max_bad_steps = ",
                   cfg.train.max_bad_steps, "); checkpoints already in ", out_dir, " are untouched");
      continue;
    }
    bad_steps = 0;
    opt->step(lr, optim::clip_scale(grad_norm, cfg.optim.grad_clip));
    opt->zero_grad();
    tokens_since += B * T;

    if ((step + 1) % cfg.train.log_interval == 0 || step + 1 == cfg.train.max_iters) {
      const auto now = clock_type::now();
      const double dt = std::chrono::duration<double>(now - t_last).count();
      const double tps = tokens_since / std::max(dt, 1e-9);
      nlohmann::json row{{"step", step + 1}, {"loss", loss}, {"lr", lr}, {"grad_norm", grad_norm},
                         {"tokens_per_s", tps}, {"rss_mb", process_memory().rss_bytes / 1048576.0},
                         {"tensor_mb", allocator_stats().live_bytes / 1048576.0}};
      if (!out.aux.empty()) row.update(aux_metrics(out));
      if (teacher) row["kl"] = kl;
      if (cfg.train.routing_metrics && !train_routing.layers.empty()) row["moe"] = train_routing.take(model);
      metrics << row.dump() << "\n";
      const double elapsed = std::chrono::duration<double>(now - t_start).count();
      const double eta = elapsed / (step + 1 - state.step) * (cfg.train.max_iters - step - 1);
      char line[200];
      if (tty) {
        const int width = 30, filled = static_cast<int>(width * (step + 1) / std::max(1, cfg.train.max_iters));
        std::snprintf(line, sizeof line, "\r\033[K[%-*s] step %lld/%d  loss %.4f  %.0f tok/s  ETA %s", width,
                      std::string(filled, '#').c_str(), static_cast<long long>(step + 1), cfg.train.max_iters, loss,
                      tps, fmt_duration(eta).c_str());
      } else {
        std::snprintf(line, sizeof line, "step %6lld  loss %.4f  lr %.2e  %.0f tok/s  ETA %s\n",
                      static_cast<long long>(step + 1), loss, lr, tps, fmt_duration(eta).c_str());
      }
      log << line << std::flush;
      t_last = now;
      tokens_since = 0;
    }
    if (cfg.train.checkpoint_interval > 0 && (step + 1) % cfg.train.checkpoint_interval == 0) save(step + 1);
    if (stop.received()) {
      metrics << std::flush;
      save(step + 1);
      log << (tty ? "\n" : "") << "interrupted by signal " << stop.received() << " after step " << step + 1
          << ": checkpoint saved in " << out_dir << "; continue with --resume\n";
      return val_loss;
    }
  }
  save(std::max<int64_t>(state.step, cfg.train.max_iters));  // a resume past max_iters keeps its step
  log << "saved " << out_dir << "/model.safetensors (val loss " << val_loss << ")\n";
  if (cfg.train.max_iters > state.step) {
    for (const auto& [name, t] : model_tensors(model)) memory.params_bytes += t.numel() * sizeof(float);
    for (const auto& np : model.named_parameters())
      if (!np.param->frozen) memory.grads_bytes += np.param->var.numel() * sizeof(float);
    for (const auto& [name, t] : opt->state()) memory.optimizer_bytes += t.numel() * sizeof(float);
    log << describe(memory, process_memory()) << "\n";
  }
  if (cfg.train.routing_metrics && !train_routing.layers.empty()) {
    const double train_seconds = std::chrono::duration<double>(clock_type::now() - t_start).count();
    char line[160];
    std::snprintf(line, sizeof line, "routing metrics: %.3f s of %.1f s training (%.2f%%)\n", train_routing.seconds,
                  train_seconds, 100.0 * train_routing.seconds / std::max(train_seconds, 1e-9));
    log << line;
  }
  return val_loss;
}

std::vector<double> run_eval(const std::string& ckpt, const EvalOptions& opts, std::ostream& out) {
  LoadedModel lm = load_checkpoint(ckpt);
  std::vector<std::pair<std::string, TokenStream>> sets;
  if (opts.data.empty() && opts.val_of.empty()) {
    Corpus c = build_corpus(lm.config.data, &lm.tokenizer);
    sets.emplace_back("val split of the run's data", std::move(c.val));
  }
  for (const std::string& p : opts.data) {
    DataConfig d = lm.config.data;
    d.train = {p};
    d.val.clear();
    d.val_fraction = 0;
    sets.emplace_back(p, build_corpus(d, &lm.tokenizer).train);
  }
  for (const std::string& run : opts.val_of) {  // another run's held-out data (e.g. an earlier stage's)
    const std::string side = checkpoint_dir(run) + "/model.json";
    RunConfig other;
    try {
      other = parse_config(read_sidecar(side).at("config"));
    } catch (const std::exception& e) {
      throw Error("eval --val-of: " + side + ": " + e.what());
    }
    sets.emplace_back("val split of " + run, build_corpus(other.data, &lm.tokenizer).val);
  }
  const int64_t T = lm.config.model.block_size;
  std::vector<double> losses;
  std::optional<autograd::NoGrad> no_grad;
  if (opts.grads_out.empty()) no_grad.emplace();
  lm.model->set_training(false);
  for (auto& [name, s] : sets) {
    const int64_t available = (static_cast<int64_t>(s.tokens.size()) - 1) / (int64_t{opts.batch} * T);
    MOELAB_CHECK(available >= 1, "eval: ", name, " has ", s.tokens.size(), " tokens, fewer than one batch of ",
                 opts.batch, "x", T, " + 1");
    const int64_t n = std::min<int64_t>(opts.batches, available);
    const bool grads = !opts.grads_out.empty() && &name == &sets.front().first;
    double ce = 0, total = 0;
    std::map<std::string, double> aux;
    for (int64_t i = 0; i < n; ++i) {
      Batch b = sequential_batch(s, opts.batch, T, i);
      nn::ModelOutput r = lm.model->forward(b.ids, b.targets);
      ce += r.loss.item();
      total += r.total.item();
      for (const nn::LayerAuxLoss& a : r.aux) aux[a.name] += a.value.item();
      if (grads) autograd::backward(ops::scale(r.total, 1.f / static_cast<float>(n)));
      else autograd::clear_tape();
    }
    losses.push_back(ce / n);
    char line[64];
    std::snprintf(line, sizeof line, "%.6f", losses.back());
    out << name << ": loss " << line << " (" << n << " batches of " << opts.batch << "x" << T << ")";
    if (!aux.empty()) {
      std::snprintf(line, sizeof line, "%.6f", total / n);
      out << " total " << line;
      for (const auto& [k, v] : aux) {
        std::snprintf(line, sizeof line, "%.6f", v / n);
        out << " " << k << " " << line;
      }
    }
    out << "\n";
    if (grads) {
      SafeTensors g;
      for (auto& np : lm.model->named_parameters())
        g.tensors[np.name] = np.param->var.has_grad() ? np.param->var.grad() : Tensor::zeros(np.param->var.shape());
      write_safetensors(opts.grads_out, g);
    }
    if (!opts.dump_tokens.empty() && &name == &sets.front().first) {
      std::string bytes;
      const int64_t count = n * opts.batch * T + 1;
      for (int64_t i = 0; i < count; ++i) {
        const auto v = static_cast<uint16_t>(s.tokens[i]);
        bytes += static_cast<char>(v & 0xFF);
        bytes += static_cast<char>(v >> 8);
      }
      std::ofstream f(opts.dump_tokens, std::ios::binary);
      MOELAB_CHECK(f.write(bytes.data(), bytes.size()), "eval: cannot write ", opts.dump_tokens);
    }
  }
  return losses;
}

std::string run_generate(const std::string& ckpt, const GenerateOptions& o) {
  MOELAB_CHECK(o.tokens >= 0, "generate: --tokens must be >= 0");
  MOELAB_CHECK(o.temperature >= 0, "generate: --temperature must be >= 0");
  LoadedModel lm = load_checkpoint(ckpt);
  std::vector<int32_t> ids = lm.tokenizer.encode(o.prompt, "generate: --prompt");
  MOELAB_CHECK(!ids.empty(), "generate: --prompt is empty");
  Rng rng(o.seed, 3);
  autograd::NoGrad no_grad;
  lm.model->set_training(false);
  const int64_t T = lm.config.model.block_size, V = lm.config.model.vocab_size;
  std::vector<float> probs(V);
  for (int n = 0; n < o.tokens; ++n) {
    const int64_t ctx = std::min<int64_t>(T, ids.size());
    IndexTensor in = IndexTensor::empty({1, ctx});
    std::copy(ids.end() - ctx, ids.end(), in.data());
    Tensor logits = lm.model->forward(in).logits.value();
    const float* last = logits.data() + (ctx - 1) * V;
    int32_t next = 0;
    if (o.temperature == 0) {
      next = static_cast<int32_t>(std::max_element(last, last + V) - last);
    } else {
      float cutoff = -INFINITY;
      if (o.top_k > 0 && o.top_k < V) {
        std::vector<float> sorted(last, last + V);
        std::nth_element(sorted.begin(), sorted.begin() + (o.top_k - 1), sorted.end(), std::greater<float>());
        cutoff = sorted[o.top_k - 1];
      }
      const float mx = *std::max_element(last, last + V);
      double sum = 0;
      for (int64_t v = 0; v < V; ++v) {
        probs[v] = last[v] < cutoff ? 0.f : std::exp((last[v] - mx) / o.temperature);
        sum += probs[v];
      }
      double u = rng.uniform() * sum, acc = 0;
      next = static_cast<int32_t>(V - 1);
      for (int64_t v = 0; v < V; ++v) {
        acc += probs[v];
        if (u < acc) {
          next = static_cast<int32_t>(v);
          break;
        }
      }
    }
    ids.push_back(next);
  }
  return lm.tokenizer.decode(ids);
}

void run_bench(const RunConfig& cfg_in, const BenchOptions& o, std::ostream& out) {
  RunConfig cfg = cfg_in;
  apply_threads(cfg.train.threads);
  cfg.model.vocab_size = o.vocab;
  nn::GPT model(cfg.model, cfg.train.seed);
  auto opt = make_optimizer(model, cfg.optim);
  const int64_t B = cfg.train.batch_size, T = cfg.model.block_size;
  TokenStream s;
  Rng data_rng(cfg.train.seed, 9);
  for (int64_t i = 0; i < 100000; ++i) s.tokens.push_back(static_cast<int32_t>(data_rng.randint(o.vocab)));
  std::vector<double> ms, ms_fwd, ms_bwd, ms_opt;
  auto since = [](clock_type::time_point t) { return std::chrono::duration<double, std::milli>(clock_type::now() - t).count(); };
  for (int i = 0; i < o.warmup + o.steps; ++i) {
    const auto t0 = clock_type::now();
    Batch b = sample_batch(s, B, T, data_rng);
    nn::ModelOutput r = model.forward(b.ids, b.targets);
    const double f = since(t0);
    autograd::backward(r.total);
    const double fb = since(t0);
    opt->step(1e-4f, optim::clip_scale(optim::grad_norm(opt->params()), cfg.optim.grad_clip));
    opt->zero_grad();
    if (i >= o.warmup) {
      ms.push_back(since(t0));
      ms_fwd.push_back(f);
      ms_bwd.push_back(fb - f);
      ms_opt.push_back(ms.back() - fb);
    }
  }
  auto median = [](std::vector<double> v) {
    std::sort(v.begin(), v.end());
    return v[v.size() / 2];
  };
  const double med = median(ms);
  const double tps = B * T / (med / 1000.0);
  const double gflops = flops_per_token(cfg, o.vocab) * tps * 1e-9;
  struct rusage ru;
  getrusage(RUSAGE_SELF, &ru);
  char line[512];
  std::snprintf(line, sizeof line,
                "{\"threads\": %d, \"params\": %lld, \"batch\": %lld, \"block\": %lld, \"steps\": %d, "
                "\"median_ms\": %.2f, \"fwd_ms\": %.2f, \"bwd_ms\": %.2f, \"opt_ms\": %.2f, \"tokens_per_s\": %.0f, "
                "\"gflops\": %.1f, \"peak_rss_mb\": %.1f}\n",
                num_threads(), static_cast<long long>(model.num_parameters()), static_cast<long long>(B),
                static_cast<long long>(T), o.steps, med, median(ms_fwd), median(ms_bwd), median(ms_opt), tps, gflops,
                ru.ru_maxrss / 1024.0);
  out << line;
}

}  // namespace moelab::train
