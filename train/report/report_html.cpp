#include "train/report/report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <set>

#include "train/report/svg.h"

namespace moelab::train {

namespace {

using svg::escape;

// Widest heatmap in columns: longer runs merge adjacent windows so the page stays light
// (each column is E rects).
int max_heatmap_columns(int experts) { return std::clamp(8000 / std::max(1, experts), 60, 240); }

// Eval series are dashed, with a dot per row while the dots stay apart.
constexpr size_t kMaxMarkers = 60;

// printf-formatted; "&ndash;" for NaN, so HTML text only (SVG text goes through escape()).
std::string fmt(double v, const char* format) {
  if (!std::isfinite(v)) return "&ndash;";
  char buf[48];
  std::snprintf(buf, sizeof buf, format, v);
  return buf;
}

std::string data_attr(const std::string& name, const std::string& value) {
  return "data-" + name + "=\"" + escape(value) + "\"";
}

std::string layer_name(int layer) { return "h" + std::to_string(layer); }

// Indices (which fix the colours) of the runs that have MoE layer `layer`.
std::vector<size_t> runs_with_layer(const std::vector<RunLog>& runs, int layer) {
  std::vector<size_t> out;
  for (size_t i = 0; i < runs.size(); ++i)
    if (std::count(runs[i].moe_layers.begin(), runs[i].moe_layers.end(), layer)) out.push_back(i);
  return out;
}

// Summed aux losses: "aux.NAME" keys (per-layer ones are "aux.NAME.hL").
std::vector<std::string> summed_aux_names(const std::vector<RunLog>& runs) {
  std::set<std::string> names;
  for (const RunLog& r : runs)
    for (const MetricsRow& row : r.train)
      for (const auto& [key, v] : row.values)
        if (key.rfind("aux.", 0) == 0 && key.find('.', 4) == std::string::npos) names.insert(key.substr(4));
  return {names.begin(), names.end()};
}

svg::Series series_of(const std::vector<MetricsRow>& rows, const std::string& run, const std::string& kind,
                      const std::string& colour, auto value_of) {
  svg::Series s{run, kind, colour, {}, {}, false, false};
  for (const MetricsRow& row : rows) {
    s.x.push_back(static_cast<double>(row.step));
    s.y.push_back(value_of(row));
  }
  return s;
}

bool has_finite(const svg::Series& s) {
  return std::any_of(s.y.begin(), s.y.end(), [](double v) { return std::isfinite(v); });
}

// The line styles' meaning, once per chart that mixes training and eval rows.
void add_style_legend(svg::LineChart& c, const std::string& train_label, const std::string& eval_label) {
  bool has_eval = false, dots = false;
  for (const auto& s : c.series) {
    has_eval |= s.dashed;
    dots |= s.dashed && s.markers;
  }
  c.legend.push_back({train_label, "#555", false, false});
  if (has_eval) c.legend.push_back({eval_label, "#555", true, dots});
}

std::string figure(const std::string& svg_text, const std::string& caption = "") {
  return "<figure>" + svg_text + (caption.empty() ? "" : "<figcaption>" + caption + "</figcaption>") + "</figure>\n";
}

// ---- header, warnings, summary ----

std::string runs_overview(const std::vector<RunLog>& runs) {
  std::string s =
      "<table class=\"runs\"><tr><th>run</th><th>metrics file</th><th>router</th><th>experts</th><th>top-k</th>"
      "<th>MoE layers</th><th>last step</th><th>training rows</th><th>eval rows</th><th>skipped lines</th></tr>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunLog& r = runs[i];
    std::string layers;
    for (int l : r.moe_layers) layers += (layers.empty() ? "" : ", ") + layer_name(l);
    const auto str = [&](const char* key) {
      auto it = r.start.find(key);
      return it == r.start.end() ? std::string("&ndash;")
                                 : escape(it->is_string() ? it->get<std::string>() : it->dump());
    };
    int64_t last = 0;
    for (const auto* rows : {&r.train, &r.eval})
      if (!rows->empty()) last = std::max(last, rows->back().step);
    s += "<tr><td class=\"name\"><span class=\"swatch\" style=\"background:" + svg::run_colour(i) + "\"></span>" +
         escape(r.name) + "</td><td class=\"name path\">" + escape(r.file) + "</td><td>" + str("router") + "</td><td>" +
         str("num_experts") + "</td><td>" + str("top_k") + "</td><td>" + (layers.empty() ? "dense" : layers) +
         "</td><td>" + std::to_string(last) + "</td><td>" + std::to_string(r.train.size()) + "</td><td>" +
         std::to_string(r.eval.size()) + "</td><td>" + std::to_string(r.warnings.size()) + "</td></tr>\n";
  }
  return s + "</table>\n";
}

std::string warnings_box(const std::vector<RunLog>& runs) {
  constexpr size_t kShown = 30;
  std::string items;
  size_t total = 0;
  for (const RunLog& r : runs) {
    for (size_t i = 0; i < r.warnings.size() && i < kShown; ++i) items += "<li>" + escape(r.warnings[i]) + "</li>\n";
    if (r.warnings.size() > kShown)
      items += "<li>... and " + std::to_string(r.warnings.size() - kShown) + " more in " + escape(r.file) + "</li>\n";
    total += r.warnings.size();
  }
  if (total == 0) return "";
  return "<div class=\"warn\"><b>" + std::to_string(total) +
         " line(s) of metrics.jsonl could not be read and were skipped:</b><ul>\n" + items + "</ul></div>\n";
}

std::string summary_table(const std::vector<RunLog>& runs) {
  std::string s =
      "<table class=\"summary\"><tr><th>run</th><th>final val loss</th><th>val bits/byte</th><th>final train loss</th>"
      "<th>layer</th>"
      "<th>CV</th><th>MaxVio</th><th>drop %</th><th>dead experts</th><th>entropy_load (nats)</th>"
      "<th>effective experts</th><th>domain MI (nats)</th></tr>\n";
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunLog& r = runs[i];
    const double val = r.eval.empty() ? NAN : r.eval.back().value("val_loss");
    const double bpb = r.eval.empty() ? NAN : r.eval.back().value("val_bpb");  // NaN: a log from before bpb
    const double train = r.train.empty() ? NAN : r.train.back().value("loss");
    const size_t span = std::max<size_t>(1, r.moe_layers.size());
    const std::string rs = span > 1 ? " rowspan=\"" + std::to_string(span) + "\"" : "";
    std::string run_cells = "<td class=\"name\"" + rs +
                            "><span class=\"swatch\" style=\"background:" + svg::run_colour(i) + "\"></span>" +
                            escape(r.name) + "</td><td" + rs + ">" + fmt(val, "%.4f") + "</td><td" + rs + ">" +
                            fmt(bpb, "%.4f") + "</td><td" + rs + ">" + fmt(train, "%.4f") + "</td>";
    if (r.dense()) {
      s += "<tr " + data_attr("run", r.name) + ">" + run_cells +
           "<td>dense</td><td colspan=\"7\" class=\"name note\">no MoE layers</td></tr>\n";
      continue;
    }
    for (int layer : r.moe_layers) {
      const MetricsRow* last = RunLog::last_with_layer(r.train, layer);
      const LayerWindow none;
      const LayerWindow& w = last ? last->moe.at(layer) : none;
      const MetricsRow* dom = RunLog::last_with_layer(r.eval, layer);
      if (!dom || dom->moe.at(layer).domain_expert.empty()) dom = last;
      const double mi = dom ? dom->moe.at(layer).scalar("domain_mi") : NAN;
      const int experts = r.num_experts(layer);
      const double h = w.scalar("entropy_load");
      s += "<tr " + data_attr("run", r.name) + " " + data_attr("layer", std::to_string(layer)) + ">" + run_cells +
           "<td>" + layer_name(layer) + "</td><td class=\"cv\">" + fmt(w.scalar("cv"), "%.3f") + "</td><td>" +
           fmt(w.scalar("maxvio"), "%.3f") + "</td><td>" + fmt(w.scalar("drop_frac") * 100, "%.1f%%") + "</td><td>" +
           fmt(w.scalar("dead"), "%.0f") +
           (experts > 0 && std::isfinite(w.scalar("dead")) ? " / " + std::to_string(experts) : "") + "</td><td>" +
           fmt(h, "%.3f") + "</td><td>" + fmt(std::exp(h), "%.2f") + "</td><td>" + fmt(mi, "%.4f") + "</td></tr>\n";
      run_cells.clear();
    }
  }
  return s +
         "</table>\n<p class=\"note\">Routing columns: the last training window (the steps since the previous "
         "training row). Effective experts = exp(entropy_load). Domain MI: the last eval row, else the last "
         "training row.</p>\n";
}

