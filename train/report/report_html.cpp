#include "train/report/report_html.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <functional>
#include <set>

#include "train/report/aggregate.h"
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

// What a chart draws as one line: a run, or a group of runs that differ only by seed (its mean, with
// the seeds' min-max as a band).
struct Unit {
  std::string name, colour;
  std::vector<size_t> runs;
};

struct Page {
  const std::vector<RunLog>& runs;
  std::vector<Unit> units;
  std::vector<std::string> colour;  // per run: its unit's
  bool grouped = false;
};

Page make_page(const std::vector<RunLog>& runs, const std::vector<SeedGroup>& groups) {
  Page p{runs, {}, std::vector<std::string>(runs.size()), has_seed_groups(groups)};
  if (p.grouped)
    for (const SeedGroup& g : groups) p.units.push_back({g.name, svg::run_colour(p.units.size()), g.runs});
  else
    for (size_t i = 0; i < runs.size(); ++i) p.units.push_back({runs[i].name, svg::run_colour(i), {i}});
  for (const Unit& u : p.units)
    for (size_t i : u.runs) p.colour[i] = u.colour;
  return p;
}

// The unit's members that have MoE layer `layer` (all of them for layer -1).
std::vector<size_t> members_with_layer(const Page& p, const Unit& u, int layer) {
  std::vector<size_t> out;
  for (size_t i : u.runs)
    if (layer < 0 || std::count(p.runs[i].moe_layers.begin(), p.runs[i].moe_layers.end(), layer)) out.push_back(i);
  return out;
}

// The first run of each unit that has MoE layer `layer`: the per-run views of a grouped page.
std::vector<size_t> representatives(const Page& p, int layer) {
  std::vector<size_t> out;
  for (const Unit& u : p.units)
    if (auto m = members_with_layer(p, u, layer); !m.empty()) out.push_back(m.front());
  return out;
}

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

// The members' training (or eval) rows as one line: the mean at each step, and with several members
// their min-max as a band.
svg::Series unit_series(const Page& p, const Unit& u, const std::vector<size_t>& members, bool eval,
                        const std::string& kind, const std::function<double(const MetricsRow&)>& value_of) {
  std::vector<const std::vector<MetricsRow>*> rows;
  for (size_t i : members) rows.push_back(eval ? &p.runs[i].eval : &p.runs[i].train);
  MeanBand b = mean_band(rows, value_of);
  svg::Series s{u.name, kind, u.colour, std::move(b.x), std::move(b.mean), false, false, true, {}, {}};
  if (members.size() > 1) {
    s.band_lo = std::move(b.lo);
    s.band_hi = std::move(b.hi);
  }
  return s;
}

