#pragma once
// Walking the cells of boxes on the host: index vectors in C order, and offsets of a sub-box's
// cells inside an enclosing box (packing partial states, placing received pieces).
#include <vector>

#include "decomp/box.hpp"

namespace tessera {

// Calls f(idx) for every index vector of `b` in C order: nothing for an empty box, once with an
// empty index for a rank-0 (scalar) box.
template <class F>
void for_each_index(const Box& b, F&& f) {
  if (b.rank() > 0 && empty(b)) return;
  const std::size_t n = b.rank();
  std::vector<std::size_t> idx(b.start);
  const std::uint64_t total = volume(b);
  for (std::uint64_t k = 0; k < total; ++k) {
    f(static_cast<const std::vector<std::size_t>&>(idx));
    for (std::size_t a = n; a-- > 0;) {
      if (++idx[a] < b.start[a] + b.count[a]) break;
      idx[a] = b.start[a];
    }
  }
}

// Calls f(offset) for every cell of `sub` (row-major) with its row-major offset in `box`.
template <class F>
void for_each_offset(const Box& box, const Box& sub, F&& f) {
  const auto strides = row_major_strides(box.count);
  for_each_index(sub, [&](const std::vector<std::size_t>& idx) {
    std::size_t c = 0;
    for (std::size_t j = 0; j < idx.size(); ++j) c += (idx[j] - box.start[j]) * strides[j];
    f(c);
  });
}

}  // namespace tessera
