#include "train/config.h"

#include <algorithm>
#include <fstream>
#include <set>

#include "core/error.h"

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

// A JSON object section: typed reads with key paths, and a check that every key was known.
class Section {
 public:
  Section(const json& j, std::string path) : j_(j), path_(std::move(path)) {
    MOELAB_CHECK(j.is_object(), path_.empty() ? "config" : path_, ": expected an object, got ", j.type_name());
  }
  ~Section() noexcept(false) {
    if (std::uncaught_exceptions()) return;
    for (auto it = j_.begin(); it != j_.end(); ++it) {
      if (known_.count(it.key())) continue;
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
    } else if constexpr (std::is_integral_v<T>) {
      MOELAB_CHECK(v.is_number_integer() || (v.is_number_float() && v.get<double>() == std::floor(v.get<double>())),
                   where, ": expected an integer, got ", v.dump());
    } else if constexpr (std::is_floating_point_v<T>) {
      MOELAB_CHECK(v.is_number(), where, ": expected a number, got ", v.dump());
    } else if constexpr (std::is_same_v<T, std::string>) {
      MOELAB_CHECK(v.is_string(), where, ": expected a string, got ", v.dump());
    }
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>) {
      out = static_cast<T>(v.get<double>());
    } else {
      out = v.get<T>();
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
  Section sub(const char* key) {
    known_.insert(key);
    static const json empty = json::object();
    return Section(j_.contains(key) ? j_.at(key) : empty, join(path_, key));
  }
  void mark_known(const char* key) { known_.insert(key); }
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

}  // namespace

RunConfig parse_config(const json& j) {
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
    f.read("activation", mc.ffn.activation);
    f.read("mult", mc.ffn.mult);
    require_range(mc.n_layer >= 1, m.at("n_layer"), mc.n_layer, ">= 1");
    require_range(mc.n_head >= 1, m.at("n_head"), mc.n_head, ">= 1");
    require_range(mc.n_embd >= 1, m.at("n_embd"), mc.n_embd, ">= 1");
    MOELAB_CHECK(mc.n_embd % mc.n_head == 0, m.at("n_embd"), ": ", mc.n_embd, " is not divisible by model.n_head ",
                 mc.n_head);
    require_range(mc.block_size >= 1, m.at("block_size"), mc.block_size, ">= 1");
    require_range(mc.dropout >= 0.f && mc.dropout < 1.f, m.at("dropout"), mc.dropout, "in [0, 1)");
    one_of(m.at("norm"), mc.norm, {"layernorm", "rmsnorm"});
    one_of(f.at("activation"), mc.ffn.activation, {"gelu", "gelu_tanh", "relu", "silu", "swiglu"});
    require_range(mc.ffn.mult >= 1, f.at("mult"), mc.ffn.mult, ">= 1");
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
    t.read("out_dir", l.out_dir);
    require_range(l.batch_size >= 1, t.at("batch_size"), l.batch_size, ">= 1");
    require_range(l.max_iters >= 0, t.at("max_iters"), l.max_iters, ">= 0");
    require_range(l.eval_interval >= 1, t.at("eval_interval"), l.eval_interval, ">= 1");
    require_range(l.eval_iters >= 1, t.at("eval_iters"), l.eval_iters, ">= 1");
    require_range(l.log_interval >= 1, t.at("log_interval"), l.log_interval, ">= 1");
    require_range(l.threads >= 0, t.at("threads"), l.threads, ">= 0");
    require_range(l.checkpoint_interval >= 0, t.at("checkpoint_interval"), l.checkpoint_interval, ">= 0");
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
        oc.beta1 = b[0].get<float>();
        oc.beta2 = b[1].get<float>();
      }
    }
    o.read("eps", oc.eps);
    o.read("weight_decay", oc.weight_decay);
    o.read("momentum", oc.momentum);
    o.read("grad_clip", oc.grad_clip);
    one_of(o.at("type"), oc.type, {"adamw", "sgd"});
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
  return c;
}

void apply_override(json& j, const std::string& assignment) {
  const size_t eq = assignment.find('=');
  MOELAB_CHECK(eq != std::string::npos && eq > 0, "--set ", assignment, ": expected key.path=value");
  const std::string path = assignment.substr(0, eq), text = assignment.substr(eq + 1);
  json value;
  try {
    value = json::parse(text);
  } catch (const json::exception&) {
    value = text;  // bare strings need no quotes: --set data.train=/path/file.txt
  }
  json* node = &j;
  size_t start = 0;
  for (;;) {
    const size_t dot = path.find('.', start);
    const std::string key = path.substr(start, dot == std::string::npos ? std::string::npos : dot - start);
    MOELAB_CHECK(!key.empty(), "--set ", assignment, ": empty key in path");
    MOELAB_CHECK(node->is_object() || node->is_null(), "--set ", assignment, ": ", path.substr(0, start ? start - 1 : 0),
                 " is not an object");
    if (dot == std::string::npos) {
      (*node)[key] = value;
      return;
    }
    node = &(*node)[key];
    start = dot + 1;
  }
}

RunConfig load_config(const std::string& path, const std::vector<std::string>& overrides) {
  std::ifstream in(path);
  MOELAB_CHECK(in, "config: cannot open ", path);
  json j;
  try {
    j = json::parse(in);
  } catch (const json::parse_error& e) {
    throw Error("config: " + path + ": invalid JSON: " + e.what());
  }
  for (const std::string& o : overrides) apply_override(j, o);
  try {
    return parse_config(j);
  } catch (const Error& e) {
    throw Error(std::string(e.what()) + " (in " + path + ")");
  }
}

json to_json(const RunConfig& c) {
  return json{{"model",
               {{"n_layer", c.model.n_layer},
                {"n_head", c.model.n_head},
                {"n_embd", c.model.n_embd},
                {"block_size", c.model.block_size},
                {"dropout", c.model.dropout},
                {"bias", c.model.bias},
                {"norm", c.model.norm},
                {"ffn", {{"activation", c.model.ffn.activation}, {"mult", c.model.ffn.mult}}}}},
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
                {"grad_clip", c.optim.grad_clip}}}};
}

}  // namespace moelab::train
