#include "train/report/svg.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <tuple>

namespace moelab::train::svg {

namespace {

// Text is measured by an estimate: an 11px sans-serif character is about 6.3px wide on
// average. Good enough to keep labels apart; layouts leave slack for wider fonts.
constexpr double kCharWidth = 6.3;
constexpr double kTitleHeight = 26;
constexpr double kLegendRow = 16;

double text_width(std::string_view s) {
  size_t chars = 0;
  for (char c : s) chars += (static_cast<unsigned char>(c) & 0xC0) != 0x80;  // count UTF-8 code points, not bytes
  return chars * kCharWidth;
}

// Coordinates with one decimal, trailing ".0" dropped: keeps the SVG small and readable.
std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  std::string s = buf;
  if (s.size() > 2 && s.compare(s.size() - 2, 2, ".0") == 0) s.resize(s.size() - 2);
  if (s == "-0") s = "0";
  return s;
}

struct Frame {
  double left, top, right, bottom;  // the plot area, in SVG pixels
  double width() const { return right - left; }
  double height() const { return bottom - top; }
};

double scale(double v, double lo, double hi, double a, double b) {
  return hi == lo ? (a + b) / 2 : a + (v - lo) / (hi - lo) * (b - a);
}

std::string open_svg(const std::string& css_class, const std::string& attrs, const std::string& title, int width,
                     int height) {
  std::string s = "<svg class=\"" + css_class + "\" " + attrs + " width=\"" + std::to_string(width) + "\" height=\"" +
                  std::to_string(height) + "\" viewBox=\"0 0 " + std::to_string(width) + " " + std::to_string(height) +
                  "\" role=\"img\" aria-label=\"" + escape(title) + "\">\n";
  s += "<text class=\"title\" x=\"" + num(width / 2.0) + "\" y=\"17\" text-anchor=\"middle\">" + escape(title) +
       "</text>\n";
  return s;
}

// Lays legend entries out left to right, wrapping; returns the SVG and the height it takes.
std::pair<std::string, double> legend(const std::vector<LegendEntry>& entries, double x0, double y0, double max_width) {
  if (entries.empty()) return {"", 0};
  std::string s = "<g class=\"legend\">\n";
  double x = x0, y = y0 + 8;
  for (const LegendEntry& e : entries) {
    const double w = 22 + text_width(e.label) + 14;
    if (x > x0 && x + w > x0 + max_width) {
      x = x0;
      y += kLegendRow;
    }
    s += "<line x1=\"" + num(x) + "\" y1=\"" + num(y) + "\" x2=\"" + num(x + 18) + "\" y2=\"" + num(y) +
         "\" stroke=\"" + e.colour + "\" stroke-width=\"2\"" + (e.dashed ? " stroke-dasharray=\"4 3\"" : "") + "/>";
    if (e.marker) s += "<circle cx=\"" + num(x + 9) + "\" cy=\"" + num(y) + "\" r=\"2.8\" fill=\"" + e.colour + "\"/>";
    s += "<text x=\"" + num(x + 22) + "\" y=\"" + num(y) + "\" dy=\"0.35em\">" + escape(e.label) + "</text>\n";
    x += w;
  }
  s += "</g>\n";
  return {s, y - y0 + 10};
}

// Horizontal grid lines, tick labels and the rotated y-axis label.
std::string y_axis(const Axis& a, const Frame& f, const std::string& label, bool percent = false) {
  std::string s = "<g class=\"axis y\">\n";
  for (double t : a.ticks) {
    const double y = scale(t, a.lo, a.hi, f.bottom, f.top);
    s += "<line class=\"gridline\" x1=\"" + num(f.left) + "\" x2=\"" + num(f.right) + "\" y1=\"" + num(y) + "\" y2=\"" +
         num(y) + "\"/>";
    const std::string text = percent ? tick_label(t * 100, a.step * 100) + "%" : tick_label(t, a.step);
    s += "<text x=\"" + num(f.left - 5) + "\" y=\"" + num(y) + "\" dy=\"0.32em\" text-anchor=\"end\">" + text +
         "</text>\n";
  }
  const double cy = (f.top + f.bottom) / 2;
  s += "<text class=\"axis-label\" transform=\"translate(12 " + num(cy) + ") rotate(-90)\" text-anchor=\"middle\">" +
       escape(label) + "</text>\n</g>\n";
  return s;
}

std::string x_axis_label(const Frame& f, const std::string& label, int height) {
  return "<text class=\"axis-label\" x=\"" + num((f.left + f.right) / 2) + "\" y=\"" + num(height - 6.0) +
         "\" text-anchor=\"middle\">" + escape(label) + "</text>\n";
}

std::string frame_lines(const Frame& f) {
  return "<path class=\"frame\" d=\"M" + num(f.left) + " " + num(f.top) + "V" + num(f.bottom) + "H" + num(f.right) +
         "\"/>\n";
}

std::string ref_lines(const std::vector<RefLine>& refs, const Axis& a, const Frame& f) {
  std::string s;
  for (const RefLine& r : refs) {
    if (r.y < a.lo || r.y > a.hi) continue;
    const double y = scale(r.y, a.lo, a.hi, f.bottom, f.top);
    s += "<line class=\"ref\" x1=\"" + num(f.left) + "\" x2=\"" + num(f.right) + "\" y1=\"" + num(y) + "\" y2=\"" +
         num(y) + "\"/><text class=\"ref-label\" x=\"" + num(f.right - 3) + "\" y=\"" + num(y - 3) +
         "\" text-anchor=\"end\">" + escape(r.label) + "</text>\n";
  }
  return s;
}

double widest(const std::vector<std::string>& labels) {
  double w = 0;
  for (const auto& l : labels) w = std::max(w, text_width(l));
  return w;
}

std::vector<std::string> tick_labels(const Axis& a) {
  std::vector<std::string> out;
  for (double t : a.ticks) out.push_back(tick_label(t, a.step));
  return out;
}

std::string no_data(const Frame& f) {
  return "<text class=\"no-data\" x=\"" + num((f.left + f.right) / 2) + "\" y=\"" + num((f.top + f.bottom) / 2) +
         "\" text-anchor=\"middle\">no data</text>\n";
}

double nice_step(double span, int target) {
  const double raw = span / std::max(1, target);
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double norm = raw / mag;
  return (norm < 1.5 ? 1 : norm < 3 ? 2 : norm < 7 ? 5 : 10) * mag;
}

// A degenerate or empty range widened so that it has room for ticks.
std::pair<double, double> usable_range(double lo, double hi) {
  if (!std::isfinite(lo) || !std::isfinite(hi)) return {0, 1};
  if (hi - lo <= std::abs(hi) * 1e-9 + 1e-12) {
    const double pad = std::abs(lo) > 0 ? std::abs(lo) * 0.1 : 0.5;
    return {lo - pad, hi + pad};
  }
  return {lo, hi};
}

}  // namespace

