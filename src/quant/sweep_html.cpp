// The sweep as one self-contained HTML page, in the house style of the profile page (analysis/html_report.cpp):
// inline CSS and SVG, no scripts or other files. A scatter plot of top-1 accuracy against latency (log scale: fp16
// on reference kernels can be 20x slower than int8), the Pareto front drawn as a staircase, then the table.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <utility>
#include <vector>

#include "analysis/html_report.h"
#include "quant/sweep.h"

namespace infera {

namespace {

constexpr const char* kStyle = R"(
.muted { color: #666; font-size: 12px; }
th { background: #f4f6f8; }
td.name, th.name { text-align: left; }
tr.front td { font-weight: 600; }
svg .grid { stroke: #e6e6e6; } svg .axis { stroke: #555; }
svg .front { stroke: #c00; stroke-width: 2; fill: none; }
svg circle { fill: #8c8c8c; fill-opacity: 0.7; } svg circle.front { fill: #1f77b4; fill-opacity: 0.9; }
)";

constexpr double kWidth = 860, kHeight = 440, kLeft = 60, kRight = 190, kTop = 16, kBottom = 46;

struct Plot {
  double lat_lo, lat_hi, acc_lo, acc_hi;  // log10 ms; top-1 %
  double x(double ms) const { return kLeft + (std::log10(ms) - lat_lo) / (lat_hi - lat_lo) * (kWidth - kLeft - kRight); }
  double y(double top1) const { return kTop + (acc_hi - top1) / (acc_hi - acc_lo) * (kHeight - kTop - kBottom); }
};

std::vector<const SweepRow*> measured(const SweepReport& r) {
  std::vector<const SweepRow*> rows;
  for (const SweepRow& row : r.rows)
    if (row.error.empty() && row.latency_ms > 0) rows.push_back(&row);
  return rows;
}

Plot plot_for(const std::vector<const SweepRow*>& rows) {
  double lat_min = INFINITY, lat_max = 0, acc_min = 100, acc_max = 0;
  for (const SweepRow* row : rows) {
    lat_min = std::min(lat_min, row->latency_ms);
    lat_max = std::max(lat_max, row->latency_ms);
    acc_min = std::min(acc_min, 100 * row->accuracy.top1_rate());
    acc_max = std::max(acc_max, 100 * row->accuracy.top1_rate());
  }
  return Plot{std::floor(std::log10(lat_min) * 4) / 4, std::ceil(std::log10(lat_max) * 4 + 0.01) / 4,
              std::floor(acc_min - 0.5), std::ceil(acc_max + 0.5)};
}

std::string axes(const Plot& p) {
  std::string out;
  const double bottom = kHeight - kBottom, right = kWidth - kRight;
  for (int decade = int(std::floor(p.lat_lo)); decade <= int(std::ceil(p.lat_hi)); ++decade)
    for (double m : {1.0, 2.0, 5.0}) {
      double ms = m * std::pow(10.0, decade), l = std::log10(ms);
      if (l < p.lat_lo - 1e-9 || l > p.lat_hi + 1e-9) continue;
      out += fmt::format("<line class=\"grid\" x1=\"{0:.1f}\" x2=\"{0:.1f}\" y1=\"{1}\" y2=\"{2}\"/>", p.x(ms), kTop,
                         bottom);
      out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" text-anchor=\"middle\">{:g}</text>\n", p.x(ms), bottom + 14, ms);
    }
  double step = p.acc_hi - p.acc_lo > 10 ? 5 : p.acc_hi - p.acc_lo > 4 ? 1 : 0.5;
  for (double a = std::ceil(p.acc_lo / step) * step; a <= p.acc_hi + 1e-9; a += step) {
    out += fmt::format("<line class=\"grid\" x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\"/>", kLeft, right, p.y(a));
    out += fmt::format("<text x=\"{}\" y=\"{:.1f}\" text-anchor=\"end\">{:g}</text>\n", kLeft - 4, p.y(a) + 4, a);
  }
  out += fmt::format("<line class=\"axis\" x1=\"{0}\" x2=\"{1}\" y1=\"{2}\" y2=\"{2}\"/>", kLeft, right, bottom);
  out += fmt::format("<line class=\"axis\" x1=\"{0}\" x2=\"{0}\" y1=\"{1}\" y2=\"{2}\"/>\n", kLeft, kTop, bottom);
  out += fmt::format("<text x=\"{}\" y=\"{}\" text-anchor=\"middle\">latency of one sample, ms (log scale)</text>\n",
                     (kLeft + right) / 2, kHeight - 8);
  out += fmt::format("<text transform=\"translate(14 {}) rotate(-90)\" text-anchor=\"middle\">top-1 %</text>\n",
                     (kTop + bottom) / 2);
  return out;
}

// The front as a staircase: from each front point right to the next one's latency, then up to its accuracy.
std::string front_path(const Plot& p, std::vector<const SweepRow*> front) {
  if (front.empty()) return "";
  std::sort(front.begin(), front.end(), [](const SweepRow* a, const SweepRow* b) { return a->latency_ms < b->latency_ms; });
  std::string d = fmt::format("M{:.1f},{:.1f}", p.x(front[0]->latency_ms), p.y(100 * front[0]->accuracy.top1_rate()));
  for (size_t i = 1; i < front.size(); ++i)
    d += fmt::format(" H{:.1f} V{:.1f}", p.x(front[i]->latency_ms), p.y(100 * front[i]->accuracy.top1_rate()));
  return fmt::format("<path class=\"front\" d=\"{}\"/>\n", d);
}

std::string chart(const SweepReport& r) {
  const std::vector<const SweepRow*> rows = measured(r);
  if (rows.empty()) return "<p>No variant could be measured.</p>\n";
  const Plot p = plot_for(rows);
  std::vector<const SweepRow*> front;
  for (const SweepRow* row : rows)
    if (row->pareto) front.push_back(row);
  std::string out = fmt::format("<svg width=\"{0}\" height=\"{1}\" viewBox=\"0 0 {0} {1}\" role=\"img\">\n", kWidth,
                                kHeight);
  out += axes(p) + front_path(p, front);
  // Labels first, so that their white halo never hides a point; the front's first, and one that would overprint
  // an earlier label is left out (the point's hover title and the table name it).
  std::vector<const SweepRow*> by_front = rows;
  std::stable_partition(by_front.begin(), by_front.end(), [](const SweepRow* row) { return row->pareto; });
  std::vector<std::pair<double, double>> placed;
  for (const SweepRow* row : by_front) {
    double x = p.x(row->latency_ms) + 7, y = p.y(100 * row->accuracy.top1_rate()) + 4;
    auto near = [&](const std::pair<double, double>& q) {
      return std::abs(q.first - x) < 150 && std::abs(q.second - y) < 12;
    };
    if (std::any_of(placed.begin(), placed.end(), near)) continue;
    placed.emplace_back(x, y);
    out += fmt::format("<text class=\"label\" x=\"{:.1f}\" y=\"{:.1f}\">{}</text>\n", x, y,
                       html_escape(row->variant.name));
  }
  for (const SweepRow* row : rows)
    out += fmt::format("<circle class=\"{}\" cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\"><title>{}: top-1 {:.2f} %, {:.2f} ms"
                       "</title></circle>\n",
                       row->pareto ? "front" : "", p.x(row->latency_ms), p.y(100 * row->accuracy.top1_rate()),
                       html_escape(row->variant.name), 100 * row->accuracy.top1_rate(), row->latency_ms);
  return out + "</svg>\n";
}

std::string table(const SweepReport& r) {
  std::string out =
      "<table>\n<tr><th class=\"name\">variant</th><th>top-1</th><th>top-5</th><th>agreement with fp32</th>"
      "<th>latency ms</th><th>size MiB</th><th>Pareto front</th></tr>\n";
  for (const SweepRow& row : r.rows) {
    if (!row.error.empty()) {
      out += fmt::format("<tr><td class=\"name\">{}</td><td colspan=\"6\" class=\"name\">failed: {}</td></tr>\n",
                         html_escape(row.variant.name), html_escape(row.error));
      continue;
    }
    out += fmt::format(
        "<tr{}><td class=\"name\">{}</td><td>{:.2f} %</td><td>{:.2f} %</td><td>{:.2f} %</td><td>{:.2f}</td>"
        "<td>{:.2f}</td><td>{}</td></tr>\n",
        row.pareto ? " class=\"front\"" : "", html_escape(row.variant.name), 100 * row.accuracy.top1_rate(),
        100 * row.accuracy.top5_rate(), 100 * double(row.agreement) / double(std::max<int64_t>(r.samples, 1)),
        row.latency_ms, double(row.size_bytes) / (1 << 20), row.pareto ? "yes" : "");
  }
  return out + "</table>\n";
}

}  // namespace

std::string sweep_html(const SweepReport& r) {
  std::string out = html_page_head("infera sweep: " + r.model, kStyle);
  out += fmt::format("<h1>Precision sweep: {}</h1>\n", html_escape(r.model));
  out += fmt::format(
      "<p class=\"muted\">Accuracy on {} samples of {}; calibration on {} samples of {}; latency: median of {} runs "
      "of one sample with {} thread(s). Agreement: samples whose top-1 class equals fp32's. Sweep time {:.0f} s.</p>\n",
      r.samples, html_escape(r.eval_data), r.calibration_samples, html_escape(r.calibration_data), r.latency_runs,
      r.latency_threads, r.seconds);
  out += "<h2>Accuracy against latency</h2>\n<p class=\"muted\">Blue points and the red line: the Pareto front (no "
         "other variant is both as accurate and as fast).</p>\n";
  out += chart(r);
  out += "<h2>Variants</h2>\n" + table(r);
  return out + "</body>\n</html>\n";
}

}  // namespace infera
