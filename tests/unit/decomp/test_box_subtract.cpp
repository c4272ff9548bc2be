#include <gtest/gtest.h>

#include <random>
#include <vector>

#include "decomp/box.hpp"
#include "decomp/box_iteration.hpp"

namespace tessera {
namespace {

// Every index of `b`'s bounding space, counted once per box of `pieces` that holds it.
std::vector<int> coverage(const std::vector<Box>& pieces, const Box& space) {
  std::vector<int> hits(static_cast<std::size_t>(volume(space)), 0);
  for (const Box& p : pieces) for_each_offset(space, p, [&](std::size_t c) { ++hits[c]; });
  return hits;
}

TEST(BoxSubtract, DisjointCoveredAndEmpty) {
  const Box a({2, 3}, {4, 5});
  EXPECT_EQ(subtract(a, Box({10, 10}, {2, 2})), std::vector<Box>{a});
  EXPECT_TRUE(subtract(a, Box({0, 0}, {20, 20})).empty());
  EXPECT_TRUE(subtract(a, a).empty());
  EXPECT_TRUE(subtract(Box({0}, {0}), Box({0}, {3})).empty());
  EXPECT_EQ(subtract(a, Box({0, 0}, {0, 0})), std::vector<Box>{a});
}

TEST(BoxSubtract, HoleInTheMiddleGivesFourDisjointPieces) {
  const Box a({0, 0}, {6, 6}), hole({2, 2}, {2, 2});
  const auto pieces = subtract(a, hole);
  EXPECT_EQ(pieces.size(), 4u);
  const auto hits = coverage(pieces, a);
  for_each_index(a, [&](const std::vector<std::size_t>& idx) {
    std::size_t c = idx[0] * 6 + idx[1];
    const bool in_hole = idx[0] >= 2 && idx[0] < 4 && idx[1] >= 2 && idx[1] < 4;
    EXPECT_EQ(hits[c], in_hole ? 0 : 1);
  });
}

TEST(BoxSubtract, TileLessDoneSetAlongOneAxisKeepsWholeRows) {
  // Whole-series tiles (full extent along axis 0) less another split of them: still whole series.
  const Box tile({0, 4, 0}, {10, 8, 5});
  const auto left = subtract(tile, std::vector<Box>{Box({0, 0, 0}, {10, 6, 5}), Box({0, 10, 0}, {10, 3, 5})});
  ASSERT_EQ(left.size(), 1u);
  EXPECT_EQ(left[0], Box({0, 6, 0}, {10, 4, 5}));
}

TEST(BoxSubtract, RandomBoxesPartitionExactly) {
  std::mt19937_64 rng(8);
  std::uniform_int_distribution<std::size_t> s(0, 7), c(0, 6), n(0, 4);
  for (int trial = 0; trial < 500; ++trial) {
    const Box space({0, 0, 0}, {14, 14, 14});
    Box a({s(rng), s(rng), s(rng)}, {c(rng) + 1, c(rng) + 1, c(rng) + 1});
    std::vector<Box> done;
    for (std::size_t k = n(rng); k-- > 0;) done.push_back(Box({s(rng), s(rng), s(rng)}, {c(rng), c(rng), c(rng)}));
    const auto left = subtract(a, done);
    const auto hits = coverage(left, space), in_a = coverage({a}, space), in_done = coverage(done, space);
    for (std::size_t i = 0; i < hits.size(); ++i)
      ASSERT_EQ(hits[i], in_a[i] && !in_done[i] ? 1 : 0) << "trial " << trial << " cell " << i;
    for (const Box& p : left) ASSERT_FALSE(empty(p));
  }
}

}  // namespace
}  // namespace tessera
