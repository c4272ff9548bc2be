#pragma once
// What Tessera knows about an input before reading any data: plain values, serialisable,
// so rank 0 can scan files once and broadcast the result.
#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/dtype.hpp"

namespace tessera {

struct Attribute {
  std::string name;
  bool is_text = false;
  std::string text;               // when is_text
  DType type = DType::f64;        // numeric type as stored
  std::vector<double> values;     // numeric values

  static Attribute make_text(std::string n, std::string t);
  static Attribute make_number(std::string n, DType type, std::vector<double> v);
};

const Attribute* find_attribute(const std::vector<Attribute>& attrs, const std::string& name);

struct VariableInfo {
  std::string name;
  std::vector<std::string> dims;
  std::vector<std::size_t> shape;
  DType type = DType::f32;
  std::vector<std::size_t> chunks;  // empty: contiguous (or NetCDF-3)
  std::string compression;          // "" or e.g. "deflate(1) shuffle"
  std::vector<Attribute> attrs;

  const Attribute* attr(const std::string& n) const { return find_attribute(attrs, n); }
  int axis_of(const std::string& dim) const;  // -1 when absent
};

// A coordinate variable (1-d, named like its dimension), over the whole aggregated axis.
struct CoordinateInfo {
  VariableInfo var;
  std::vector<double> values;
  std::vector<double> bounds;  // 2 per value when the file has a `bounds` variable, else empty
  std::string bounds_name;
};

// One file's share of the aggregated variable along axis 0 (the record axis).
struct FilePart {
  std::string path;
  std::string format;           // "netCDF-4", "classic", "64-bit offset", "CDF5", "HDF5"
  std::size_t offset = 0;       // first index along axis 0 in the aggregate
  std::size_t length = 0;
  std::string reader;           // remote/Zarr readers' own state (JSON: endpoint, codecs, chunk index); "" for local files
};

struct InputMeta {
  std::string alias;
  std::string kind;             // "netcdf", "hdf5", "zarr", over HTTP/S3: "hdf5-remote" (chunk-indexed),
                                // "hdf5-ros3" (filters only HDF5 decodes), "netcdf3-remote" (header offsets)
  VariableInfo var;             // shape is the aggregated shape
  std::vector<FilePart> parts;  // in aggregation order
  std::vector<CoordinateInfo> coords;
  std::vector<Attribute> global_attrs;

  const CoordinateInfo* coordinate(const std::string& dim) const;
  // Per axis, the step that keeps hyperslabs on chunk boundaries (1 when unchunked).
  std::vector<std::size_t> chunk_alignment() const;
  bool reads_whole_chunks() const;   // every read decodes or fetches whole chunks
  std::uint64_t chunk_bytes() const; // uncompressed bytes of one chunk; 0 when contiguous
};

// Metadata of every variable in one file or store, for `tessera inspect` (local NetCDF files:
// summarize_file; URLs and Zarr stores: summarize_remote_or_zarr). Variables of types Tessera
// does not reduce (strings, compounds) are left out.
struct FileSummary {
  std::string path, format;
  std::vector<std::pair<std::string, std::size_t>> dims;
  int unlimited = -1;
  std::vector<VariableInfo> vars;
  std::vector<Attribute> global_attrs;
};

std::string to_json(const InputMeta& m);
InputMeta input_meta_from_json(const std::string& json);

}  // namespace tessera
