// `moelab report`: the HTML has one heatmap per (run, MoE layer) and one curve per run, the
// summary shows the fixture's final values, bad lines are skipped with their line numbers, the
// CSV tables read back, and the page loads nothing from outside.
#include <doctest/doctest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <cmath>

#include "core/error.h"
#include "train/report/report.h"
#include "train/report/report_html.h"
#include "test_data.h"
#include "train/report/seed_groups.h"
#include "train/report/svg.h"

namespace fs = std::filesystem;
namespace train = moelab::train;
using doctest::Contains;
using nlohmann::json;

namespace {

using moelab::testing::TempDir;

std::string read_text(const fs::path& p) {
  std::ifstream in(p);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + what.size())) ++n;
  return n;
}

// The whole <svg>...</svg> element that contains `marker`.
std::string svg_containing(const std::string& html, const std::string& marker) {
  const size_t at = html.find(marker);
  REQUIRE(at != std::string::npos);
  const size_t begin = html.rfind("<svg", at), end = html.find("</svg>", at);
  return html.substr(begin, end + 6 - begin);
}

// The <tr ...> row that starts with `marker`.
std::string table_row(const std::string& html, const std::string& marker) {
  const size_t at = html.find(marker);
  REQUIRE(at != std::string::npos);
  return html.substr(at, html.find("</tr>", at) - at);
}

const std::vector<std::string> kDomains = {"code", "prose", "math"};

// One layer's routing window with E = 4 experts and 3 domains; `cv` and `mi` are what the
// summary must show (the other values are consistent enough not to matter).
json layer(double cv, double mi, double drop_frac, int scale) {
  json routed = {4 * scale, 3 * scale, 2 * scale, 1 * scale};
  double total = 10.0 * scale;
  json load = json::array();
  for (int r : routed) load.push_back(r / total);
  return {{"tokens", 5 * scale},
          {"routed", routed},
          {"kept", routed},
          {"load", load},
          {"prob", {0.4, 0.3, 0.2, 0.1}},
          {"drop_frac", drop_frac},
          {"cv", cv},
          {"maxvio", 0.6},
          {"dead", 0},
          {"entropy_token", 1.1},
          {"entropy_prob", 1.28},
          {"entropy_load", 1.2799},
          {"aux", {{"switch", 0.011}}},
          {"domain_expert", {{2 * scale, scale, scale, 0}, {scale, scale, 0, scale}, {scale, scale, scale, 0}}},
          {"domain_mi", mi}};
}

json start_row(const std::vector<int>& layers) {
  return {{"event", "start"},
          {"step", 0},
          {"moelab_version", "0.1.0"},
          {"num_experts", layers.empty() ? 0 : 4},
          {"top_k", 2},
          {"router", "topk"},
          {"moe_layers", layers},
          {"domains", kDomains},
          {"config", json::object()}};
}

// Training rows at steps 10, 20, 30 and eval rows at 0 and 30, MoE layers 1 and 3. The final
// values differ per run and layer so the summary can be checked cell by cell.
std::vector<json> moe_run(double final_cv_h1, double final_cv_h3, double final_val) {
  std::vector<json> rows = {start_row({1, 3})};
  rows.push_back({{"step", 0},
                  {"val_loss", 4.1},
                  {"train_loss", 4.0},
                  {"moe", {{"h1", layer(0.9, 0.5, 0.25, 1)}, {"h3", layer(0.9, 0.5, 0.25, 1)}}}});
  for (int step : {10, 20, 30}) {
    const bool last = step == 30;
    json row = {{"step", step},        {"loss", 4.0 - step / 20.0}, {"lr", 1e-3},
                {"grad_norm", 0.7},    {"tokens_per_s", 1000},      {"total_loss", 4.25 - step / 20.0},
                {"aux.switch", 0.022}, {"aux.switch.h1", 0.011},    {"aux.switch.h3", 0.011}};
    // The training windows' domain MI (0.9999) must not be the one shown: the eval row's wins.
    row["moe"] = {{"h1", layer(last ? final_cv_h1 : 0.8, 0.9999, last ? 0.125 : 0.3, step)},
                  {"h3", layer(last ? final_cv_h3 : 0.8, 0.9999, last ? 0.0 : 0.3, step)}};
    rows.push_back(row);
  }
  rows.push_back({{"step", 30},
                  {"val_loss", final_val},
                  {"train_loss", 2.4},
                  {"moe", {{"h1", layer(0.2, 0.0312, 0, 7)}, {"h3", layer(0.2, 0.0456, 0, 7)}}}});
  return rows;
}

