#pragma once
// The only place that calls nc_*: a move-only file handle and the handful of queries and
// transfers Tessera needs, all with one error policy (status -> typed exception naming the file).
#include <cstddef>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "decomp/box.hpp"
#include "io/metadata.hpp"
#include "mpi/comm.hpp"

namespace tessera::nc {

class File {
 public:
  // Read-only open; failures are InputErrors ("cannot open 'x.nc': NetCDF: Unknown file format").
  static File open(const std::string& path);
  // Collective read-only open of a NetCDF-4 file by every rank of `comm`; reads are then
  // collective (every rank calls read() for each hyperslab, with an empty box if it has none).
  static File open_parallel(const std::string& path, const mpi::Comm& comm);
  // Serial create (fails if the file exists). format: "netcdf4", "classic", "64bit-offset", "cdf5".
  static File create(const std::string& path, const std::string& format);
  // Collective create of a NetCDF-4 file for parallel writing (fails if the file exists).
  static File create_parallel(const std::string& path, const mpi::Comm& comm);

  File() = default;
  File(File&& o) noexcept : id_(o.id_), path_(std::move(o.path_)), collective_(o.collective_) { o.id_ = -1; }
  File& operator=(File&& o) noexcept;
  File(const File&) = delete;
  File& operator=(const File&) = delete;
  ~File() noexcept;

  void close();  // explicit close that reports errors (the destructor cannot)
  // After a failed write: nc_abort instead of nc_close (see the .cpp).
  void abandon() noexcept;
  int id() const { return id_; }
  const std::string& path() const { return path_; }

  std::string format_name() const;   // "netCDF-4", "classic", "64-bit offset", "CDF5", "netCDF-4 classic model"
  bool has_variable(const std::string& name) const;
  std::vector<std::string> variable_names() const;
  VariableInfo variable(const std::string& name) const;     // metadata only
  std::vector<Attribute> global_attributes() const;
  std::vector<std::pair<std::string, std::size_t>> dimensions() const;
  int unlimited_dimension() const;                           // -1 if none

  // Reads a hyperslab in the variable's native type into dst.
  void read(const std::string& var, const Box& box, DType type, void* dst) const;
  // NetCDF-4 variables stored without filters: let HDF5 read whole chunks straight into the
  // caller's buffer instead of through its chunk cache (one memmove less per byte). Every rank
  // of a parallel file calls it together (it reopens the HDF5 dataset).
  void read_around_chunk_cache(const std::string& var) const;
  std::vector<double> read_all_as_double(const std::string& var) const;

  // ---- writing (define mode, then data mode) ----
  int define_dimension(const std::string& name, std::size_t len);
  int define_variable(const std::string& name, DType type, const std::vector<int>& dimids);
  void put_attribute(int varid, const Attribute& a);  // varid NC_GLOBAL (-1) for global
  void define_chunking(int varid, const std::vector<std::size_t>& chunks);
  void define_deflate(int varid, bool shuffle, int level);
  void end_define();
  void collective(int varid);
  void independent(int varid);
  void write(int varid, const Box& box, DType type, const void* src);

 private:
  File(int id, std::string path) : id_(id), path_(std::move(path)) {}
  int varid(const std::string& name) const;
  int id_ = -1;
  std::string path_;
  bool collective_ = false;  // opened by open_parallel: reads are collective, empty ones too
};

// Throws InputError for reading paths and RuntimeError otherwise, with nc_strerror's text.
void check(int status, const std::string& context, bool input_side);

}  // namespace tessera::nc
