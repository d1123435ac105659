#include "train/checkpoint/checkpoint.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "core/error.h"
#include "train/io/json_limits.h"
#include "train/io/atomic_file.h"
#include "train/io/files.h"
#include "train/io/json_limits.h"
#include "train/io/safetensors.h"

namespace moelab::train {
namespace fs = std::filesystem;

namespace {
// The PyTorch reference (shared/ref/torch_moe.py) reads these field names from __metadata__["config"]:
// everything its forward pass depends on (it supports top-k routers with gelu experts). The whole
// model section of moelab's config goes beside it as __metadata__["moelab_model"], so any other
// framework can rebuild the forward pass (router options, capacity, activation ...) from the file alone.
nlohmann::json reference_config(const nn::ModelConfig& m) {
  nlohmann::json j = {{"vocab", m.vocab_size}, {"block", m.block_size}, {"layers", m.n_layer},
                      {"heads", m.n_head},     {"dim", m.n_embd},       {"experts", m.moe.num_experts},
                      {"topk", m.moe.enabled() ? m.moe.top_k : 1}};
  if (m.moe.enabled()) {
    std::vector<int> moe_layers;
    for (int l = 0; l < m.n_layer; ++l)
      if (m.moe.is_moe_layer(l, m.n_layer)) moe_layers.push_back(l);
    j["moe_layers"] = moe_layers;
    j["renorm"] = m.moe.router.renorm || m.moe.router.topk_softmax;
    j["capacity_factor"] = m.moe.capacity.eval_factor >= 0 ? m.moe.capacity.eval_factor : m.moe.capacity.factor;
    j["capacity_convention"] = m.moe.capacity.convention;
    j["capacity_priority"] = m.moe.capacity.priority;
    j["aux_alpha"] = m.moe.loss.switch_aux;
    j["zloss_beta"] = m.moe.loss.z;
  }
  return j;
}

nlohmann::json model_metadata(const RunConfig& cfg, const nn::ModelConfig& m) {
  nlohmann::json j = to_json(cfg)["model"];
  j["vocab_size"] = m.vocab_size;
  return j;
}

// Refuse a config far larger than the tensors that should fill it.
void check_config_fits(const nn::ModelConfig& m, const SafeTensors& st, const std::string& side_path,
                       const std::string& weights_path) {
  double values = 0;
  for (const auto& [name, t] : st.tensors) values += static_cast<double>(t.numel());
  const double limit = 2 * values + 1e6, lower = m.min_parameter_count(limit);
  MOELAB_CHECK(lower <= limit, "checkpoint: ", side_path, " describes a model of at least ", lower,
               " parameters, but ", weights_path, " holds ", values, " values (the sidecar does not belong to it)");
}

// Files of one checkpoint carry its step; a mix (older layouts wrote the files side by side) is refused.
void check_same_checkpoint(const SafeTensors& st, int64_t step, const std::string& file, const std::string& side_path) {
  auto it = st.metadata.find("checkpoint_step");
  if (it == st.metadata.end()) return;  // written before the field existed
  MOELAB_CHECK(it->second == std::to_string(step), "checkpoint: ", file, " is from step ", it->second, " but ",
               side_path, " is from step ", step, " (files from different checkpoints)");
}

void fsync_dir(const fs::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // best effort: the data files themselves were fsynced
  ::fsync(fd);
  ::close(fd);
}

// `link` -> `target`, replacing whatever is at `link` in one rename (a reader sees the old or the
// new link, never none).
void replace_symlink(const fs::path& link, const std::string& target) {
  const fs::path tmp = link.parent_path() / temp_name(link.filename().string());
  std::error_code ec;
  fs::remove(tmp, ec);
  fs::create_symlink(target, tmp, ec);
  MOELAB_CHECK(!ec, "checkpoint: cannot create the link ", tmp.string(), ": ", ec.message());
  fs::rename(tmp, link, ec);
  if (ec) {
    std::error_code ignored;
    fs::remove(tmp, ignored);
    throw Error("checkpoint: cannot replace " + link.string() + ": " + ec.message());
  }
}

// "step_00000500" or "step_00000500.2" -> (500, 2); anything else (e.g. a user's
// "step_00000500_best") -> (-1, 0), so pruning never touches it.
std::pair<int64_t, int> checkpoint_order(const std::string& name) {
  auto digits = [&](size_t from) {  // end of the run of digits starting at `from`
    size_t i = from;
    while (i < name.size() && i - from < 18 && std::isdigit(static_cast<unsigned char>(name[i]))) ++i;
    return i;
  };
  if (name.rfind("step_", 0) != 0) return {-1, 0};
  const size_t step_end = digits(5);
  if (step_end == 5) return {-1, 0};
  const int64_t step = std::stoll(name.substr(5, step_end - 5));
  if (step_end == name.size()) return {step, 1};
  if (name[step_end] != '.') return {-1, 0};
  const size_t copy_end = digits(step_end + 1);
  if (copy_end == step_end + 1 || copy_end != name.size() || copy_end - step_end > 9) return {-1, 0};
  return {step, std::stoi(name.substr(step_end + 1))};
}

// The files moelab writes in a checkpoint folder.
constexpr const char* kCheckpointFiles[] = {"model.safetensors", "optimizer.safetensors", "model.json"};
bool is_checkpoint_file(const std::string& name) {
  for (const char* f : kCheckpointFiles)
    if (name == f) return true;
  return false;
}

// A checkpoint folder on its way out (renamed before deletion, so a kill mid-deletion leaves
// nothing that looks like a checkpoint): ".moelab-pruned.<pid>.step_N".
std::string pruned_name(const std::string& name) { return ".moelab-pruned." + std::to_string(::getpid()) + "." + name; }
std::optional<std::string> pruned_name_target(const std::string& name) {
  const std::string prefix = ".moelab-pruned.";
  if (name.rfind(prefix, 0) != 0) return std::nullopt;
  return temp_name_target(".moelab-tmp." + name.substr(prefix.size()));  // the same "<pid>.NAME" tail
}

// Removes the files moelab writes in checkpoint folder `dir` (and their temp files), then the
// folder if that left it empty. Anything else in it stays, and so does the folder.
void remove_checkpoint_files(const fs::path& dir) {
  std::error_code ec;
  if (!fs::is_directory(fs::symlink_status(dir, ec))) return;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const std::string name = e.path().filename().string();
    const std::optional<std::string> target = temp_name_target(name);
    const bool ours = is_checkpoint_file(name) || (target && is_checkpoint_file(*target));
    if (ours && !e.is_directory(ec)) fs::remove(e.path(), ec);
  }
  fs::remove(dir, ec);  // only if empty
}

// Checkpoint folders, oldest first by when they were published (their model.json is written
// last and never touched again): a re-run's step_N.2 is newer than an older run's step_M, M > N.
std::vector<fs::path> checkpoint_folders(const fs::path& root) {
  std::vector<std::pair<fs::file_time_type, fs::path>> found;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root, ec)) {
    if (!e.is_directory() || checkpoint_order(e.path().filename().string()).first < 0) continue;
    const auto t = fs::last_write_time(e.path() / "model.json", ec);
    found.emplace_back(ec ? fs::file_time_type::min() : t, e.path());
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    if (a.first != b.first) return a.first < b.first;
    return checkpoint_order(a.second.filename().string()) < checkpoint_order(b.second.filename().string());
  });
  std::vector<fs::path> out;
  for (auto& f : found) out.push_back(f.second);
  return out;
}

