#pragma once
// Reads a local NetCDF-4 variable's unfiltered chunks in place: a box that is one contiguous
// range of the file (time slabs whose chunks span the other axes whole and lie one after the
// other) is mapped from the page cache instead of copied into a buffer by read(). The bytes are
// the same as read() delivers, so results do not change; the kernels' first pass over the tile
// reads the cached pages directly (no kernel copy, no buffer to write). Chunks sit at any byte
// address, so the pointer map() returns may be misaligned for the type: read it via StoredPtr.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "decomp/box.hpp"

namespace tessera {

class ChunkMapper {
 public:
  // The mapper for `var` in `path`, or nullptr when its chunks cannot be read in place (filters,
  // chunks that split an axis after the first, a non-native byte order, HDF5 refusing to open
  // the file a second time). Call it before netcdf-c opens the file.
  static std::unique_ptr<ChunkMapper> open(const std::string& path, const std::string& var, DType type,
                                           const std::vector<std::size_t>& shape);
  ~ChunkMapper();
  ChunkMapper(const ChunkMapper&) = delete;
  ChunkMapper& operator=(const ChunkMapper&) = delete;

  // The time slab around `box` (the file's own index space; every axis after the first whole)
  // in place, C order, with that slab in `layout`; nullptr when the slab is not one contiguous
  // range of the file (the caller then reads the box). Only the pages of the box are touched.
  // Valid until release() or the next map().
  const void* map(const Box& box, Box& layout);
  void release();

 private:
  ChunkMapper() = default;
  int fd_ = -1;
  std::vector<std::int64_t> offsets_;  // per chunk along axis 0
  std::vector<std::size_t> shape_;
  std::size_t slab_ = 1;               // chunk length along axis 0 (the last chunk may overhang)
  std::size_t row_bytes_ = 0;          // bytes of one index step along axis 0
  void* base_ = nullptr;
  std::size_t length_ = 0;
};

}  // namespace tessera