fs::path write_run(const fs::path& root, const std::string& name, const std::vector<json>& rows,
                   const std::string& extra_text = "") {
  const fs::path dir = root / name;
  fs::create_directories(dir);
  std::ofstream out(dir / "metrics.jsonl");
  for (const json& r : rows) out << r.dump() << "\n";
  out << extra_text;
  return dir;
}

// Minimal RFC 4180 reader: enough to check that quoted names and empty cells read back.
std::vector<std::vector<std::string>> read_csv(const fs::path& p) {
  const std::string text = read_text(p);
  std::vector<std::vector<std::string>> rows(1);
  std::string cell;
  bool quoted = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (quoted) {
      if (c == '"' && i + 1 < text.size() && text[i + 1] == '"')
        cell += text[++i];
      else if (c == '"')
        quoted = false;
      else
        cell += c;
    } else if (c == '"') {
      quoted = true;
    } else if (c == ',') {
      rows.back().push_back(cell);
      cell.clear();
    } else if (c == '\n') {
      rows.back().push_back(cell);
      cell.clear();
      rows.emplace_back();
    } else {
      cell += c;
    }
  }
  rows.pop_back();  // after the final newline
  return rows;
}

struct Fixture {
  TempDir tmp;
  fs::path alpha, beta, dense;
  Fixture() {
    alpha = write_run(tmp.path, "alpha", moe_run(0.3467, 0.2222, 2.34567));
    beta = write_run(tmp.path, "beta", moe_run(0.1234, 0.0877, 2.5));
    std::vector<json> dense_rows = {start_row({})};
    for (int step : {10, 20})
      dense_rows.push_back({{"step", step}, {"loss", 3.5}, {"lr", 1e-3}, {"grad_norm", 1}, {"tokens_per_s", 900}});
    dense_rows.push_back({{"step", 20}, {"val_loss", 3.6}, {"train_loss", 3.4}});
    dense = write_run(tmp.path, "dense, \"v2\"", dense_rows);  // a comma and quotes: CSV must quote it
  }
};

}  // namespace

TEST_CASE("report: one heatmap per (run, MoE layer), one loss curve per run, self-contained") {
  Fixture fx;
  std::ostringstream log;
  train::ReportOptions opts;
  opts.runs = {fx.alpha.string(), fx.beta.string(), fx.dense.string()};
  opts.out = (fx.tmp.path / "out" / "report.html").string();
  train::ReportResult res = train::write_report(opts, log);
  CHECK(res.skipped_lines == 0);
  CHECK(log.str().empty());
  const std::string html = read_text(opts.out);

  CHECK(count(html, "class=\"heatmap\"") == 4);  // 2 MoE runs x 2 layers; the dense run has none
  for (const char* run : {"alpha", "beta"})
    for (const char* l : {"1", "3"}) {
      CAPTURE(run);
      CAPTURE(l);
      CHECK(count(html, std::string("class=\"heatmap\" data-run=\"") + run + "\" data-layer=\"" + l + "\"") == 1);
    }
  CHECK(count(html, "class=\"heatmap\" data-run=\"dense") == 0);

  const std::string loss = svg_containing(html, "data-chart=\"loss\"");
  CHECK(count(loss, "<path data-run=") == 6);  // a train curve and a val curve per run
  for (const char* run : {"alpha", "beta", "dense, &quot;v2&quot;"}) {
    CAPTURE(run);
    CHECK(count(loss, std::string("data-run=\"") + run + "\" data-series=\"train\"") == 1);
    CHECK(count(loss, std::string("data-run=\"") + run + "\" data-series=\"val\"") == 1);
  }
  // Routing charts overlay only the MoE runs, with a legend and a title.
  const std::string cv = svg_containing(html, "data-chart=\"cv\" data-layer=\"3\"");
  CHECK(count(cv, "data-series=\"train\"") == 2);
  CHECK(count(cv, "class=\"legend\"") == 1);
  CHECK(cv.find("class=\"title\"") != std::string::npos);
  CHECK(cv.find("dense") == std::string::npos);
  for (const char* metric : {"maxvio", "drop_frac", "entropy_load", "entropy_token"})
    CHECK(html.find(std::string("data-chart=\"") + metric + "\" data-layer=\"1\"") != std::string::npos);
  CHECK(html.find("data-chart=\"aux.switch\"") != std::string::npos);
  CHECK(count(html, "class=\"bars\"") == 2);  // final loads, one chart per layer
  // The domain x expert matrix: domain names on the y axis and the eval row's MI in the title.
  const std::string dm = svg_containing(html, "class=\"domain-matrix\" data-run=\"alpha\" data-layer=\"3\"");
  for (const auto& d : kDomains) CHECK(dm.find(">" + d + "</text>") != std::string::npos);
  CHECK(dm.find("I(domain; expert) = 0.0456 nats") != std::string::npos);
  CHECK(html.find("no MoE layers") != std::string::npos);

  for (const char* external : {"http://", "https://", "<script src", "<link", "@import", "url("}) {
    CAPTURE(external);
    CHECK(html.find(external) == std::string::npos);
  }
  CHECK_FALSE(fs::exists(opts.out + ".tmp." + std::to_string(::getpid())));
}