// Removes the oldest checkpoint folders beyond `keep` (0: keep all), never the one `latest` names.
// Each is renamed to a temp name first, so a kill mid-removal leaves nothing that looks like a checkpoint.
void prune_checkpoints(const fs::path& run, const fs::path& current, int keep) {
  if (keep <= 0) return;
  std::vector<fs::path> all = checkpoint_folders(run / "checkpoints");
  for (size_t i = 0; i + static_cast<size_t>(keep) < all.size(); ++i) {
    if (all[i].filename() == current.filename()) continue;
    std::error_code ec;
    const fs::path doomed = all[i].parent_path() / pruned_name(all[i].filename().string());
    fs::rename(all[i], doomed, ec);
    if (!ec) remove_checkpoint_files(doomed);  // a failure only leaves an extra folder behind
  }
}
}  // namespace

void remove_stale_temps(const std::string& out_dir) {
  std::error_code ec;
  const fs::path run(out_dir), root = run / "checkpoints";
  for (const auto& e : fs::directory_iterator(run, ec)) {  // temp files and links of the top-level names
    const std::optional<std::string> target = temp_name_target(e.path().filename().string());
    const bool ours = target && (is_checkpoint_file(*target) || *target == "latest" || *target == "metrics.jsonl");
    if (ours && !fs::is_directory(fs::symlink_status(e.path(), ec))) fs::remove(e.path(), ec);
  }
  for (const auto& e : fs::directory_iterator(root, ec)) {  // half-written and half-pruned checkpoint folders
    const std::string name = e.path().filename().string();
    std::optional<std::string> target = temp_name_target(name);
    if (!target) target = pruned_name_target(name);
    if (target && checkpoint_order(*target).first >= 0) remove_checkpoint_files(e.path());
  }
}

