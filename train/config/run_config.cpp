#include "train/config/run_config.h"

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <limits>
#include <set>
#include <utility>

#include "core/error.h"
#include "train/io/json_limits.h"
#include "layers/ffn.h"
#include "layers/moe/aux_losses.h"
#include "layers/moe/router.h"
#include "optim/registry.h"

namespace moelab::train {
namespace {

using nlohmann::json;

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j)
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1)});
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::string join(const std::string& path, const std::string& key) { return path.empty() ? key : path + "." + key; }

// Configs nest a few levels (train/json_depth.h says why deeper ones are refused).
constexpr int kMaxDepth = 64;
void check_depth(const json& j, const std::string& where) { check_json_depth(j, kMaxDepth, where); }

// A JSON number as an integer of type T: 3, -1 and 2.0 / 1e3 (integral floats) are accepted,
// values outside T's range are errors (not wrapped, not undefined float->int conversions).
template <class T>
T to_integer(const json& v, const std::string& where) {
  const auto out_of_range = [&] {
    return Error(where + ": " + v.dump() + " is out of range (expected an integer in [" +
                 std::to_string(std::numeric_limits<T>::min()) + ", " + std::to_string(std::numeric_limits<T>::max()) + "])");
  };
  if (v.is_number_unsigned()) {
    const uint64_t u = v.get<uint64_t>();
    if (!std::in_range<T>(u)) throw out_of_range();
    return static_cast<T>(u);
  }
  if (v.is_number_integer()) {
    const int64_t i = v.get<int64_t>();
    if (!std::in_range<T>(i)) throw out_of_range();
    return static_cast<T>(i);
  }
  const double d = v.is_number_float() ? v.get<double>() : 0.5;
  MOELAB_CHECK(v.is_number_float() && d == std::floor(d), where, ": expected an integer, got ", v.dump());
  // [min, 2^digits): both bounds are exact doubles
  const double lo = std::is_signed_v<T> ? -std::ldexp(1.0, std::numeric_limits<T>::digits) : 0.0;
  if (!(d >= lo && d < std::ldexp(1.0, std::numeric_limits<T>::digits))) throw out_of_range();
  return static_cast<T>(d);
}

// A JSON object section: typed reads with key paths, and a check that every key was known.
class Section {
 public:
  Section(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    MOELAB_CHECK(j.is_object(), path_.empty() ? "config" : path_, ": expected an object, got ", j.type_name());
  }
  ~Section() noexcept(false) {
    if (std::uncaught_exceptions()) return;
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (known_.count(it.key()) || it.key().rfind('_', 0) == 0) continue;  // "_comment" etc.
      std::string best;
      size_t best_d = 3;
      for (const std::string& k : known_)
        if (size_t d = edit_distance(it.key(), k); d < best_d) best_d = d, best = k;
      std::string known_list;
      for (const std::string& k : known_) known_list += (known_list.empty() ? "" : ", ") + k;
      throw Error("config: " + join(path_, it.key()) + ": unknown key" +
                  (best.empty() ? "" : "; did you mean \"" + best + "\"?") + " (known: " + known_list + ")");
    }
  }
  template <class T>
  void read(const char* key, T& out) {
    known_.insert(key);
    if (!j_.contains(key) || j_.at(key).is_null()) return;  // keep the default
    const json& v = j_.at(key);
    const std::string where = "config: " + join(path_, key);
    if constexpr (std::is_same_v<T, bool>) {
      MOELAB_CHECK(v.is_boolean(), where, ": expected true or false, got ", v.dump());
      out = v.get<bool>();
    } else if constexpr (std::is_integral_v<T>) {
      out = to_integer<T>(v, where);
    } else if constexpr (std::is_floating_point_v<T>) {
      MOELAB_CHECK(v.is_number(), where, ": expected a number, got ", v.dump());
      const double d = v.get<double>();  // finite: JSON has no inf/nan
      MOELAB_CHECK(std::abs(d) <= static_cast<double>(std::numeric_limits<T>::max()), where, ": ", v.dump(),
                   " is out of range (too large for a ", sizeof(T) == 4 ? "32" : "64", "-bit float)");
      out = static_cast<T>(d);
    } else {
      static_assert(std::is_same_v<T, std::string>, "Section::read: bool, integers, floats or strings");
      MOELAB_CHECK(v.is_string(), where, ": expected a string, got ", v.dump());
      out = v.get<std::string>();
    }
  }
  void read_paths(const char* key, std::vector<std::string>& out) {
    known_.insert(key);
    if (!j_.contains(key) || j_.at(key).is_null()) return;
    const json& v = j_.at(key);
    const std::string where = "config: " + join(path_, key);
    if (v.is_string()) {
      out = {v.get<std::string>()};
      return;
    }
    MOELAB_CHECK(v.is_array(), where, ": expected a path or a list of paths, got ", v.dump());
    out.clear();
    for (const json& e : v) {
      MOELAB_CHECK(e.is_string(), where, ": expected a path string in the list, got ", e.dump());
      out.push_back(e.get<std::string>());
    }
  }
  void read_ints(const char* key, std::vector<int>& out) {
    known_.insert(key);
    if (!j_.contains(key) || j_.at(key).is_null()) return;
    const json& v = j_.at(key);
    const std::string where = "config: " + join(path_, key);
    MOELAB_CHECK(v.is_array(), where, ": expected a list of integers, got ", v.dump());
    out.clear();
    for (const json& e : v) {
      MOELAB_CHECK(e.is_number_integer(), where, ": expected integers in the list, got ", e.dump());
      out.push_back(to_integer<int>(e, where));
    }
  }
  bool has(const std::string& key) const { return j_.contains(key) && !j_.at(key).is_null(); }
  const nlohmann::json& raw(const char* key) const { return j_.at(key); }
  // A free-form JSON object (settings of a registered component), kept as is.
  void read_object(const char* key, nlohmann::json& out) {
    known_.insert(key);
    if (!j_.contains(key) || j_.at(key).is_null()) return;
    MOELAB_CHECK(j_.at(key).is_object(), "config: ", join(path_, key), ": expected an object, got ", j_.at(key).dump());
    out = j_.at(key);
  }
  Section sub(const char* key) {
    known_.insert(key);
    static const json empty = json::object();
    return Section(j_.contains(key) ? j_.at(key) : empty, join(path_, key));
  }
  void mark_known(const std::string& key) { known_.insert(key); }
  std::string at(const char* key) const { return "config: " + join(path_, key); }

 private:
  const json& j_;
  std::string path_;
  std::set<std::string> known_;
};