std::string escape(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      default:
        out += c;
    }
  }
  return out;
}

Axis nice_axis(double lo, double hi, int target_ticks) {
  std::tie(lo, hi) = usable_range(lo, hi);
  Axis a;
  a.step = nice_step(hi - lo, target_ticks);
  a.lo = std::floor(lo / a.step + 1e-9) * a.step;
  a.hi = std::ceil(hi / a.step - 1e-9) * a.step;
  for (int i = 0; a.lo + i * a.step <= a.hi + a.step * 1e-6; ++i) a.ticks.push_back(a.lo + i * a.step);
  return a;
}

Axis ticks_within(double lo, double hi, int target_ticks) {
  std::tie(lo, hi) = usable_range(lo, hi);
  Axis a;
  a.lo = lo;
  a.hi = hi;
  a.step = nice_step(hi - lo, target_ticks);
  for (double t = std::ceil(lo / a.step - 1e-9) * a.step; t <= hi + a.step * 1e-6; t += a.step) a.ticks.push_back(t);
  return a;
}

std::string tick_label(double value, double step) {
  step = std::abs(step);
  if (std::abs(value) < step * 1e-6) value = 0;
  char buf[32];
  if (step >= 1) {
    const double r = std::round(value);
    if (step >= 1000 && std::fmod(r, 1000) == 0 && r != 0)
      std::snprintf(buf, sizeof buf, "%gk", r / 1000);
    else
      std::snprintf(buf, sizeof buf, "%.0f", r);
  } else if (step >= 1e-3) {
    const int decimals = static_cast<int>(std::ceil(-std::log10(step) - 1e-9));
    std::snprintf(buf, sizeof buf, "%.*f", decimals, value);
  } else {
    std::snprintf(buf, sizeof buf, "%.3g", std::round(value / step) * step);
  }
  return buf;
}