TEST_CASE("report: a distributed run's rows per process are drawn as each process's share, other runs have none") {
  Fixture fx;
  std::vector<json> rows = moe_run(0.3, 0.2, 2.4);
  rows[4]["moe"]["h3"]["recv_per_rank"] = {30, 10};  // the last training window, layer 3 only: 2 processes
  rows[4]["dist"] = {{"processes", 2}, {"expert_parallel", 2}, {"alltoall_mb", 0.5}};
  const fs::path ep = write_run(fx.tmp.path, "ep2", rows);
  std::ostringstream log;
  train::ReportOptions opts;
  opts.runs = {fx.alpha.string(), ep.string()};
  opts.out = (fx.tmp.path / "dist.html").string();
  train::ReportResult res = train::write_report(opts, log);
  CHECK(res.skipped_lines == 0);
  const std::string html = read_text(opts.out);
  CHECK(count(html, "data-chart=\"rank-load\"") == 1);  // layer 3 only; alpha has no per-process rows
  const std::string bars = svg_containing(html, "data-chart=\"rank-load\" data-layer=\"3\"");
  CHECK(count(bars, "<rect") >= 2);
  CHECK(bars.find("ep2, 0: 0.75</title>") != std::string::npos);
  CHECK(bars.find("ep2, 1: 0.25</title>") != std::string::npos);
  CHECK(bars.find("alpha,") == std::string::npos);
}

TEST_CASE("report: the summary table shows each run's final values") {
  Fixture fx;
  std::ostringstream log;
  train::ReportOptions opts{
      {fx.alpha.string(), fx.beta.string(), fx.dense.string()}, (fx.tmp.path / "r.html").string(), ""};
  train::write_report(opts, log);
  const std::string html = read_text(opts.out);
  const std::string a1 = table_row(html, "<tr data-run=\"alpha\" data-layer=\"1\">");
  CHECK(a1.find(">2.3457<") != std::string::npos);  // final val loss
  CHECK(a1.find(">2.5000<") != std::string::npos);  // final training loss: 4 - 30/20
  CHECK(a1.find("<td class=\"cv\">0.347</td>") != std::string::npos);
  CHECK(a1.find(">12.5%<") != std::string::npos);   // drop_frac 0.125
  CHECK(a1.find(">0.600<") != std::string::npos);   // maxvio
  CHECK(a1.find(">0 / 4<") != std::string::npos);   // dead experts
  CHECK(a1.find(">1.280<") != std::string::npos);   // entropy_load
  CHECK(a1.find(">0.0312<") != std::string::npos);  // domain MI from the last eval row
  CHECK(a1.find("0.9999") == std::string::npos);    // ... not from the training rows
  const std::string a3 = table_row(html, "<tr data-run=\"alpha\" data-layer=\"3\">");
  CHECK(a3.find("<td class=\"cv\">0.222</td>") != std::string::npos);
  CHECK(a3.find(">0.0%<") != std::string::npos);
  CHECK(a3.find(">0.0456<") != std::string::npos);
  CHECK(table_row(html, "<tr data-run=\"beta\" data-layer=\"1\">").find("<td class=\"cv\">0.123</td>") !=
        std::string::npos);
  CHECK(table_row(html, "<tr data-run=\"beta\" data-layer=\"3\">").find("<td class=\"cv\">0.088</td>") !=
        std::string::npos);
  const std::string d = table_row(html, "<tr data-run=\"dense, &quot;v2&quot;\">");
  CHECK(d.find(">3.6000<") != std::string::npos);
  CHECK(d.find("no MoE layers") != std::string::npos);
}