std::string unit_label(const Unit& u, size_t members) {
  return members > 1 ? u.name + " (" + std::to_string(members) + " seeds)" : u.name;
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

std::string runs_overview(const std::vector<RunLog>& runs, const std::vector<std::string>& colours) {
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
    s += "<tr><td class=\"name\"><span class=\"swatch\" style=\"background:" + colours[i] + "\"></span>" +
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

std::string summary_table(const std::vector<RunLog>& runs, const std::vector<std::string>& colours) {
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
                            "><span class=\"swatch\" style=\"background:" + colours[i] + "\"></span>" +
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

// A chart with its labels, its data-chart name and size; series and legend are added by the caller.
svg::LineChart chart(const std::string& title, const std::string& x_label, const std::string& y_label,
                     const std::string& name, int width, int height) {
  svg::LineChart c;
  c.title = title;
  c.x_label = x_label;
  c.y_label = y_label;
  c.attrs = data_attr("chart", name);
  c.width = width;
  c.height = height;
  return c;
}

// ---- loss ----

std::string loss_section(const Page& p) {
  svg::LineChart c = chart("Training and validation loss", "step", "cross-entropy (nats)", "loss", 660, 360);
  for (const Unit& u : p.units) {
    c.series.push_back(
        unit_series(p, u, u.runs, false, "train", [](const MetricsRow& m) { return m.value("loss"); }));
    auto val = unit_series(p, u, u.runs, true, "val", [](const MetricsRow& m) { return m.value("val_loss"); });
    val.dashed = true;
    val.markers = val.x.size() <= kMaxMarkers;
    const bool plotted = has_finite(c.series.back()) || has_finite(val);
    if (has_finite(val)) c.series.push_back(std::move(val));
    if (plotted) c.legend.push_back({unit_label(u, u.runs.size()), u.colour});
  }
  add_style_legend(c, "train loss (each logged step)", "val loss (eval rows)");
  std::string s = "<h2 id=\"loss\">Loss</h2>\n";
  if (p.grouped)
    s += "<p class=\"note\">Each line is a group's mean over its seeds; the shaded band spans the seeds' "
         "minimum to maximum at each step.</p>\n";
  s += "<div class=\"grid\">\n" + figure(svg::line_chart(c));

  for (const std::string& name : summed_aux_names(p.runs)) {
    svg::LineChart a = chart("Aux loss \"" + name + "\" (weighted, summed over layers)", "step", "weighted loss",
                             "aux." + name, 440, 360);
    a.y_from_zero = true;
    for (const Unit& u : p.units) {
      auto ser = unit_series(p, u, u.runs, false, "aux." + name,
                             [&](const MetricsRow& m) { return m.value("aux." + name); });
      if (!has_finite(ser)) continue;
      a.series.push_back(std::move(ser));
      a.legend.push_back({unit_label(u, u.runs.size()), u.colour});
    }
    s += figure(svg::line_chart(a));
  }
  return s + "</div>\n";
}

// ---- lifelong stages ----

// Forgetting against the new domain's loss, one dot per run (lower left is better on both), and
// the old domain's loss over the stage.
std::string forgetting_section(const Page& p) {
  svg::LineChart sc = chart("Forgetting vs new-domain loss (one dot per run)", "final val loss on the new data (nats)",
                            "forgetting: old-domain loss, last - first eval", "forgetting", 560, 380);
  sc.refs.push_back({0, "no forgetting"});
  svg::LineChart ov = chart("Loss on the old domain's held-out data during the stage", "step",
                            "old_val_loss (nats)", "old_val_loss", 560, 380);
  for (const Unit& u : p.units) {
    svg::Series dots{u.name, "forgetting", u.colour, {}, {}, false, true, false, {}, {}};
    for (size_t i : u.runs) {  // forgetting as the summary table has it (aggregate.h)
      const double f = forgetting(p.runs[i]), val = p.runs[i].eval.empty() ? NAN : p.runs[i].eval.back().value("val_loss");
      if (!std::isfinite(f) || !std::isfinite(val)) continue;
      dots.x.push_back(val);
      dots.y.push_back(f);
    }
    if (dots.x.empty()) continue;
    sc.legend.push_back({unit_label(u, dots.x.size()), u.colour, false, true});
    sc.series.push_back(std::move(dots));
    auto curve = unit_series(p, u, u.runs, true, "old_val_loss", [](const MetricsRow& m) { return m.value("old_val_loss"); });
    curve.markers = curve.x.size() <= kMaxMarkers;
    ov.series.push_back(std::move(curve));
    ov.legend.push_back({unit_label(u, u.runs.size()), u.colour});
  }
  if (sc.series.empty()) return "";
  return "<h2 id=\"forgetting\">Forgetting (lifelong stages)</h2>\n<p class=\"note\">Runs that log "
         "<code>old_val_loss</code>, the loss on the earlier distribution's held-out data (docs/lifelong.md). "
         "Forgetting is its rise from the stage's first eval (the model as the stage received it) to its last. "
         "A setting dominates another when its dots lie below and to the left.</p>\n<div class=\"grid\">\n" +
         figure(svg::line_chart(sc)) + figure(svg::line_chart(ov)) + "</div>\n";
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
std::string routing_charts(const Page& p, int layer, const std::string& final_loads) {
  static const RoutingMetric metrics[] = {
      {"cv", "Coefficient of variation of expert load (cv)", "cv (std / mean)", true, false},
      {"maxvio", "Max violation (maxvio)", "max / mean - 1", true, false},
      {"drop_frac", "Dropped assignments (drop_frac)", "fraction dropped", true, false},
      {"entropy_load", "Load entropy (entropy_load)", "nats", true, false},
      {"entropy_token", "Per-token router entropy (entropy_token)", "nats", true, true},
      {"dead", "Dead experts (no assignment in the window)", "experts", true, false},
  };
  int experts = 0;
  bool same_experts = true;
  for (const Unit& u : p.units)
    for (size_t i : members_with_layer(p, u, layer)) {
      const int e = p.runs[i].num_experts(layer);
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
    for (const Unit& u : p.units) {
      const std::vector<size_t> members = members_with_layer(p, u, layer);
      if (members.empty()) continue;
      auto value = [&](const MetricsRow& row) {
        auto it = row.moe.find(layer);
        return it == row.moe.end() ? NAN : it->second.scalar(m.key);
      };
      auto train = unit_series(p, u, members, false, "train", value);
      auto eval = unit_series(p, u, members, true, "eval", value);
      eval.dashed = true;
      eval.markers = eval.x.size() <= kMaxMarkers;
      if (!has_finite(train) && !has_finite(eval)) continue;
      if (has_finite(train)) c.series.push_back(std::move(train));
      if (has_finite(eval)) c.series.push_back(std::move(eval));
      c.legend.push_back({unit_label(u, members.size()), u.colour});
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
svg::BarChart last_window_bars(const Page& p, int layer, const std::vector<size_t>& members,
                               const std::string& chart, Values values) {
  const std::vector<RunLog>& runs = p.runs;
  svg::BarChart c;
  c.attrs = data_attr("chart", chart) + " " + data_attr("layer", std::to_string(layer));
  size_t groups = 0;
  for (size_t i : members) {
    const MetricsRow* last = RunLog::last_with_layer(runs[i].train, layer);
    const std::vector<double> v = last ? values(last->moe.at(layer)) : std::vector<double>{};
    if (v.empty()) continue;
    c.series.push_back({runs[i].name, p.colour[i], v});
    c.legend.push_back({runs[i].name + " (step " + std::to_string(last->step) + ")", p.colour[i]});
    groups = std::max(groups, v.size());
  }
  for (size_t g = 0; g < groups; ++g) c.groups.push_back(std::to_string(g));
  // As wide as a line chart for a few groups; many get a row of their own.
  c.width = std::clamp(120 + static_cast<int>(groups * std::max<size_t>(1, c.series.size())) * 14, 420, 1290);
  return c;
}

std::string final_load_bars(const Page& p, int layer, const std::vector<size_t>& members) {
  svg::BarChart c = last_window_bars(p, layer, members, "final-load", [](const LayerWindow& w) {
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
std::string rank_load_bars(const Page& p, int layer, const std::vector<size_t>& members) {
  svg::BarChart c = last_window_bars(p, layer, members, "rank-load", [](const LayerWindow& w) {
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

// A [row][expert] matrix of shares (cells: % of the row's assignments), one column per expert.
svg::Heatmap expert_matrix(const std::string& css_class, const RunLog& r, int layer, size_t experts,
                           const std::string& row_label) {
  svg::Heatmap m;
  m.css_class = css_class;
  m.attrs = data_attr("run", r.name) + " " + data_attr("layer", std::to_string(layer));
  m.x_label = "expert";
  m.y_label = row_label;
  m.scale_label = "share of " + (row_label == "token class" ? std::string("class") : row_label);
  m.percent_scale = true;
  for (size_t e = 0; e < experts; ++e) {
    m.x_names.push_back(std::to_string(e));
    m.x_edges.push_back(static_cast<double>(e));
  }
  m.x_edges.push_back(static_cast<double>(experts));
  return m;
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
    svg::Heatmap m = expert_matrix("domain-matrix", r, layer, experts, "domain");
    const double mi = w.scalar("domain_mi");
    m.title = "Domain \u00d7 expert \u00b7 " + layer_name(layer) + " \u00b7 " + r.name +
              " \u00b7 I(domain; expert) = " + (std::isfinite(mi) ? fmt(mi, "%.4f") + " nats" : std::string("n/a"));
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

// A token as a reader sees it: blanks made visible.
std::string visible_token(const std::string& text) {
  std::string out;
  for (char c : text) out += c == ' ' ? "\u2423" : c == '\n' ? "\u21b5" : c == '\t' ? "\u21e5" : std::string(1, c);
  return escape(out);
}

// What the experts learn (eval rows' token view, docs/metrics.md): the routing split by token class
// and each expert's most frequent input tokens.
std::string token_views(const std::vector<RunLog>& runs, int layer, const std::vector<size_t>& members) {
  std::string out, missing;
  for (size_t i : members) {
    const RunLog& r = runs[i];
    const MetricsRow* row = nullptr;
    for (auto it = r.eval.rbegin(); it != r.eval.rend() && !row; ++it)
      if (auto w = it->moe.find(layer); w != it->moe.end() && !w->second.top_tokens.empty()) row = &*it;
    if (!row) {
      missing += (missing.empty() ? "" : ", ") + escape(r.name);
      continue;
    }
    const LayerWindow& w = row->moe.at(layer);
    const size_t experts = w.top_tokens.size();
    std::vector<double> per_expert(experts, 0.0);
    double all = 0;
    svg::Heatmap m = expert_matrix("class-matrix", r, layer, experts, "token class");
    m.title = "Token class \u00d7 expert \u00b7 " + layer_name(layer) + " \u00b7 " + r.name;
    double vmax = 0;
    for (size_t c = 0; c < w.class_expert.size(); ++c) {
      double total = 0;
      for (size_t e = 0; e < experts; ++e) {
        total += w.class_expert[c][e];
        per_expert[e] += w.class_expert[c][e];
      }
      all += total;
      if (total == 0) continue;  // a class this tokenizer's text never has
      m.y_names.push_back(w.token_classes[c] + " (" + fmt(total, "%.0f") + ")");
      std::vector<double> shares;
      std::vector<std::string> texts, titles;
      for (size_t e = 0; e < experts; ++e) {
        const double share = w.class_expert[c][e] / total;
        vmax = std::max(vmax, share);
        shares.push_back(share);
        texts.push_back(experts <= 16 ? fmt(share * 100, "%.0f") : "");
        titles.push_back(w.token_classes[c] + " \u2192 expert " + std::to_string(e) + ": " +
                         fmt(w.class_expert[c][e], "%.0f") + " of " + fmt(total, "%.0f") + " (" +
                         fmt(share * 100, "%.1f") + "%)");
      }
      m.cells.push_back(std::move(shares));
      m.cell_text.push_back(std::move(texts));
      m.cell_title.push_back(std::move(titles));
    }
    m.vmax = vmax > 0 ? vmax : 1;
    if (experts > 0) m.scale_marks.push_back({1.0 / static_cast<double>(experts), "1/E"});
    m.width = static_cast<int>(std::clamp<size_t>(300 + experts * 30, 600, 1290));
    m.height = static_cast<int>(m.y_names.size()) * 26 + 110;
    out += "<div class=\"grid\">" +
           figure(svg::heatmap(m), "From the eval row at step " + std::to_string(row->step) +
                                       "; cells: % of the class's assignments (before capacity) per expert. "
                                       "I(class; expert) = " + fmt(w.scalar("class_mi"), "%.3f") +
                                       " nats, I(token; expert) = " + fmt(w.scalar("token_mi"), "%.3f") + " nats.") +
           "</div>\n";

    std::string t = "<details" + std::string(members.size() <= 3 ? " open" : "") + "><summary>Each expert's tokens \u00b7 " +
                    escape(r.name) + "</summary>\n<table class=\"tokens\" " + data_attr("run", r.name) + " " +
                    data_attr("layer", std::to_string(layer)) +
                    "><tr><th>expert</th><th>share of assignments</th><th class=\"name\">most frequent input tokens: "
                    "share of the expert's assignments (share of the token's occurrences routed here)</th></tr>\n";
    for (size_t e = 0; e < experts; ++e) {
      std::string list;
      for (const LayerWindow::TopToken& tok : w.top_tokens[e])
        list += "<span class=\"tok\"><code>" + visible_token(tok.text) + "</code> " +
                fmt(per_expert[e] > 0 ? 100 * tok.count / per_expert[e] : NAN, "%.0f%%") + " (" +
                fmt(tok.total > 0 ? 100 * tok.count / tok.total : NAN, "%.0f%%") + ")</span> ";
      t += "<tr><td>" + std::to_string(e) + "</td><td>" + fmt(all > 0 ? 100 * per_expert[e] / all : NAN, "%.1f%%") +
           "</td><td class=\"name\">" + (list.empty() ? "<span class=\"note\">no tokens</span>" : list) +
           "</td></tr>\n";
    }
    out += t + "</table></details>\n";
  }
  std::string s = "<h3>What the experts learn</h3>\n<p class=\"note\">From the last eval row (the fixed val "
                  "batches): how each token class is split over the experts, and each expert's most frequent input "
                  "tokens. \u2423 is a space, \u21b5 a newline.</p>\n";
  if (!missing.empty()) s += "<p class=\"note\">No token view logged for: " + missing + ".</p>\n";
  return out.empty() && missing.empty() ? "" : s + out;
}

std::string layer_section(const Page& p, int layer) {
  const std::vector<RunLog>& runs = p.runs;
  const std::vector<size_t> with_layer = runs_with_layer(runs, layer);
  std::string s = "<h2 id=\"" + layer_name(layer) + "\">MoE layer " + layer_name(layer) + "</h2>\n";
  std::string absent;
  for (size_t i = 0; i < runs.size(); ++i)
    if (!runs[i].dense() && std::find(with_layer.begin(), with_layer.end(), i) == with_layer.end())
      absent += (absent.empty() ? "" : ", ") + escape(runs[i].name);
  if (!absent.empty()) s += "<p class=\"note\">Not an MoE layer in: " + absent + ".</p>\n";
  // per-run views: every run, or each group's first
  const std::vector<size_t> members = p.grouped ? representatives(p, layer) : with_layer;
  if (p.grouped)
    s += "<p class=\"note\">Curves: each group's mean over its seeds with a min\u2013max band. Loads, heatmaps, "
         "matrices and tokens: each group's first run (expert numbers are not comparable across seeds).</p>\n";
  return s + routing_charts(p, layer, final_load_bars(p, layer, members) + rank_load_bars(p, layer, members)) +
         load_heatmaps(runs, layer, members) + domain_matrices(runs, layer, members) + token_views(runs, layer, members);
}

// Whether the unit's runs end at different eval steps (an unfinished or stopped seed).
bool ends_differ(const Page& p, const Unit& u) {
  std::set<int64_t> last;
  for (size_t i : u.runs) last.insert(p.runs[i].eval.empty() ? -1 : p.runs[i].eval.back().step);
  return last.size() > 1;
}

// Runs that differ only by seed: mean ± std per group, the 95% interval of the val loss, and
// whether each group's val loss differs from the best group's by more than the seeds resolve.
std::string group_summary(const Page& p) {
  std::vector<RunFinal> finals;  // unit names are unique (seed_groups.cpp): one GroupSummary per unit, in order
  for (const Unit& u : p.units)
    for (size_t i : u.runs) finals.push_back({u.name, p.runs[i].file, final_metrics(p.runs[i]), logged_seed(p.runs[i])});
  const std::vector<GroupSummary> groups = aggregate_runs(finals);
  const GroupSummary* best = best_group(groups);
  struct Column {
    const char* key;
    const char* title;
    const char* format;
    double scale;
  };
  static const Column columns[] = {
      {"val_loss", "final val loss", "%.4f", 1},     {"val_bpb", "val bits/byte", "%.4f", 1},
      {"old_val_loss", "old-domain val loss", "%.4f", 1}, {"forgetting", "forgetting", "%+.4f", 1},
      {"max_mean", "max/mean load", "%.2f", 1},     {"cv", "CV", "%.3f", 1},
      {"dead", "dead experts", "%.1f", 1},          {"drop_frac", "drop %", "%.1f", 100},
      {"token_mi", "I(token; expert)", "%.3f", 1},  {"class_mi", "I(class; expert)", "%.3f", 1},
  };
  std::vector<const Column*> shown;
  for (const Column& c : columns)
    if (std::any_of(groups.begin(), groups.end(), [&](const GroupSummary& g) { return g.metrics.count(c.key) > 0; }))
      shown.push_back(&c);
  std::string s = "<table class=\"groups\"><tr><th>group</th><th>seeds</th>";
  for (const Column* c : shown) s += std::string("<th>") + c->title + "</th>";
  s += "<th>val loss 95% interval</th><th>val loss vs the best group</th></tr>\n";
  for (size_t g = 0; g < groups.size(); ++g) {
    const GroupSummary& gs = groups[g];
    auto val = gs.metrics.find("val_loss");
    s += "<tr " + data_attr("group", gs.group) + "><td class=\"name\"><span class=\"swatch\" style=\"background:" +
         p.units[g].colour + "\"></span>" + escape(gs.group) + "</td><td>" + std::to_string(gs.runs.size()) +
         (ends_differ(p, p.units[g]) ? " <span class=\"note\">(last eval steps differ)</span>" : "") + "</td>";
    for (const Column* c : shown) {
      auto it = gs.metrics.find(c->key);
      if (it == gs.metrics.end()) {
        s += "<td>&ndash;</td>";
        continue;
      }
      const SeedStat& st = it->second;
      std::string std_format = c->format;  // a spread has no sign
      if (std_format.size() > 1 && std_format[1] == '+') std_format.erase(1, 1);
      s += "<td>" + fmt(st.mean * c->scale, c->format) +
           (st.n > 1 ? " &plusmn; " + fmt(st.std * c->scale, std_format.c_str()) : "") + "</td>";
    }
    s += "<td>" + (val != gs.metrics.end() && val->second.n > 1
                       ? fmt(val->second.ci_low, "%.4f") + " &ndash; " + fmt(val->second.ci_high, "%.4f")
                       : std::string("&ndash;")) +
         "</td><td class=\"verdict\">" + versus_best(gs, best) + "</td></tr>\n";
  }
  return s + "</table>\n<p class=\"note\">mean &plusmn; sample standard deviation over the seeds of each group "
             "(runs whose logged configs differ only in train.seed). Balance columns: the last training window, "
             "averaged over the MoE layers; I(token; expert) and I(class; expert): the last eval row. The 95% "
             "interval is Student's t. \"not resolved\": the 95% interval for the difference from the best "
             "group's val loss includes 0, so the seeds do not tell the two apart; paired by seed when the two "
             "groups ran the same seeds (same initial weights and batches: the per-seed differences), else "
             "Welch's unpaired test.</p>\n";
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
table.tokens td.name{font-size:12px;line-height:1.7}
.tok{white-space:nowrap;margin-right:8px}
.tok code{background:#eef;border-radius:3px;padding:0 3px}
td.verdict{text-align:left}
details{margin:8px 0}
summary{cursor:pointer;font-size:13px;color:#333}
)";

}  // namespace

std::string render_report_html(const std::vector<RunLog>& runs, const std::vector<SeedGroup>& groups) {
  const Page page = make_page(runs, groups);
  std::set<int> layers;
  for (const RunLog& r : runs) layers.insert(r.moe_layers.begin(), r.moe_layers.end());
  std::string names;
  for (const Unit& u : page.units) names += (names.empty() ? "" : ", ") + u.name;

  std::string s =
      "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>moelab report: " + escape(names) +
      "</title>\n<style>" + kStyle + "</style>\n</head>\n<body>\n";
  s += "<h1>moelab report</h1>\n<nav><a href=\"#summary\">summary</a><a href=\"#loss\">loss</a>";
  for (int l : layers) s += "<a href=\"#" + layer_name(l) + "\">layer " + layer_name(l) + "</a>";
  s += "</nav>\n";
  if (page.grouped) {
    s += "<h2 id=\"summary\">Summary by group</h2>\n" + group_summary(page);
    s += "<details><summary>The " + std::to_string(runs.size()) + " runs</summary>\n" +
         runs_overview(runs, page.colour) + summary_table(runs, page.colour) + "</details>\n" + warnings_box(runs);
  } else {
    s += runs_overview(runs, page.colour) + warnings_box(runs);
    s += "<h2 id=\"summary\">Summary</h2>\n" + summary_table(runs, page.colour);
  }
  s += loss_section(page);
  s += forgetting_section(page);
  std::string dense;
  for (const RunLog& r : runs)
    if (r.dense()) dense += (dense.empty() ? "" : ", ") + escape(r.name);
  if (layers.empty())
    s += "<h2>Routing</h2>\n<p class=\"note\">No MoE layers: " +
         std::string(runs.size() > 1 ? "these runs are" : "this run is") +
         " dense, so there are no routing metrics to show.</p>\n";
  else if (!dense.empty())
    s += "<p class=\"note\">Dense runs (no MoE layers, loss curves only): " + dense + ".</p>\n";
  for (int l : layers) s += layer_section(page, l);
  return s + "</body>\n</html>\n";
}

}  // namespace moelab::train
