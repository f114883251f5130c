// The progress line's text (drawing itself happens only on a terminal).
#include "core/progress.h"

#include <gtest/gtest.h>

namespace infera {
namespace {

TEST(Progress, LineShowsCountRateAndTimeLeft) {
  EXPECT_EQ(Progress::format_line("eval", 50, 100, "images", 10.0, 10),
            "eval [#####-----] 50/100 images  5.0 images/s  ETA 10s");
  EXPECT_EQ(Progress::format_line("eval", 100, 100, "images", 125.0, 4),
            "eval [####] 100/100 images  0.8 images/s  2m05s");
  EXPECT_EQ(Progress::format_line("calibrate", 7, 0, "batches", 0.0, 10), "calibrate 7 batches");
  EXPECT_EQ(Progress::format_line("x", 150, 100, "s", 1.0, 4), "x [####] 150/100 s  150.0 s/s  1s") << "overshoot";
}

TEST(Progress, DrawsNothingWhenDisabled) {
  testing::internal::CaptureStderr();
  {
    Progress p("quiet", 10, "items", false);
    p.advance(5);
    p.finish();
  }
  EXPECT_EQ(testing::internal::GetCapturedStderr(), "");
}

}  // namespace
}  // namespace infera
