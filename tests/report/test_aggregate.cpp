// Seed statistics of the sweep's aggregate table (train/report/aggregate.h), on numbers worked by
// hand: mean, sample std, Student's t interval, Welch's resolved/not resolved, final metrics of a log.
#include <doctest/doctest.h>

#include <cmath>
#include <sstream>

#include "train/report/aggregate.h"

namespace train = moelab::train;
using doctest::Approx;

TEST_CASE("describe: mean, sample std and the 95% t interval") {
  const train::SeedStat s = train::describe({2.0, 2.2, 2.4});
  CHECK(s.n == 3);
  CHECK(s.mean == Approx(2.2));
  CHECK(s.std == Approx(0.2));  // sqrt(((-.2)^2 + 0 + .2^2) / 2)
  // t(0.975, 2) = 4.303: half width 4.303 * 0.2 / sqrt(3) = 0.49687
  CHECK(s.ci_low == Approx(2.2 - 0.49687).epsilon(1e-4));
  CHECK(s.ci_high == Approx(2.2 + 0.49687).epsilon(1e-4));
  const train::SeedStat one = train::describe({5.0});
  CHECK(one.mean == 5.0);
  CHECK(std::isnan(one.std));
  CHECK(train::t_quantile_975(1) == Approx(12.706));
  CHECK(train::t_quantile_975(10) == Approx(2.228));
  CHECK(train::t_quantile_975(1000) == Approx(1.962).epsilon(1e-3));
}

TEST_CASE("Welch: a difference is resolved only when its 95% interval excludes 0") {
  const auto a = train::describe({2.00, 2.01, 2.02}), b = train::describe({2.10, 2.11, 2.12});
  CHECK(train::difference_resolved(a, b));  // 0.1 apart, std 0.01 each
  const auto c = train::describe({2.00, 2.10, 2.20}), d = train::describe({2.05, 2.15, 2.25});
  CHECK_FALSE(train::difference_resolved(c, d));  // 0.05 apart, std 0.1 each
  CHECK_FALSE(train::difference_resolved(train::describe({1.0}), train::describe({2.0})));  // one seed: never
}

TEST_CASE("groups, final metrics of a log, the CSV and the table") {
  const std::string log =
      R"({"event": "start", "step": 0, "num_experts": 4, "moe_layers": [1, 3]})"
      "\n"
      R"({"step": 10, "loss": 2.5, "moe": {"h1": {"cv": 0.2, "maxvio": 0.5, "dead": 0, "drop_frac": 0},)"
      R"( "h3": {"cv": 0.4, "maxvio": 1.5, "dead": 1, "drop_frac": 0.1}}})"
      "\n"
      R"({"step": 10, "val_loss": 2.25, "train_loss": 2.2, "val_bpb": 3.25,)"
      R"( "moe": {"h1": {"token_mi": 0.5, "class_mi": 0.1}, "h3": {"token_mi": 0.7, "class_mi": 0.3}}})"
      "\n";
  std::ostringstream warn;
  const auto m = train::final_metrics(train::parse_run_log(log, "m.jsonl", warn));
  CHECK(m.at("val_loss") == 2.25);
  CHECK(m.at("val_bpb") == 3.25);
  CHECK(m.at("cv") == Approx(0.3));        // mean over the two MoE layers
  CHECK(m.at("max_mean") == Approx(2.0));  // maxvio 1.0 + 1
  CHECK(m.at("dead") == Approx(0.5));
  CHECK(m.at("token_mi") == Approx(0.6));  // the eval row's token view, mean over the layers
  CHECK(m.at("class_mi") == Approx(0.2));
  CHECK(m.count("domain_mi") == 0);  // not logged: left out
  const auto groups = train::aggregate_runs({{"a", "r1", {{"val_loss", 2.0}}},
                                             {"b", "r2", {{"val_loss", 2.5}}},
                                             {"a", "r3", {{"val_loss", 2.2}}},
                                             {"b", "r4", {{"val_loss", 2.5}}}});
  REQUIRE(groups.size() == 2);
  CHECK(groups[0].group == "a");
  CHECK(groups[0].runs == std::vector<std::string>{"r1", "r3"});
  CHECK(groups[0].metrics.at("val_loss").mean == Approx(2.1));
  const std::string csv = train::aggregate_csv(groups);
  CHECK(csv.find("a,val_loss,2,2.1,0.141421,") != std::string::npos);
  const std::string md = train::aggregate_markdown(groups);
  CHECK(md.find("| a | 2 | 2.1000 ± 0.1414 |") != std::string::npos);
  CHECK(md.find("best |") != std::string::npos);
  CHECK(md.find("| b | 2 | 2.5000 ± 0.0000 |") != std::string::npos);
}

