// Routing-balance metrics on hand-built routings: exact values for a balanced and a collapsed one.
#include <doctest/doctest.h>

#include <cmath>

#include "train/routing_metrics.h"

namespace train = moelab::train;
using doctest::Approx;

TEST_CASE("balance metrics: perfectly balanced vs collapsed routing") {
  const std::vector<double> balanced = {10, 10, 10, 10}, collapsed = {40, 0, 0, 0};
  CHECK(train::coefficient_of_variation(balanced) == 0.0);
  CHECK(train::max_violation(balanced) == 0.0);
  CHECK(train::entropy(balanced) == Approx(std::log(4.0)).epsilon(1e-12));
  // collapsed: mean 10, population std sqrt((30^2 + 3 * 10^2) / 4) = sqrt(300)
  CHECK(train::coefficient_of_variation(collapsed) == Approx(std::sqrt(3.0)).epsilon(1e-12));
  CHECK(train::max_violation(collapsed) == Approx(3.0).epsilon(1e-12));
  CHECK(train::entropy(collapsed) == 0.0);
  CHECK(train::entropy({1, 1}) == Approx(std::log(2.0)));
  CHECK(train::coefficient_of_variation({0, 0}) == 0.0);  // no traffic: defined as 0, not NaN
}

TEST_CASE("mutual information between domain and expert") {
  CHECK(train::mutual_information({{10, 0}, {0, 10}}) == Approx(std::log(2.0)).epsilon(1e-12));  // each domain its own expert
  CHECK(train::mutual_information({{5, 5}, {5, 5}}) == Approx(0.0).epsilon(1e-12));             // independent
  // 3 domains, 2 experts, by hand: p(d,e) = n/20
  const std::vector<std::vector<double>> j = {{6, 2}, {2, 6}, {2, 2}};
  double mi = 0;
  const double pd[3] = {8 / 20.0, 8 / 20.0, 4 / 20.0}, pe[2] = {10 / 20.0, 10 / 20.0};
  for (int d = 0; d < 3; ++d)
    for (int e = 0; e < 2; ++e) mi += j[d][e] / 20.0 * std::log(j[d][e] / 20.0 / (pd[d] * pe[e]));
  CHECK(train::mutual_information(j) == Approx(mi).epsilon(1e-12));
}

TEST_CASE("routing window: counts over steps, drops, dead experts, domain matrix, aux means") {
  train::RoutingWindow w(4, 2);
  moelab::nn::MoeStats s;
  s.tokens = 4;
  s.routed = {3, 1, 0, 0};
  s.kept = {2, 1, 0, 0};  // one assignment dropped
  s.mean_prob = {0.5, 0.3, 0.1, 0.1};
  s.mean_token_entropy = 1.0;
  s.assigned_token = {0, 1, 2, 3};
  s.assigned_expert = {0, 0, 0, 1};
  w.add(s, {0, 0, 1, 1}, {{"switch", 0.02}});
  s.mean_token_entropy = 0.5;
  w.add(s, {1, 1, 1, 1}, {{"switch", 0.04}});
  nlohmann::json j = w.to_json({0.5f, -0.5f, 0.f, 0.f});
  CHECK(j["tokens"] == 8);
  CHECK(j["routed"] == std::vector<int64_t>{6, 2, 0, 0});
  CHECK(j["kept"] == std::vector<int64_t>{4, 2, 0, 0});
  CHECK(j["drop_frac"].get<double>() == Approx(2.0 / 8.0));
  CHECK(j["dead"] == 2);
  CHECK(j["load"][0].get<double>() == Approx(0.75));
  CHECK(j["maxvio"].get<double>() == Approx(6.0 / 2.0 - 1.0));
  CHECK(j["cv"].get<double>() == Approx(train::coefficient_of_variation({6, 2, 0, 0})));
  CHECK(j["entropy_token"].get<double>() == Approx(0.75));
  CHECK(j["prob"][0].get<double>() == Approx(0.5));
  CHECK(j["aux"]["switch"].get<double>() == Approx(0.03));
  CHECK(j["bias"][1].get<double>() == Approx(-0.5));
  // step 1: domains 0,0,1,1 -> experts 0,0,0,1; step 2: all domain 1 -> experts 0,0,0,1
  CHECK(j["domain_expert"] == std::vector<std::vector<int64_t>>{{2, 0, 0, 0}, {4, 2, 0, 0}});
  CHECK(j["domain_mi"].get<double>() == Approx(train::mutual_information({{2, 0, 0, 0}, {4, 2, 0, 0}})));
  w.reset();
  CHECK(w.empty());
}
