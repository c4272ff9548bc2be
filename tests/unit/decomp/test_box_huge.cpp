// split_along on axes with billions of chunks (hostile files): the pieces are computed, not
// the list of every chunk boundary (that took minutes and gigabytes before).
#include <gtest/gtest.h>

#include <chrono>

#include "decomp/box.hpp"

namespace tessera {
namespace {

TEST(BoxHuge, SplitAlongAnAxisOfTwoToTheFortyChunksIsImmediate) {
  const auto t0 = std::chrono::steady_clock::now();
  const std::size_t n = std::size_t(1) << 40;
  const Box whole({0, 0}, {n, 3});
  const auto pieces = split_along(whole, 0, 3, 1);
  ASSERT_EQ(pieces.size(), 3u);
  EXPECT_EQ(pieces[0].start[0], 0u);
  EXPECT_EQ(pieces[0].count[0], n / 3 + 1);  // n % 3 == 1: the first piece takes the extra block
  EXPECT_EQ(pieces[1].start[0], n / 3 + 1);
  EXPECT_EQ(pieces[2].start[0] + pieces[2].count[0], n);
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 1.0);
}

TEST(BoxHuge, AlignedSplitOfAnOffsetRangeKeepsChunkBoundaries) {
  const Box b({5, 0}, {100, 2});  // indices 5..104, chunks of 10
  const auto pieces = split_along(b, 0, 4, 10);
  // blocks: [5,10) [10,20) ... [100,105): 11 blocks -> 3, 3, 3, 2
  ASSERT_EQ(pieces.size(), 4u);
  EXPECT_EQ(pieces[0].start[0], 5u);
  EXPECT_EQ(pieces[0].count[0], 25u);
  EXPECT_EQ(pieces[1].start[0], 30u);
  EXPECT_EQ(pieces[3].start[0], 90u);
  EXPECT_EQ(pieces[3].count[0], 15u);
  const auto many = split_along(b, 0, 20, 10);  // more parts than blocks: trailing pieces empty
  EXPECT_EQ(many[10].start[0] + many[10].count[0], 105u);
  EXPECT_EQ(many[11].count[0], 0u);
  EXPECT_EQ(many[11].start[0], 105u);
}

}  // namespace
}  // namespace tessera