// ---- loss ----

std::string loss_section(const std::vector<RunLog>& runs) {
  svg::LineChart c;
  c.title = "Training and validation loss";
  c.x_label = "step";
  c.y_label = "cross-entropy (nats)";
  c.attrs = data_attr("chart", "loss");
  c.width = 660;
  c.height = 360;
  for (size_t i = 0; i < runs.size(); ++i) {
    const RunLog& r = runs[i];
    c.series.push_back(
        series_of(r.train, r.name, "train", svg::run_colour(i), [](const MetricsRow& m) { return m.value("loss"); }));
    auto val =
        series_of(r.eval, r.name, "val", svg::run_colour(i), [](const MetricsRow& m) { return m.value("val_loss"); });
    val.dashed = true;
    val.markers = val.x.size() <= kMaxMarkers;
    const bool plotted = has_finite(c.series.back()) || has_finite(val);
    if (has_finite(val)) c.series.push_back(std::move(val));
    if (plotted) c.legend.push_back({r.name, svg::run_colour(i)});
  }
  add_style_legend(c, "train loss (each logged step)", "val loss (eval rows)");
  std::string s = "<h2 id=\"loss\">Loss</h2>\n<div class=\"grid\">\n" + figure(svg::line_chart(c));

  for (const std::string& name : summed_aux_names(runs)) {
    svg::LineChart a;
    a.title = "Aux loss \"" + name + "\" (weighted, summed over layers)";
    a.x_label = "step";
    a.y_label = "weighted loss";
    a.attrs = data_attr("chart", "aux." + name);
    a.y_from_zero = true;
    a.height = 360;
    a.width = 440;
    for (size_t i = 0; i < runs.size(); ++i) {
      auto ser = series_of(runs[i].train, runs[i].name, "aux." + name, svg::run_colour(i),
                           [&](const MetricsRow& m) { return m.value("aux." + name); });
      if (!has_finite(ser)) continue;
      a.series.push_back(std::move(ser));
      a.legend.push_back({runs[i].name, svg::run_colour(i)});
    }
    s += figure(svg::line_chart(a));
  }
  return s + "</div>\n";
}

