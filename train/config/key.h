// train/config/key.h: what a config key is (path, type, allowed values, one-line doc, and how it is
// read, checked and written), and the typed builders the schema (schema.cpp) declares keys with.
// A key is bound to its member of RunConfig; its default is that member's initial value, so defaults
// live only in the structs (layers/config.h, optim/config.h, train/config/run_config.h).
#pragma once
#include <functional>
#include <initializer_list>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

namespace moelab::train {

struct RunConfig;

namespace schema {

using nlohmann::json;

// One key of the run config.
struct Key {
  std::string path;     // "model.moe.capacity.factor"; a trailing ".<name>" is a family of keys (registered names)
  std::string type;     // for the reference: integer, number, bool, string, ...
  std::string allowed;  // for the reference and errors: ">= 1", "in [0, 1)", "google, times_k", ...
  std::string doc;      // one line
  // Checks type and range of `v` and stores it. `where` is "config: <path>" for errors; `name` is
  // the key's own name (for a family, the member's).
  std::function<void(const json& v, const std::string& name, RunConfig& c, const std::string& where)> read;
  // The member's value as JSON (for a family: an object of all its members).
  std::function<json(const RunConfig& c)> write;
  // A family's members (e.g. the registered aux losses); empty for an ordinary key.
  std::function<std::vector<std::string>()> family;

  bool is_family() const { return static_cast<bool>(family); }
};

// An object of keys. `nullable`: absent or null means "off" (model.moe: a dense model).
struct Section {
  std::string path;
  std::string doc;
  bool nullable = false;
};

// A relation between keys, checked after every key was read (only when `applies`, if given).
struct Rule {
  std::string key;  // the key an error names
  std::string doc;  // one line for the reference
  std::function<void(const RunConfig& c, const std::string& where)> check;
  std::function<bool(const RunConfig& c)> applies = nullptr;  // null: always
};

// ---- builders --------------------------------------------------------------------------------
// Members are bound with FIELD(member): a function from the config to the member.
template <class T>
using Getter = T& (*)(RunConfig&);
#define FIELD(member) (+[](::moelab::train::RunConfig& c) -> auto& { return c.member; })

// Integers (int, int64_t, uint64_t) and floats (float, double) with optional bounds.
template <class T>
class NumberKey {
 public:
  NumberKey(std::string path, Getter<T> get, std::string doc) : path_(std::move(path)), doc_(std::move(doc)), get_(get) {}
  NumberKey& min(double v) { return lo_ = v, lo_open_ = false, has_lo_ = true, *this; }    // >= v
  NumberKey& above(double v) { return lo_ = v, lo_open_ = true, has_lo_ = true, *this; }   // > v
  NumberKey& max(double v) { return hi_ = v, hi_open_ = false, has_hi_ = true, *this; }    // <= v
  NumberKey& below(double v) { return hi_ = v, hi_open_ = true, has_hi_ = true, *this; }   // < v
  NumberKey& note(std::string n) { return note_ = std::move(n), *this; }                    // "0 = dropless"
  operator Key() const;

 private:
  std::string path_, doc_, note_;
  Getter<T> get_;
  double lo_ = 0, hi_ = 0;
  bool has_lo_ = false, has_hi_ = false, lo_open_ = false, hi_open_ = false;
};

template <class T>
NumberKey<T> number(std::string path, Getter<T> get, std::string doc) {
  return NumberKey<T>(std::move(path), get, std::move(doc));
}

class StringKey {
 public:
  StringKey(std::string path, Getter<std::string> get, std::string doc)
      : path_(std::move(path)), doc_(std::move(doc)), get_(get) {}
  StringKey& one_of(std::initializer_list<const char*> options);
  // A name from a registry; `what` says what kind ("a registered router").
  StringKey& registered(std::function<std::vector<std::string>()> names, std::string what);
  StringKey& not_empty();
  // Any other test of the value alone: `ok(value)` or an error "PATH: <message(value)>".
  StringKey& check(std::function<bool(const std::string&)> ok, std::function<std::string(const std::string&)> message,
                   std::string allowed);
  StringKey& note(std::string n) { return note_ = std::move(n), *this; }
  operator Key() const;

 private:
  std::string path_, doc_, note_, allowed_;
  Getter<std::string> get_;
  std::vector<std::string> options_;
  std::function<std::vector<std::string>()> registry_;
  std::string registry_what_;
  bool not_empty_ = false;
  std::vector<std::pair<std::function<bool(const std::string&)>, std::function<std::string(const std::string&)>>> checks_;
};

inline StringKey string(std::string path, Getter<std::string> get, std::string doc) {
  return StringKey(std::move(path), get, std::move(doc));
}

Key boolean(std::string path, Getter<bool> get, std::string doc);
// A path or a list of paths; `not_empty`: at least one.
Key paths(std::string path, Getter<std::vector<std::string>> get, std::string doc, bool not_empty);
// A list of integers >= min.
Key int_list(std::string path, Getter<std::vector<int>> get, std::string doc, int min);
// {"<integer >= 0>": <integer >= 1>, ...}
Key int_map(std::string path, Getter<std::map<int, int>> get, std::string doc);
// [a, b] (`shape` names them for errors, e.g. "[beta1, beta2]"), each a float in [lo, hi).
Key float_pair(std::string path, float& (*first)(RunConfig&), float& (*second)(RunConfig&), std::string shape,
               std::string doc, double lo, double hi);
// A free-form JSON object, kept as is (settings of a registered component).
Key object(std::string path, Getter<json> get, std::string doc);
// A family "<section>.<name>" of numbers >= min, one per registered name, into a map.
Key number_family(std::string section, Getter<std::map<std::string, double>> get, std::string doc,
                  std::function<std::vector<std::string>()> names, double min);

// Formats a number for the reference and errors: shortest form that reads back the same.
std::string format_number(double v);

}  // namespace schema
}  // namespace moelab::train
