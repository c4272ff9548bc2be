#pragma once
// NetCDF-3 files (classic, 64-bit offset, CDF5) behind s3:// or http(s):// URLs. Their layout is
// fixed by the header (cdf_header.hpp): every element's offset is known, so the scan fetches the
// header and the coordinates with range GETs, and reads fetch exactly the bytes of a box, one
// range per contiguous run (ranges merged by the object store), big-endian to host order.
#include <memory>
#include <string>

#include "decomp/box.hpp"
#include "io/metadata.hpp"
#include "io/source.hpp"
#include "net/object_store.hpp"

namespace tessera {

// Where one variable's values lie in the file.
struct CdfLayout {
  std::vector<std::size_t> shape;  // record dimension as numrecs
  bool is_record = false;
  std::uint64_t begin = 0;         // first byte (of the first record for record variables)
  std::uint64_t record_size = 0;   // bytes from one record to the next
  DType type = DType::f32;
};

// One range per contiguous run of `box`'s bytes, landing in `dst` (box in C order) at the place
// the run's elements have there. Stored order is big-endian: swap after the read.
void add_cdf_reads(const std::string& url, const CdfLayout& layout, const Box& box, char* dst,
                   std::vector<net::RangeRead>& reads);

// Scans a NetCDF-3 object as scan_netcdf does a local file: the header from `head` (the
// object's first bytes, fetched by the caller) or, when the header is longer, from more range
// GETs; the coordinates (and their bounds) read with range GETs. kind "netcdf3-remote".
InputMeta scan_cdf_remote(net::ObjectStore& store, const std::string& url, std::uint64_t size,
                          std::vector<unsigned char> head, const std::string& variable, const std::string& alias,
                          const net::RemoteOptions& opt);

// Every variable of a NetCDF-3 object, from its header (fetched as scan_cdf_remote does), for
// `tessera inspect URL`: what summarize_file gives for the local file.
FileSummary summarize_cdf_remote(net::ObjectStore& store, const std::string& url, std::uint64_t size,
                                 std::vector<unsigned char> head);

std::unique_ptr<Source> open_remote_cdf_source(const InputMeta& meta);

}  // namespace tessera
