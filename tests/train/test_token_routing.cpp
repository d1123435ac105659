// The "what experts learn" view: token classes, display text, and (token, expert) counts turned
// into top tokens, a class x expert table and mutual informations, on a hand-built routing.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>

#include "core/tensor.h"
#include "train/routing_metrics.h"
#include "train/token_routing.h"

namespace train = moelab::train;
using doctest::Approx;

namespace {
int cls(const char* name) {
  const auto& n = train::token_class_names();
  return static_cast<int>(std::find(n.begin(), n.end(), name) - n.begin());
}
}  // namespace

TEST_CASE("token classes: chars, BPE words with a leading space, bytes") {
  CHECK(train::token_class("e") == cls("letters"));
  CHECK(train::token_class(" the") == cls("letters"));
  CHECK(train::token_class("\xc3\xa9t\xc3\xa9") == cls("letters"));  // "été": non-ASCII letters
  CHECK(train::token_class("42") == cls("digits"));
  CHECK(train::token_class(" 42") == cls("digits"));
  CHECK(train::token_class(" ") == cls("space"));
  CHECK(train::token_class("   ") == cls("space"));
  CHECK(train::token_class("\n") == cls("newline"));
  CHECK(train::token_class(".\n\n") == cls("newline"));
  CHECK(train::token_class(",") == cls("punct"));
  CHECK(train::token_class(" (") == cls("punct"));
  CHECK(train::token_class("a1") == cls("other"));
  CHECK(train::token_class("\xe2") == cls("other"));  // one byte of a 3-byte character
  CHECK(train::token_class("") == cls("other"));
  CHECK(train::display_token("a\xe2z") == "a\\xE2z");
  CHECK(train::display_token("\xc3\xa9") == "\xc3\xa9");
}

TEST_CASE("token x expert counts: top tokens with shares, class split, mutual information") {
  // vocab: 0 "a", 1 "b", 2 " ", 3 "7"; two experts
  auto vocab = train::TokenVocabulary::from_texts({"a", "b", " ", "7"});
  train::RoutingWindow w(2, 0, vocab);
  moelab::nn::MoeStats s;
  s.tokens = 6;
  s.routed = {3, 3};
  s.kept = {3, 3};
  // ids a a b " " " " 7; a -> e0 twice, b -> e0, spaces -> e1, 7 -> e1
  moelab::IndexTensor ids = moelab::IndexTensor::empty({1, 6});
  const int32_t id_values[6] = {0, 0, 1, 2, 2, 3};
  std::copy(id_values, id_values + 6, ids.data());
  s.assigned_token = {0, 1, 2, 3, 4, 5};
  s.assigned_expert = {0, 0, 0, 1, 1, 1};
  w.add(s, {}, {}, &ids);
  w.add(s, {}, {});  // without ids: balance counts only, no token counts
  const nlohmann::json j = w.to_json({});
  CHECK(j["tokens"] == 12);
  const auto& top = j["top_tokens"];
  REQUIRE(top.size() == 2);
  CHECK(top[0][0] == nlohmann::json::array({"a", 2, 2}));  // most frequent in expert 0, all of "a"'s
  CHECK(top[0][1] == nlohmann::json::array({"b", 1, 1}));
  CHECK(top[0].size() == 2);                               // tokens never routed there are left out
  CHECK(top[1][0] == nlohmann::json::array({" ", 2, 2}));
  CHECK(top[1][1] == nlohmann::json::array({"7", 1, 1}));
  CHECK(j["class_expert"][cls("letters")] == nlohmann::json::array({3, 0}));
  CHECK(j["class_expert"][cls("space")] == nlohmann::json::array({0, 2}));
  CHECK(j["class_expert"][cls("digits")] == nlohmann::json::array({0, 1}));
  // the expert is a function of the token, and each expert has half the tokens: MI = H(expert) = ln 2
  CHECK(j["token_mi"].get<double>() == Approx(std::log(2.0)).epsilon(1e-12));
  CHECK(j["class_mi"].get<double>() == Approx(std::log(2.0)).epsilon(1e-12));

  // one token split evenly over both experts carries no information about the expert
  train::RoutingWindow even(2, 0, vocab);
  s.assigned_expert = {0, 1, 0, 1, 0, 1};
  moelab::IndexTensor same = moelab::IndexTensor::empty({1, 6});
  std::fill(same.data(), same.data() + 6, 0);
  even.add(s, {}, {}, &same);
  CHECK(even.to_json({})["token_mi"].get<double>() == Approx(0.0).epsilon(1e-12));
  even.reset();
  CHECK(even.to_json({})["top_tokens"][0].empty());
}