// ---- one MoE layer ----

struct RoutingMetric {
  const char* key;
  const char* title;
  const char* y_label;
  bool from_zero;
  bool optional;  // drawn only when some run logs it (entropy_token is absent for hash routing)
};

// The routing metrics over training, then `final_loads` in the same grid (it fills the row's gap).
std::string routing_charts(const std::vector<RunLog>& runs, int layer, const std::vector<size_t>& members,
                           const std::string& final_loads) {
  static const RoutingMetric metrics[] = {
      {"cv", "Coefficient of variation of expert load (cv)", "cv (std / mean)", true, false},
      {"maxvio", "Max violation (maxvio)", "max / mean - 1", true, false},
      {"drop_frac", "Dropped assignments (drop_frac)", "fraction dropped", true, false},
      {"entropy_load", "Load entropy (entropy_load)", "nats", true, false},
      {"entropy_token", "Per-token router entropy (entropy_token)", "nats", true, true},
  };
  int experts = 0;
  bool same_experts = true;
  for (size_t i : members) {
    const int e = runs[i].num_experts(layer);
    same_experts &= experts == 0 || e == experts;
    experts = std::max(experts, e);
  }
  std::string s = "<h3>Routing balance</h3>\n<div class=\"grid\">\n";
  for (const RoutingMetric& m : metrics) {
    svg::LineChart c;
    c.title = std::string(m.title) + " \u00b7 " + layer_name(layer);
    c.x_label = "step";
    c.y_label = m.y_label;
    c.y_from_zero = m.from_zero;
    c.attrs = data_attr("chart", m.key) + " " + data_attr("layer", std::to_string(layer));
    for (size_t i : members) {
      const RunLog& r = runs[i];
      auto value = [&](const MetricsRow& row) {
        auto it = row.moe.find(layer);
        return it == row.moe.end() ? NAN : it->second.scalar(m.key);
      };
      auto train = series_of(r.train, r.name, "train", svg::run_colour(i), value);
      auto eval = series_of(r.eval, r.name, "eval", svg::run_colour(i), value);
      eval.dashed = true;
      eval.markers = eval.x.size() <= kMaxMarkers;
      if (!has_finite(train) && !has_finite(eval)) continue;
      if (has_finite(train)) c.series.push_back(std::move(train));
      if (has_finite(eval)) c.series.push_back(std::move(eval));
      c.legend.push_back({r.name, svg::run_colour(i)});
    }
    if (c.series.empty() && m.optional) continue;
    add_style_legend(c, "training windows", "eval");
    if (std::string(m.key) == "entropy_load" && experts > 1 && same_experts)
      c.refs.push_back({std::log(static_cast<double>(experts)), "log E (uniform)"});
    s += figure(svg::line_chart(c));
  }
  return s + final_loads + "</div>\n";
}

