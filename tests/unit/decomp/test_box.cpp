#include "decomp/box.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <limits>
#include <ostream>
#include <random>
#include <vector>

#include "core/error.hpp"

namespace tessera {

// Readable boxes in gtest failure messages.
inline void PrintTo(const Box& b, std::ostream* os) { *os << to_string(b); }

namespace {

using Sizes = std::vector<std::size_t>;

// A random box of rank 1..4 with small counts (some zero when allow_empty) and offset starts.
Box random_box(std::mt19937_64& rng, bool allow_empty) {
  std::uniform_int_distribution<std::size_t> rank_d(1, 4), count_d(allow_empty ? 0 : 1, 9), start_d(0, 13);
  const std::size_t n = rank_d(rng);
  Box b;
  for (std::size_t i = 0; i < n; ++i) {
    b.start.push_back(start_d(rng));
    b.count.push_back(count_d(rng));
  }
  return b;
}

Sizes random_align(std::mt19937_64& rng, std::size_t n) {
  std::uniform_int_distribution<std::size_t> a(1, 5);
  Sizes r(n);
  for (auto& x : r) x = a(rng);
  return r;
}

// Independent oracle for exact coverage: every element of `b` is hit exactly once by `tiles`
// and nothing outside `b` is hit.
void expect_exact_cover(const Box& b, const std::vector<Box>& tiles) {
  const std::uint64_t n = volume(b);
  std::vector<int> hits(static_cast<std::size_t>(n), 0);
  const Sizes strides = row_major_strides(b.count);
  for (const Box& t : tiles) {
    ASSERT_EQ(t.rank(), b.rank());
    ASSERT_TRUE(contains(b, t)) << to_string(t) << " not inside " << to_string(b);
    const std::uint64_t tv = volume(t);
    Sizes idx(t.rank(), 0);
    for (std::uint64_t k = 0; k < tv; ++k) {
      std::size_t flat = 0;
      for (std::size_t j = 0; j < t.rank(); ++j) flat += (t.start[j] + idx[j] - b.start[j]) * strides[j];
      ++hits[flat];
      for (std::size_t j = t.rank(); j-- > 0;) {
        if (++idx[j] < t.count[j]) break;
        idx[j] = 0;
      }
    }
  }
  for (std::size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i], 1) << "element " << i << " of " << to_string(b);
}

// ---- basic value functions ----

TEST(Box, VolumeIsProductAndZeroWhenAnyCountIsZero) {
  EXPECT_EQ(volume(Box({0, 0, 0}, {2, 3, 4})), 24u);
  EXPECT_EQ(volume(Box({5}, {0})), 0u);
  EXPECT_EQ(volume(Box({1, 2}, {7, 0})), 0u);
  EXPECT_EQ(volume(Box()), 1u);  // a rank-0 box is one scalar element
  EXPECT_TRUE(empty(Box({1, 2}, {7, 0})));
  EXPECT_FALSE(empty(Box({1, 2}, {7, 1})));
}

TEST(Box, VolumeOverflowThrowsInputError) {
  const std::size_t big = std::size_t(1) << 40;
  EXPECT_THROW(volume(Box({0, 0}, {big, big})), InputError);
  // A zero count anywhere means no elements, even after a huge product.
  EXPECT_EQ(volume(Box({0, 0, 0}, {big, big, 0})), 0u);
}

TEST(Box, IntersectAndContains) {
  const Box a({0, 5}, {10, 5});
  const Box b({4, 7}, {10, 10});
  EXPECT_EQ(intersect(a, b), Box({4, 7}, {6, 3}));
  EXPECT_EQ(intersect(b, a), Box({4, 7}, {6, 3}));
  // Touching boxes share no element.
  EXPECT_TRUE(empty(intersect(Box({0}, {5}), Box({5}, {5}))));
  EXPECT_TRUE(contains(a, Box({3, 6}, {2, 4})));
  EXPECT_FALSE(contains(a, Box({3, 6}, {2, 5})));
  EXPECT_FALSE(contains(a, Box({0, 4}, {1, 1})));
  EXPECT_TRUE(contains(a, Box({100, 100}, {0, 3})));  // empty boxes are inside anything
}

TEST(Box, ProjectOutKeepsRemainingAxesInOrder) {
  const Box b({1, 2, 3, 4}, {5, 6, 7, 8});
  EXPECT_EQ(project_out(b, {0}), Box({2, 3, 4}, {6, 7, 8}));
  EXPECT_EQ(project_out(b, {3, 1}), Box({1, 3}, {5, 7}));
  EXPECT_EQ(project_out(b, {0, 1, 2, 3}), Box());
  EXPECT_EQ(project_out(b, {}), b);
}

TEST(Box, RowMajorStrides) {
  EXPECT_EQ(row_major_strides({2, 3, 4}), (Sizes{12, 4, 1}));
  EXPECT_EQ(row_major_strides({7}), (Sizes{1}));
  EXPECT_EQ(row_major_strides({}), (Sizes{}));
}

TEST(Box, ToStringShowsHalfOpenRanges) {
  EXPECT_EQ(to_string(Box({0, 5}, {10, 3})), "[0:10, 5:8)");
  EXPECT_EQ(to_string(Box()), "[)");
}

// ---- split_along ----

// Block index of position x for alignment a, relative to index 0 (chunk grid).
std::size_t block_of(std::size_t x, std::size_t a) { return x / a; }

TEST(SplitAlong, RandomBoxesCoverInOrderAlignedAndBalanced) {
  std::mt19937_64 rng(1234);
  for (int iter = 0; iter < 3000; ++iter) {
    const Box b = random_box(rng, false);
    const std::size_t axis = std::uniform_int_distribution<std::size_t>(0, b.rank() - 1)(rng);
    const std::size_t parts = std::uniform_int_distribution<std::size_t>(1, 7)(rng);
    const std::size_t align = std::uniform_int_distribution<std::size_t>(1, 6)(rng);
    SCOPED_TRACE(to_string(b) + " axis " + std::to_string(axis) + " parts " + std::to_string(parts) + " align " +
                 std::to_string(align));
    const auto pieces = split_along(b, axis, parts, align);
    ASSERT_EQ(pieces.size(), parts);
    expect_exact_cover(b, pieces);

    const std::size_t lo = b.start[axis], hi = lo + b.count[axis];
    // Number of chunk blocks the axis range touches: the units being balanced.
    const std::size_t blocks = block_of(hi - 1, align) - block_of(lo, align) + 1;
    std::size_t next = lo, min_blocks = SIZE_MAX, max_blocks = 0;
    for (const Box& p : pieces) {
      for (std::size_t j = 0; j < b.rank(); ++j)
        if (j != axis) {
          EXPECT_EQ(p.start[j], b.start[j]);
          EXPECT_EQ(p.count[j], b.count[j]);
        }
      std::size_t nb = 0;
      if (!empty(p)) {
        EXPECT_EQ(p.start[axis], next) << "non-empty pieces must follow each other along the axis";
        next = p.start[axis] + p.count[axis];
        // Interior boundaries sit on chunk boundaries.
        if (p.start[axis] != lo) {
          EXPECT_EQ(p.start[axis] % align, 0u);
        }
        if (next != hi) {
          EXPECT_EQ(next % align, 0u);
        }
        nb = block_of(next - 1, align) - block_of(p.start[axis], align) + 1;
      }
      min_blocks = std::min(min_blocks, nb);
      max_blocks = std::max(max_blocks, nb);
    }
    EXPECT_EQ(next, hi);
    EXPECT_LE(max_blocks - min_blocks, 1u) << "blocks must be dealt out evenly";
    EXPECT_EQ(max_blocks, (blocks + parts - 1) / parts);
  }
}

TEST(SplitAlong, UnalignedStartCountsPartialFirstBlock) {
  // Range [3, 13) with chunks of 4: blocks [3,4) [4,8) [8,12) [12,13).
  const auto p = split_along(Box({3}, {10}), 0, 2, 4);
  ASSERT_EQ(p.size(), 2u);
  EXPECT_EQ(p[0], Box({3}, {5}));
  EXPECT_EQ(p[1], Box({8}, {5}));
}

TEST(SplitAlong, SinglePartIsTheBox) {
  const Box b({2, 4}, {5, 6});
  const auto p = split_along(b, 1, 1, 4);
  ASSERT_EQ(p.size(), 1u);
  EXPECT_EQ(p[0], b);
}

TEST(SplitAlong, OneBlockGoesToOnePiece) {
  // An axis inside one chunk cannot be cut: exactly one piece gets all of it.
  const auto p = split_along(Box({0, 0}, {3, 10}), 1, 4, 16);
  ASSERT_EQ(p.size(), 4u);
  int non_empty = 0;
  for (const Box& b : p) non_empty += !empty(b);
  EXPECT_EQ(non_empty, 1);
  expect_exact_cover(Box({0, 0}, {3, 10}), p);
}

TEST(SplitAlong, EmptyPiecesAreTrailing) {
  // Header contract: "later pieces may be empty when there are fewer blocks than parts", so
  // with 2 blocks and 4 parts pieces 0 and 1 hold the data and 2, 3 are empty.
  const auto p = split_along(Box({0}, {2}), 0, 4, 1);
  ASSERT_EQ(p.size(), 4u);
  EXPECT_EQ(p[0], Box({0}, {1}));
  EXPECT_EQ(p[1], Box({1}, {1}));
  EXPECT_TRUE(empty(p[2]));
  EXPECT_TRUE(empty(p[3]));
}

TEST(SplitAlong, EmptyAxisGivesOnlyEmptyPieces) {
  const auto p = split_along(Box({0, 5}, {4, 0}), 1, 3, 2);
  ASSERT_EQ(p.size(), 3u);
  for (const Box& b : p) EXPECT_TRUE(empty(b));
}

// ---- tile ----

// The tiler's plan for `b`: the first axis k whose trailing slab fits the budget; axis k-1 is
// cut, axes before it are walked one index at a time.
std::size_t whole_from(const Box& b, std::uint64_t budget) {
  std::uint64_t inner = 1;
  std::size_t k = b.rank();
  while (k > 0 && inner * b.count[k - 1] <= budget) inner *= b.count[--k];
  return k;
}

TEST(Tile, RandomBoxesAreCoveredExactlyWithinBudget) {
  std::mt19937_64 rng(42);
  for (int iter = 0; iter < 3000; ++iter) {
    const Box b = random_box(rng, true);
    const Sizes align = random_align(rng, b.rank());
    const std::uint64_t v = volume(b);
    const std::uint64_t budget = std::uniform_int_distribution<std::uint64_t>(1, std::max<std::uint64_t>(v, 1) + 3)(rng);
    SCOPED_TRACE(to_string(b) + " budget " + std::to_string(budget));
    const auto tiles = tile(b, budget, align);
    if (v == 0) {
      EXPECT_TRUE(tiles.empty());
      continue;
    }
    std::uint64_t sum = 0;
    for (const Box& t : tiles) {
      EXPECT_FALSE(empty(t)) << "no empty tiles";
      EXPECT_LE(volume(t), budget);
      sum += volume(t);
    }
    EXPECT_EQ(sum, v);
    for (std::size_t i = 0; i < tiles.size(); ++i)
      for (std::size_t j = i + 1; j < tiles.size(); ++j)
        ASSERT_TRUE(empty(intersect(tiles[i], tiles[j]))) << to_string(tiles[i]) << " overlaps " << to_string(tiles[j]);
    expect_exact_cover(b, tiles);
    if (budget >= v) {
      EXPECT_EQ(tiles.size(), 1u) << "a box within budget is one tile";
    }
  }
}

TEST(Tile, CutsFallOnChunkBoundariesWhenAChunkSlabFits) {
  std::mt19937_64 rng(7);
  int checked = 0;
  for (int iter = 0; iter < 4000; ++iter) {
    const Box b = random_box(rng, false);
    const Sizes align = random_align(rng, b.rank());
    const std::uint64_t budget = std::uniform_int_distribution<std::uint64_t>(1, volume(b))(rng);
    const std::size_t k = whole_from(b, budget);
    if (k == 0) continue;  // whole box fits
    const std::size_t axis = k - 1;
    std::uint64_t inner = 1;
    for (std::size_t j = k; j < b.rank(); ++j) inner *= b.count[j];
    SCOPED_TRACE(to_string(b) + " budget " + std::to_string(budget) + " cut axis " + std::to_string(axis));
    const auto tiles = tile(b, budget, align);
    for (const Box& t : tiles) {
      // Axes after the cut axis are whole; axes before it are single indices.
      for (std::size_t j = k; j < b.rank(); ++j) EXPECT_EQ(t.count[j], b.count[j]);
      for (std::size_t j = 0; j < axis; ++j) EXPECT_EQ(t.count[j], 1u);
      // Tiles use the budget: at most a slab of floor(budget/inner) along the cut axis.
      EXPECT_LE(t.count[axis], budget / inner);
    }
    if (budget >= align[axis] * inner) {
      // One chunk slab fits: no chunk is split between two tiles along the cut axis.
      ++checked;
      const std::size_t lo = b.start[axis], hi = lo + b.count[axis];
      for (const Box& t : tiles) {
        if (t.start[axis] != lo) {
          EXPECT_EQ(t.start[axis] % align[axis], 0u) << to_string(t);
        }
        const std::size_t end = t.start[axis] + t.count[axis];
        if (end != hi) {
          EXPECT_EQ(end % align[axis], 0u) << to_string(t);
        }
      }
      // And tiles are as large as aligned cuts allow: count per line <= ceil(len/step)+1.
      const std::size_t step = budget / inner / align[axis] * align[axis];
      std::uint64_t lines = 1;
      for (std::size_t j = 0; j < axis; ++j) lines *= b.count[j];
      EXPECT_LE(tiles.size(), lines * ((b.count[axis] + step - 1) / step + 1));
    }
  }
  EXPECT_GT(checked, 200) << "the property must actually be exercised";
}

TEST(Tile, ChunkPerTimeStepGivesWholeChunkTiles) {
  // (T, Y, X) = (10, 4, 6) with chunks (2, 4, 6) and room for 5 time steps: tiles of 4 steps,
  // cut on chunk boundaries (never 5, which would split a chunk).
  const auto tiles = tile(Box({0, 0, 0}, {10, 4, 6}), 5 * 24, {2, 4, 6});
  ASSERT_EQ(tiles.size(), 3u);
  EXPECT_EQ(tiles[0], Box({0, 0, 0}, {4, 4, 6}));
  EXPECT_EQ(tiles[1], Box({4, 0, 0}, {4, 4, 6}));
  EXPECT_EQ(tiles[2], Box({8, 0, 0}, {2, 4, 6}));
}

TEST(Tile, UnalignedStartSnapsToChunkGrid) {
  // Box starting mid-chunk: the first tile ends on the next chunk boundary.
  const auto tiles = tile(Box({3}, {14}), 8, {4});
  ASSERT_EQ(tiles.size(), 3u);
  EXPECT_EQ(tiles[0], Box({3}, {5}));   // [3, 8)
  EXPECT_EQ(tiles[1], Box({8}, {8}));   // [8, 16)
  EXPECT_EQ(tiles[2], Box({16}, {1}));  // [16, 17)
}

TEST(Tile, BudgetSmallerThanChunkStillCovers) {
  // Budget below one chunk: alignment is impossible; tiles are budget-sized runs.
  const auto tiles = tile(Box({0}, {10}), 3, {8});
  expect_exact_cover(Box({0}, {10}), tiles);
  for (const Box& t : tiles) EXPECT_LE(volume(t), 3u);
  EXPECT_EQ(tiles.size(), 4u);
}

TEST(Tile, BudgetOneGivesSingleElements) {
  const Box b({1, 2, 3}, {2, 3, 2});
  const auto tiles = tile(b, 1, {2, 2, 2});
  EXPECT_EQ(tiles.size(), 12u);
  for (const Box& t : tiles) EXPECT_EQ(volume(t), 1u);
  expect_exact_cover(b, tiles);
}

TEST(Tile, BudgetZeroIsTreatedAsOne) {
  const auto tiles = tile(Box({0, 0}, {2, 2}), 0, {1, 1});
  EXPECT_EQ(tiles.size(), 4u);
}

TEST(Tile, EmptyBoxHasNoTiles) {
  EXPECT_TRUE(tile(Box({0, 0}, {0, 5}), 100, {1, 1}).empty());
  EXPECT_TRUE(tile(Box({3}, {0}), 1, {1}).empty());
}

TEST(Tile, MissingAlignmentEntriesMeanUnaligned) {
  // Fewer alignment entries than axes must not read out of bounds.
  const Box b({0, 0}, {5, 7});
  const auto tiles = tile(b, 10, {});
  expect_exact_cover(b, tiles);
  for (const Box& t : tiles) EXPECT_LE(volume(t), 10u);
}

TEST(Tile, HugeBudgetOnLargeBoxIsOneTile) {
  const Box b({0, 0, 0}, {100000, 1000, 1000});
  const auto tiles = tile(b, std::numeric_limits<std::uint64_t>::max(), {1, 1, 1});
  ASSERT_EQ(tiles.size(), 1u);
  EXPECT_EQ(tiles[0], b);
}

// ---- split_to_budget (work regions inside a tile) ----

TEST(SplitToBudget, RandomBoxesAreCoveredExactly) {
  std::mt19937_64 rng(314);
  for (int iter = 0; iter < 3000; ++iter) {
    const Box b = random_box(rng, true);
    std::vector<std::size_t> order(b.rank());
    for (std::size_t i = 0; i < b.rank(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    order.resize(std::uniform_int_distribution<std::size_t>(0, b.rank())(rng));  // some axes unlisted
    const std::uint64_t v = volume(b);
    const std::uint64_t budget = std::uniform_int_distribution<std::uint64_t>(1, std::max<std::uint64_t>(v, 1) + 2)(rng);
    SCOPED_TRACE(to_string(b) + " budget " + std::to_string(budget));
    const auto pieces = split_to_budget(b, budget, order);
    if (v == 0) {
      EXPECT_TRUE(pieces.empty());
      continue;
    }
    for (const Box& p : pieces) EXPECT_FALSE(empty(p));
    expect_exact_cover(b, pieces);
    if (budget >= v) {
      EXPECT_EQ(pieces.size(), 1u);
    }
  }
}

TEST(SplitToBudget, FirstListedAxisIsCutFirst) {
  // (4, 6, 8) with room for a third: cutting axis 1 (listed first) suffices.
  const Box b({0, 0, 0}, {4, 6, 8});
  const auto pieces = split_to_budget(b, 64, {1, 0});
  ASSERT_EQ(pieces.size(), 3u);
  for (const Box& p : pieces) {
    EXPECT_EQ(p.count[0], 4u);
    EXPECT_EQ(p.count[2], 8u);
    EXPECT_LE(volume(p), 64u);
  }
  // Axis 1 too short for 12 parts: walked one index at a time, then axis 0 is cut.
  const auto fine = split_to_budget(b, 16, {1, 0});
  expect_exact_cover(b, fine);
  for (const Box& p : fine) {
    EXPECT_EQ(p.count[1], 1u);
    EXPECT_EQ(p.count[2], 8u);
    EXPECT_LE(volume(p), 16u);
  }
}

TEST(SplitToBudget, UnlistedAxesAreCutOutermostFirst) {
  const Box b({0, 0, 0}, {3, 4, 5});
  const auto pieces = split_to_budget(b, 20, {});
  ASSERT_EQ(pieces.size(), 3u);
  for (const Box& p : pieces) EXPECT_EQ(p.count[0], 1u);
}

TEST(SplitToBudget, PiecesNeverExceedTheBudget) {
  // Header contract: "pieces of at most max_elems elements". (5, 3) with budget 4: 15
  // elements need 4 parts, but 5 rows dealt into 4 parts gives a piece of 2 rows = 6 elements;
  // the only pieces within budget here are single rows (3 elements).
  const Box b({0, 0}, {5, 3});
  for (const Box& p : split_to_budget(b, 4, {0})) EXPECT_LE(volume(p), 4u) << to_string(p);
  std::mt19937_64 rng(2718);
  for (int iter = 0; iter < 2000; ++iter) {
    const Box b2 = random_box(rng, false);
    const std::uint64_t budget = std::uniform_int_distribution<std::uint64_t>(1, volume(b2))(rng);
    for (const Box& p : split_to_budget(b2, budget, {})) {
      ASSERT_LE(volume(p), budget) << to_string(p) << " of " << to_string(b2) << " budget " << budget;
    }
  }
}

TEST(SplitToBudget, ScalarAndEmptyBoxes) {
  const auto scalar = split_to_budget(Box(), 1, {});
  ASSERT_EQ(scalar.size(), 1u);
  EXPECT_EQ(scalar[0], Box());
  EXPECT_TRUE(split_to_budget(Box({0, 0}, {3, 0}), 10, {0}).empty());
}

}  // namespace
}  // namespace tessera
