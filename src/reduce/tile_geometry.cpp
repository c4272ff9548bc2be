#include "reduce/tile_geometry.hpp"

#include <algorithm>

#include "core/error.hpp"

namespace tessera {

TileGeometry::TileGeometry(const Box& layout, const Box& region, const Box& state_box, const AxisMap& axes,
                           std::size_t group, const std::vector<std::size_t>* strides) {
  if (axes.kept.size() > tile_max_dims || axes.reduced.size() + 1 > tile_max_dims)
    throw InputError("variables with more than 8 dimensions are not supported");
  const auto ls = strides ? *strides : row_major_strides(layout.count);
  const auto ss = row_major_strides(state_box.count);
  for (std::size_t i = 0; i < layout.rank(); ++i) base_lay += (region.start[i] - layout.start[i]) * ls[i];
  const std::size_t nk = axes.kept.size();
  for (std::size_t j = 0; j < nk; ++j)
    base_state += (region.start[axes.kept[j]] - axes.kept_origin(j) - state_box.start[axes.kept_slot(j)]) * ss[axes.kept_slot(j)];
  if (axes.group_axis != AxisMap::none) base_state += (group - state_box.start[axes.group_slot]) * ss[axes.group_slot];
  if (nk > 0) {
    // The last kept axis forms the runs; the others are walked one cell at a time.
    const std::size_t a = axes.kept[nk - 1];
    run_len = region.count[a];
    run_lay = ls[a];
    run_state = ss[axes.kept_slot(nk - 1)];
    for (std::size_t j = 0; j + 1 < nk; ++j) {
      outer_count[nouter] = region.count[axes.kept[j]];
      outer_lay[nouter] = ls[axes.kept[j]];
      outer_state[nouter] = ss[axes.kept_slot(j)];
      ++nouter;
    }
  }
  std::vector<std::size_t> walked = axes.reduced;
  if (axes.group_axis != AxisMap::none) walked.insert(std::lower_bound(walked.begin(), walked.end(), axes.group_axis), axes.group_axis);
  for (std::size_t a : walked) {
    rcount[nred] = region.count[a];
    rlay[nred] = ls[a];
    reduced *= region.count[a];
    ++nred;
  }
  std::size_t outer = 1;
  for (int j = 0; j < nouter; ++j) outer *= outer_count[j];
  blocks = (run_len + run_block - 1) / run_block;
  items = empty(region) ? 0 : outer * blocks;
}

}  // namespace tessera
