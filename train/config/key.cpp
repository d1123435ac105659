#include "train/config/key.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <limits>
#include <type_traits>
#include <utility>

#include "core/error.h"
#include "train/config/run_config.h"

namespace moelab::train::schema {

std::string format_number(double v) {
  char buf[64];
  const auto r = std::to_chars(buf, buf + sizeof buf, v);
  return std::string(buf, r.ptr);
}

namespace {

std::string list(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

std::string with_note(const std::string& allowed, const std::string& note) {
  if (note.empty()) return allowed;
  return allowed.empty() ? note : allowed + " (" + note + ")";
}

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

// A float member written as the shortest decimal that reads back as the same float (0.95f is
// written 0.95, not 0.949999988079071).
json float_json(float f) {
  char buf[32];
  const auto r = std::to_chars(buf, buf + sizeof buf, f);
  return std::strtod(std::string(buf, r.ptr).c_str(), nullptr);
}

}  // namespace

template <class T>
NumberKey<T>::operator Key() const {
  std::string allowed;
  const std::string lo = format_number(lo_), hi = format_number(hi_);
  if (has_lo_ && has_hi_)
    allowed = std::string("in ") + (lo_open_ ? "(" : "[") + lo + ", " + hi + (hi_open_ ? ")" : "]");
  else if (has_lo_)
    allowed = (lo_open_ ? "> " : ">= ") + lo;
  else if (has_hi_)
    allowed = (hi_open_ ? "< " : "<= ") + hi;
  allowed = with_note(allowed, note_);
  Key k;
  k.path = path_;
  k.type = std::is_integral_v<T> ? "integer" : "number";
  k.allowed = allowed;
  k.doc = doc_;
  k.read = [get = get_, allowed, lo = lo_, hi = hi_, has_lo = has_lo_, has_hi = has_hi_, lo_open = lo_open_,
            hi_open = hi_open_](const json& v, const std::string&, RunConfig& c, const std::string& where) {
    T value;
    if constexpr (std::is_integral_v<T>) {
      value = to_integer<T>(v, where);
    } else {
      MOELAB_CHECK(v.is_number(), where, ": expected a number, got ", v.dump());
      const double d = v.get<double>();  // finite: JSON has no inf/nan
      MOELAB_CHECK(std::abs(d) <= static_cast<double>(std::numeric_limits<T>::max()), where, ": ", v.dump(),
                   " is out of range (too large for a ", sizeof(T) == 4 ? "32" : "64", "-bit float)");
      value = static_cast<T>(d);
    }
    const double x = static_cast<double>(value);  // the range applies to what is stored (1e-50 as a float is 0)
    const bool ok = (!has_lo || (lo_open ? x > lo : x >= lo)) && (!has_hi || (hi_open ? x < hi : x <= hi));
    MOELAB_CHECK(ok, where, ": ", v.dump(), " is out of range (expected ", allowed, ")");
    get(c) = value;
  };
  k.write = [get = get_](const RunConfig& c) -> json {
    const T& value = get(const_cast<RunConfig&>(c));
    if constexpr (std::is_same_v<T, float>) return float_json(value);
    else return value;
  };
  return k;
}

template class NumberKey<int>;
template class NumberKey<int64_t>;
template class NumberKey<uint64_t>;
template class NumberKey<float>;
template class NumberKey<double>;

StringKey& StringKey::one_of(std::initializer_list<const char*> options) {
  for (const char* o : options) options_.push_back(o);
  return *this;
}

StringKey& StringKey::registered(std::function<std::vector<std::string>()> names, std::string what) {
  registry_ = std::move(names);
  registry_what_ = std::move(what);
  return *this;
}

StringKey& StringKey::not_empty() {
  not_empty_ = true;
  return *this;
}

StringKey& StringKey::check(std::function<bool(const std::string&)> ok,
                            std::function<std::string(const std::string&)> message, std::string allowed) {
  checks_.emplace_back(std::move(ok), std::move(message));
  allowed_ += (allowed_.empty() ? "" : "; ") + allowed;
  return *this;
}

StringKey::operator Key() const {
  std::string allowed = allowed_;
  if (!options_.empty()) allowed = list(options_);
  if (registry_) allowed = registry_what_;  // the doc line names the built-in ones (a test checks that)
  if (not_empty_) allowed = allowed.empty() ? "not empty" : allowed + "; not empty";
  Key k;
  k.path = path_;
  k.type = "string";
  k.allowed = with_note(allowed, note_);
  k.doc = doc_;
  k.read = [get = get_, options = options_, registry = registry_, not_empty = not_empty_, checks = checks_](
               const json& v, const std::string&, RunConfig& c, const std::string& where) {
    MOELAB_CHECK(v.is_string(), where, ": expected a string, got ", v.dump());
    const std::string s = v.get<std::string>();
    if (!options.empty()) {
      bool known = false;
      for (const std::string& o : options) known = known || o == s;
      MOELAB_CHECK(known, where, ": unknown \"", s, "\" (known: ", list(options), ")");
    }
    if (registry) {
      const std::vector<std::string> names = registry();
      bool known = false;
      for (const std::string& n : names) known = known || n == s;
      MOELAB_CHECK(known, where, ": unknown \"", s, "\"; known: ", list(names));
    }
    MOELAB_CHECK(!not_empty || !s.empty(), where, ": must not be empty");
    for (const auto& [ok, message] : checks) MOELAB_CHECK(ok(s), where, ": ", message(s));
    get(c) = s;
  };
  k.write = [get = get_](const RunConfig& c) -> json { return get(const_cast<RunConfig&>(c)); };
  return k;
}

Key boolean(std::string path, Getter<bool> get, std::string doc) {
  Key k{std::move(path), "bool", "true, false", std::move(doc), {}, {}, {}};
  k.read = [get](const json& v, const std::string&, RunConfig& c, const std::string& where) {
    MOELAB_CHECK(v.is_boolean(), where, ": expected true or false, got ", v.dump());
    get(c) = v.get<bool>();
  };
  k.write = [get](const RunConfig& c) -> json { return get(const_cast<RunConfig&>(c)); };
  return k;
}

Key paths(std::string path, Getter<std::vector<std::string>> get, std::string doc, bool not_empty) {
  Key k{std::move(path), "path or list of paths", not_empty ? "at least one" : "", std::move(doc), {}, {}, {}};
  k.read = [get, not_empty](const json& v, const std::string&, RunConfig& c, const std::string& where) {
    std::vector<std::string> out;
    if (v.is_string()) {
      out = {v.get<std::string>()};
    } else {
      MOELAB_CHECK(v.is_array(), where, ": expected a path or a list of paths, got ", v.dump());
      for (const json& e : v) {
        MOELAB_CHECK(e.is_string(), where, ": expected a path string in the list, got ", e.dump());
        out.push_back(e.get<std::string>());
      }
    }
    MOELAB_CHECK(!not_empty || !out.empty(), where, ": expected at least one path, got ", v.dump());
    get(c) = std::move(out);
  };
  k.write = [get](const RunConfig& c) -> json { return get(const_cast<RunConfig&>(c)); };
  return k;
}

Key int_list(std::string path, Getter<std::vector<int>> get, std::string doc, int min) {
  Key k{std::move(path), "list of integers", "each >= " + std::to_string(min), std::move(doc), {}, {}, {}};
  k.read = [get, min](const json& v, const std::string&, RunConfig& c, const std::string& where) {
    MOELAB_CHECK(v.is_array(), where, ": expected a list of integers, got ", v.dump());
    std::vector<int> out;
    for (const json& e : v) {
      MOELAB_CHECK(e.is_number_integer(), where, ": expected integers in the list, got ", e.dump());
      const int i = to_integer<int>(e, where);
      MOELAB_CHECK(i >= min, where, ": ", i, " is out of range (expected each >= ", min, ")");
      out.push_back(i);
    }
    get(c) = std::move(out);
  };
  k.write = [get](const RunConfig& c) -> json { return get(const_cast<RunConfig&>(c)); };
  return k;
}

Key int_map(std::string path, Getter<std::map<int, int>> get, std::string doc) {
  Key k{std::move(path), "object {\"layer\": count}", "layer >= 0, count >= 1", std::move(doc), {}, {}, {}};
  k.read = [get](const json& v, const std::string&, RunConfig& c, const std::string& where) {
    MOELAB_CHECK(v.is_object(), where, ": expected {\"layer\": count, ...}, got ", v.dump());
    std::map<int, int> out;
    for (auto it = v.begin(); it != v.end(); ++it) {
      const std::string& key = it.key();
      const json& count = it.value();
      // the whole key is a layer index ("1x" and " 1" are not 1); counts are range-checked, not wrapped
      const bool index = !key.empty() && key.size() <= 9 && key.find_first_not_of("0123456789") == std::string::npos;
      int n = 0;
      if (count.is_number_unsigned() && std::in_range<int>(count.get<uint64_t>())) n = count.get<int>();
      if (!count.is_number_unsigned() && count.is_number_integer() && std::in_range<int>(count.get<int64_t>()))
        n = count.get<int>();
      MOELAB_CHECK(index && n >= 1, where, ": \"", key, "\": ", count.dump(),
                   " (expected a layer index in [0, model.n_layer) and a count in [1, 2147483647])");
      out[std::stoi(key)] = n;
    }
    get(c) = std::move(out);
  };
  k.write = [get](const RunConfig& c) -> json {
    json j = json::object();
    for (const auto& [layer, n] : get(const_cast<RunConfig&>(c))) j[std::to_string(layer)] = n;
    return j;
  };
  return k;
}

Key float_pair(std::string path, float& (*first)(RunConfig&), float& (*second)(RunConfig&), std::string shape,
               std::string doc, double lo, double hi) {
  const std::string allowed = "each in [" + format_number(lo) + ", " + format_number(hi) + ")";
  Key k{std::move(path), "[number, number]", allowed, std::move(doc), {}, {}, {}};
  k.read = [first, second, shape, lo, hi, allowed](const json& v, const std::string&, RunConfig& c,
                                                   const std::string& where) {
    MOELAB_CHECK(v.is_array() && v.size() == 2 && v[0].is_number() && v[1].is_number(), where, ": expected ", shape,
                 ", got ", v.dump());
    const double a = v[0].get<double>(), b = v[1].get<double>();  // range first: a huge double -> float is UB
    MOELAB_CHECK(a >= lo && a < hi && b >= lo && b < hi, where, ": ", v.dump(), " is out of range (expected ", allowed, ")");
    first(c) = static_cast<float>(a);
    second(c) = static_cast<float>(b);
  };
  k.write = [first, second](const RunConfig& c) -> json {
    RunConfig& m = const_cast<RunConfig&>(c);
    return json::array({float_json(first(m)), float_json(second(m))});
  };
  return k;
}

Key object(std::string path, Getter<json> get, std::string doc) {
  Key k{std::move(path), "object", "any JSON object", std::move(doc), {}, {}, {}};
  k.read = [get](const json& v, const std::string&, RunConfig& c, const std::string& where) {
    MOELAB_CHECK(v.is_object(), where, ": expected an object, got ", v.dump());
    get(c) = v;
  };
  k.write = [get](const RunConfig& c) -> json { return get(const_cast<RunConfig&>(c)); };
  return k;
}

Key number_family(std::string section, Getter<std::map<std::string, double>> get, std::string doc,
                  std::function<std::vector<std::string>()> names, double min) {
  const std::string allowed = ">= " + format_number(min);
  Key k{section + ".<name>", "number", allowed, std::move(doc), {}, {}, std::move(names)};
  k.read = [get, min, allowed](const json& v, const std::string& name, RunConfig& c, const std::string& where) {
    MOELAB_CHECK(v.is_number(), where, ": expected a number, got ", v.dump());
    const double d = v.get<double>();
    MOELAB_CHECK(d >= min, where, ": ", v.dump(), " is out of range (expected ", allowed, ")");
    get(c)[name] = d;
  };
  k.write = [get](const RunConfig& c) -> json {
    json j = json::object();
    for (const auto& [name, v] : get(const_cast<RunConfig&>(c))) j[name] = v;
    return j;
  };
  return k;
}

}  // namespace moelab::train::schema
