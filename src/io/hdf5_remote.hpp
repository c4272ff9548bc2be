#pragma once
// NetCDF-4/HDF5 files behind http(s) URLs: the metadata scan goes through HDF5's read-only S3
// driver (ROS3), once per file, and yields a chunk index (where each chunk's bytes lie) so that
// reads bypass HDF5 and fetch only the chunks they need with merged range GETs.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "io/metadata.hpp"

namespace tessera {

struct Ros3Access {
  bool authenticate = false;
  std::string region, access_key, secret_key;  // in memory only
};

struct ChunkEntry {
  std::uint64_t linear = 0;   // C-order index in the chunk grid
  std::uint64_t address = 0;  // byte offset in the file
  std::uint64_t size = 0;     // stored (filtered) bytes
  unsigned filter_mask = 0;   // bit i set: filter i was skipped for this chunk
};

struct ChunkIndex {
  std::vector<std::size_t> shape;   // the dataset in this file
  std::vector<std::size_t> chunk;   // chunk shape (contiguous data: one row of the last axis)
  std::vector<std::string> filters; // pipeline order: "deflate", "shuffle"
  bool big_endian = false;
  std::vector<char> fill;           // one element, native order, for unallocated chunks
  std::vector<ChunkEntry> entries;  // allocated chunks
};

// Scans `http_url` with ROS3 as scan_hdf5 does for a local file (variable given as "/name"), and
// builds the variable's chunk index. `label` is what messages name (the user's URL).
// InputError for filters Tessera cannot decode itself (anything but deflate and shuffle).
InputMeta scan_hdf5_over_ros3(const std::string& http_url, const std::string& label, const std::string& variable,
                              const std::string& alias, const Ros3Access& access, ChunkIndex& index);

}  // namespace tessera
