#pragma once
// NetCDF-4/HDF5 files behind http(s) URLs: the metadata scan goes through HDF5's read-only S3
// driver (ROS3), once per file, and yields a chunk index (where each chunk's bytes lie) so that
// reads bypass HDF5 and fetch only the chunks they need with merged range GETs.
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "io/metadata.hpp"
#include "io/source.hpp"

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
  std::vector<std::string> filters; // pipeline order: "deflate", "shuffle", "fletcher32"
  std::string ros3_only;            // a filter only HDF5 decodes ("szip (id 4)"): read through ROS3, no entries
  bool big_endian = false;
  std::vector<char> fill;           // one element, native order, for unallocated chunks
  std::vector<ChunkEntry> entries;  // allocated chunks
};

// Scans `http_url` with ROS3 as scan_hdf5 does for a local file (variable given as "/name"), and
// builds the variable's chunk index. `label` is what messages name (the user's URL). A filter
// Tessera does not decode (anything but deflate, shuffle, fletcher32) sets index.ros3_only when
// this HDF5 library can decode it, and is an InputError (what to do) when it cannot.
InputMeta scan_hdf5_over_ros3(const std::string& http_url, const std::string& label, const std::string& variable,
                              const std::string& alias, const Ros3Access& access, ChunkIndex& index);

// While alive, HDF5 files named by http(s) URLs open through ROS3 with `access` (this thread).
class Ros3Scope {
 public:
  explicit Ros3Scope(const Ros3Access& a);
  ~Ros3Scope();
  Ros3Scope(const Ros3Scope&) = delete;
  Ros3Scope& operator=(const Ros3Scope&) = delete;
};

// Reads the data of a scanned remote HDF5 input through HDF5 and ROS3 (one GET per chunk, in
// sequence): the fallback for filters only HDF5 decodes, and TESSERA_REMOTE_READER=ros3.
std::unique_ptr<Source> open_ros3_source(const InputMeta& meta);

}  // namespace tessera