std::string run_colour(size_t index) {
  // ten strong colours, then ten darker or lighter variants (a sweep easily has more than ten groups)
  static const std::array<const char*, 20> colours = {
      "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#7f7f7f", "#bcbd22",
      "#0b3d66", "#f08a8a", "#145214", "#b35900", "#cbb5e0", "#4a2e28", "#8f1f6e", "#0b6b75", "#000000", "#6b6b12"};
  return colours[index % colours.size()];
}

std::string heat_colour(double t) {
  if (!std::isfinite(t)) return "#e6e6e6";
  // Anchors of a perceptually ordered dark-to-light map, interpolated linearly in RGB.
  static const std::array<std::array<double, 3>, 5> anchors = {
      {{68, 1, 84}, {59, 82, 139}, {33, 145, 140}, {94, 201, 98}, {253, 231, 37}}};
  t = std::clamp(t, 0.0, 1.0) * (anchors.size() - 1);
  const size_t i = std::min(static_cast<size_t>(t), anchors.size() - 2);
  const double f = t - i;
  char buf[8];
  int rgb[3];
  for (int c = 0; c < 3; ++c)
    rgb[c] = static_cast<int>(std::lround(anchors[i][c] + f * (anchors[i + 1][c] - anchors[i][c])));
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", rgb[0], rgb[1], rgb[2]);
  return buf;
}

bool heat_is_dark(double t) { return std::isfinite(t) && t < 0.55; }