TEST_CASE("report: corrupt and truncated lines are skipped with their line numbers, the rest still renders") {
  TempDir tmp;
  std::vector<json> rows = moe_run(0.3467, 0.2222, 2.34567);
  // Lines: 1 start, 2 eval@0, 3 train@10, 4 garbage, 5 bad step, 6 train@20, 7 train@30, 8 eval@30, 9 truncated.
  std::ostringstream text;
  for (size_t i = 0; i < rows.size(); ++i) {
    text << rows[i].dump() << "\n";
    if (i == 2)
      text << "{\"step\": 15, \"loss\": 3.2,, }\n"
           << R"({"step": "twenty", "loss": 3.0})"
           << "\n";
  }
  const std::string truncated = R"({"step": 40, "loss": 2.1, "moe": {"h1": {"cv")";
  const fs::path dir = write_run(tmp.path, "crashed", {}, text.str() + truncated);
  std::ostringstream log;
  train::ReportOptions opts{{dir.string()}, (tmp.path / "report.html").string(), (tmp.path / "csv").string()};
  train::ReportResult res = train::write_report(opts, log);

  const std::string file = (dir / "metrics.jsonl").string();
  const std::string warnings = log.str();
  CAPTURE(warnings);
  CHECK(res.skipped_lines == 3);
  CHECK(count(warnings, "warning: ") == 3);
  CHECK(warnings.find(file + ":4: invalid JSON at column 26") != std::string::npos);
  CHECK(warnings.find(file + ":5: \"step\" is a string") != std::string::npos);
  CHECK(warnings.find(file + ":9: truncated last line") != std::string::npos);
  CHECK(warnings.find(":3:") == std::string::npos);

  const std::string html = read_text(opts.out);
  CHECK(count(html, "class=\"heatmap\"") == 2);
  CHECK(html.find("<td class=\"cv\">0.347</td>") != std::string::npos);  // step 30 survived
  CHECK(html.find(":9: truncated last line") != std::string::npos);      // shown on the page too
  const std::string loss = svg_containing(html, "data-chart=\"loss\"");
  const std::string train_curve = loss.substr(loss.find("data-series=\"train\""));
  CHECK(count(train_curve.substr(0, train_curve.find("/>")), "L") == 2);  // 3 points: steps 10, 20, 30
  CHECK(read_csv(tmp.path / "csv" / "train.csv").size() == 1 + 3);
}

TEST_CASE("report: a domain x expert matrix that is not a rectangle skips its line (found by fuzz_metrics)") {
  // Without per-expert arrays, row 0 sets the width; with them, they do.
  const std::string text = R"({"step": 10, "loss": 3.0, "moe": {"h1": {"domain_expert": [[1, 2], [3]]}}})" "\n"
                           R"({"step": 20, "loss": 2.9, "moe": {"h1": {"load": [0.5, 0.5], "domain_expert": [[1, 2, 3]]}}})" "\n"
                           R"({"step": 30, "loss": 2.8, "moe": {"h1": {"domain_expert": [[1, 2], [3, 4]]}}})" "\n";
  std::ostringstream warn;
  const train::RunLog log = train::parse_run_log(text, "m.jsonl", warn);
  CAPTURE(warn.str());
  REQUIRE(log.warnings.size() == 2);
  CHECK(log.warnings[0] == "m.jsonl:1: moe.h1.domain_expert[1] has 1 entries but moe.h1.domain_expert[0] has 2; line skipped");
  CHECK(log.warnings[1] == "m.jsonl:2: moe.h1.domain_expert[0] has 3 entries but moe.h1.load has 2; line skipped");
  REQUIRE(log.train.size() == 1);
  CHECK(log.train[0].moe.at(1).domain_expert.size() == 2);
  const std::string html = train::render_report_html({log});
  CHECK(html.find("data-layer=\"1\"") != std::string::npos);
}

