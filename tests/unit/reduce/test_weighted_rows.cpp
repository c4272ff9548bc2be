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

// The one pass (measuring while it adds, with the batches of the regions before) must give the
// same bits as region_stats + add_weighted over a series of regions: the first region (the guess,
// fast, fails: the region moves the sums to the split tier and is added again), steady ones (the
// guess holds), magnitudes that jump to the wide tier (measured as the accumulator does), missing
// values, and values at an odd byte address (a chunk read in place).
void check_one_pass(bool row_weights) {
  const std::size_t nt = 12, ny = 5, nx = 41;
  std::mt19937 rng(row_weights ? 3 : 5);
  std::uniform_real_distribution<float> temp(200.0f, 320.0f);
  std::vector<float> data(nt * ny * nx);
  for (auto& v : data) v = temp(rng);
  for (std::size_t i = 0; i < data.size(); i += 17) data[i] = 1e20f;
  for (std::size_t i = 3; i < data.size(); i += 31) data[i] = NAN;
  for (std::size_t i = 7 * ny * nx; i < 9 * ny * nx; ++i)
    if (data[i] != 1e20f) data[i] *= 3e3f;  // time steps 7-8: a larger split constant
  std::vector<char> shifted(data.size() * sizeof(float) + 1);
  std::memcpy(shifted.data() + 1, data.data(), data.size() * sizeof(float));
  std::vector<double> wy(ny), full(ny * nx);
  for (std::size_t j = 0; j < ny; ++j) wy[j] = std::fabs(std::sin((j + 1) * 0.3) - std::sin(j * 0.3));
  for (std::size_t j = 0; j < ny; ++j)
    for (std::size_t i = 0; i < nx; ++i) full[j * nx + i] = wy[j];
  double max_w = 0, min_w = INFINITY;
  for (double x : wy) max_w = std::max(max_w, x), min_w = std::min(min_w, x);
  const std::vector<double>& wv = row_weights ? wy : full;
  const std::vector<std::size_t> strides = row_weights ? std::vector<std::size_t>{0, 1, 0} : std::vector<std::size_t>{0, nx, 1};
  Decoding dec;
  dec.n_missing = 1;
  dec.missing[0] = 1e20f;
  AxisMap axes;
  axes.kept = {0};
  axes.reduced = {1, 2};
  StateNeeds needs;
  needs.sum = true;
  const Box layout({0, 0, 0}, {nt, ny, nx}), out({0}, {nt});
  ReductionState wx1(out, needs, 23, double(ny * nx)), w1(out, needs, 23, double(ny * nx));
  ReductionState wx2(out, needs, 23, double(ny * nx)), w2(out, needs, 23, double(ny * nx));
  const ReductionState::Weights weights{wv.data(), strides, max_w, min_w};
  std::size_t one_pass = 0;
  for (const RawTile tile : {RawTile{DType::f32, data.data(), layout}, RawTile{DType::f32, shifted.data() + 1, layout}})
    for (std::size_t t = 0; t < nt; t += 2) {
      const Box region({t, 0, 0}, {2, ny, nx});
      ReductionState::add_weighted(wx1, w1, tile, region, axes, region_stats(tile, region, dec), dec, 0, weights);
      // As the accumulator does: a state the one pass cannot serve (the wide tier) is measured.
      if (ReductionState::add_weighted_in_one_pass(wx2, w2, tile, region, axes, dec, 0, weights) ==
          ReductionState::OnePass::added)
        ++one_pass;
      else
        ReductionState::add_weighted(wx2, w2, tile, region, axes, region_stats(tile, region, dec), dec, 0, weights);
    }
  EXPECT_GE(one_pass, 3u);  // the first tile's regions after the first, before the tier turns wide
  expect_same_bits({wx1.sums(), w1.sums(), wx1.counts()}, {wx2.sums(), w2.sums(), wx2.counts()});
  // Both tiles were added: every time step counts its valid values twice.
  std::int64_t valid = 0;
  for (std::size_t i = 0; i < ny * nx; ++i) valid += std::isfinite(data[i]) && data[i] != 1e20f;
  EXPECT_EQ(wx2.counts()[0], 2 * valid);
}

TEST(WeightedRows, OnePassGivesTheSameBitsWithRowWeights) { check_one_pass(true); }
TEST(WeightedRows, OnePassGivesTheSameBitsWithFullWeights) { check_one_pass(false); }

TEST(WeightedRows, OneWeightPerRowGivesTheSameBitsSplitTier) { check(false); }
TEST(WeightedRows, OneWeightPerRowGivesTheSameBitsFastTier) { check(true); }

}  // namespace
}  // namespace tessera