template <class T>
void require_range(bool ok, const std::string& where, const T& value, const char* expected) {
  MOELAB_CHECK(ok, where, ": ", value, " is out of range (expected ", expected, ")");
}

void one_of(const std::string& where, const std::string& v, std::initializer_list<const char*> options) {
  std::string list;
  for (const char* o : options) {
    if (v == o) return;
    list += (list.empty() ? "" : ", ") + std::string(o);
  }
  throw Error(where + ": unknown \"" + v + "\" (known: " + list + ")");
}

// For names looked up in a registry: "<key>: unknown "x"; known: a, b, c"
void one_of_registered(const std::string& where, const std::string& v, const std::vector<std::string>& known) {
  if (std::find(known.begin(), known.end(), v) != known.end()) return;
  std::string list;
  for (const std::string& k : known) list += (list.empty() ? "" : ", ") + k;
  throw Error(where + ": unknown \"" + v + "\"; known: " + list);
}

void parse_moe(Section s, nn::ModelConfig& mc) {
  nn::MoeConfig& m = mc.moe;
  s.read("num_experts", m.num_experts);
  {
    s.mark_known("experts_by_layer");
    if (s.has("experts_by_layer")) {
      const nlohmann::json& j = s.raw("experts_by_layer");
      MOELAB_CHECK(j.is_object(), s.at("experts_by_layer"), ": expected {\"layer\": experts, ...}, got ", j.dump());
      for (auto it = j.begin(); it != j.end(); ++it) {
        const std::string& key = it.key();
        const json& count = it.value();
        // the whole key is a layer index ("1x" and " 1" are not 1); counts are range-checked, not wrapped
        const bool index = !key.empty() && key.size() <= 9 && key.find_first_not_of("0123456789") == std::string::npos;
        const int layer = index ? std::stoi(key) : -1;
        int experts = 0;
        if (count.is_number_unsigned() && std::in_range<int>(count.get<uint64_t>())) experts = count.get<int>();
        if (!count.is_number_unsigned() && count.is_number_integer() && std::in_range<int>(count.get<int64_t>()))
          experts = count.get<int>();
        MOELAB_CHECK(layer >= 0 && layer < mc.n_layer && experts >= 1, s.at("experts_by_layer"), ": \"", key, "\": ",
                     count.dump(), " (expected a layer index in [0, model.n_layer) and a count in [1, 2147483647])");
        m.experts_by_layer[layer] = experts;
      }
    }
  }
  s.read("top_k", m.top_k);
  s.read_ints("layers", m.layers);
  s.read("pattern", m.pattern);
  s.read("every", m.every);
  s.read("offset", m.offset);
  s.read("expert_hidden", m.expert_hidden);
  s.read("shared_experts", m.shared_experts);
  s.read("shared_hidden", m.shared_hidden);
  Section r = s.sub("router");
  r.read("type", m.router.type);
  r.read("renorm", m.router.renorm);
  r.read("topk_softmax", m.router.topk_softmax);
  r.read("random_second", m.router.random_second);
  r.read("bias_rate", m.router.bias_rate);
  r.read("noise_eps", m.router.noise_eps);
  r.read("ec_factor", m.router.ec_factor);
  r.read_object("params", m.router.params);
  Section c = s.sub("capacity");
  c.read("factor", m.capacity.factor);
  c.read("eval_factor", m.capacity.eval_factor);
  c.read("convention", m.capacity.convention);
  c.read("priority", m.capacity.priority);
  Section l = s.sub("loss");
  l.read("switch", m.loss.switch_aux);
  l.read("z", m.loss.z);
  l.read("importance", m.loss.importance);
  l.read("load", m.loss.load);
  for (const std::string& name : nn::aux_loss_names()) {  // registered losses are config keys too
    if (!l.has(name)) {
      l.mark_known(name);
      continue;
    }
    double coef = 0;
    l.read(name.c_str(), coef);
    require_range(coef >= 0, l.at(name.c_str()), coef, ">= 0");
    m.loss.extra[name] = coef;
  }

  require_range(m.num_experts >= 0, s.at("num_experts"), m.num_experts, ">= 0 (0 = dense)");
  if (!m.enabled()) return;
  one_of_registered(r.at("type"), m.router.type, nn::router_names());
  int min_experts = m.num_experts;
  for (const auto& [layer, e] : m.experts_by_layer) min_experts = std::min(min_experts, e);
  require_range(m.top_k >= 1 && m.top_k <= min_experts, s.at("top_k"), m.top_k, "in [1, model.moe.num_experts]");
  MOELAB_CHECK(m.router.type != "hash" || m.top_k == 1, s.at("top_k"), ": the hash router picks one expert (top_k 1), got ",
               m.top_k);
  MOELAB_CHECK(m.layers.empty() || m.pattern.empty(), s.at("pattern"), ": give model.moe.layers or model.moe.pattern, not both");
  for (int layer : m.layers)
    require_range(layer >= 0 && layer < mc.n_layer, s.at("layers"), layer, "layer indices in [0, model.n_layer)");
  if (!m.pattern.empty()) {
    MOELAB_CHECK(static_cast<int>(m.pattern.size()) == mc.n_layer, s.at("pattern"), ": \"", m.pattern, "\" has ",
                 m.pattern.size(), " letters for ", mc.n_layer, " layers");
    MOELAB_CHECK(m.pattern.find_first_not_of("DM") == std::string::npos, s.at("pattern"), ": \"", m.pattern,
                 "\" may only hold D (dense) and M (MoE)");
  }
  require_range(m.every >= 1, s.at("every"), m.every, ">= 1");
  require_range(m.offset >= -1 && m.offset < mc.n_layer, s.at("offset"), m.offset, "in [-1, model.n_layer)");
  // Some layer must be MoE. Only the first candidate is tried (a loop over n_layer, which may be
  // 2^31 - 1, took seconds): the lowest listed layer, the first 'M', or where every/offset start.
  int first = m.offset < 0 ? m.every - 1 : m.offset;
  if (!m.layers.empty()) first = *std::min_element(m.layers.begin(), m.layers.end());
  if (!m.pattern.empty()) first = static_cast<int>(std::min(m.pattern.find('M'), m.pattern.size()));
  const bool any = first >= 0 && first < mc.n_layer && m.is_moe_layer(first, mc.n_layer);
  MOELAB_CHECK(any, s.at("layers"), ": no layer is an MoE layer with these settings");
  require_range(m.expert_hidden >= 0, s.at("expert_hidden"), m.expert_hidden, ">= 0 (0 = ffn.mult * n_embd)");
  require_range(m.shared_experts >= 0, s.at("shared_experts"), m.shared_experts, ">= 0");
  require_range(m.shared_hidden >= 0, s.at("shared_hidden"), m.shared_hidden, ">= 0");
  require_range(m.router.random_second >= 0, r.at("random_second"), m.router.random_second, ">= 0 (0 = off)");
  MOELAB_CHECK(m.router.random_second == 0 || (m.router.type == "topk" && m.top_k == 2), r.at("random_second"),
               ": GShard random routing needs router.type topk with top_k 2");
  require_range(m.router.bias_rate >= 0, r.at("bias_rate"), m.router.bias_rate, ">= 0 (0 = off)");
  MOELAB_CHECK(m.router.bias_rate == 0 || m.router.type == "topk", r.at("bias_rate"),
               ": bias balancing works on router.type topk");
  MOELAB_CHECK(!(m.router.renorm && m.router.topk_softmax), r.at("topk_softmax"),
               ": choose renorm or topk_softmax (they are the same function)");
  require_range(m.router.noise_eps > 0, r.at("noise_eps"), m.router.noise_eps, "> 0");
  require_range(m.router.ec_factor > 0, r.at("ec_factor"), m.router.ec_factor, "> 0");
  require_range(m.capacity.factor >= 0, c.at("factor"), m.capacity.factor, ">= 0 (0 = dropless)");
  require_range(m.capacity.eval_factor >= 0 || m.capacity.eval_factor == -1, c.at("eval_factor"),
                m.capacity.eval_factor, ">= 0, or -1 = same as factor");
  one_of(c.at("convention"), m.capacity.convention, {"google", "times_k"});
  one_of(c.at("priority"), m.capacity.priority, {"slot", "token"});
  require_range(m.loss.switch_aux >= 0, l.at("switch"), m.loss.switch_aux, ">= 0");
  require_range(m.loss.z >= 0, l.at("z"), m.loss.z, ">= 0");
  require_range(m.loss.importance >= 0, l.at("importance"), m.loss.importance, ">= 0");
  require_range(m.loss.load >= 0, l.at("load"), m.loss.load, ">= 0");
}

}  // namespace