TEST_CASE("report: CSV tables read back with the expected rows and values") {
  Fixture fx;
  std::ostringstream log;
  train::ReportOptions opts{{fx.alpha.string(), fx.beta.string(), fx.dense.string()},
                            (fx.tmp.path / "r.html").string(),
                            (fx.tmp.path / "tables").string()};
  train::ReportResult res = train::write_report(opts, log);
  CHECK(res.csv_files.size() == 4);

  const auto tr = read_csv(fx.tmp.path / "tables" / "train.csv");
  REQUIRE(tr.size() == 1 + 3 + 3 + 2);
  CHECK(tr[0] == std::vector<std::string>{"run", "step", "loss", "lr", "grad_norm", "tokens_per_s", "total_loss",
                                          "aux.switch", "aux.switch.h1", "aux.switch.h3"});
  CHECK(tr[3] ==
        std::vector<std::string>{"alpha", "30", "2.5", "0.001", "0.7", "1000", "2.75", "0.022", "0.011", "0.011"});
  CHECK(tr[7][0] == "dense, \"v2\"");  // quoted in the file, read back intact
  CHECK(tr[7][6].empty());             // dense: no total_loss
  for (const auto& row : tr) CHECK(row.size() == tr[0].size());

  const auto ev = read_csv(fx.tmp.path / "tables" / "eval.csv");
  REQUIRE(ev.size() == 1 + 2 + 2 + 1);
  CHECK(ev[0] == std::vector<std::string>{"run", "step", "val_loss", "train_loss", "val_bpb", "train_bpb"});
  CHECK(ev[2] == std::vector<std::string>{"alpha", "30", "2.34567", "2.4", "", ""});  // a log from before bpb

  // Per layer-window: 10 scalars (tokens, drop_frac, cv, maxvio, dead, 3 entropies, domain_mi,
  // aux.switch) + 4 per-expert arrays x 4 experts; 5 windows x 2 layers x 2 MoE runs.
  const auto ro = read_csv(fx.tmp.path / "tables" / "routing.csv");
  REQUIRE(ro.size() == 1 + 20 * (10 + 16));
  CHECK(ro[0] == std::vector<std::string>{"run", "split", "step", "layer", "metric", "expert", "value"});
  auto has = [&](const std::vector<std::string>& want) { return std::find(ro.begin(), ro.end(), want) != ro.end(); };
  CHECK(has({"alpha", "train", "30", "1", "cv", "", "0.3467"}));
  CHECK(has({"beta", "train", "30", "3", "cv", "", "0.0877"}));
  CHECK(has({"alpha", "eval", "30", "3", "domain_mi", "", "0.0456"}));
  CHECK(has({"alpha", "train", "20", "1", "routed", "2", "40"}));  // 2 x scale 20
  CHECK(has({"beta", "train", "10", "3", "load", "0", "0.4"}));
  CHECK(has({"alpha", "train", "10", "1", "aux.switch", "", "0.011"}));

  const auto de = read_csv(fx.tmp.path / "tables" / "domain_expert.csv");
  REQUIRE(de.size() == 1 + 20 * 3 * 4);
  CHECK(de[0] == std::vector<std::string>{"run", "split", "step", "layer", "domain", "expert", "count"});
  CHECK(std::find(de.begin(), de.end(), std::vector<std::string>{"beta", "eval", "30", "3", "code", "0", "14"}) !=
        de.end());
  CHECK(std::find(de.begin(), de.end(), std::vector<std::string>{"alpha", "train", "20", "1", "math", "3", "0"}) !=
        de.end());
}

TEST_CASE("report: a run folder without metrics.jsonl is an error naming the path, and nothing is written") {
  Fixture fx;
  const fs::path empty = fx.tmp.path / "not_a_run";
  fs::create_directories(empty);
  const fs::path out = fx.tmp.path / "report.html";
  { std::ofstream(out) << "previous report"; }
  std::ostringstream log;
  train::ReportOptions opts{{fx.alpha.string(), empty.string()}, out.string(), (fx.tmp.path / "csv").string()};
  const std::string no_file = (empty / "metrics.jsonl").string() + ": no such file";
  CHECK_THROWS_WITH_AS(train::write_report(opts, log), Contains(no_file.c_str()), moelab::Error);
  opts.runs = {(fx.tmp.path / "missing").string()};
  const std::string missing = (fx.tmp.path / "missing").string() + ": not a run folder";
  CHECK_THROWS_WITH_AS(train::write_report(opts, log), Contains(missing.c_str()), moelab::Error);
  CHECK(read_text(out) == "previous report");
  CHECK_FALSE(fs::exists(fx.tmp.path / "csv"));
}

TEST_CASE("report: a resume drops the interrupted attempt's rows; same-named folders get distinct names") {
  TempDir tmp;
  std::vector<json> rows = moe_run(0.3467, 0.2222, 2.34567);
  json resume = start_row({1, 3});
  resume["step"] = 20;  // restarted from the step-20 checkpoint: the first attempt's step-30 rows are superseded
  rows.push_back(resume);
  json again = rows[4];  // the step-30 training row, logged again with another cv
  again["moe"]["h1"]["cv"] = 0.5555;
  rows.push_back(again);
  fs::create_directories(tmp.path / "x");
  fs::create_directories(tmp.path / "y");
  const fs::path a = write_run(tmp.path / "x", "seed1", rows);
  const fs::path b = write_run(tmp.path / "y", "seed1", moe_run(0.1, 0.1, 3.0));
  std::ostringstream log;
  std::vector<train::RunLog> runs = train::read_runs({a.string() + "/", b.string()}, log);
  REQUIRE(runs.size() == 2);
  CHECK(runs[0].name == "seed1");
  CHECK(runs[1].name == "seed1-2");
  REQUIRE(runs[0].train.size() == 3);
  CHECK(runs[0].train.back().moe.at(1).scalar("cv") == doctest::Approx(0.5555));
  CHECK(runs[0].eval.size() == 1);  // eval at 0 stays; eval at 30 was from the first attempt
  CHECK(runs[0].moe_layers == std::vector<int>{1, 3});
  CHECK(runs[0].num_experts(1) == 4);
}

