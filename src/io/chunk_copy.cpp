#include "io/chunk_copy.hpp"

#include <algorithm>
#include <cstring>

namespace tessera {

void place_chunk(const char* src, const char* fill, const std::vector<std::size_t>& chunk, std::size_t esize,
                 const std::vector<std::size_t>& origin, const Box& box, char* dst) {
  const std::size_t rank = chunk.size();
  if (rank == 0) {
    std::memcpy(dst, src ? src : fill, esize);
    return;
  }
  std::vector<std::size_t> lo(rank), hi(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    lo[i] = std::max(origin[i], box.start[i]);
    hi[i] = std::min(origin[i] + chunk[i], box.start[i] + box.count[i]);
    if (lo[i] >= hi[i]) return;
  }
  const std::size_t run = hi[rank - 1] - lo[rank - 1];
  std::vector<std::size_t> idx = lo;
  while (true) {
    std::size_t s = 0, d = 0;
    for (std::size_t i = 0; i < rank; ++i) {
      s = s * chunk[i] + (idx[i] - origin[i]);
      d = d * box.count[i] + (idx[i] - box.start[i]);
    }
    if (src)
      std::memcpy(dst + d * esize, src + s * esize, run * esize);
    else
      for (std::size_t k = 0; k < run; ++k) std::memcpy(dst + (d + k) * esize, fill, esize);
    std::size_t i = rank - 1;
    while (i-- > 0) {
      if (++idx[i] < hi[i]) break;
      idx[i] = lo[i];
    }
    if (i == static_cast<std::size_t>(-1)) break;
  }
}

std::vector<std::vector<std::size_t>> chunks_touching(const Box& box, const std::vector<std::size_t>& chunk) {
  const std::size_t rank = chunk.size();
  std::vector<std::size_t> first(rank), last(rank);
  for (std::size_t i = 0; i < rank; ++i) {
    first[i] = box.start[i] / chunk[i];
    last[i] = (box.start[i] + box.count[i] - 1) / chunk[i];
  }
  std::vector<std::vector<std::size_t>> out;
  std::vector<std::size_t> idx = first;
  while (true) {
    out.push_back(idx);
    std::size_t i = rank;
    while (i-- > 0) {
      if (++idx[i] <= last[i]) break;
      idx[i] = first[i];
    }
    if (i == static_cast<std::size_t>(-1)) break;
  }
  return out;
}

void byteswap(char* p, std::size_t bytes, std::size_t esize) {
  if (esize == 1) return;
  for (std::size_t i = 0; i < bytes; i += esize) std::reverse(p + i, p + i + esize);
}

}  // namespace tessera