TEST_CASE("final metrics of a lifelong stage: old_val_loss from the last eval row, forgetting = last - first") {
  const std::string log =
      R"({"event": "start", "step": 0, "num_experts": 0, "moe_layers": []})"
      "\n"
      R"({"step": 0, "val_loss": 3.0, "train_loss": 3.1, "old_val_loss": 1.5, "old_val_bpb": 2.1})"
      "\n"
      R"({"step": 5, "loss": 2.9})"
      "\n"
      R"({"step": 10, "val_loss": 2.5, "train_loss": 2.4, "old_val_loss": 1.625, "old_val_bpb": 2.3})"
      "\n"
      R"({"step": 20, "val_loss": 2.0, "train_loss": 2.1, "old_val_loss": 1.75, "old_val_bpb": 2.5})"
      "\n";
  std::ostringstream warn;
  const auto m = train::final_metrics(train::parse_run_log(log, "m.jsonl", warn));
  CHECK(warn.str().empty());
  CHECK(m.at("old_val_loss") == 1.75);
  CHECK(m.at("forgetting") == 0.25);  // 1.75 at the end - 1.5 at step 0
  CHECK(m.at("val_loss") == 2.0);
  // an ordinary run has neither; a null (NaN) old_val_loss at the start gives no forgetting
  const auto plain = train::final_metrics(train::parse_run_log(
      R"({"step": 10, "val_loss": 2.25, "train_loss": 2.2})"
      "\n",
      "p.jsonl", warn));
  CHECK(plain.count("old_val_loss") == 0);
  CHECK(plain.count("forgetting") == 0);
  const auto nan_start = train::final_metrics(train::parse_run_log(
      R"({"step": 0, "val_loss": 3.0, "old_val_loss": null})"
      "\n"
      R"({"step": 10, "val_loss": 2.0, "old_val_loss": 1.75})"
      "\n",
      "n.jsonl", warn));
  CHECK(nan_start.at("old_val_loss") == 1.75);
  CHECK(nan_start.count("forgetting") == 0);
}

TEST_CASE("paired by seed: a small difference every seed agrees on is resolved where Welch's test is not") {
  // a and b differ by about 0.02 on every seed, while the seeds spread each group by 0.1
  const auto groups = train::aggregate_runs({{"a", "a1", {{"val_loss", 2.000}}, "1"},
                                             {"a", "a2", {{"val_loss", 2.100}}, "2"},
                                             {"a", "a3", {{"val_loss", 2.200}}, "3"},
                                             {"b", "b1", {{"val_loss", 2.021}}, "1"},
                                             {"b", "b2", {{"val_loss", 2.119}}, "2"},
                                             {"b", "b3", {{"val_loss", 2.222}}, "3"}});
  REQUIRE(groups.size() == 2);
  CHECK_FALSE(train::difference_resolved(groups[1].metrics.at("val_loss"), groups[0].metrics.at("val_loss")));
  bool resolved = false;
  // differences 0.021, 0.019, 0.022: mean 0.0207, sd 0.00153, t(2) 4.303 * 0.00153 / sqrt(3) = 0.0038
  CHECK(train::paired_val_difference(groups[1], groups[0], &resolved) == 3);
  CHECK(resolved);
  CHECK(train::versus_best(groups[1], train::best_group(groups)) == "worse (resolved, paired by seed)");
  // seeds that do not match: no pairs, Welch's verdict
  const auto other = train::aggregate_runs({{"a", "a1", {{"val_loss", 2.0}}, "1"},
                                            {"a", "a2", {{"val_loss", 2.1}}, "2"},
                                            {"b", "b7", {{"val_loss", 2.02}}, "7"},
                                            {"b", "b8", {{"val_loss", 2.12}}, "8"}});
  CHECK(train::paired_val_difference(other[1], other[0], &resolved) == 0);
  CHECK(train::versus_best(other[1], train::best_group(other)) == "not resolved");
}
