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

// Which input axes a reduction keeps (in order) and which it reduces. A grouped axis (time under
// groupby/resample) is reduced within groups and leaves a group axis in the output; output
// index j of a kept axis is input index (origin[j] + j-th output index), at output slot slot[j].
struct AxisMap {
  static constexpr std::size_t none = std::size_t(-1);
  std::vector<std::size_t> kept;
  std::vector<std::size_t> reduced;
  std::vector<std::size_t> origin;  // per kept axis; empty: all 0
  std::vector<std::size_t> slot;    // per kept axis; empty: 0, 1, ... in order (group slot skipped)
  std::size_t group_axis = none;    // input axis
  std::size_t group_slot = 0;       // its output dimension

  std::size_t kept_slot(std::size_t j) const {
    if (!slot.empty()) return slot[j];
    return group_axis != none && j >= group_slot ? j + 1 : j;
  }
  std::size_t kept_origin(std::size_t j) const { return origin.empty() ? 0 : origin[j]; }
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

  // `state_box` is in output space; region within layout. With a grouped axis the region lies
  // within one group, `group`, along it. `strides` (per input axis) replace the layout's
  // row-major strides: the same walk over another array, such as weights over some axes (stride 0
  // along the others).
  TileGeometry(const Box& layout, const Box& region, const Box& state_box, const AxisMap& axes, std::size_t group = 0,
               const std::vector<std::size_t>* strides = nullptr);

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