void save_checkpoint(const std::string& dir, nn::GPT& model, const optim::Optimizer* opt, const RunConfig& cfg,
                     const Tokenizer& tok, const TrainState& state, const nlohmann::json& extra) {
  CheckpointTensors tensors;
  tensors.model = model_tensors(model);
  if (opt) {
    tensors.optimizer = opt->state();
    tensors.optimizer_step = opt->steps();
  }
  save_checkpoint(dir, tensors, model.config(), cfg, tok, state, extra);
}

void save_checkpoint(const std::string& dir, const CheckpointTensors& tensors, const nn::ModelConfig& model_cfg,
                     const RunConfig& cfg, const Tokenizer& tok, const TrainState& state, const nlohmann::json& extra) {
  std::error_code ec;
  const fs::path run(dir), root = run / "checkpoints";
  fs::create_directories(root, ec);
  MOELAB_CHECK(fs::is_directory(root), "checkpoint: cannot create folder ", root.string(),
               ec ? ": " + ec.message() : std::string(" (a file is in the way?)"));
  for (const auto& [name, v] : tensors.model)
    for (int64_t i = 0; i < v.numel(); ++i)
      MOELAB_CHECK(std::isfinite(v[i]), "checkpoint: refusing to write ", dir, ": ", name, " holds a non-finite value",
                   " at index ", i, " (the previous checkpoint is kept)");
  SafeTensors weights;
  weights.tensors = tensors.model;
  weights.metadata = {{"format", "pt"},
                      {"config", dump_json(reference_config(model_cfg))},
                      {"moelab_model", dump_json(model_metadata(cfg, model_cfg))},
                      {"checkpoint_step", std::to_string(state.step)}};
  nlohmann::json side = {{"moelab_version", MOELAB_VERSION_STRING},
                         {"config", to_json(cfg)},
                         {"vocab_size", model_cfg.vocab_size},
                         {"tokenizer", tok.to_json()},
                         {"step", state.step},
                         {"sampler_counter", state.sampler_counter},
                         {"rng_counters", state.rng_counters}};
  if (extra.is_object()) side.update(extra);

  // The three files go into a hidden folder that is renamed into place whole, then `latest` is
  // re-pointed in one rename: a kill at any moment leaves the previous checkpoint complete and current.
  char name[64];
  std::snprintf(name, sizeof name, "step_%08lld", static_cast<long long>(state.step));
  std::string final_name = name;
  for (int copy = 2; fs::exists(root / final_name); ++copy) final_name = std::string(name) + "." + std::to_string(copy);
  const fs::path tmp = root / temp_name(final_name);
  remove_checkpoint_files(tmp);  // our own pid's leftover, if any
  try {
    MOELAB_CHECK(fs::create_directory(tmp), "cannot create ", tmp.string(), " (it exists)");
    write_safetensors((tmp / "model.safetensors").string(), weights);
    if (tensors.optimizer_step >= 0) {
      SafeTensors os;
      os.tensors = tensors.optimizer;
      os.metadata = {{"step", std::to_string(tensors.optimizer_step)}, {"checkpoint_step", std::to_string(state.step)}};
      write_safetensors((tmp / "optimizer.safetensors").string(), os);
    }
    write_file_atomic((tmp / "model.json").string(), dump_json(side, 2) + "\n");
    fsync_dir(tmp);
    fs::rename(tmp, root / final_name);
  } catch (const std::exception& e) {
    remove_checkpoint_files(tmp);
    throw Error(std::string("checkpoint: cannot save step ") + std::to_string(state.step) + " in " + dir + ": " +
                e.what() + " (the previous checkpoint is kept)");
  }
  fsync_dir(root);
  replace_symlink(run / "latest", "checkpoints/" + final_name);
  // Stable top-level names for other tools (torch_moe.py eval --ckpt RUN/model.safetensors).
  for (const char* file : {"model.safetensors", "model.json", "optimizer.safetensors"}) {
    const fs::path link = run / file;
    if (fs::exists(root / final_name / file)) {
      if (!fs::is_symlink(link) || fs::read_symlink(link) != fs::path("latest") / file)
        replace_symlink(link, (fs::path("latest") / file).string());
    } else if (fs::is_symlink(link) || fs::exists(link)) {
      fs::remove(link, ec);  // e.g. no optimizer state in this checkpoint: a stale one must not pair with it
    }
  }
  fsync_dir(run);
  prune_checkpoints(run, root / final_name, cfg.train.keep_checkpoints);
}

