#include "core/progress.h"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace infera {

namespace {

std::string format_duration(double seconds) {
  char buf[32];
  long s = std::lround(seconds);
  if (s < 60)
    std::snprintf(buf, sizeof buf, "%lds", s);
  else if (s < 3600)
    std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
  else
    std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, (s / 60) % 60);
  return buf;
}

}  // namespace

Progress::Progress(std::string label, int64_t total, std::string unit, bool enabled)
    : label_(std::move(label)),
      unit_(std::move(unit)),
      total_(total),
      active_(enabled && isatty(STDERR_FILENO) == 1),
      start_(std::chrono::steady_clock::now()) {}

Progress::~Progress() { finish(); }

void Progress::advance(int64_t items) {
  done_ += items;
  if (!active_) return;
  auto now = std::chrono::steady_clock::now();
  if (drawn_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  draw(false);
}

void Progress::finish() {
  if (!active_) return;
  draw(true);
  active_ = false;
}

void Progress::draw(bool final) {
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  std::string line = format_line(label_, done_, total_, unit_, seconds, 20);
  // \r and clear-to-end-of-line: the line overwrites itself; the final draw ends it.
  std::fprintf(stderr, "\r%s\x1b[K%s", line.c_str(), final ? "\n" : "");
  std::fflush(stderr);
  drawn_ = true;
}

std::string Progress::format_line(const std::string& label, int64_t done, int64_t total, const std::string& unit,
                                  double seconds, int width) {
  // Appended piece by piece: gcc 12 warns falsely (-Wrestrict) on "literal" + std::string temporaries.
  std::string line = label;
  if (total > 0) {
    int filled = int(std::min<int64_t>(done, total) * width / total);
    line += " [";
    line.append(size_t(filled), '#').append(size_t(width - filled), '-');
    line += "] ";
    line += std::to_string(done);
    line += '/';
    line += std::to_string(total);
  } else {
    line += ' ';
    line += std::to_string(done);
  }
  line += ' ';
  line += unit;
  if (seconds > 0 && done > 0) {
    double rate = double(done) / seconds;
    char buf[48];
    std::snprintf(buf, sizeof buf, "  %.1f %s/s", rate, unit.c_str());
    line += buf;
    if (total > 0) {
      line += done < total ? "  ETA " : "  ";
      line += format_duration(done < total ? double(total - done) / rate : seconds);
    }
  }
  return line;
}

}  // namespace infera
