#include "train/expand.h"

#include <cmath>
#include <limits>
#include <filesystem>
#include <map>
#include <set>

#include "core/error.h"
#include "train/memory.h"
#include "train/checkpoint/checkpoint.h"
#include "train/checkpoint/run_dir.h"

namespace moelab::train {
namespace fs = std::filesystem;

namespace {

// Holds the output folder's run lock while writing, as training does (a live run's pruning must
// not race with this save).
void save_locked(const std::string& out, nn::GPT& model, const optim::Optimizer* opt, const RunConfig& cfg,
                 const Tokenizer& tok, const TrainState& state, const nlohmann::json& extra) {
  std::error_code ec;
  std::filesystem::create_directories(out, ec);
  MOELAB_CHECK(std::filesystem::is_directory(out), "expand: --out ", out, " is not a folder",
               ec ? " (" + ec.message() + ")" : std::string());
  const RunLock lock(out);
  remove_stale_temps(out);
  save_checkpoint(out, model, opt, cfg, tok, state, extra);
}

// Adds N(0, (rel * std(t))^2) to t in place (no-op for rel = 0).
void add_relative_noise(const Tensor& t, float rel, Rng& rng) {
  if (rel <= 0 || t.numel() == 0) return;
  double mean = 0, sq = 0;
  for (int64_t i = 0; i < t.numel(); ++i) mean += t[i];
  mean /= t.numel();
  for (int64_t i = 0; i < t.numel(); ++i) sq += (t[i] - mean) * (t[i] - mean);
  const float sd = rel * static_cast<float>(std::sqrt(sq / t.numel()));
  if (sd <= 0) return;
  Tensor n = Tensor::empty(t.shape());
  rng.fill_normal(n, 0.f, sd);
  for (int64_t i = 0; i < t.numel(); ++i) t[i] += n[i];
}

void copy_rows(const Tensor& dst, const Tensor& src, int64_t dst_row, int64_t src_row, int64_t rows) {
  const int64_t cols = dst.numel() / dst.size(0);
  std::copy_n(src.data() + src_row * cols, rows * cols, dst.data() + dst_row * cols);
}

std::string layer_prefix(int l) { return "transformer.h." + std::to_string(l) + "."; }

std::map<std::string, Tensor> tensors_of(nn::GPT& m) {
  std::map<std::string, Tensor> t;
  for (auto& np : m.named_parameters()) t[np.name] = np.param->var.value();
  for (auto& nb : m.named_buffers()) t[nb.name] = *nb.tensor;
  return t;
}

void grow(LoadedModel& lm, const ExpandOptions& o, std::ostream& log) {
  nn::GPT& old = *lm.model;
  std::vector<int> moe_layers = old.moe_layers();
  MOELAB_CHECK(!moe_layers.empty(), "expand --add-experts: ", o.checkpoint,
               " has no MoE layer (use --to-moe to upcycle a dense model)");
  std::vector<int> chosen = o.layers.empty() ? moe_layers : o.layers;
  for (int l : chosen)
    MOELAB_CHECK(std::find(moe_layers.begin(), moe_layers.end(), l) != moe_layers.end(), "expand --layers: layer ", l,
                 " is not an MoE layer of ", o.checkpoint);
  RunConfig cfg = lm.config;
  nn::MoeConfig& moe = cfg.model.moe;
  MOELAB_CHECK(o.router_init != "unrouted" || moe.router.type == "topk", "expand --router-init unrouted: needs a topk ",
               "router (it uses the selection bias of bias balancing); this model's router is ", moe.router.type);
  std::map<int, int> old_e;
  for (int l : moe_layers) old_e[l] = static_cast<int>(old.moe(l).num_experts());
  for (int l : chosen) {
    MOELAB_CHECK(o.add_experts <= std::numeric_limits<int>::max() - old_e[l], "expand --add-experts: ", o.add_experts,
                 " more than layer ", l, "'s ", old_e[l], " experts is more than ", std::numeric_limits<int>::max());
    moe.experts_by_layer[l] = old_e[l] + o.add_experts;
  }
  if (o.router_init == "unrouted" && moe.router.bias_rate <= 0) moe.router.bias_rate = o.admit_rate;
  check_fits_in_memory(cfg.model, cfg.train.batch_size, 2 * int64_t{cfg.train.eval_iters});  // before allocating it

  nn::GPT grown(cfg.model, cfg.train.seed);
  const float noise = o.noise < 0 ? 0.01f : o.noise;
  Rng rng(o.seed, 77);
  std::map<std::string, Tensor> src = tensors_of(old), dst = tensors_of(grown);
  for (auto& [name, t] : dst) {
    auto it = src.find(name);
    if (it != src.end() && it->second.shape() == t.shape()) {
      t.copy_from(it->second);
      continue;
    }
    int l = -1, e = -1;
    std::string rest;
    if (parse_expert_name(name, &l, &e, &rest)) {  // a new expert
      if (o.expert_init == "copy") {
        const std::string from = layer_prefix(l) + "moe.experts." + std::to_string(e % old_e[l]) + "." + rest;
        t.copy_from(src.at(from));
        add_relative_noise(t, noise, rng);
      }  // fresh: keep the new model's own init
      continue;
    }
    const bool router_rows = name.find(".moe.router.weight") != std::string::npos ||
                             name.find(".moe.router.w_noise") != std::string::npos;
    const bool bias = name.find(".moe.router.bias_balance") != std::string::npos;
    l = std::stoi(name.substr(std::string("transformer.h.").size()));
    const int64_t E_old = old_e.at(l), E_new = t.size(0);
    if (bias) {
      for (int64_t i = 0; i < E_new; ++i) t[i] = 0.f;
      if (it != src.end()) copy_rows(t, it->second, 0, 0, std::min(E_old, it->second.size(0)));
      if (o.router_init == "unrouted")
        for (int64_t i = E_old; i < E_new; ++i) t[i] = -1.f;  // probabilities are <= 1: never selected
      continue;
    }
    MOELAB_CHECK(router_rows && it != src.end(), "expand: no rule for tensor ", name, " ", shape_str(t.shape()));
    copy_rows(t, it->second, 0, 0, E_old);
    for (int64_t i = E_old; i < E_new; ++i) {
      const int64_t cols = t.size(1);
      if (o.router_init == "unrouted") {
        std::fill_n(t.data() + i * cols, cols, 0.f);
      } else if (o.router_init == "copy") {
        copy_rows(t, it->second, i, i % E_old, 1);
        Tensor row = Tensor::empty({cols});
        std::copy_n(t.data() + i * cols, cols, row.data());
        add_relative_noise(row, noise, rng);
        std::copy_n(row.data(), cols, t.data() + i * cols);
      }  // fresh: keep the new model's init
    }
  }
  nlohmann::json old_json = nlohmann::json::object();
  for (int l : chosen) old_json[std::to_string(l)] = old_e[l];
  const nlohmann::json extra = {{"expanded",
                                 {{"kind", "grow"},
                                  {"source", o.checkpoint},
                                  {"old_experts", old_json},
                                  {"added", o.add_experts},
                                  {"expert_init", o.expert_init},
                                  {"router_init", o.router_init}}}};
  save_locked(o.out, grown, nullptr, cfg, lm.tokenizer, TrainState{}, extra);
  log << "expand: " << o.checkpoint << " -> " << o.out << ": layers";
  for (int l : chosen) log << " " << l << " (" << old_e[l] << " -> " << old_e[l] + o.add_experts << " experts)";
  log << ", " << grown.num_parameters() << " parameters\n";
}

void upcycle(LoadedModel& lm, const ExpandOptions& o, std::ostream& log) {
  nn::GPT& old = *lm.model;
  MOELAB_CHECK(old.moe_layers().empty(), "expand --to-moe: ", o.checkpoint, " already has MoE layers");
  RunConfig cfg = lm.config;
  std::vector<int> chosen = o.layers;
  if (chosen.empty())
    for (int l = 0; l < cfg.model.n_layer; ++l) chosen.push_back(l);
  for (int l : chosen)
    MOELAB_CHECK(l >= 0 && l < cfg.model.n_layer && (*old.transformer->h)[l].mlp, "expand --layers: layer ", l,
                 " is not a dense MLP layer of ", o.checkpoint);
  MOELAB_CHECK(o.top_k >= 1 && o.top_k <= o.to_moe, "expand --topk: ", o.top_k, " must be in [1, --to-moe ", o.to_moe,
               "]");
  nn::MoeConfig& moe = cfg.model.moe;
  moe = nn::MoeConfig{};
  moe.num_experts = o.to_moe;
  moe.top_k = o.top_k;
  moe.layers = chosen;
  moe.router.type = "topk";
  moe.router.renorm = true;  // k identical experts with weights summing to 1 = the dense MLP
  check_fits_in_memory(cfg.model, cfg.train.batch_size, 2 * int64_t{cfg.train.eval_iters});  // before allocating it
  nn::GPT up(cfg.model, cfg.train.seed);
  const float noise = o.noise < 0 ? 0.f : o.noise;
  Rng rng(o.seed, 78);
  std::map<std::string, Tensor> src = tensors_of(old), dst = tensors_of(up);
  for (auto& [name, t] : dst) {
    auto it = src.find(name);
    if (it != src.end()) {
      t.copy_from(it->second);
      continue;
    }
    int l = -1, e = -1;
    std::string rest;
    if (parse_expert_name(name, &l, &e, &rest)) {
      t.copy_from(src.at(layer_prefix(l) + "mlp." + rest));
      add_relative_noise(t, noise, rng);
    } else {
      MOELAB_CHECK(name.find(".moe.router.weight") != std::string::npos, "expand: no rule for tensor ", name);
      rng.fill_normal(t, 0.f, o.router_std);
    }
  }
  const nlohmann::json extra = {{"expanded",
                                 {{"kind", "upcycle"}, {"source", o.checkpoint}, {"layers", chosen}, {"experts", o.to_moe}}}};
  save_locked(o.out, up, nullptr, cfg, lm.tokenizer, TrainState{}, extra);
  log << "expand: upcycled " << chosen.size() << " dense layers of " << o.checkpoint << " into " << o.to_moe
      << "-expert MoE layers (top-" << o.top_k << ", renormalised) -> " << o.out << "\n";
}

// expand RUN --out RUN would publish the expanded step-0 model as RUN's latest checkpoint and break
// its --resume: the output must be another folder than the run the checkpoint belongs to.
void refuse_own_run_folder(const ExpandOptions& o) {
  std::error_code ec;
  const fs::path out = fs::weakly_canonical(o.out, ec);
  if (ec || !fs::exists(o.checkpoint, ec)) return;  // load_checkpoint reports a missing checkpoint
  const fs::path dir = fs::weakly_canonical(checkpoint_dir(o.checkpoint), ec);
  std::vector<fs::path> own = {fs::weakly_canonical(o.checkpoint, ec), dir};
  if (dir.parent_path().filename() == "checkpoints") own.push_back(dir.parent_path().parent_path());  // RUN
  if (fs::is_regular_file(o.checkpoint, ec)) own.push_back(fs::weakly_canonical(fs::path(o.checkpoint).parent_path(), ec));
  for (const fs::path& p : own)
    MOELAB_CHECK(out != p, "expand: --out ", o.out, " is the run folder of ", o.checkpoint,
                 "; the expanded model (step 0) would become its latest checkpoint and break its --resume: give a new folder");
}

}  // namespace

bool parse_expert_name(const std::string& name, int* layer, int* expert, std::string* rest) {
  const std::string a = "transformer.h.", b = ".moe.experts.";
  if (name.rfind(a, 0) != 0) return false;
  const size_t pb = name.find(b);
  if (pb == std::string::npos) return false;
  *layer = std::stoi(name.substr(a.size(), pb - a.size()));
  const size_t pe = name.find('.', pb + b.size());
  *expert = std::stoi(name.substr(pb + b.size(), pe - pb - b.size()));
  *rest = name.substr(pe + 1);
  return true;
}

void run_expand(const ExpandOptions& o, std::ostream& log) {
  MOELAB_CHECK((o.add_experts > 0) != (o.to_moe > 0), "expand: give exactly one of --add-experts N or --to-moe E");
  MOELAB_CHECK(!o.out.empty(), "expand: --out is required");
  MOELAB_CHECK(o.expert_init == "copy" || o.expert_init == "fresh", "expand --expert-init: unknown \"", o.expert_init,
               "\" (known: copy, fresh)");
  MOELAB_CHECK(o.router_init == "unrouted" || o.router_init == "copy" || o.router_init == "fresh",
               "expand --router-init: unknown \"", o.router_init, "\" (known: unrouted, copy, fresh)");
  refuse_own_run_folder(o);
  LoadedModel lm = load_checkpoint(o.checkpoint);
  if (o.add_experts > 0) grow(lm, o, log);
  else upcycle(lm, o, log);
}

}  // namespace moelab::train