struct LoadHeatmap {
  svg::Heatmap map;
  size_t windows = 0, per_column = 1;  // training windows drawn, and how many share a column
};

// The columns of a load heatmap: each training row's window spans (previous row's step, its step].
LoadHeatmap load_heatmap(const RunLog& run, int layer, double vmax) {
  const int experts = run.num_experts(layer);
  std::vector<int64_t> steps;
  std::vector<const std::vector<double>*> loads;
  for (const MetricsRow& row : run.train)
    if (auto it = row.moe.find(layer); it != row.moe.end())
      if (auto* load = it->second.expert_values("load")) {
        steps.push_back(row.step);
        loads.push_back(load);
      }

  LoadHeatmap out;
  svg::Heatmap& m = out.map;
  m.attrs = data_attr("run", run.name) + " " + data_attr("layer", std::to_string(layer));
  m.title = "Expert load \u00b7 " + layer_name(layer) + " \u00b7 " + run.name;
  m.x_label = "step";
  m.y_label = "expert";
  m.scale_label = "load";
  m.vmax = vmax;
  for (int e = 0; e < experts; ++e) m.y_names.push_back(std::to_string(e));
  if (experts > 0) m.scale_marks.push_back({1.0 / experts, "1/E"});
  m.height = std::clamp(experts * 16, 110, 300) + 80;
  const size_t n = steps.size();
  if (n == 0 || experts == 0) return out;

  const size_t per_col = (n + max_heatmap_columns(experts) - 1) / max_heatmap_columns(experts);
  out.windows = n;
  out.per_column = per_col;
  const int64_t first_width = n > 1 ? steps[1] - steps[0] : 1;
  m.x_edges.push_back(static_cast<double>(std::max<int64_t>(0, steps[0] - std::max<int64_t>(1, first_width))));
  m.cells.assign(experts, {});
  for (size_t begin = 0; begin < n; begin += per_col) {
    const size_t end = std::min(n, begin + per_col);
    m.x_edges.push_back(static_cast<double>(steps[end - 1]));
    for (int e = 0; e < experts; ++e) {
      double sum = 0;
      for (size_t i = begin; i < end; ++i) sum += e < static_cast<int>(loads[i]->size()) ? (*loads[i])[e] : NAN;
      m.cells[e].push_back(sum / (end - begin));
    }
  }
  return out;
}

