// Regions whose statistics find every value valid take the untested (dense) accumulation loop:
// it must give the same sums and counts as the tested loop, and any fill value, NaN or infinity
// must keep a region off it.
#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <random>
#include <vector>

#include "cf/decoding.hpp"
#include "decomp/box.hpp"
#include "reduce/reduction_state.hpp"
#include "reduce/tile_geometry.hpp"
#include "reduce/tile_kernels.hpp"

namespace tessera {
namespace {

struct Result {
  std::vector<double> sums;
  std::vector<std::int64_t> counts;
};

// Sum over time of a 5 x 6 x 11 float tile (time mean's kernel), with the given stats.
Result sum_over_time(const std::vector<float>& data, const Box& region, const Decoding& dec, TileStats stats) {
  const Box layout({0, 0, 0}, {5, 6, 11});
  AxisMap axes;
  axes.kept = {1, 2};
  axes.reduced = {0};
  StateNeeds needs;
  needs.sum = true;
  ReductionState st(Box({region.start[1], region.start[2]}, {region.count[1], region.count[2]}), needs, 23);
  st.add(RawTile{DType::f32, data.data(), layout}, region, axes, stats, dec);
  return {st.sums(), st.counts()};
}

std::vector<float> values(unsigned seed, float scale) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.0f, 1.0f);
  std::vector<float> v(5 * 6 * 11);
  for (auto& x : v) x = d(rng) * scale;
  return v;
}

void expect_same(const Result& a, const Result& b) {
  EXPECT_EQ(a.counts, b.counts);
  ASSERT_EQ(a.sums.size(), b.sums.size());
  for (std::size_t i = 0; i < a.sums.size(); ++i)
    EXPECT_EQ(0, std::memcmp(&a.sums[i], &b.sums[i], sizeof(double))) << i << ": " << a.sums[i] << " vs " << b.sums[i];
}

TEST(DenseRegions, AllValidRegionsGiveTheSameBitsAsTheTestedLoop) {
  Decoding dec;
  dec.n_missing = 1;
  dec.missing[0] = 1e20f;
  const Box layout({0, 0, 0}, {5, 6, 11});
  for (float scale : {300.0f, 1e30f, 1e-30f}) {  // different tiers
    const std::vector<float> data = values(3, scale);
    for (const Box& region : {layout, Box({1, 2, 3}, {3, 4, 7})}) {
      const TileStats stats = region_stats(RawTile{DType::f32, data.data(), layout}, region, dec);
      EXPECT_TRUE(stats.all_valid);
      TileStats tested = stats;
      tested.all_valid = false;
      expect_same(sum_over_time(data, region, dec, stats), sum_over_time(data, region, dec, tested));
      EXPECT_EQ(sum_over_time(data, region, dec, stats).counts.front(), static_cast<std::int64_t>(region.count[0]));
    }
  }
}

TEST(DenseRegions, FillNaNAndInfinityAreNotAllValid) {
  Decoding dec;
  dec.n_missing = 1;
  dec.missing[0] = 1e20f;
  const Box layout({0, 0, 0}, {5, 6, 11});
  for (float bad : {1e20f, NAN, INFINITY, -INFINITY}) {
    std::vector<float> data = values(5, 300.0f);
    data[4 * 66 + 5 * 11 + 10] = bad;  // the very last value
    EXPECT_FALSE(region_stats(RawTile{DType::f32, data.data(), layout}, layout, dec).all_valid) << bad;
    // A region that leaves it out is all valid again.
    EXPECT_TRUE(region_stats(RawTile{DType::f32, data.data(), layout}, Box({0, 0, 0}, {4, 6, 11}), dec).all_valid);
  }
  std::vector<std::int16_t> shorts(5 * 6 * 11, 7);
  shorts[17] = -32767;
  Decoding sdec;
  sdec.n_missing = 1;
  sdec.missing[0] = -32767;
  sdec.mantissa_bits = 0;
  EXPECT_FALSE(region_stats(RawTile{DType::i16, shorts.data(), layout}, layout, sdec).all_valid);
  shorts[17] = 3;
  EXPECT_TRUE(region_stats(RawTile{DType::i16, shorts.data(), layout}, layout, sdec).all_valid);
}

}  // namespace
}  // namespace tessera
