#include "analysis/html_report.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <set>

#include <fmt/format.h>

namespace infera {

namespace {

constexpr const char* kStyle = R"(
.cards { display: flex; flex-wrap: wrap; gap: 8px; margin: 12px 0; }
.card { background: #f4f6f8; border-radius: 6px; padding: 6px 12px; }
.card b { display: block; font-size: 18px; }
.muted, .note { color: #666; font-size: 12px; }
th { background: #f4f6f8; position: sticky; top: 0; }
td.name, th.name { text-align: left; max-width: 320px; overflow: hidden; text-overflow: ellipsis; }
td.barcell { width: 45%; }
.bar { height: 12px; border-radius: 2px; }
.stack { display: flex; height: 22px; border-radius: 4px; overflow: hidden; margin: 6px 0; }
.stack div { height: 100%; }
.legend span { display: inline-block; margin-right: 14px; }
.dot { display: inline-block; width: 10px; height: 10px; border-radius: 5px; margin-right: 4px; vertical-align: -1px; }
.compute { background: #1f77b4; } .memory { background: #ff7f0e; } .overhead { background: #8c8c8c; }
.unknown { background: #bcbd22; } .onchip { background: #2ca02c; } .dram { background: #9467bd; }
svg .grid { stroke: #e6e6e6; } svg .axis { stroke: #555; } svg .ceiling { stroke: #c00; stroke-width: 2; fill: none; }
svg .slope-onchip { stroke-dasharray: 6 4; }
svg circle { fill-opacity: 0.6; stroke-width: 1; }
svg circle.compute { fill: #1f77b4; stroke: #1f77b4; } svg circle.memory { fill: #ff7f0e; stroke: #ff7f0e; }
svg circle.overhead { fill: #8c8c8c; stroke: #8c8c8c; } svg circle.unknown { fill: #bcbd22; stroke: #bcbd22; }
pre { background: #f4f6f8; padding: 8px; white-space: pre-wrap; font-size: 12px; }
)";

constexpr Bound kBounds[] = {Bound::Compute, Bound::Memory, Bound::Overhead, Bound::Unknown};

std::string time_str(double us) { return us >= 1000 ? fmt::format("{:.2f} ms", us / 1000) : fmt::format("{:.1f} µs", us); }

std::string energy_str(double j) {
  if (j >= 1) return fmt::format("{:.3g} J", j);
  if (j >= 1e-3) return fmt::format("{:.3g} mJ", j * 1e3);
  if (j >= 1e-6) return fmt::format("{:.3g} µJ", j * 1e6);
  return fmt::format("{:.3g} nJ", j * 1e9);
}

// Integer arithmetic is counted in operations, floating-point in FLOPs.
std::string rate_str(double ops_per_s, const std::string& precision = "fp32") {
  const char* unit = precision.rfind("int", 0) == 0 ? "OP/s" : "FLOP/s";
  return ops_per_s >= 1e12 ? fmt::format("{:.3g} T{}", ops_per_s * 1e-12, unit)
                           : fmt::format("{:.3g} G{}", ops_per_s * 1e-9, unit);
}

// A decade tick: 0.01, 0.1, 1, 10, 100, 1k, 10k, 100k, 1M, ...
std::string decade_str(int exponent) {
  if (exponent < 0) return fmt::format("{:.{}f}", std::pow(10.0, exponent), -exponent);
  static const char* kSuffix[] = {"", "k", "M", "G"};
  int group = std::min(exponent / 3, 3);
  return fmt::format("{:.0f}{}", std::pow(10.0, exponent - 3 * group), kSuffix[group]);
}

std::string percent_str(double fraction) { return fmt::format("{:.1f} %", 100 * fraction); }

std::string bound_label(Bound b) {
  switch (b) {
    case Bound::Compute: return "compute-bound";
    case Bound::Memory: return "memory-bound";
    case Bound::Overhead: return "overhead";
    case Bound::Unknown: break;
  }
  return "cost unknown";
}

std::string step_name(const LayerProfile& l) { return l.node.empty() ? l.op_type : l.node; }

std::string shortened(const std::string& s, size_t n) { return s.size() <= n ? s : "…" + s.substr(s.size() - n + 1); }

// A log10 axis over whole decades, mapped onto pixels [from, to].
struct LogAxis {
  int lo = 0, hi = 1;  // decades
  double from = 0, to = 1;
  double operator()(double v) const {
    double t = (std::log10(std::max(v, 1e-300)) - lo) / (hi - lo);
    return from + std::clamp(t, -0.02, 1.02) * (to - from);
  }
};

LogAxis log_axis(double min_value, double max_value, double from, double to) {
  LogAxis a;
  a.lo = static_cast<int>(std::floor(std::log10(min_value)));
  a.hi = std::max(a.lo + 1, static_cast<int>(std::ceil(std::log10(max_value))));
  a.from = from;
  a.to = to;
  return a;
}

struct Ceiling {
  std::string label;
  double value;  // GFLOP/s for a peak, GB/s for a slope
  bool onchip = false;
};

bool on_chart(const LayerRoofline& r) { return r.layer.flops > 0 && r.bytes > 0 && r.layer.duration_us > 0; }

class RooflineChart {
 public:
  RooflineChart(const RooflineReport& report, size_t labels) : report_(report), labels_(labels) {
    for (const LayerRoofline& r : report.layers)
      if (r.layer.flops > 0 && r.peak_flops_per_s > 0) peaks_[r.peak_precision] = r.peak_flops_per_s * 1e-9;
    if (peaks_.empty()) {
      double fp32 = report.device.peak("fp32", report.threads);
      if (fp32 > 0) peaks_["fp32"] = fp32 * 1e-9;
    }
    const MemoryCeilings& c = report.ceilings;
    if (c.dram_bandwidth > 0) slopes_.push_back({fmt::format("DRAM {:.0f} GB/s", c.dram_bandwidth * 1e-9), c.dram_bandwidth * 1e-9});
    if (c.onchip_bandwidth > 0)
      slopes_.push_back({fmt::format("on-chip {:.0f} GB/s", c.onchip_bandwidth * 1e-9), c.onchip_bandwidth * 1e-9, true});
    set_axes();
  }

  std::string svg() const {
    std::string out = fmt::format(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\" viewBox=\"0 0 {} {}\" role=\"img\" "
        "aria-label=\"roofline chart\">\n",
        kWidth, kHeight, kWidth, kHeight);
    out += fmt::format("<defs><clipPath id=\"plot-area\"><rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/></clipPath></defs>\n",
                       kLeft, kTop, kRight - kLeft, kBottom - kTop);
    out += grid();
    out += ceilings();
    out += points();
    return out + "</svg>\n";
  }

  size_t off_chart() const {
    return static_cast<size_t>(std::count_if(report_.layers.begin(), report_.layers.end(),
                                             [](const LayerRoofline& r) { return !on_chart(r); }));
  }

 private:
  static constexpr double kWidth = 960, kHeight = 540, kLeft = 64, kRight = 780, kTop = 16, kBottom = 490;
  static constexpr double kCharWidth = 6.2;  // average advance of the 11 px sans-serif labels

  void set_axes() {
    double xmin = 1e300, xmax = 0, ymin = 1e300, ymax = 0;
    for (const LayerRoofline& r : report_.layers) {
      if (!on_chart(r)) continue;
      xmin = std::min(xmin, r.intensity);
      xmax = std::max(xmax, r.intensity);
      ymin = std::min(ymin, r.gflops_per_s);
      ymax = std::max(ymax, r.gflops_per_s);
    }
    for (const auto& [precision, peak] : peaks_) {
      ymax = std::max(ymax, peak * 1.5);
      for (const Ceiling& s : slopes_) {
        xmin = std::min(xmin, peak / s.value / 4);  // show each slope's rise below its ridge
        xmax = std::max(xmax, peak / s.value * 4);
      }
    }
    if (xmax <= 0) xmin = 0.1, xmax = 1000;
    if (ymax <= 0) ymin = 0.1, ymax = 1000;
    x_ = log_axis(xmin, xmax, kLeft, kRight);
    y_ = log_axis(std::max(ymin, ymax * 1e-7), ymax, kBottom, kTop);
  }

  std::string grid() const {
    std::string out;
    for (int e = x_.lo; e <= x_.hi; ++e) {
      double x = x_(std::pow(10.0, e));
      out += fmt::format("<line class=\"grid\" x1=\"{0:.1f}\" y1=\"{1}\" x2=\"{0:.1f}\" y2=\"{2}\"/>", x, kTop, kBottom);
      out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{}</text>\n", x, kBottom + 16, decade_str(e));
    }
    for (int e = y_.lo; e <= y_.hi; ++e) {
      double y = y_(std::pow(10.0, e));
      out += fmt::format("<line class=\"grid\" x1=\"{0}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\"/>", kLeft, y, kRight);
      out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{}</text>\n", kLeft - 6, y + 4, decade_str(e));
    }
    out += fmt::format("<rect class=\"axis\" fill=\"none\" x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\"/>\n", kLeft, kTop,
                       kRight - kLeft, kBottom - kTop);
    out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">arithmetic intensity (FLOP per byte)</text>\n",
                       (kLeft + kRight) / 2, kBottom + 36);
    out += fmt::format("<text transform=\"translate(16 {}) rotate(-90)\" text-anchor=\"middle\">GFLOP/s</text>\n",
                       (kTop + kBottom) / 2);
    return out;
  }

  // Each bandwidth slope rises to the highest peak; each peak runs right from where the fastest slope meets it.
  std::string ceilings() const {
    std::string out = "<g clip-path=\"url(#plot-area)\">\n";
    double top_peak = 0;
    for (const auto& [precision, peak] : peaks_) top_peak = std::max(top_peak, peak);
    double fastest = 0;
    for (const Ceiling& s : slopes_) {
      fastest = std::max(fastest, s.value);
      double x0 = std::pow(10.0, x_.lo), x1 = top_peak > 0 ? top_peak / s.value : std::pow(10.0, x_.hi);
      out += fmt::format("<line class=\"ceiling{}\" x1=\"{:.1f}\" y1=\"{:.1f}\" x2=\"{:.1f}\" y2=\"{:.1f}\"/>\n",
                         s.onchip ? " slope-onchip" : "", x_(x0), y_(x0 * s.value), x_(x1), y_(x1 * s.value));
      double lx = std::max({x0 * 2, std::pow(10.0, y_.lo) / s.value * 2, x1 / 300}), angle = std::atan2(y_(x1 * s.value) - y_(x0 * s.value), x_(x1) - x_(x0));
      out += fmt::format("<text class=\"label\" transform=\"translate({:.1f} {:.1f}) rotate({:.1f})\">{}</text>\n",
                         x_(lx), y_(lx * s.value) - 6, angle * 180 / M_PI, html_escape(s.label));
    }
    for (const auto& [precision, peak] : peaks_) {
      double x0 = fastest > 0 ? peak / fastest : std::pow(10.0, x_.lo);
      out += fmt::format("<line class=\"ceiling\" x1=\"{0:.1f}\" y1=\"{1:.1f}\" x2=\"{2}\" y2=\"{1:.1f}\"/>\n", x_(x0),
                         y_(peak), kRight);
    }
    out += "</g>\n";
    for (const auto& [y, text] : peak_labels())
      out += fmt::format("<text x=\"{}\" y=\"{:.1f}\">{}</text>\n", kRight + 6, y, html_escape(text));
    return out;
  }

  // Largest first, so that small points stay on top where the mouse can reach them.
  std::string points() const {
    std::vector<size_t> order;
    double longest = 0;
    for (size_t i = 0; i < report_.layers.size(); ++i)
      if (on_chart(report_.layers[i])) {
        order.push_back(i);
        longest = std::max(longest, report_.layers[i].layer.duration_us);
      }
    std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
      return report_.layers[a].layer.duration_us > report_.layers[b].layer.duration_us;
    });
    std::string out = "<g class=\"points\">\n", labels;
    std::vector<Box> placed;  // the peaks' labels first: they are part of the axes
    for (const auto& [y, text] : peak_labels())
      placed.push_back({kRight + 6, y - 10, kRight + 6 + kCharWidth * static_cast<double>(text.size()), y + 2});
    for (size_t rank = 0; rank < order.size(); ++rank) {
      const LayerRoofline& r = report_.layers[order[rank]];
      double cx = x_(r.intensity), cy = y_(r.gflops_per_s);
      double radius = 3 + 15 * std::sqrt(r.layer.duration_us / longest);
      out += fmt::format(
          "<circle class=\"{}\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"{:.1f}\"><title>{} ({}, {})\n{} ({})\n{:.2f} FLOP/byte, "
          "{:.2f} GFLOP/s, {:.1f} % of {} peak\nbound: {}</title></circle>\n",
          bound_name(r.bound), cx, cy, radius, html_escape(step_name(r.layer)), html_escape(r.layer.op_type),
          html_escape(r.layer.backend), time_str(r.layer.duration_us), percent_str(r.share), r.intensity,
          r.gflops_per_s, r.percent_of_peak, html_escape(r.peak_precision), bound_name(r.bound));
      if (rank < labels_) labels += label(shortened(step_name(r.layer), 32), cx, cy, radius, placed);
    }
    return out + labels + "</g>\n";
  }

  // A label's approximate extent, to keep labels of neighbouring points from overprinting each other.
  struct Box {
    double x0, y0, x1, y1;
    bool overlaps(const Box& o) const { return x0 < o.x1 && o.x0 < x1 && y0 < o.y1 && o.y0 < y1; }
  };

  // Right of the point, else left, else above or below it; no label where all four collide (hover still names it).
  static std::string label(const std::string& text, double cx, double cy, double radius, std::vector<Box>& placed) {
    const double width = kCharWidth * static_cast<double>(text.size()), height = 12;
    const struct {
      double x, y;
      const char* anchor;
    } spots[] = {{cx + radius + 2, cy + 4, "start"},
                 {cx - radius - 2, cy + 4, "end"},
                 {cx - width / 2, cy - radius - 3, "start"},
                 {cx - width / 2, cy + radius + 11, "start"}};
    for (const auto& spot : spots) {
      double left = spot.anchor[0] == 'e' ? spot.x - width : spot.x;
      Box box{left, spot.y - height + 2, left + width, spot.y + 2};
      if (box.x0 < kLeft || box.x1 > kWidth || box.y0 < kTop || box.y1 > kBottom) continue;
      if (std::any_of(placed.begin(), placed.end(), [&](const Box& b) { return b.overlaps(box); })) continue;
      placed.push_back(box);
      return fmt::format("<text class=\"label\" x=\"{:.1f}\" y=\"{:.1f}\" text-anchor=\"{}\">{}</text>\n", spot.x,
                         spot.y, spot.anchor, html_escape(text));
    }
    return "";
  }

  // Each compute ceiling's label, right of the plot: baseline y and text. Precisions with the same peak share one
  // label (a CPU without fp16 units runs fp16 at the fp32 rate); close ones are pushed apart to stay legible.
  std::vector<std::pair<double, std::string>> peak_labels() const {
    std::vector<std::pair<std::string, double>> by_peak(peaks_.begin(), peaks_.end());
    std::stable_sort(by_peak.begin(), by_peak.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
    std::vector<std::pair<double, std::string>> labels;
    for (size_t i = 0; i < by_peak.size();) {
      std::string names = by_peak[i].first;
      size_t j = i + 1;
      for (; j < by_peak.size() && by_peak[j].second >= by_peak[i].second * (1 - 1e-9); ++j)
        names += "/" + by_peak[j].first;
      double y = y_(by_peak[i].second) + 4;
      if (!labels.empty()) y = std::max(y, labels.back().first + 12);
      labels.emplace_back(y, names + " peak " + rate_str(by_peak[i].second * 1e9, by_peak[i].first));
      i = j;
    }
    return labels;
  }

  const RooflineReport& report_;
  size_t labels_;
  std::map<std::string, double> peaks_;  // precision -> GFLOP/s
  std::vector<Ceiling> slopes_;          // GB/s
  LogAxis x_, y_;
};

std::string summary_section(const RooflineReport& report) {
  const RooflineTotals& t = report.totals;
  std::string threads = report.threads > 0 ? std::to_string(report.threads) : "all";
  std::string out = fmt::format("<header><h1>{}</h1>\n<p class=\"muted\">on {} ({}), {} thread(s), median of {} run(s)</p>\n",
                                html_escape(report.model), html_escape(report.device.display_name),
                                html_escape(report.device.id), threads, report.runs);
  out += "<div class=\"cards\">\n";
  auto card = [&](const std::string& label, const std::string& value) {
    out += fmt::format("<div class=\"card\"><b>{}</b>{}</div>\n", value, label);
  };
  card("latency", time_str(t.time_us));
  card("compute", fmt::format("{:.3g} GFLOP", t.flops * 1e-9));
  card("achieved", rate_str(t.gflops_per_s * 1e9));
  card("of peak", fmt::format("{:.1f} %", t.percent_of_peak));
  card("energy per inference", energy_str(t.energy_j()));
  card("steps", std::to_string(report.layers.size()));
  return out + "</div></header>\n";
}

std::string chart_section(const RooflineReport& report, const HtmlReportOptions& options) {
  RooflineChart chart(report, options.labels);
  std::string out = "<section><h2>Roofline</h2>\n" + chart.svg();
  out += "<p class=\"legend\">";
  for (Bound b : kBounds)
    out += fmt::format("<span><i class=\"dot {}\"></i>{}</span>", bound_name(b), bound_label(b));
  out += fmt::format("</p>\n<p class=\"note\">Each point is one step, its area proportional to its time; hover for "
                     "details. The {} longest are named. {} step(s) without FLOPs or bytes (views, shape "
                     "arithmetic) cannot be placed on log axes and are not shown.</p></section>\n",
                     options.labels, chart.off_chart());
  return out;
}

std::string time_bars_section(const RooflineReport& report, size_t top) {
  std::vector<size_t> hot = report.hotspots(top);
  std::string out = fmt::format("<section><h2>Longest {} steps</h2>\n<table class=\"bars\">\n", hot.size());
  out += "<tr><th>#</th><th class=\"name\">step</th><th class=\"name\">op</th><th class=\"name\">time</th><th></th>"
         "<th>share</th><th>bound</th></tr>\n";
  double longest = hot.empty() ? 0 : report.layers[hot.front()].layer.duration_us;
  double shown_us = 0;
  for (size_t rank = 0; rank < hot.size(); ++rank) {
    const LayerRoofline& r = report.layers[hot[rank]];
    shown_us += r.layer.duration_us;
    std::string name = html_escape(step_name(r.layer));
    out += fmt::format(
        "<tr><td>{}</td><td class=\"name\" title=\"{}\">{}</td><td class=\"name\">{}</td><td class=\"barcell\"><div "
        "class=\"bar {}\" style=\"width:{:.1f}%\"></div></td><td>{}</td><td>{}</td><td>{}</td></tr>\n",
        rank + 1, name, name, html_escape(r.layer.op_type), bound_name(r.bound),
        longest > 0 ? 100 * r.layer.duration_us / longest : 0, time_str(r.layer.duration_us), percent_str(r.share),
        bound_label(r.bound));
  }
  out += "</table>\n";
  size_t rest = report.layers.size() - hot.size();
  const RooflineTotals& t = report.totals;
  out += fmt::format("<p class=\"note\">Each step's time is its median over the runs; shares are of their sum, {}. "
                     "The other {} step(s) take {}. The median run takes {}: the rest is spent between steps, or on a "
                     "busy machine lost to interruptions.</p>\n",
                     time_str(t.steps_us), rest, time_str(t.steps_us - shown_us), time_str(t.time_us));
  return out + "</section>\n";
}

// One horizontal bar of segments, each titled, and its legend.
std::string stacked_bar(const std::vector<std::tuple<std::string, std::string, double>>& parts,
                        std::string (*value_str)(double)) {
  double sum = 0;
  for (const auto& part : parts) sum += std::get<2>(part);
  std::string bar = "<div class=\"stack\">", legend = "<p class=\"legend\">";
  for (const auto& [css, label, value] : parts) {
    double percent = sum > 0 ? 100 * value / sum : 0;
    bar += fmt::format("<div class=\"{}\" style=\"width:{:.2f}%\" title=\"{}: {}\"></div>", css, percent, label,
                       value_str(value));
    legend += fmt::format("<span><i class=\"dot {}\"></i>{}: {} ({:.1f} %)</span>", css, label, value_str(value), percent);
  }
  return bar + "</div>\n" + legend + "</p>\n";
}

std::string bound_section(const RooflineReport& report) {
  std::vector<std::tuple<std::string, std::string, double>> parts;
  for (Bound b : kBounds) {
    std::string name(bound_name(b));
    parts.emplace_back(name, bound_label(b), report.totals.time_by_bound_us[static_cast<int>(b)]);
  }
  return "<section><h2>Time by bound</h2>\n" + stacked_bar(parts, time_str) + "</section>\n";
}

std::string energy_section(const RooflineReport& report) {
  const RooflineTotals& t = report.totals;
  std::string out = fmt::format("<section><h2>Energy per inference: {}</h2>\n", energy_str(t.energy_j()));
  out += stacked_bar({{"compute", "compute", t.compute_j}, {"onchip", "on-chip memory", t.onchip_j}, {"dram", "DRAM", t.dram_j}},
                     energy_str);
  std::map<std::string, double> by_op;
  for (const LayerRoofline& r : report.layers) by_op[r.layer.op_type] += r.energy.total_j();
  std::vector<std::pair<std::string, double>> ops(by_op.begin(), by_op.end());
  std::stable_sort(ops.begin(), ops.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  out += "<table><tr><th class=\"name\">op</th><th>energy</th><th>share</th></tr>\n";
  for (size_t i = 0; i < std::min<size_t>(ops.size(), 10); ++i)
    out += fmt::format("<tr><td class=\"name\">{}</td><td>{}</td><td>{}</td></tr>\n", html_escape(ops[i].first),
                       energy_str(ops[i].second), percent_str(t.energy_j() > 0 ? ops[i].second / t.energy_j() : 0));
  out += "</table>\n";
  out += fmt::format("<p class=\"note\">Operations × energy per operation plus bytes × energy per access at each "
                     "level, from {} scaled to {:.0f} nm. DRAM bytes: {}activations that do not fit in {} of on-chip "
                     "memory.</p></section>\n",
                     html_escape(report.energy_table.source), report.energy_table.process_nm,
                     report.weights_on_chip ? "" : "weights, and ",
                     report.ceilings.onchip_bytes > 0 ? fmt::format("{:.1f} MiB", report.ceilings.onchip_bytes / 1048576)
                                                      : std::string("(unknown)"));
  return out;
}

std::string steps_table_section(const RooflineReport& report) {
  std::string out = fmt::format("<section><h2>All steps</h2>\n<details><summary>{} steps in execution order</summary>\n",
                                report.layers.size());
  out += "<table><tr><th>#</th><th class=\"name\">step</th><th class=\"name\">op</th><th class=\"name\">backend</th>"
         "<th class=\"name\">precision</th><th>time</th><th>share</th><th>MFLOP</th><th>MB</th><th>FLOP/B</th>"
         "<th>GFLOP/s</th><th>GB/s</th><th>% peak</th><th>bound</th><th>energy</th></tr>\n";
  for (size_t i = 0; i < report.layers.size(); ++i) {
    const LayerRoofline& r = report.layers[i];
    std::string name = html_escape(step_name(r.layer));
    out += fmt::format(
        "<tr><td>{}</td><td class=\"name\" title=\"{}\">{}</td><td class=\"name\">{}</td><td class=\"name\" "
        "title=\"{}\">{}</td><td class=\"name\">{}</td><td>{}</td><td>{}</td><td>{:.2f}</td><td>{:.2f}</td>"
        "<td>{:.2f}</td><td>{:.1f}</td><td>{:.1f}</td><td>{:.1f}</td><td>{}</td><td>{}</td></tr>\n",
        i + 1, name, name, html_escape(r.layer.op_type), html_escape(r.layer.kernel), html_escape(r.layer.backend),
        html_escape(r.layer.precision), time_str(r.layer.duration_us), percent_str(r.share), r.layer.flops * 1e-6,
        r.bytes * 1e-6, r.intensity, r.gflops_per_s, r.gbytes_per_s, r.percent_of_peak, bound_label(r.bound),
        energy_str(r.energy.total_j()));
  }
  return out + "</table></details></section>\n";
}

std::string sources_section(const RooflineReport& report) {
  const MemoryCeilings& c = report.ceilings;
  std::set<std::string> peaks;
  for (const LayerRoofline& r : report.layers)
    if (r.peak_flops_per_s > 0)
      peaks.insert(fmt::format("{} peak {}: {}", r.peak_precision, rate_str(r.peak_flops_per_s, r.peak_precision), r.peak_source));
  std::string out = "<section><h2>How these numbers are made</h2>\n<pre>";
  for (const std::string& p : peaks) out += html_escape(p) + "\n";
  out += html_escape(fmt::format("DRAM bandwidth {:.1f} GB/s: {}\n", c.dram_bandwidth * 1e-9, c.dram_source));
  out += html_escape(fmt::format("on-chip bandwidth {:.1f} GB/s: {}\n", c.onchip_bandwidth * 1e-9,
                                 c.onchip_bandwidth > 0 ? c.onchip_bandwidth_source : "unknown"));
  out += html_escape(fmt::format("on-chip memory {:.1f} MiB: {}\n\n", c.onchip_bytes / 1048576,
                                 c.onchip_bytes > 0 ? c.onchip_bytes_source : "unknown"));
  out += html_escape(fmt::format(
      "compute time = FLOPs / peak of the step's precision at {} thread(s)\n"
      "memory time  = max(DRAM bytes / DRAM bandwidth, all bytes / on-chip bandwidth)\n"
      "DRAM bytes   = weights (unless they all fit in half the on-chip memory: {}) + activations when they do not "
      "fit on chip\n"
      "bound        = overhead when time > {:g} × max(compute time, memory time); else the larger of the two\n"
      "% of peak    = achieved FLOP/s / peak of the step's precision; for the model, the time at peak over the time",
      report.threads > 0 ? std::to_string(report.threads) : "all",
      report.weights_on_chip ? "they do" : "they do not", report.options.overhead_factor));
  return out + "</pre></section>\n";
}

}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char ch : text) {
    switch (ch) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default:
        // Control characters are not allowed in HTML text; tabs and newlines are.
        out += static_cast<unsigned char>(ch) < 0x20 && ch != '\t' && ch != '\n' ? '?' : ch;
    }
  }
  return out;
}

std::string html_page_head(const std::string& title, const std::string& style) {
  constexpr const char* kHouseStyle = R"(
body { font: 14px/1.4 system-ui, sans-serif; margin: 24px auto; max-width: 1000px; color: #222; padding: 0 12px; }
h1 { font-size: 22px; margin: 0 0 4px; word-break: break-all; }
h2 { font-size: 17px; margin: 28px 0 8px; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; width: 100%; font-size: 12px; }
th, td { padding: 2px 6px; text-align: right; border-bottom: 1px solid #eee; white-space: nowrap; }
svg text { font: 11px system-ui, sans-serif; fill: #333; }
svg .label { paint-order: stroke; stroke: #fff; stroke-width: 3px; }
)";
  return fmt::format("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<title>{}</title>\n"
                     "<style>{}{}</style>\n</head>\n<body>\n", html_escape(title), kHouseStyle, style);
}

std::string roofline_html(const RooflineReport& report, const HtmlReportOptions& options) {
  std::string out = html_page_head("infera profile: " + report.model, kStyle);
  out += summary_section(report);
  out += chart_section(report, options);
  out += time_bars_section(report, options.top);
  out += bound_section(report);
  out += energy_section(report);
  out += steps_table_section(report);
  out += sources_section(report);
  return out + "</body>\n</html>\n";
}

}  // namespace infera
