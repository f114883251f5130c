// A one-line progress bar on stderr for long loops (calibration, evaluation, sweeps): count, rate and time left.
// It draws only when stderr is a terminal, so logs and pipes stay clean, and at most ten times a second.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace infera {

class Progress {
 public:
  // `total` items (0: unknown, no bar or ETA); `unit` names them ("images"). Draws nothing when `enabled` is false.
  Progress(std::string label, int64_t total, std::string unit, bool enabled = true);
  ~Progress();  // finishes the line if it was drawn
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t items = 1);
  void finish();  // draws the final state and ends the line; later calls do nothing

  // The line as drawn, e.g. "calibrate [#####-----] 50/100 images  12.3 images/s  ETA 4s" (public for tests).
  static std::string format_line(const std::string& label, int64_t done, int64_t total, const std::string& unit,
                                 double seconds, int width);

 private:
  void draw(bool final);
  std::string label_, unit_;
  int64_t total_ = 0, done_ = 0;
  bool active_ = false, drawn_ = false;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace infera
