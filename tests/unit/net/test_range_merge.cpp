#include <gtest/gtest.h>

#include "net/range_merge.hpp"

using namespace tessera::net;

TEST(RangeMerge, AdjacentAndNearRangesJoin) {
  // Given out of order; 0-100 and 100-200 touch, 250 is within the gap, 10000 is not.
  const std::vector<ByteRange> r{{100, 100}, {0, 100}, {10000, 10}, {250, 50}};
  const auto m = merge_ranges(r, 64, 1 << 20);
  ASSERT_EQ(m.size(), 2u);
  EXPECT_EQ(m[0].offset, 0u);
  EXPECT_EQ(m[0].length, 300u);
  EXPECT_EQ(m[0].members, (std::vector<std::size_t>{1, 0, 3}));
  EXPECT_EQ(m[1].offset, 10000u);
  EXPECT_EQ(m[1].members, (std::vector<std::size_t>{2}));
}

TEST(RangeMerge, RequestSizeIsCapped) {
  std::vector<ByteRange> r;
  for (int i = 0; i < 10; ++i) r.push_back({std::uint64_t(i) * 100, 100});
  const auto m = merge_ranges(r, 0, 350);
  ASSERT_EQ(m.size(), 4u);  // 300 + 300 + 300 + 100
  EXPECT_EQ(m[0].length, 300u);
  EXPECT_EQ(m[3].length, 100u);
  // A single range above the cap stays whole.
  const auto big = merge_ranges({{0, 1000}}, 0, 10);
  ASSERT_EQ(big.size(), 1u);
  EXPECT_EQ(big[0].length, 1000u);
}

TEST(RangeMerge, OverlapsDuplicatesAndEmpties) {
  const auto m = merge_ranges({{0, 50}, {10, 20}, {0, 50}, {60, 0}}, 0, 1000);
  ASSERT_EQ(m.size(), 1u);
  EXPECT_EQ(m[0].length, 50u);
  EXPECT_EQ(m[0].members.size(), 3u);
}
