// Weighted sums with one weight per row (weights over latitude only, as regular-grid area weights
// now are) must give the same bits as the same weights spelled out over [lat, lon]: the kernel
// adds a row's weight sum once (count x weight) instead of once per value.
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

struct Sums {
  std::vector<double> wx, w;
  std::vector<std::int64_t> n;
};

Sums weighted(const std::vector<float>& data, const Box& layout, const Box& region, const Decoding& dec,
              const std::vector<double>& wv, std::vector<std::size_t> strides, double max_w, double min_w) {
  AxisMap axes;
  axes.kept = {0};
  axes.reduced = {1, 2};
  const Box out({region.start[0]}, {region.count[0]});
  StateNeeds needs;
  needs.sum = true;
  ReductionState wx(out, needs, 23), w(out, needs, 23);
  const RawTile tile{DType::f32, data.data(), layout};
  ReductionState::Weights weights{wv.data(), std::move(strides), max_w, min_w};
  ReductionState::add_weighted(wx, w, tile, region, axes, region_stats(tile, region, dec), dec, 0, weights);
  return {wx.sums(), w.sums(), wx.counts()};
}

void expect_same_bits(const Sums& a, const Sums& b) {
  ASSERT_EQ(a.wx.size(), b.wx.size());
  EXPECT_EQ(a.n, b.n);
  for (std::size_t i = 0; i < a.wx.size(); ++i) {
    EXPECT_EQ(0, std::memcmp(&a.wx[i], &b.wx[i], sizeof(double))) << i << ": " << a.wx[i] << " vs " << b.wx[i];
    EXPECT_EQ(0, std::memcmp(&a.w[i], &b.w[i], sizeof(double))) << i << ": " << a.w[i] << " vs " << b.w[i];
  }
}

// time 3 x lat 7 x lon 37 (not a multiple of the kernel's 8 lanes), fill values and NaN mixed in.
void check(bool integers) {
  const std::size_t nt = 3, ny = 7, nx = 37;
  std::mt19937 rng(integers ? 7 : 11);
  std::uniform_real_distribution<float> temp(200.0f, 320.0f);
  std::vector<float> data(nt * ny * nx);
  for (auto& v : data) v = integers ? std::round(temp(rng)) : temp(rng);
  for (std::size_t i = 0; i < data.size(); i += 13) data[i] = 1e20f;
  for (std::size_t i = 5; i < data.size(); i += 29) data[i] = NAN;
  std::vector<double> wy(ny);
  for (std::size_t j = 0; j < ny; ++j)
    wy[j] = integers ? double(j + 1) : std::fabs(std::sin((j + 1) * 0.3) - std::sin(j * 0.3));
  std::vector<double> full(ny * nx);
  for (std::size_t j = 0; j < ny; ++j)
    for (std::size_t i = 0; i < nx; ++i) full[j * nx + i] = wy[j];
  double max_w = 0, min_w = INFINITY;
  for (double x : wy) max_w = std::max(max_w, x), min_w = std::min(min_w, x);
  Decoding dec;
  dec.n_missing = 1;
  dec.missing[0] = 1e20f;
  const Box layout({0, 0, 0}, {nt, ny, nx});
  for (const Box& region : {layout, Box({1, 2, 3}, {2, 4, 30})}) {
    // Weights over the whole domain (as the accumulator passes them), by their own strides.
    const Sums spelled = weighted(data, layout, region, dec, full, {0, nx, 1}, max_w, min_w);
    const Sums rows = weighted(data, layout, region, dec, wy, {0, 1, 0}, max_w, min_w);
    expect_same_bits(spelled, rows);
  }
}

TEST(WeightedRows, OneWeightPerRowGivesTheSameBitsSplitTier) { check(false); }
TEST(WeightedRows, OneWeightPerRowGivesTheSameBitsFastTier) { check(true); }

}  // namespace
}  // namespace tessera