RunConfig parse_config(const json& j) {
  check_depth(j, "config");
  RunConfig c;
  c.source = j;
  Section root(j, "");
  {
    Section m = root.sub("model");
    nn::ModelConfig& mc = c.model;
    m.read("n_layer", mc.n_layer);
    m.read("n_head", mc.n_head);
    m.read("n_embd", mc.n_embd);
    m.read("block_size", mc.block_size);
    m.read("dropout", mc.dropout);
    m.read("bias", mc.bias);
    m.read("norm", mc.norm);
    Section f = m.sub("ffn");
    f.read("type", mc.ffn.type);
    f.read("activation", mc.ffn.activation);
    f.read_object("params", mc.ffn.params);
    f.read("mult", mc.ffn.mult);
    require_range(mc.n_layer >= 1, m.at("n_layer"), mc.n_layer, ">= 1");
    require_range(mc.n_head >= 1, m.at("n_head"), mc.n_head, ">= 1");
    require_range(mc.n_embd >= 1, m.at("n_embd"), mc.n_embd, ">= 1");
    MOELAB_CHECK(mc.n_embd % mc.n_head == 0, m.at("n_embd"), ": ", mc.n_embd, " is not divisible by model.n_head ",
                 mc.n_head);
    require_range(mc.block_size >= 1, m.at("block_size"), mc.block_size, ">= 1");
    require_range(mc.dropout >= 0.f && mc.dropout < 1.f, m.at("dropout"), mc.dropout, "in [0, 1)");
    one_of(m.at("norm"), mc.norm, {"layernorm", "rmsnorm"});
    one_of_registered(f.at("activation"), mc.ffn.activation, nn::activation_names());
    one_of_registered(f.at("type"), mc.ffn.type, nn::ffn_kinds());
    MOELAB_CHECK(mc.ffn.type != "moe", f.at("type"), ": MoE layers are configured by model.moe (num_experts, every ...)");
    require_range(mc.ffn.mult >= 1, f.at("mult"), mc.ffn.mult, ">= 1");
    if (m.has("moe")) parse_moe(m.sub("moe"), mc);
    else m.mark_known("moe");
  }
  {
    Section d = root.sub("data");
    d.read_paths("train", c.data.train);
    d.read_paths("val", c.data.val);
    d.read("val_fraction", c.data.val_fraction);
    d.read("tokenizer", c.data.tokenizer);
    d.read("format", c.data.format);
    MOELAB_CHECK(!c.data.train.empty(), d.at("train"), ": no training data given");
    require_range(c.data.val_fraction >= 0 && c.data.val_fraction < 1, d.at("val_fraction"), c.data.val_fraction,
                  "in [0, 1)");
    MOELAB_CHECK(!c.data.val.empty() || c.data.val_fraction > 0, d.at("val_fraction"),
                 ": must be > 0 when data.val is not given");
    one_of(d.at("tokenizer"), c.data.tokenizer, {"char", "byte"});
    one_of(d.at("format"), c.data.format, {"auto", "text", "fortunes"});
  }
  {
    Section t = root.sub("train");
    LoopConfig& l = c.train;
    t.read("batch_size", l.batch_size);
    t.read("max_iters", l.max_iters);
    t.read("eval_interval", l.eval_interval);
    t.read("eval_iters", l.eval_iters);
    t.read("log_interval", l.log_interval);
    t.read("seed", l.seed);
    t.read("threads", l.threads);
    t.read("checkpoint_interval", l.checkpoint_interval);
    t.read("keep_checkpoints", l.keep_checkpoints);
    t.read("routing_metrics", l.routing_metrics);
    t.read("max_bad_steps", l.max_bad_steps);
    t.read("batch_offsets", l.batch_offsets);
    require_range(l.max_bad_steps >= 1, t.at("max_bad_steps"), l.max_bad_steps, ">= 1");
    t.read("out_dir", l.out_dir);
    require_range(l.batch_size >= 1, t.at("batch_size"), l.batch_size, ">= 1");
    require_range(l.max_iters >= 0, t.at("max_iters"), l.max_iters, ">= 0");
    require_range(l.eval_interval >= 1, t.at("eval_interval"), l.eval_interval, ">= 1");
    require_range(l.eval_iters >= 1, t.at("eval_iters"), l.eval_iters, ">= 1");
    require_range(l.log_interval >= 1, t.at("log_interval"), l.log_interval, ">= 1");
    require_range(l.threads >= 0, t.at("threads"), l.threads, ">= 0");
    require_range(l.checkpoint_interval >= 0, t.at("checkpoint_interval"), l.checkpoint_interval, ">= 0");
    require_range(l.keep_checkpoints >= 0, t.at("keep_checkpoints"), l.keep_checkpoints, ">= 0 (0 keeps all)");
    MOELAB_CHECK(!l.out_dir.empty(), t.at("out_dir"), ": must not be empty");
  }
  {
    Section o = root.sub("optim");
    OptimConfig& oc = c.optim;
    o.read("type", oc.type);
    o.read("lr", oc.schedule.lr);
    o.read("min_lr", oc.schedule.min_lr);
    o.read("warmup_iters", oc.schedule.warmup_iters);
    o.read("lr_decay_iters", oc.schedule.lr_decay_iters);
    o.read("decay_lr", oc.schedule.decay);
    {
      o.mark_known("betas");
      const json& oj = j.contains("optim") ? j.at("optim") : json::object();
      if (oj.is_object() && oj.contains("betas") && !oj.at("betas").is_null()) {
        const json& b = oj.at("betas");
        MOELAB_CHECK(b.is_array() && b.size() == 2 && b[0].is_number() && b[1].is_number(), o.at("betas"),
                     ": expected [beta1, beta2], got ", b.dump());
        const double b1 = b[0].get<double>(), b2 = b[1].get<double>();  // range first: a huge double -> float is UB
        require_range(b1 >= 0 && b1 < 1 && b2 >= 0 && b2 < 1, o.at("betas"), b.dump(), "each in [0, 1)");
        oc.beta1 = static_cast<float>(b1);
        oc.beta2 = static_cast<float>(b2);
      }
    }
    o.read("eps", oc.eps);
    o.read("weight_decay", oc.weight_decay);
    o.read("momentum", oc.momentum);
    o.read("grad_clip", oc.grad_clip);
    o.read_object("params", oc.params);
    one_of_registered(o.at("type"), oc.type, optim::optimizer_names());
    require_range(oc.schedule.lr > 0, o.at("lr"), oc.schedule.lr, "> 0");
    require_range(oc.schedule.min_lr >= 0 && oc.schedule.min_lr <= oc.schedule.lr, o.at("min_lr"), oc.schedule.min_lr,
                  "in [0, optim.lr]");
    require_range(oc.schedule.warmup_iters >= 0, o.at("warmup_iters"), oc.schedule.warmup_iters, ">= 0");
    require_range(oc.schedule.lr_decay_iters >= oc.schedule.warmup_iters, o.at("lr_decay_iters"),
                  oc.schedule.lr_decay_iters, ">= optim.warmup_iters");
    require_range(oc.beta1 >= 0 && oc.beta1 < 1 && oc.beta2 >= 0 && oc.beta2 < 1, o.at("betas"),
                  std::to_string(oc.beta1) + "," + std::to_string(oc.beta2), "each in [0, 1)");
    require_range(oc.eps > 0, o.at("eps"), oc.eps, "> 0");
    require_range(oc.weight_decay >= 0, o.at("weight_decay"), oc.weight_decay, ">= 0");
    require_range(oc.momentum >= 0 && oc.momentum < 1, o.at("momentum"), oc.momentum, "in [0, 1)");
    require_range(oc.grad_clip >= 0, o.at("grad_clip"), oc.grad_clip, ">= 0 (0 = off)");
  }
  {
    Section s = root.sub("lifelong");
    LifelongConfig& l = c.lifelong;
    s.read("init_from", l.init_from);
    s.read("freeze_old_experts", l.freeze_old_experts);
    s.read("freeze_old_router_rows", l.freeze_old_router_rows);
    s.read("freeze_non_expert", l.freeze_non_expert);
    s.read("kl_weight", l.kl_weight);
    s.read("kl_temperature", l.kl_temperature);
    s.read("teacher", l.teacher);
    require_range(l.kl_weight >= 0, s.at("kl_weight"), l.kl_weight, ">= 0");
    require_range(l.kl_temperature > 0, s.at("kl_temperature"), l.kl_temperature, "> 0");
    MOELAB_CHECK(!l.init_from.empty() || (l.kl_weight == 0 && l.teacher.empty()), s.at("init_from"),
                 ": a lifelong stage (kl_weight, teacher) needs init_from");
  }
  return c;
}

