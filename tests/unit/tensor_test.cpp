#include <gtest/gtest.h>

#include "infera/infera.h"

using namespace infera;

TEST(Tensor, AllocatesZeroedStorage) {
  Tensor t(DType::Float32, {2, 3});
  EXPECT_EQ(t.numel(), 6);
  EXPECT_EQ(t.nbytes(), 24u);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t.data<float>()[i], 0.0f);
}

TEST(Tensor, RejectsNegativeAndOverflowingShapes) {
  EXPECT_THROW(Tensor(DType::Float32, {2, -1}), Error);
  EXPECT_THROW(Tensor(DType::Float32, {int64_t(1) << 40, int64_t(1) << 40}), Error);
  EXPECT_THROW(Tensor(DType::Float32, {int64_t(1) << 40}), Error);  // beyond the allocation limit
}

TEST(Tensor, AccessWithWrongTypeThrows) {
  Tensor t(DType::Int64, {1});
  EXPECT_THROW(t.data<float>(), Error);
}

TEST(Tensor, ReshapeSharesStorage) {
  Tensor t = Tensor::from_vector<float>({2, 2}, {1, 2, 3, 4});
  Tensor r = t.reshaped({4});
  EXPECT_EQ(r.raw(), t.raw());
  EXPECT_THROW(t.reshaped({3}), Error);
}

TEST(Float16, RoundTripsEveryFiniteValue) {
  for (uint32_t b = 0; b < 0x10000; ++b) {
    uint16_t h = uint16_t(b);
    if ((h & 0x7c00) == 0x7c00) continue;  // inf / nan
    float f = float16::to_float(h);
    EXPECT_EQ(float16::from_float(f), h) << "bits " << b;
  }
}

TEST(Float16, RoundsToNearestEven) {
  EXPECT_EQ(float16::from_float(1.0f + 1.0f / 2048), float16::from_float(1.0f));  // tie goes to even
  EXPECT_EQ(float16::from_float(65520.0f), 0x7c00);                               // overflows to infinity
  EXPECT_EQ(float(float16(5.96046448e-08f)), 5.96046448e-08f);                    // smallest subnormal
}

TEST(BFloat16, RoundsToNearestEven) {
  EXPECT_EQ(bfloat16::from_float(1.0f), 0x3f80);
  EXPECT_EQ(float(bfloat16(3.140625f)), 3.140625f);
}
