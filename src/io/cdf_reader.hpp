#pragma once
// Direct reader of one variable in a local NetCDF-3 file (classic, 64-bit offset, CDF5): pread
// at the offsets the header gives, straight into the caller's buffer, then a byte swap in place.
// netcdf-c's nc_get_vara reads through its own buffer and converts from there (one copy more);
// the bytes delivered are the same, so results do not change.
#include <cstddef>
#include <memory>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "decomp/box.hpp"
#include "io/cdf_header.hpp"

namespace tessera {

class CdfReader {
 public:
  // The reader for `var` in `path`, or nullptr when this reader is unsure (not NetCDF-3, no such
  // variable, a scalar, an element size other than `type`'s, a shape that disagrees with `tail`
  // along the axes after the first): the caller then reads through netcdf-c.
  static std::unique_ptr<CdfReader> open(const std::string& path, const std::string& var, DType type,
                                         const std::vector<std::size_t>& shape);
  ~CdfReader();
  CdfReader(const CdfReader&) = delete;
  CdfReader& operator=(const CdfReader&) = delete;

  // Reads `box` (the file's own index space) into dst in the native type, C order. InputError
  // when the box lies outside the variable or the file ends before the data does.
  void read(const Box& box, void* dst) const;

 private:
  CdfReader(std::string path, int fd, CdfHeader header, std::size_t var, std::size_t esize);
  void read_run(std::uint64_t offset, std::size_t bytes, char* dst, const Box& box) const;
  std::string path_;
  int fd_ = -1;
  CdfHeader header_;
  std::size_t var_ = 0;
  std::size_t esize_ = 0;
};

}  // namespace tessera