std::string line_chart(const LineChart& c) {
  double xlo = INFINITY, xhi = -INFINITY, ylo = INFINITY, yhi = -INFINITY;
  for (const Series& s : c.series)
    for (size_t i = 0; i < s.x.size() && i < s.y.size(); ++i) {
      if (!std::isfinite(s.x[i]) || !std::isfinite(s.y[i])) continue;
      xlo = std::min(xlo, s.x[i]);
      xhi = std::max(xhi, s.x[i]);
      ylo = std::min(ylo, s.y[i]);
      yhi = std::max(yhi, s.y[i]);
      for (const auto* band : {&s.band_lo, &s.band_hi})
        if (i < band->size() && std::isfinite((*band)[i])) {
          ylo = std::min(ylo, (*band)[i]);
          yhi = std::max(yhi, (*band)[i]);
        }
    }
  const bool empty = !std::isfinite(xlo);
  for (const RefLine& r : c.refs)
    if (!empty) {
      ylo = std::min(ylo, r.y);
      yhi = std::max(yhi, r.y);
    }
  if (c.y_from_zero && !empty) ylo = std::min(ylo, 0.0);
  auto [legend_svg, legend_h] = legend(c.legend, 10, kTitleHeight - 4, c.width - 20);
  // a long legend (many runs or groups) makes the chart taller rather than the plot smaller
  const int height = c.height + std::max(0, static_cast<int>(legend_h) - 40);
  const Axis xa = nice_axis(xlo, xhi, std::max(3, c.width / 90));
  const Axis ya = nice_axis(ylo, yhi, std::max(3, c.height / 55));

  std::string s = open_svg("chart", c.attrs, c.title, c.width, height);
  s += legend_svg;
  Frame f{24 + widest(tick_labels(ya)) + 8, kTitleHeight + legend_h + 6, c.width - 14.0, height - 38.0};
  s += y_axis(ya, f, c.y_label);
  s += "<g class=\"axis x\">\n";
  for (double t : xa.ticks) {
    const double x = scale(t, xa.lo, xa.hi, f.left, f.right);
    s += "<line class=\"gridline\" x1=\"" + num(x) + "\" x2=\"" + num(x) + "\" y1=\"" + num(f.top) + "\" y2=\"" +
         num(f.bottom) + "\"/><text x=\"" + num(x) + "\" y=\"" + num(f.bottom + 14) + "\" text-anchor=\"middle\">" +
         tick_label(t, xa.step) + "</text>\n";
  }
  s += "</g>\n" + x_axis_label(f, c.x_label, height) + frame_lines(f);
  if (empty) return s + no_data(f) + "</svg>\n";
  s += ref_lines(c.refs, ya, f);

  // Bands first, under every line: one polygon per unbroken stretch where the band is defined.
  for (const Series& ser : c.series) {
    const size_t n = std::min({ser.x.size(), ser.band_lo.size(), ser.band_hi.size()});
    for (size_t i = 0; i < n;) {
      auto ok = [&](size_t k) {
        return std::isfinite(ser.x[k]) && std::isfinite(ser.band_lo[k]) && std::isfinite(ser.band_hi[k]);
      };
      if (!ok(i)) {
        ++i;
        continue;
      }
      size_t end = i;
      while (end < n && ok(end)) ++end;
      std::string d;
      for (size_t k = i; k < end; ++k)
        d.append(k == i ? "M" : "L")
            .append(num(scale(ser.x[k], xa.lo, xa.hi, f.left, f.right)))
            .append(" ")
            .append(num(scale(ser.band_hi[k], ya.lo, ya.hi, f.bottom, f.top)));
      for (size_t k = end; k-- > i;)
        d.append("L")
            .append(num(scale(ser.x[k], xa.lo, xa.hi, f.left, f.right)))
            .append(" ")
            .append(num(scale(ser.band_lo[k], ya.lo, ya.hi, f.bottom, f.top)));
      s += "<path class=\"band\" data-run=\"" + escape(ser.run) + "\" data-series=\"" + escape(ser.kind) +
           "\" d=\"" + d + "Z\" fill=\"" + ser.colour + "\" fill-opacity=\"0.18\" stroke=\"none\"/>\n";
      i = end;
    }
  }

  for (const Series& ser : c.series) {
    std::string d, dots;
    size_t run_len = 0;                  // points in the current unbroken segment
    auto flush_single = [&](size_t i) {  // a lone point between gaps would be invisible as a line
      if (run_len == 1 && !ser.markers)
        dots += "<circle cx=\"" + num(scale(ser.x[i], xa.lo, xa.hi, f.left, f.right)) + "\" cy=\"" +
                num(scale(ser.y[i], ya.lo, ya.hi, f.bottom, f.top)) + "\" r=\"2\"/>";
    };
    size_t last = 0;
    for (size_t i = 0; i < ser.x.size() && i < ser.y.size(); ++i) {
      if (!std::isfinite(ser.x[i]) || !std::isfinite(ser.y[i])) {
        flush_single(last);
        run_len = 0;
        continue;
      }
      const double x = scale(ser.x[i], xa.lo, xa.hi, f.left, f.right);
      const double y = scale(ser.y[i], ya.lo, ya.hi, f.bottom, f.top);
      d.append(run_len == 0 ? "M" : "L").append(num(x)).append(" ").append(num(y));
      if (ser.markers) dots += "<circle cx=\"" + num(x) + "\" cy=\"" + num(y) + "\" r=\"2.8\"/>";
      ++run_len;
      last = i;
    }
    flush_single(last);
    if (ser.line)
      s += "<path data-run=\"" + escape(ser.run) + "\" data-series=\"" + escape(ser.kind) + "\" d=\"" + d +
           "\" fill=\"none\" stroke=\"" + ser.colour + "\" stroke-width=\"1.7\" stroke-linejoin=\"round\"" +
           (ser.dashed ? " stroke-dasharray=\"5 3\"" : "") + "/>\n";
    else
      s += "<g class=\"scatter\" data-run=\"" + escape(ser.run) + "\" data-series=\"" + escape(ser.kind) + "\"/>\n";
    if (!dots.empty()) s += "<g class=\"markers\" fill=\"" + ser.colour + "\">" + dots + "</g>\n";
  }
  return s + "</svg>\n";
}