std::string load_heatmaps(const std::vector<RunLog>& runs, int layer, const std::vector<size_t>& members) {
  // One colour scale for all runs of the layer, so their heatmaps compare. Its top is the 99th
  // percentile of the loads (at least 2/E): a few extreme early windows would otherwise leave
  // everything else one dark colour. Loads above it are drawn at the top colour.
  std::vector<double> all;
  int experts = 0;
  for (size_t i : members) {
    experts = std::max(experts, runs[i].num_experts(layer));
    for (const MetricsRow& row : runs[i].train)
      if (auto it = row.moe.find(layer); it != row.moe.end())
        if (auto* load = it->second.expert_values("load"))
          for (double v : *load)
            if (std::isfinite(v)) all.push_back(v);
  }
  double vmax = 1, top = 1;
  if (!all.empty()) {
    std::sort(all.begin(), all.end());
    top = all.back();
    vmax =
        std::min(top, std::max(all[static_cast<size_t>(0.99 * (all.size() - 1))], experts > 0 ? 2.0 / experts : 0.0));
    if (vmax <= 0) vmax = top > 0 ? top : 1;
  }
  std::string s =
      "<h3>Expert load over training</h3>\n<p class=\"note\">Colour: each expert's share of the layer's assignments "
      "(before capacity) in the window since the previous training row, on one scale for all runs of the layer; the "
      "1/E mark on the colour bar is a perfectly balanced load." +
      std::string(vmax < top
                      ? " Loads above " + fmt(vmax, "%.3f") + " (up to " + fmt(top, "%.3f") + ") share the top colour."
                      : "") +
      "</p>\n<div class=\"grid\">\n";
  for (size_t i : members) {
    LoadHeatmap h = load_heatmap(runs[i], layer, vmax);
    if (vmax < top) h.map.scale_marks.push_back({vmax, "\u2265" + fmt(vmax, "%.2f")});
    std::string caption;
    if (h.per_column > 1)
      caption = "Each column averages up to " + std::to_string(h.per_column) + " consecutive windows (" +
                std::to_string(h.windows) + " in all).";
    s += figure(svg::heatmap(h.map), caption);
  }
  return s + "</div>\n";
}

// One bar series per run from its last training window of `layer`: `values` of that window (a run
// whose values are empty is left out), one bar group per index.
template <class Values>
svg::BarChart last_window_bars(const std::vector<RunLog>& runs, int layer, const std::vector<size_t>& members,
                               const std::string& chart, Values values) {
  svg::BarChart c;
  c.attrs = data_attr("chart", chart) + " " + data_attr("layer", std::to_string(layer));
  size_t groups = 0;
  for (size_t i : members) {
    const MetricsRow* last = RunLog::last_with_layer(runs[i].train, layer);
    const std::vector<double> v = last ? values(last->moe.at(layer)) : std::vector<double>{};
    if (v.empty()) continue;
    c.series.push_back({runs[i].name, svg::run_colour(i), v});
    c.legend.push_back({runs[i].name + " (step " + std::to_string(last->step) + ")", svg::run_colour(i)});
    groups = std::max(groups, v.size());
  }
  for (size_t g = 0; g < groups; ++g) c.groups.push_back(std::to_string(g));
  // As wide as a line chart for a few groups; many get a row of their own.
  c.width = std::clamp(120 + static_cast<int>(groups * std::max<size_t>(1, c.series.size())) * 14, 420, 1290);
  return c;
}

std::string final_load_bars(const std::vector<RunLog>& runs, int layer, const std::vector<size_t>& members) {
  svg::BarChart c = last_window_bars(runs, layer, members, "final-load", [](const LayerWindow& w) {
    const auto* load = w.expert_values("load");
    return load ? *load : std::vector<double>{};
  });
  c.title = "Final expert load \u00b7 " + layer_name(layer) + " (last training window)";
  c.x_label = "expert";
  c.y_label = "load (share of assignments)";
  std::set<size_t> counts;
  for (const svg::BarSeries& b : c.series) counts.insert(b.values.size());
  if (counts.size() == 1) c.refs.push_back({1.0 / static_cast<double>(*counts.begin()), "uniform 1/E"});
  return figure(svg::bar_chart(c));
}

// A distributed run: the rows each process's experts computed in the last window, as shares.
std::string rank_load_bars(const std::vector<RunLog>& runs, int layer, const std::vector<size_t>& members) {
  svg::BarChart c = last_window_bars(runs, layer, members, "rank-load", [](const LayerWindow& w) {
    std::vector<double> share = w.per_rank;
    double total = 0;
    for (double v : share) total += v;
    for (double& v : share) v = total > 0 ? v / total : 0;
    return share;
  });
  if (c.series.empty()) return "";
  c.title = "Load per process \u00b7 " + layer_name(layer) + " (last training window)";
  c.x_label = "process (rank)";
  c.y_label = "share of the rows its experts computed";
  return figure(svg::bar_chart(c), "A distributed run: rows computed by each process's experts (all of its own "
                                   "tokens' under data parallelism; its experts' share under expert parallelism).");
}