std::string checkpoint_dir(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    const fs::path latest = fs::path(path) / "latest";
    if (fs::is_symlink(latest, ec)) {
      const fs::path target = fs::canonical(latest, ec);
      std::error_code link_ec;
      MOELAB_CHECK(!ec, "checkpoint: ", latest.string(), " points to ", fs::read_symlink(latest, link_ec).string(),
                   ", which cannot be opened (", ec.message(), ")");
      return target.string();
    }
    return path;
  }
  // a file: its folder, after following links (RUN/model.safetensors -> RUN/checkpoints/step_N/)
  const fs::path file = fs::canonical(path, ec);
  MOELAB_CHECK(!ec, "checkpoint: cannot open ", path, ": ", ec.message());
  const std::string parent = file.parent_path().string();
  return parent.empty() ? "." : parent;
}

nlohmann::json read_sidecar(const std::string& side_path) {
  std::error_code ec;
  MOELAB_CHECK(fs::exists(side_path, ec), "checkpoint: cannot open ", side_path, " (the sidecar beside model.safetensors)");
  return parse_json(read_regular_file(side_path, "checkpoint", 256 << 20), "checkpoint: " + side_path, 64);
}

std::map<std::string, Tensor> model_tensors(nn::GPT& model) {
  std::map<std::string, Tensor> out;  // handles sharing the model's storage
  for (auto& np : model.named_parameters()) out[np.name] = np.param->var.value();
  for (auto& nb : model.named_buffers()) out[nb.name] = *nb.tensor;
  return out;
}