TEST_CASE("report: a dense-only report has loss curves and says there are no MoE layers") {
  Fixture fx;
  std::ostringstream log;
  train::ReportOptions opts{{fx.dense.string()}, (fx.tmp.path / "dense.html").string(), ""};
  train::write_report(opts, log);
  const std::string html = read_text(opts.out);
  CHECK(count(html, "class=\"heatmap\"") == 0);
  CHECK(count(svg_containing(html, "data-chart=\"loss\""), "data-series=\"train\"") == 1);
  CHECK(html.find("No MoE layers: this run is dense") != std::string::npos);
}

TEST_CASE("svg: nice ticks, tick labels and escaping") {
  namespace svg = moelab::train::svg;
  const svg::Axis a = svg::nice_axis(0.13, 0.92, 5);
  CHECK(a.lo == doctest::Approx(0.0));
  CHECK(a.hi == doctest::Approx(1.0));
  CHECK(a.ticks.size() == 6);
  CHECK(svg::tick_label(a.ticks[3], a.step) == "0.6");
  const svg::Axis steps = svg::ticks_within(10, 600, 5);
  CHECK(steps.lo == 10);
  CHECK(steps.ticks.front() == doctest::Approx(100));
  CHECK(svg::tick_label(20000, 5000) == "20k");
  CHECK(svg::tick_label(1500, 500) == "1500");
  CHECK(svg::tick_label(0.05, 0.05) == "0.05");
  CHECK(svg::tick_label(2e-4, 1e-4) == "0.0002");
  CHECK(svg::escape("a<b & \"c\"") == "a&lt;b &amp; &quot;c&quot;");
  CHECK(svg::heat_colour(0) == "#440154");
  CHECK(svg::heat_colour(1) == "#fde725");
}

// ---- runs that differ only by seed ----

namespace {

// A run of the sweep layout OUT/<point>/seed<S>: one model setting `x`, final val loss `val`.
fs::path seed_run(const fs::path& root, const std::string& point, int seed, int x, double val) {
  std::vector<json> rows = moe_run(0.3, 0.2, val);
  rows[0]["config"] = {{"model", {{"x", x}}}, {"train", {{"seed", seed}, {"out_dir", point + "/" + std::to_string(seed)}}}};
  return write_run(root / point, "seed" + std::to_string(seed), rows);
}

}  // namespace

TEST_CASE("report: runs that differ only by seed form groups: mean ± std, interval, resolved or not, bands") {
  TempDir tmp;
  std::vector<std::string> dirs;
  for (int s = 1; s <= 3; ++s) dirs.push_back(seed_run(tmp.path, "A", s, 1, 2.0 + 0.2 * (s - 1)).string());
  dirs.push_back(seed_run(tmp.path, "B-0123abcd", 1, 2, 3.0).string());  // a sweep point's hash is dropped
  dirs.push_back(seed_run(tmp.path, "B-0123abcd", 2, 2, 3.1).string());
  dirs.push_back(seed_run(tmp.path, "C", 1, 1, 2.5).string());  // A's config and seed again: another experiment

  std::ostringstream log;
  const std::vector<train::RunLog> runs = train::read_runs(dirs, log);
  const std::vector<train::SeedGroup> groups = train::group_by_seed(runs, dirs);
  REQUIRE(groups.size() == 3);
  CHECK(groups[0].name == "A");
  CHECK(groups[0].runs == std::vector<size_t>{0, 1, 2});
  CHECK(groups[1].name == "B");
  CHECK(groups[1].runs == std::vector<size_t>{3, 4});
  CHECK(groups[2].runs == std::vector<size_t>{5});

  train::ReportOptions opts;
  opts.runs = dirs;
  opts.out = (tmp.path / "r.html").string();
  train::write_report(opts, log);
  const std::string html = read_text(opts.out);
  CHECK(count(html, "Summary by group") == 1);
  // A: 2.0, 2.2, 2.4 -> mean 2.2, sample std 0.2, t(0.975, 2) 4.303 * 0.2 / sqrt(3) = 0.4969
  const std::string a = table_row(html, "<tr data-group=\"A\"");
  CHECK(a.find("2.2000 &plusmn; 0.2000") != std::string::npos);
  CHECK(a.find("1.7031 &ndash; 2.6969") != std::string::npos);
  CHECK(a.find(">best<") != std::string::npos);
  // B: 3.0, 3.1 -> 3.05 ± 0.0707; paired with A on seeds 1 and 2: differences 1.0 and 0.9, mean 0.95 >
  // t(1) 12.706 * 0.0707 / sqrt(2) = 0.635
  const std::string b = table_row(html, "<tr data-group=\"B\"");
  CHECK(b.find("3.0500 &plusmn; 0.0707") != std::string::npos);
  CHECK(b.find(">worse (resolved, paired by seed)<") != std::string::npos);
  // C: one seed, 2.5, nothing resolved
  const std::string c = table_row(html, "<tr data-group=\"" + groups[2].name + "\"");
  CHECK(c.find("2.5000") != std::string::npos);
  CHECK(c.find("&plusmn;") == std::string::npos);
  CHECK(c.find(">n/a (1 seed)<") != std::string::npos);
  // the loss chart: one line per group, bands only for groups of several seeds
  const std::string loss = svg_containing(html, "data-chart=\"loss\"");
  CHECK(count(loss, "<path data-run=\"A\" data-series=\"train\"") == 1);
  CHECK(count(loss, "class=\"band\" data-run=\"A\" data-series=\"train\"") == 1);
  CHECK(count(loss, "class=\"band\" data-run=\"B\" data-series=\"val\"") == 1);
  CHECK(count(loss, "class=\"band\" data-run=\"" + groups[2].name + "\"") == 0);
  CHECK(count(loss, "A (3 seeds)") == 1);
  // a group's runs are named GROUP/FOLDER in the per-run views
  CHECK(count(html, "data-run=\"A/seed1\"") > 0);

  opts.group_seeds = false;  // --no-groups
  train::write_report(opts, log);
  const std::string flat = read_text(opts.out);
  CHECK(count(flat, "Summary by group") == 0);
  CHECK(count(flat, "class=\"band\"") == 0);
  CHECK(count(svg_containing(flat, "data-chart=\"loss\""), "<path data-run=") == 12);  // 6 runs x (train, val)
}

