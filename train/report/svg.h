// train/svg.h: the chart primitives of `moelab report`: line charts, heatmaps and grouped bars as
// inline SVG strings. They know nothing of metrics; report_html.cpp feeds them numbers.
// Every chart has a title, axis labels and tick values; sizes are in CSS pixels.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace moelab::train::svg {

// Escapes text for element content and attribute values.
std::string escape(std::string_view text);

// Tick values on "nice" numbers (1, 2, 5 x 10^n) covering [lo, hi].
struct Axis {
  double lo = 0, hi = 1, step = 1;
  std::vector<double> ticks;
};
// Expands [lo, hi] outwards to whole ticks (line and bar charts).
Axis nice_axis(double lo, double hi, int target_ticks);
// Keeps [lo, hi] and lists the nice ticks inside it (heatmaps, whose edges are the data's).
Axis ticks_within(double lo, double hi, int target_ticks);
// A tick value with as many decimals as the tick step needs ("0.25", "1500", "20k").
std::string tick_label(double value, double step);

// Distinct colours for runs (or groups), cycling after twenty.
std::string run_colour(size_t index);
// Sequential colour map for t in [0, 1] (dark blue-purple = low, yellow = high); NaN is grey.
std::string heat_colour(double t);
// Whether text on heat_colour(t) should be white rather than black.
bool heat_is_dark(double t);

struct LegendEntry {
  std::string label, colour;
  bool dashed = false;
  bool marker = false;
};

// A horizontal reference line (e.g. the uniform load 1/E), drawn dashed grey with its label.
struct RefLine {
  double y = 0;
  std::string label;
};

// One plotted line; NaN y values leave gaps.
struct Series {
  std::string run;   // data-run attribute, so tests and readers can find a run's curve
  std::string kind;  // data-series attribute: "train", "eval", an aux name, ...
  std::string colour;
  std::vector<double> x, y;
  bool dashed = false;
  bool markers = false;
  bool line = true;  // false: markers only (a scatter)
  // Optional band around the line (a group's min-max over seeds): one value per x, NaN = no band there.
  std::vector<double> band_lo, band_hi;
};

struct LineChart {
  std::string title, x_label, y_label;
  std::string attrs;  // extra attributes on <svg>, e.g. data-chart="loss"
  std::vector<Series> series;
  std::vector<LegendEntry> legend;
  std::vector<RefLine> refs;
  bool y_from_zero = false;  // metrics whose zero is meaningful (cv, drop_frac) start the axis at 0
  int width = 420, height = 270;
};
std::string line_chart(const LineChart& chart);

struct Heatmap {
  std::string css_class = "heatmap";
  std::string attrs;  // extra attributes on <svg>
  std::string title, x_label, y_label, scale_label;
  std::vector<double> x_edges;                              // columns + 1 increasing values (linear x axis)
  std::vector<std::string> x_names;                         // if set: categorical columns, labelled by name
  std::vector<std::string> y_names;                         // one per row, top to bottom
  std::vector<std::vector<double>> cells;                   // [row][column]; NaN = no data
  std::vector<std::vector<std::string>> cell_text;          // optional: printed in the cell if it fits
  std::vector<std::vector<std::string>> cell_title;         // optional: hover tooltip per cell
  double vmax = 1;                                          // colour scale is [0, vmax]
  bool percent_scale = false;                               // colour bar ticks as percentages
  std::vector<std::pair<double, std::string>> scale_marks;  // labelled marks on the colour bar
  int width = 620, height = 260;
};
std::string heatmap(const Heatmap& map);

struct BarSeries {
  std::string run, colour;
  std::vector<double> values;  // one per group
};
struct BarChart {
  std::string title, x_label, y_label;
  std::string attrs;
  std::vector<std::string> groups;  // x categories; each holds one bar per series, side by side
  std::vector<BarSeries> series;
  std::vector<LegendEntry> legend;
  std::vector<RefLine> refs;
  int width = 620, height = 270;
};
std::string bar_chart(const BarChart& chart);

}  // namespace moelab::train::svg
