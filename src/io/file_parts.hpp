#pragma once
// An input's files lie one after another along axis 0 (FilePart::offset, length). A box in the
// aggregated index space is split into one piece per file it touches: the piece in that file's
// own index space, and the row (along axis 0) of the box where the piece's values start.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "decomp/box.hpp"
#include "io/metadata.hpp"

namespace tessera {

// fn(part_index, piece, first_row) for every part `box` overlaps along axis 0, in part order.
template <class F>
void for_each_part(const std::vector<FilePart>& parts, const Box& box, F&& fn) {
  if (box.rank() == 0) return;
  const std::size_t begin = box.start[0], end = box.start[0] + box.count[0];
  for (std::size_t p = 0; p < parts.size(); ++p) {
    const FilePart& fp = parts[p];
    const std::size_t a = std::max(begin, fp.offset), b = std::min(end, fp.offset + fp.length);
    if (a >= b) continue;
    Box piece = box;
    piece.start[0] = a - fp.offset;
    piece.count[0] = b - a;
    fn(p, piece, a - begin);
  }
}

}  // namespace tessera