TEST_CASE("mean band: per step the members' mean, min and max, only where every member has a value") {
  std::vector<train::MetricsRow> one(2), two(3);
  one[0].step = 10, one[0].values["loss"] = 1;
  one[1].step = 20, one[1].values["loss"] = 3;
  two[0].step = 10, two[0].values["loss"] = 2;
  two[1].step = 20, two[1].values["loss"] = NAN;
  two[2].step = 30, two[2].values["loss"] = 5;
  const train::MeanBand b = train::mean_band({&one, &two}, [](const train::MetricsRow& r) { return r.value("loss"); });
  CHECK(b.x == std::vector<double>{10, 20, 30});
  CHECK(b.mean[0] == 1.5);
  CHECK(b.lo[0] == 1);
  CHECK(b.hi[0] == 2);
  for (size_t i : {1, 2}) {  // step 20: one member diverged (NaN); step 30: one member not there
    CHECK(std::isnan(b.mean[i]));
    CHECK(std::isnan(b.lo[i]));
    CHECK(std::isnan(b.hi[i]));
  }
}

TEST_CASE("svg: a band is one polygon per stretch without gaps, upper edge forward, lower edge back") {
  train::svg::LineChart c;
  c.width = 400;
  c.height = 300;
  train::svg::Series s{"g", "train", "#123456", {0, 1, 2, 3, 4}, {1, 1, 1, 1, 1}, false, false, true, {}, {}};
  s.band_lo = {0, 0, NAN, 0, 0};
  s.band_hi = {2, 2, 2, 2, 4};  // the top of the y axis comes from the band
  c.series.push_back(s);
  const std::string svg = train::svg::line_chart(c);
  CHECK(count(svg, "class=\"band\" data-run=\"g\"") == 2);  // x 0-1 and x 3-4
  CHECK(count(svg, "fill=\"#123456\" fill-opacity") == 2);
  CHECK(svg.find(">4</text>") != std::string::npos);  // a y tick at the band's top
  // a band polygon has 2 points per x: M + 3 L for a stretch of two x values, then Z
  const size_t at = svg.find("class=\"band\"");
  const std::string d = svg.substr(svg.find(" d=\"", at) + 4, svg.find("Z\"", at) - svg.find(" d=\"", at) - 4);
  CHECK(count(d, "M") == 1);
  CHECK(count(d, "L") == 3);
}