void load_parameters(nn::GPT& model, const std::map<std::string, Tensor>& tensors, const std::string& where,
                     bool shard) {
  std::map<std::string, Tensor> want = model_tensors(model);
  for (const auto& [name, t] : tensors)
    MOELAB_CHECK(want.count(name) || (shard && name.find(".moe.experts.") != std::string::npos), "checkpoint: ", where,
                 ": unexpected tensor ", name, " (the checkpoint is from another architecture)");
  for (auto& [name, dst] : want) {
    auto it = tensors.find(name);
    MOELAB_CHECK(it != tensors.end(), "checkpoint: ", where, ": missing tensor ", name,
                 " (the checkpoint is from another architecture)");
    MOELAB_CHECK(it->second.shape() == dst.shape(), "checkpoint: ", where, ": ", name, " has shape ",
                 shape_str(it->second.shape()), ", the model expects ", shape_str(dst.shape()));
  }
  for (auto& [name, dst] : want) dst.copy_from(tensors.at(name));  // only after every check passed
}

LoadedModel load_checkpoint(const std::string& path) {
  LoadedModel out;
  std::error_code ec;
  const fs::file_status status = fs::status(path, ec);
  if (ec) throw Error("checkpoint: " + path + (ec == std::errc::no_such_file_or_directory ? std::string(" does not exist")
                                                                                         : ": " + ec.message()));
  out.dir = checkpoint_dir(path);
  const std::string weights_path =
      fs::is_directory(status) ? out.dir + "/model.safetensors" : fs::canonical(path, ec).string();
  const std::string side_path = out.dir + "/model.json";
  const nlohmann::json side = read_sidecar(side_path);
  try {
    out.config = parse_config(side.at("config"));
    out.tokenizer = Tokenizer::from_json(side.at("tokenizer"));
    out.state.step = side.at("step").get<int64_t>();
    out.state.sampler_counter = side.value("sampler_counter", uint64_t{0});
    if (side.contains("rng_counters")) out.state.rng_counters = side.at("rng_counters").get<std::map<std::string, uint64_t>>();
    out.sidecar = side;
  } catch (const nlohmann::json::exception& e) {
    throw Error("checkpoint: " + side_path + ": " + e.what());
  } catch (const Error& e) {
    throw Error("checkpoint: " + side_path + ": " + e.what());
  }
  out.config.model.vocab_size = out.tokenizer.vocab_size();
  const nlohmann::json& vocab = side.contains("vocab_size") ? side.at("vocab_size") : nlohmann::json(out.config.model.vocab_size);
  MOELAB_CHECK(vocab.is_number_integer() && vocab.get<int64_t>() == out.config.model.vocab_size, "checkpoint: ",
               side_path, ": vocab_size ", vocab.dump(), " does not match the tokenizer's ", out.config.model.vocab_size);
  // Tensors first (their size is bounded by the file's), then a model only as big as they are:
  // a damaged or hostile model.json must not make us allocate a model of its choosing.
  SafeTensors st = read_safetensors(weights_path);
  check_config_fits(out.config.model, st, side_path, weights_path);
  out.model = std::make_unique<nn::GPT>(out.config.model, out.config.train.seed);
  check_same_checkpoint(st, out.state.step, weights_path, side_path);
  load_parameters(*out.model, st.tensors, weights_path);
  return out;
}

void load_optimizer_state(const std::string& dir, optim::Optimizer& opt, int64_t checkpoint_step) {
  const std::string path = dir + "/optimizer.safetensors";
  std::error_code ec;
  MOELAB_CHECK(fs::exists(path, ec), "checkpoint: ", path, " is missing (this checkpoint has no optimizer state to resume from)");
  SafeTensors st = read_safetensors(path);
  if (checkpoint_step >= 0) check_same_checkpoint(st, checkpoint_step, path, dir + "/model.json");
  int64_t step = 0;
  try {
    size_t used = 0;
    const std::string& text = st.metadata.at("step");
    step = std::stoll(text, &used);
    if (used != text.size() || step < 0) throw std::invalid_argument(text);
  } catch (const std::exception&) {
    throw Error("checkpoint: " + path + ": missing or bad \"step\" in __metadata__");
  }
  try {
    opt.load_state(st.tensors, step);
  } catch (const Error& e) {
    throw Error(path + ": " + e.what());
  }
}

}  // namespace moelab::train
