#include "train/checkpoint.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.h"
#include "train/safetensors.h"

namespace moelab::train {
namespace fs = std::filesystem;

namespace {
// The PyTorch reference (shared/ref/torch_moe.py) reads these field names from __metadata__.
// MoE fields are only meaningful to it for a top-k router with gelu experts.
nlohmann::json reference_config(const nn::ModelConfig& m) {
  nlohmann::json j = {{"vocab", m.vocab_size}, {"block", m.block_size}, {"layers", m.n_layer},
                      {"heads", m.n_head},     {"dim", m.n_embd},       {"experts", m.moe.num_experts},
                      {"topk", m.moe.enabled() ? m.moe.top_k : 1}};
  if (m.moe.enabled()) {
    j["renorm"] = m.moe.router.renorm || m.moe.router.topk_softmax;
    j["capacity_factor"] = m.moe.capacity.eval_factor >= 0 ? m.moe.capacity.eval_factor : m.moe.capacity.factor;
    j["aux_alpha"] = m.moe.loss.switch_aux;
    j["zloss_beta"] = m.moe.loss.z;
  }
  return j;
}
}  // namespace

void save_checkpoint(const std::string& dir, nn::GPT& model, const optim::Optimizer* opt, const RunConfig& cfg,
                     const Tokenizer& tok, const TrainState& state, const nlohmann::json& extra) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  MOELAB_CHECK(fs::is_directory(dir), "checkpoint: cannot create folder ", dir,
               ec ? ": " + ec.message() : std::string(" (a file is in the way?)"));
  SafeTensors weights;
  for (const auto& np : model.named_parameters()) {
    const Tensor& v = np.param->var.value();
    for (int64_t i = 0; i < v.numel(); ++i)
      MOELAB_CHECK(std::isfinite(v[i]), "checkpoint: refusing to write ", dir, ": ", np.name, " holds a non-finite value",
                   " at index ", i, " (the previous checkpoint is kept)");
    weights.tensors[np.name] = v;
  }
  for (const auto& nb : model.named_buffers()) weights.tensors[nb.name] = *nb.tensor;
  weights.metadata = {{"format", "pt"}, {"config", reference_config(model.config()).dump()}};
  nlohmann::json side = {{"moelab_version", MOELAB_VERSION_STRING},
                         {"config", to_json(cfg)},
                         {"vocab_size", model.config().vocab_size},
                         {"tokenizer", tok.to_json()},
                         {"step", state.step},
                         {"sampler_counter", state.sampler_counter},
                         {"rng_counters", state.rng_counters}};
  if (extra.is_object()) side.update(extra);
  // Optimizer first, sidecar last: the sidecar's step names a complete checkpoint.
  write_safetensors(dir + "/model.safetensors", weights);
  if (opt) {
    SafeTensors os;
    os.tensors = opt->state();
    os.metadata = {{"step", std::to_string(opt->steps())}};
    write_safetensors(dir + "/optimizer.safetensors", os);
  }
  write_file_atomic(dir + "/model.json", side.dump(2) + "\n");
}

void load_parameters(nn::GPT& model, const std::map<std::string, Tensor>& tensors, const std::string& where) {
  std::map<std::string, Tensor> want;  // handles sharing the model's storage
  for (auto& np : model.named_parameters()) want[np.name] = np.param->var.value();
  for (auto& nb : model.named_buffers()) want[nb.name] = *nb.tensor;
  for (const auto& [name, t] : tensors)
    MOELAB_CHECK(want.count(name), "checkpoint: ", where, ": unexpected tensor ", name,
                 " (the checkpoint is from another architecture)");
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
  out.dir = fs::is_directory(path) ? path : fs::path(path).parent_path().string();
  if (out.dir.empty()) out.dir = ".";
  const std::string weights_path = fs::is_directory(path) ? path + "/model.safetensors" : path;
  const std::string side_path = out.dir + "/model.json";
  std::ifstream in(side_path);
  MOELAB_CHECK(in, "checkpoint: cannot open ", side_path, " (the sidecar beside model.safetensors)");
  nlohmann::json side;
  try {
    side = nlohmann::json::parse(in);
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
  MOELAB_CHECK(side.value("vocab_size", out.config.model.vocab_size) == out.config.model.vocab_size, "checkpoint: ",
               side_path, ": vocab_size ", side.value("vocab_size", 0), " does not match the tokenizer's ",
               out.config.model.vocab_size);
  out.model = std::make_unique<nn::GPT>(out.config.model, out.config.train.seed);
  load_parameters(*out.model, read_safetensors(weights_path).tensors, weights_path);
  return out;
}

void load_optimizer_state(const std::string& dir, optim::Optimizer& opt) {
  const std::string path = dir + "/optimizer.safetensors";
  SafeTensors st = read_safetensors(path);
  int64_t step = 0;
  try {
    step = std::stoll(st.metadata.at("step"));
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