std::string domain_matrices(const std::vector<RunLog>& runs, int layer, const std::vector<size_t>& members) {
  std::string figures, missing;
  for (size_t i : members) {
    const RunLog& r = runs[i];
    const MetricsRow* row = nullptr;
    std::string source = "eval";
    for (auto it = r.eval.rbegin(); it != r.eval.rend() && !row; ++it)
      if (auto w = it->moe.find(layer); w != it->moe.end() && !w->second.domain_expert.empty()) row = &*it;
    for (auto it = r.train.rbegin(); it != r.train.rend() && !row; ++it)
      if (auto w = it->moe.find(layer); w != it->moe.end() && !w->second.domain_expert.empty()) {
        row = &*it;
        source = "training";
      }
    if (!row) {
      missing += (missing.empty() ? "" : ", ") + escape(r.name);
      continue;
    }
    const LayerWindow& w = row->moe.at(layer);
    const size_t domains = w.domain_expert.size(), experts = w.domain_expert[0].size();
    svg::Heatmap m;
    m.css_class = "domain-matrix";
    m.attrs = data_attr("run", r.name) + " " + data_attr("layer", std::to_string(layer));
    const double mi = w.scalar("domain_mi");
    m.title = "Domain \u00d7 expert \u00b7 " + layer_name(layer) + " \u00b7 " + r.name +
              " \u00b7 I(domain; expert) = " + (std::isfinite(mi) ? fmt(mi, "%.4f") + " nats" : std::string("n/a"));
    m.x_label = "expert";
    m.y_label = "domain";
    m.scale_label = "share of domain";
    m.percent_scale = true;
    for (size_t e = 0; e < experts; ++e) {
      m.x_names.push_back(std::to_string(e));
      m.x_edges.push_back(static_cast<double>(e));
    }
    m.x_edges.push_back(static_cast<double>(experts));
    double vmax = 0;
    for (size_t d = 0; d < domains; ++d) {
      std::string name = d < r.domains.size() ? r.domains[d] : "domain " + std::to_string(d);
      const std::string full = name;
      if (name.size() > 26) name = name.substr(0, 25) + "\u2026";
      m.y_names.push_back(name);
      double total = 0;
      for (double v : w.domain_expert[d]) total += std::isfinite(v) ? v : 0;
      std::vector<double> shares;
      std::vector<std::string> texts, titles;
      for (size_t e = 0; e < experts; ++e) {
        const double count = w.domain_expert[d][e];
        const double share = total > 0 ? count / total : NAN;
        if (std::isfinite(share)) vmax = std::max(vmax, share);
        shares.push_back(share);
        texts.push_back(std::isfinite(share) ? fmt(share * 100, "%.0f") : "");
        titles.push_back(full + " \u2192 expert " + std::to_string(e) + ": " +
                         (std::isfinite(share) ? fmt(count, "%.0f") + " of " + fmt(total, "%.0f") + " assignments (" +
                                                     fmt(share * 100, "%.1f") + "%)"
                                               : std::string("no assignments")));
      }
      m.cells.push_back(std::move(shares));
      m.cell_text.push_back(std::move(texts));
      m.cell_title.push_back(std::move(titles));
    }
    m.vmax = vmax > 0 ? vmax : 1;
    if (experts > 0) m.scale_marks.push_back({1.0 / experts, "1/E"});
    m.width = static_cast<int>(std::clamp<size_t>(280 + experts * 40, 520, 640));
    m.height = static_cast<int>(std::clamp<size_t>(domains * 18, 110, 900)) + 80;
    figures += figure(svg::heatmap(m), "From the " + source + " row at step " + std::to_string(row->step) +
                                           "; cells: % of the domain's assignments (before capacity) per expert.");
  }
  std::string s = "<h3>Domain \u00d7 expert</h3>\n";
  if (!missing.empty()) s += "<p class=\"note\">No <code>domain_expert</code> logged for: " + missing + ".</p>\n";
  if (!figures.empty()) s += "<div class=\"grid\">\n" + figures + "</div>\n";
  return s;
}

std::string layer_section(const std::vector<RunLog>& runs, int layer) {
  const std::vector<size_t> members = runs_with_layer(runs, layer);
  std::string s = "<h2 id=\"" + layer_name(layer) + "\">MoE layer " + layer_name(layer) + "</h2>\n";
  std::string absent;
  for (size_t i = 0; i < runs.size(); ++i)
    if (!runs[i].dense() && std::find(members.begin(), members.end(), i) == members.end())
      absent += (absent.empty() ? "" : ", ") + escape(runs[i].name);
  if (!absent.empty()) s += "<p class=\"note\">Not an MoE layer in: " + absent + ".</p>\n";
  return s + routing_charts(runs, layer, members, final_load_bars(runs, layer, members) + rank_load_bars(runs, layer, members)) +
         load_heatmaps(runs, layer, members) + domain_matrices(runs, layer, members);
}