void apply_override(json& j, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  MOELAB_CHECK(eq != std::string::npos && eq > 0, "--set ", assignment, ": expected key.path=value");
  try {  // keys and bare strings end up in the JSON, which must stay printable (checkpoint sidecar, errors)
    (void)json(assignment).dump();
  } catch (const json::exception&) {
    throw Error("--set " + assignment + ": not valid UTF-8");
  }
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::exception&) {
    value = text;  // bare strings need no quotes: --set data.train=/path/file.txt
  }
  check_depth(value, "--set " + path);
  json* node = &j;
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    MOELAB_CHECK(!key.empty(), "--set ", assignment, ": empty key in path");
    MOELAB_CHECK(node->is_object() || node->is_null(), "--set ", assignment, ": ", path.substr(0, start ? start - 1 : 0),
                 " is not an object");
    if (dot == std::string::npos) {
      (*node)[key] = std::move(value);
      return;
    }
    node = &(*node)[key];
    start = dot + 1;
  }
}

namespace {
// Reads a config file; a "base" key names another config (relative to this file's folder) whose
// values this file overrides key by key (JSON merge patch). Chains are allowed, cycles are errors.
json read_config_file(const std::filesystem::path& path, std::vector<std::string>& chain) {
  const std::string shown = path.string();
  for (const std::string& c : chain)
    MOELAB_CHECK(c != shown, "config: ", shown, ": \"base\" chain loops back to itself");
  chain.push_back(shown);
  std::ifstream in(path);
  MOELAB_CHECK(in, "config: cannot open ", shown);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::exception& e) {  // parse_error, and out_of_range for numbers like 1e400
    throw Error("config: " + shown + ": invalid JSON: " + e.what());
  }
  check_depth(j, "config: " + shown);
  if (!j.is_object() || !j.contains("base")) return j;
  MOELAB_CHECK(j.at("base").is_string(), "config: ", shown, ": base: expected a path string, got ", j.at("base").dump());
  const std::filesystem::path base_path = path.parent_path() / j.at("base").get<std::string>();
  json merged = read_config_file(base_path, chain);
  j.erase("base");
  merged.merge_patch(j);
  return merged;
}
}  // namespace

RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::vector<std::string> chain;
  json j = read_config_file(path, chain);
  for (const std::string& o : overrides) apply_override(j, o);
  try {
    return parse_config(j);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (in " + path + ")");
  }
}

namespace {
json moe_json(const nn::MoeConfig& m) {
  if (!m.enabled()) return nullptr;
  json j = {{"num_experts", m.num_experts},
            {"top_k", m.top_k},
            {"every", m.every},
            {"offset", m.offset},
            {"expert_hidden", m.expert_hidden},
            {"shared_experts", m.shared_experts},
            {"shared_hidden", m.shared_hidden},
            {"router",
             {{"type", m.router.type},
              {"renorm", m.router.renorm},
              {"topk_softmax", m.router.topk_softmax},
              {"random_second", m.router.random_second},
              {"bias_rate", m.router.bias_rate},
              {"noise_eps", m.router.noise_eps},
              {"ec_factor", m.router.ec_factor},
              {"params", m.router.params}}},
            {"capacity",
             {{"factor", m.capacity.factor},
              {"eval_factor", m.capacity.eval_factor},
              {"convention", m.capacity.convention},
              {"priority", m.capacity.priority}}},
            {"loss", {{"switch", m.loss.switch_aux}, {"z", m.loss.z}, {"importance", m.loss.importance},
                      {"load", m.loss.load}}}};
  for (const auto& [name, coef] : m.loss.extra) j["loss"][name] = coef;
  if (!m.layers.empty()) j["layers"] = m.layers;
  if (!m.experts_by_layer.empty()) {
    json by = json::object();
    for (const auto& [layer, e] : m.experts_by_layer) by[std::to_string(layer)] = e;
    j["experts_by_layer"] = by;
  }
  if (!m.pattern.empty()) j["pattern"] = m.pattern;
  return j;
}
}  // namespace