std::string heatmap(const Heatmap& m) {
  const size_t rows = m.y_names.size();
  const size_t cols = m.x_edges.size() > 0 ? m.x_edges.size() - 1 : 0;
  const Axis scale_axis = ticks_within(0, m.vmax > 0 ? m.vmax : 1, 4);
  std::vector<std::string> scale_texts;
  for (double t : scale_axis.ticks)
    scale_texts.push_back(m.percent_scale ? tick_label(t * 100, scale_axis.step * 100) + "%"
                                          : tick_label(t, scale_axis.step));
  for (const auto& [v, label] : m.scale_marks) scale_texts.push_back(label);

  std::string s = open_svg(m.css_class, m.attrs, m.title, m.width, m.height);
  const double bar_w = 12;
  const double bar_area = std::max(bar_w + 16 + widest(scale_texts) + 10, text_width(m.scale_label) + 20);
  Frame f{22 + widest(m.y_names) + 8, kTitleHeight + 16, m.width - bar_area, m.height - 38.0};
  if (rows == 0 || cols == 0) return s + frame_lines(f) + no_data(f) + "</svg>\n";

  // Cells. crispEdges avoids hairline seams between neighbouring rects.
  const double x0 = m.x_edges.front(), x1 = m.x_edges.back();
  const double row_h = f.height() / rows;
  s += "<g class=\"cells\" shape-rendering=\"crispEdges\">\n";
  std::string texts;
  for (size_t r = 0; r < rows; ++r) {
    for (size_t col = 0; col < cols; ++col) {
      const double v = r < m.cells.size() && col < m.cells[r].size() ? m.cells[r][col] : NAN;
      const double t = m.vmax > 0 ? v / m.vmax : 0;
      // Whole-pixel edges shared by neighbours: fractional ones leave seams under crispEdges.
      const double xa = std::round(scale(m.x_edges[col], x0, x1, f.left, f.right));
      const double xb = std::max(xa + 1, std::round(scale(m.x_edges[col + 1], x0, x1, f.left, f.right)));
      const double y = std::round(f.top + r * row_h), y_next = std::round(f.top + (r + 1) * row_h);
      s += "<rect x=\"" + num(xa) + "\" y=\"" + num(y) + "\" width=\"" + num(xb - xa) + "\" height=\"" +
           num(y_next - y) + "\" fill=\"" + heat_colour(t) + "\"";
      if (r < m.cell_title.size() && col < m.cell_title[r].size())
        s += "><title>" + escape(m.cell_title[r][col]) + "</title></rect>";
      else
        s += "/>";
      if (r < m.cell_text.size() && col < m.cell_text[r].size()) {
        const std::string& text = m.cell_text[r][col];
        if (!text.empty() && text_width(text) + 4 <= xb - xa && row_h >= 13)
          texts += "<text x=\"" + num((xa + xb) / 2) + "\" y=\"" + num((y + y_next) / 2) +
                   "\" dy=\"0.32em\" text-anchor=\"middle\"" + (heat_is_dark(t) ? " class=\"on-dark\"" : "") + ">" +
                   escape(text) + "</text>";
      }
    }
    s += "\n";
  }
  s += "</g>\n";
  if (!texts.empty()) s += "<g class=\"cell-text\">" + texts + "</g>\n";

  // Row labels: all of them when they fit, else every n-th.
  const size_t row_every = std::max<size_t>(1, static_cast<size_t>(std::ceil(12.0 / row_h)));
  s += "<g class=\"axis y\">\n";
  for (size_t r = 0; r < rows; r += row_every)
    s += "<text x=\"" + num(f.left - 5) + "\" y=\"" + num(f.top + (r + 0.5) * row_h) +
         "\" dy=\"0.32em\" text-anchor=\"end\">" + escape(m.y_names[r]) + "</text>\n";
  s += "<text class=\"axis-label\" transform=\"translate(12 " + num((f.top + f.bottom) / 2) +
       ") rotate(-90)\" text-anchor=\"middle\">" + escape(m.y_label) + "</text>\n</g>\n";

  // Column labels: names for categorical columns, nice step values for a linear axis.
  s += "<g class=\"axis x\">\n";
  if (!m.x_names.empty()) {
    const double col_w = f.width() / cols;
    const double need = widest(m.x_names) + 6;
    const size_t every = std::max<size_t>(1, static_cast<size_t>(std::ceil(need / col_w)));
    for (size_t col = 0; col < cols && col < m.x_names.size(); col += every)
      s += "<text x=\"" + num(f.left + (col + 0.5) * col_w) + "\" y=\"" + num(f.bottom + 14) +
           "\" text-anchor=\"middle\">" + escape(m.x_names[col]) + "</text>\n";
  } else {
    const Axis xa = ticks_within(x0, x1, std::max(3, static_cast<int>(f.width() / 80)));
    for (double t : xa.ticks) {
      const double x = scale(t, x0, x1, f.left, f.right);
      s += "<line class=\"tick\" x1=\"" + num(x) + "\" x2=\"" + num(x) + "\" y1=\"" + num(f.bottom) + "\" y2=\"" +
           num(f.bottom + 4) + "\"/><text x=\"" + num(x) + "\" y=\"" + num(f.bottom + 15) +
           "\" text-anchor=\"middle\">" + tick_label(t, xa.step) + "</text>\n";
    }
  }
  s += "</g>\n" + x_axis_label(f, m.x_label, m.height);
  s += "<rect class=\"outline\" x=\"" + num(f.left) + "\" y=\"" + num(f.top) + "\" width=\"" + num(f.width()) +
       "\" height=\"" + num(f.height()) + "\"/>\n";

  // Colour bar with its ticks; marks (e.g. uniform load) drawn across it, ticks too close to a mark left out.
  const double bx = f.right + 16;
  const int steps = 48;
  s += "<g class=\"colour-bar\">\n<text x=\"" + num(bx) + "\" y=\"" + num(f.top - 6) + "\">" + escape(m.scale_label) +
       "</text>\n<g shape-rendering=\"crispEdges\">";
  for (int i = 0; i < steps; ++i) {
    const double ya = scale(i, 0, steps, f.bottom, f.top), yb = scale(i + 1, 0, steps, f.bottom, f.top);
    s += "<rect x=\"" + num(bx) + "\" y=\"" + num(yb) + "\" width=\"" + num(bar_w) + "\" height=\"" +
         num(ya - yb + 0.6) + "\" fill=\"" + heat_colour((i + 0.5) / steps) + "\"/>";
  }
  s += "</g>\n";
  const double vmax = m.vmax > 0 ? m.vmax : 1;
  std::vector<double> mark_ys;
  for (const auto& [v, label] : m.scale_marks) {
    if (v < 0 || v > vmax) continue;
    const double y = scale(v, 0, vmax, f.bottom, f.top);
    mark_ys.push_back(y);
    s += "<line class=\"mark\" x1=\"" + num(bx - 3) + "\" x2=\"" + num(bx + bar_w + 3) + "\" y1=\"" + num(y) +
         "\" y2=\"" + num(y) + "\"/><text x=\"" + num(bx + bar_w + 5) + "\" y=\"" + num(y) +
         "\" dy=\"0.32em\" class=\"mark-label\">" + escape(label) + "</text>\n";
  }
  for (size_t i = 0; i < scale_axis.ticks.size(); ++i) {
    const double y = scale(scale_axis.ticks[i], 0, vmax, f.bottom, f.top);
    if (std::any_of(mark_ys.begin(), mark_ys.end(), [&](double my) { return std::abs(my - y) < 13; })) continue;
    s += "<line class=\"tick\" x1=\"" + num(bx + bar_w) + "\" x2=\"" + num(bx + bar_w + 3) + "\" y1=\"" + num(y) +
         "\" y2=\"" + num(y) + "\"/><text x=\"" + num(bx + bar_w + 5) + "\" y=\"" + num(y) + "\" dy=\"0.32em\">" +
         scale_texts[i] + "</text>\n";
  }
  return s + "</g>\n</svg>\n";
}