TEST_CASE("report: lifelong stages get a forgetting chart, and the summary's forgetting per group") {
  TempDir tmp;
  std::vector<std::string> dirs;
  for (int seed : {1, 2}) {
    std::vector<json> rows = moe_run(0.3, 0.2, 2.0 + seed / 10.0);
    rows[0]["config"] = {{"train", {{"seed", seed}}}};
    rows[1]["old_val_loss"] = 2.0;                        // step 0: the model as the stage received it
    rows.back()["old_val_loss"] = 2.0 + 0.2 * seed;       // forgetting 0.2 and 0.4
    dirs.push_back(write_run(tmp.path / "kl", "seed" + std::to_string(seed), rows).string());
  }
  std::ostringstream log;
  train::ReportOptions opts;
  opts.runs = dirs;
  opts.out = (tmp.path / "r.html").string();
  train::write_report(opts, log);
  const std::string html = read_text(opts.out);
  CHECK(table_row(html, "<tr data-group=\"kl\"").find("+0.3000 &plusmn; 0.1414") != std::string::npos);
  const std::string chart = svg_containing(html, "data-chart=\"forgetting\"");
  CHECK(count(chart, "class=\"scatter\" data-run=\"kl\"") == 1);
  const size_t dots = chart.find("<g class=\"markers\"");
  REQUIRE(dots != std::string::npos);
  CHECK(count(chart.substr(dots, chart.find("</g>", dots) - dots), "<circle") == 2);  // one dot per run
  CHECK(count(chart, "<path data-run=") == 0);  // dots, no line
  CHECK(count(html, "data-chart=\"old_val_loss\"") == 1);
}

TEST_CASE("seed groups: names stay unique even against run names such as x-2") {
  TempDir tmp;
  auto run = [&](const fs::path& dir, int x, int seed) {
    std::vector<json> rows = moe_run(0.3, 0.2, 2.5);
    rows[0]["config"] = {{"model", {{"x", x}}}, {"train", {{"seed", seed}}}};
    fs::create_directories(dir.parent_path());
    return write_run(dir.parent_path(), dir.filename().string(), rows).string();
  };
  const std::vector<std::string> dirs = {run(tmp.path / "p" / "x", 1, 1), run(tmp.path / "q" / "x", 2, 1),
                                         run(tmp.path / "x" / "seed1", 3, 1), run(tmp.path / "x" / "seed2", 3, 2)};
  std::ostringstream log;
  const auto runs = train::read_runs(dirs, log);
  const auto groups = train::group_by_seed(runs, dirs);
  REQUIRE(groups.size() == 3);
  std::set<std::string> names;
  for (const auto& g : groups) names.insert(g.name);
  CHECK(names.size() == 3);
  CHECK(groups[0].name == "x");
  CHECK(groups[1].name == "x-2");
  CHECK(groups[2].name == "x-3");  // its folder's name "x" is taken, and so is "x-2"
}

TEST_CASE("report: the token view shows each expert's tokens with both shares and the class split") {
  TempDir tmp;
  std::vector<json> rows = moe_run(0.3, 0.2, 2.5);
  json& h1 = rows.back()["moe"]["h1"];  // the last eval row
  h1["top_tokens"] = {{{"e", 3, 4}, {" ", 1, 2}}, {{"e", 1, 4}, {" ", 1, 2}}, json::array(), json::array()};
  h1["token_classes"] = {"letters", "digits", "space", "newline", "punct", "other"};
  h1["class_expert"] = {{3, 1, 0, 0}, {0, 0, 0, 0}, {1, 1, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}, {0, 0, 0, 0}};
  h1["token_mi"] = 0.0589;
  h1["class_mi"] = 0.0589;
  const fs::path dir = write_run(tmp.path, "tok", rows);
  std::ostringstream log;
  const std::vector<train::RunLog> runs = train::read_runs({dir.string()}, log);
  CHECK(log.str().empty());
  const std::string html = train::render_report_html(runs);
  const std::string table = html.substr(html.find("<table class=\"tokens\""));
  // expert 0: 4 of 6 assignments; "e" is 3 of its 4 (75%) and 3 of e's 4 occurrences (75%)
  const std::string e0 = table_row(table, "<tr><td>0</td>");
  CHECK(e0.find("66.7%") != std::string::npos);
  CHECK(e0.find("<code>e</code> 75% (75%)") != std::string::npos);
  CHECK(e0.find("<code>\u2423</code> 25% (50%)") != std::string::npos);  // a space, made visible
  CHECK(table_row(table, "<tr><td>2</td>").find("no tokens") != std::string::npos);
  const std::string classes = svg_containing(html, "class=\"class-matrix\"");
  CHECK(html.find("I(token; expert) = 0.059 nats") != std::string::npos);
  CHECK(classes.find("letters (4)") != std::string::npos);
  CHECK(classes.find("digits") == std::string::npos);  // classes with no tokens are left out

  // a malformed token view skips the line, naming where
  h1["top_tokens"][0][0] = {"e", 3};
  const fs::path bad = write_run(tmp.path, "bad", rows);
  std::ostringstream warn;
  train::read_runs({bad.string()}, warn);
  CHECK(warn.str().find("top_tokens[0][0] is not [text, count, total]") != std::string::npos);
}
