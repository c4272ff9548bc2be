#pragma once
// How a kernel walks one work region of a tile: the region's output cells are grouped in runs
// along the last kept axis (contiguous in memory when that is the tile's last axis), so the
// inner loop is a plain, vectorisable loop over up to `run_block` cells; the reduced elements
// of those cells are visited by an odometer over the reduced axes.
#include <Kokkos_Core.hpp>

#include "core/dtype.hpp"
#include "decomp/box.hpp"

namespace tessera {

// A tile as read: stored values in C order over `layout`, readable from the default execution space.
struct RawTile {
  DType type = DType::f32;
  const void* data = nullptr;
  Box layout;
};

// Which input axes a reduction keeps (in order: they are the output's axes) and which it reduces.
struct AxisMap {
  std::vector<std::size_t> kept;
  std::vector<std::size_t> reduced;
};

constexpr int tile_max_dims = 8;
constexpr int run_block = 64;

struct TileGeometry {
  int nouter = 0, nred = 0;
  std::size_t outer_count[tile_max_dims] = {}, outer_lay[tile_max_dims] = {}, outer_state[tile_max_dims] = {};
  std::size_t rcount[tile_max_dims] = {}, rlay[tile_max_dims] = {};
  std::size_t run_len = 1, run_lay = 0, run_state = 0;
  std::size_t base_lay = 0, base_state = 0;
  std::size_t reduced = 1;   // reduced elements per cell in the region
  std::size_t blocks = 1;    // run blocks per outer cell
  std::size_t items = 0;     // outer cells x blocks: the parallel work items

  // `state_box` is in output space (kept axes); region within layout.
  TileGeometry(const Box& layout, const Box& region, const Box& state_box, const AxisMap& axes);

  // Offsets of item `i` and the number of cells in its run block.
  KOKKOS_INLINE_FUNCTION void locate(std::size_t i, std::size_t& lay, std::size_t& st, int& len) const {
    std::size_t o = i / blocks;
    const std::size_t b = i % blocks;
    lay = base_lay;
    st = base_state;
    for (int j = nouter - 1; j >= 0; --j) {
      const std::size_t k = o % outer_count[j];
      o /= outer_count[j];
      lay += k * outer_lay[j];
      st += k * outer_state[j];
    }
    const std::size_t j0 = b * run_block;
    lay += j0 * run_lay;
    st += j0 * run_state;
    len = static_cast<int>(run_len - j0 < std::size_t(run_block) ? run_len - j0 : std::size_t(run_block));
  }

  // Advances the reduced-axes odometer; `off` is the offset of the current reduced element.
  KOKKOS_INLINE_FUNCTION void next_reduced(std::size_t* r, std::size_t& off) const {
    for (int j = nred - 1; j >= 0; --j) {
      off += rlay[j];
      if (++r[j] < rcount[j]) return;
      off -= rcount[j] * rlay[j];
      r[j] = 0;
    }
  }
};

}  // namespace tessera