std::string bar_chart(const BarChart& c) {
  double yhi = 0;
  for (const BarSeries& b : c.series)
    for (double v : b.values)
      if (std::isfinite(v)) yhi = std::max(yhi, v);
  for (const RefLine& r : c.refs) yhi = std::max(yhi, r.y);
  const Axis ya = nice_axis(0, yhi > 0 ? yhi : 1, std::max(3, c.height / 55));

  std::string s = open_svg("bars", c.attrs, c.title, c.width, c.height);
  auto [legend_svg, legend_h] = legend(c.legend, 10, kTitleHeight - 4, c.width - 20);
  s += legend_svg;
  Frame f{24 + widest(tick_labels(ya)) + 8, kTitleHeight + legend_h + 6, c.width - 14.0, c.height - 38.0};
  s += y_axis(ya, f, c.y_label);
  const size_t groups = c.groups.size();
  if (groups == 0 || c.series.empty()) return s + frame_lines(f) + no_data(f) + "</svg>\n";

  const double group_w = f.width() / groups;
  const double bar_w = group_w * 0.8 / c.series.size();
  s += "<g class=\"axis x\">\n";
  const size_t every = std::max<size_t>(1, static_cast<size_t>(std::ceil((widest(c.groups) + 6) / group_w)));
  for (size_t g = 0; g < groups; g += every)
    s += "<text x=\"" + num(f.left + (g + 0.5) * group_w) + "\" y=\"" + num(f.bottom + 14) +
         "\" text-anchor=\"middle\">" + escape(c.groups[g]) + "</text>\n";
  s += "</g>\n" + x_axis_label(f, c.x_label, c.height);
  for (const BarSeries& b : c.series) {
    const size_t k = &b - c.series.data();
    s += "<g class=\"bar-series\" data-run=\"" + escape(b.run) + "\" fill=\"" + b.colour + "\">";
    for (size_t g = 0; g < groups && g < b.values.size(); ++g) {
      if (!std::isfinite(b.values[g])) continue;
      const double x = f.left + g * group_w + group_w * 0.1 + k * bar_w;
      const double y = scale(b.values[g], ya.lo, ya.hi, f.bottom, f.top);
      s += "<rect x=\"" + num(x) + "\" y=\"" + num(y) + "\" width=\"" + num(std::max(bar_w - 0.5, 0.5)) +
           "\" height=\"" + num(f.bottom - y) + "\"><title>" + escape(b.run) + ", " + escape(c.groups[g]) + ": " +
           tick_label(b.values[g], 0.0001) + "</title></rect>";
    }
    s += "</g>\n";
  }
  s += ref_lines(c.refs, ya, f) + frame_lines(f);
  return s + "</svg>\n";
}

}  // namespace moelab::train::svg