const char* kStyle = R"(
body{font-family:system-ui,-apple-system,"Segoe UI",Roboto,"DejaVu Sans",Arial,sans-serif;margin:0 auto;
  max-width:1320px;padding:16px 20px 40px;color:#222;background:#f7f7f7}
h1{font-size:22px;margin:8px 0 4px}
h2{font-size:18px;border-bottom:1px solid #d5d5d5;padding-bottom:4px;margin:32px 0 10px}
h3{font-size:15px;margin:20px 0 8px;color:#333}
nav a{margin-right:12px;font-size:13px}
.grid{display:flex;flex-wrap:wrap;gap:14px;align-items:flex-start}
figure{margin:0}
figcaption{font-size:12px;color:#666;max-width:600px;margin-top:3px}
svg{background:#fff;border:1px solid #dcdcdc;border-radius:4px;display:block}
svg text{font-size:11px;fill:#333}
svg .title{font-size:13px;font-weight:600;fill:#111}
svg .axis-label{fill:#555}
svg .gridline{stroke:#ececec}
svg .frame,svg .outline{fill:none;stroke:#999}
svg .tick{stroke:#999}
svg .ref{stroke:#888;stroke-dasharray:4 3}
svg .ref-label,svg .mark-label{fill:#555;font-size:10px}
svg .mark{stroke:#111;stroke-width:1.5}
svg .no-data{fill:#999;font-size:13px}
svg .cell-text text{font-size:10px;fill:#111}
svg .cell-text text.on-dark{fill:#fff}
svg .ref-label,svg .mark-label{paint-order:stroke;stroke:#fff;stroke-width:3px;stroke-linejoin:round}
table{border-collapse:collapse;font-size:13px;background:#fff;margin:6px 0}
th,td{border:1px solid #ddd;padding:4px 9px;text-align:right}
th{background:#efefef;font-weight:600}
td.name{text-align:left}
td.path{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;color:#555}
.swatch{display:inline-block;width:12px;height:12px;border-radius:2px;vertical-align:-1px;margin-right:6px}
.note{color:#555;font-size:13px}
.warn{background:#fff6e0;border:1px solid #e3c164;border-radius:4px;padding:8px 12px;font-size:12px;margin:12px 0}
.warn li{font-family:ui-monospace,Menlo,Consolas,monospace}
)";

}  // namespace

std::string render_report_html(const std::vector<RunLog>& runs) {
  std::set<int> layers;
  for (const RunLog& r : runs) layers.insert(r.moe_layers.begin(), r.moe_layers.end());
  std::string names;
  for (const RunLog& r : runs) names += (names.empty() ? "" : ", ") + r.name;

  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>moelab report: " + escape(names) +
      "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  s += "<h1>moelab report</h1>\n<nav><a href=\"#summary\">summary</a><a href=\"#loss\">loss</a>";
  for (int l : layers) s += "<a href=\"#" + layer_name(l) + "\">layer " + layer_name(l) + "</a>";
  s += "</nav>\n" + runs_overview(runs) + warnings_box(runs);
  s += "<h2 id=\"summary\">Summary</h2>\n" + summary_table(runs);
  s += loss_section(runs);
  std::string dense;
  for (const RunLog& r : runs)
    if (r.dense()) dense += (dense.empty() ? "" : ", ") + escape(r.name);
  if (layers.empty())
    s += "<h2>Routing</h2>\n<p class=\"note\">No MoE layers: " +
         std::string(runs.size() > 1 ? "these runs are" : "this run is") +
         " dense, so there are no routing metrics to show.</p>\n";
  else if (!dense.empty())
    s += "<p class=\"note\">Dense runs (no MoE layers, loss curves only): " + dense + ".</p>\n";
  for (int l : layers) s += layer_section(runs, l);
  return s + "</body>\n</html>\n";
}

}  // namespace moelab::train