json to_json(const RunConfig& c) {
  return json{{"model",
               {{"n_layer", c.model.n_layer},
                {"n_head", c.model.n_head},
                {"n_embd", c.model.n_embd},
                {"block_size", c.model.block_size},
                {"dropout", c.model.dropout},
                {"bias", c.model.bias},
                {"norm", c.model.norm},
                {"ffn", {{"type", c.model.ffn.type}, {"activation", c.model.ffn.activation}, {"mult", c.model.ffn.mult},
                         {"params", c.model.ffn.params}}},
                {"moe", moe_json(c.model.moe)}}},
              {"data",
               {{"train", c.data.train},
                {"val", c.data.val},
                {"val_fraction", c.data.val_fraction},
                {"tokenizer", c.data.tokenizer},
                {"format", c.data.format}}},
              {"train",
               {{"batch_size", c.train.batch_size},
                {"max_iters", c.train.max_iters},
                {"eval_interval", c.train.eval_interval},
                {"eval_iters", c.train.eval_iters},
                {"log_interval", c.train.log_interval},
                {"seed", c.train.seed},
                {"threads", c.train.threads},
                {"checkpoint_interval", c.train.checkpoint_interval},
                {"keep_checkpoints", c.train.keep_checkpoints},
                {"routing_metrics", c.train.routing_metrics},
                {"max_bad_steps", c.train.max_bad_steps},
                {"batch_offsets", c.train.batch_offsets},
                {"out_dir", c.train.out_dir}}},
              {"optim",
               {{"type", c.optim.type},
                {"lr", c.optim.schedule.lr},
                {"min_lr", c.optim.schedule.min_lr},
                {"warmup_iters", c.optim.schedule.warmup_iters},
                {"lr_decay_iters", c.optim.schedule.lr_decay_iters},
                {"decay_lr", c.optim.schedule.decay},
                {"betas", {c.optim.beta1, c.optim.beta2}},
                {"eps", c.optim.eps},
                {"weight_decay", c.optim.weight_decay},
                {"momentum", c.optim.momentum},
                {"grad_clip", c.optim.grad_clip},
                {"params", c.optim.params}}},
              {"lifelong",
               {{"init_from", c.lifelong.init_from},
                {"freeze_old_experts", c.lifelong.freeze_old_experts},
                {"freeze_old_router_rows", c.lifelong.freeze_old_router_rows},
                {"freeze_non_expert", c.lifelong.freeze_non_expert},
                {"kl_weight", c.lifelong.kl_weight},
                {"kl_temperature", c.lifelong.kl_temperature},
                {"teacher", c.lifelong.teacher}}}};
}

}  // namespace moelab::train
