// Timing loop of the probes: the rate a step reaches when the thread runs undisturbed.
#pragma once

#include <algorithm>
#include <chrono>

namespace infera {

// Runs `step` (which does `work_per_step` units of work: operations, bytes) once to warm up, then over and over for
// about `seconds`, and returns the best work per second over slices of 2 ms (at least 8 slices; a slice holds at
// least one step). On a shared machine a slice in which the thread was preempted reads low, and a scheduler quantum
// is a few ms: short slices find the ones where the thread ran undisturbed, which is what a peak means.
// A compute step should take tens of microseconds, so that reading the clock costs nothing.
template <class Step>
double best_rate(Step&& step, double work_per_step, double seconds) {
  using clock = std::chrono::steady_clock;
  const double slice = std::min(seconds / 8, 0.002);
  step();
  const auto start = clock::now();
  double best = 0;
  for (auto slice_start = start; clock::now() - start < std::chrono::duration<double>(seconds);) {
    long steps = 0;
    double elapsed = 0;
    do {
      step();
      ++steps;
      elapsed = std::chrono::duration<double>(clock::now() - slice_start).count();
    } while (elapsed < slice);
    best = std::max(best, double(steps) * work_per_step / elapsed);
    slice_start = clock::now();
  }
  return best;
}

}  // namespace infera
