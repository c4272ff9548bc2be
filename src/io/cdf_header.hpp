#pragma once
// A reader of the NetCDF-3 header (classic, 64-bit offset, CDF5): where each variable's data
// lies in the file. NetCDF-C reads past the end of a truncated NetCDF-3 file as zeros without
// an error, so Tessera checks the file size against the header itself; remote readers use the
// same offsets for range requests.
#include <cstdint>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "io/metadata.hpp"

namespace tessera {

struct CdfDimension {
  std::string name;
  std::uint64_t length = 0;          // 0: the record (unlimited) dimension
};

struct CdfVariable {
  std::string name;
  std::vector<std::uint64_t> shape;  // record dimension as numrecs
  std::vector<std::uint64_t> dimids; // into CdfHeader::dims
  bool is_record = false;
  std::uint32_t nc_type = 0;         // 1 byte, 2 char, 3 short, 4 int, 5 float, 6 double, 7-11 CDF5's
  std::uint64_t begin = 0;           // offset of the data (first record for record variables)
  std::uint64_t bytes = 0;           // bytes per record (record variables) or in all
  std::vector<Attribute> attrs;      // as netCDF-C reports them (text without trailing NULs)
};

struct CdfHeader {
  int version = 1;                   // 1 classic, 2 64-bit offset, 5 CDF5
  std::uint64_t numrecs = 0;
  std::uint64_t record_size = 0;     // bytes from one record to the next
  std::vector<CdfDimension> dims;
  std::vector<Attribute> global_attrs;
  std::vector<CdfVariable> vars;
  std::uint64_t data_end() const;    // the smallest file size that holds all the data
  const CdfVariable* variable(const std::string& name) const;  // null when absent
  std::string format_name() const;   // "classic", "64-bit offset", "CDF5" (as netCDF-C names them)
};

// The element type of a NetCDF-3 type code; false for char and unknown codes.
bool cdf_dtype(std::uint32_t nc_type, DType& out);

// Thrown when the bytes end inside the header: a reader that fetched only the start of the
// file can fetch more and parse again.
struct CdfHeaderCut : InputError {
  using InputError::InputError;
};

// Parses the header at the start of `path`; InputError naming the file when it is not NetCDF-3
// or the header itself is cut off or malformed.
CdfHeader read_cdf_header(const std::string& path);
// The same from the first bytes of a file (`label` names it in messages); every size in the
// result is checked, so data_end() cannot wrap around.
CdfHeader parse_cdf_header(const std::string& label, std::vector<unsigned char> bytes);

// InputError when the file is shorter than its header says ("truncated: ... bytes of ...").
void check_cdf_complete(const std::string& path);

}  // namespace tessera
