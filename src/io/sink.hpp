#pragma once
// NetCDF-4 output, written collectively by all ranks and published atomically: data goes to a
// temporary file next to the target, which is renamed over it only after every rank succeeded.
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "decomp/box.hpp"
#include "io/metadata.hpp"
#include "mpi/comm.hpp"

namespace tessera {

struct OutputDimension {
  std::string name;
  std::size_t length = 0;
};

// A variable written from per-rank pieces: each rank passes the box it owns and its values.
struct OutputVariable {
  std::string name;
  std::vector<std::string> dims;
  DType type = DType::f32;
  std::vector<Attribute> attrs;
  Box owned;                   // this rank's piece (may be empty)
  std::vector<double> values;  // row-major over `owned`; NaN is written as _FillValue
  double fill = 0.0;           // used when has_fill
  bool has_fill = false;
};

struct OutputDataset {
  std::vector<OutputDimension> dims;
  std::vector<OutputVariable> vars;  // coordinates first, then results
  std::vector<Attribute> global_attrs;
};

// Refuses early (before any data is read) when the output exists and may not be replaced, or
// when its folder is missing or not writable. Call on one rank; the checks are about the path.
void check_output_path(const std::string& path, bool overwrite);

// Held by rank 0 for a whole run: a second run writing the same output refuses (RuntimeError,
// exit 4) instead of interleaving with the first. An flock on `.NAME.tessera.lock` next to the
// output, so the kernel releases it when the process dies; the file is removed on release.
class OutputLock {
 public:
  explicit OutputLock(const std::string& output_path);
  ~OutputLock();
  OutputLock(const OutputLock&) = delete;
  OutputLock& operator=(const OutputLock&) = delete;
  static std::string path_for(const std::string& output_path);

 private:
  std::string path_;
  int fd_ = -1;
  int cleanup_slot_ = -1;
};

// Collective. Writes `ds` to `path` atomically; on failure no file is left at `path` (a previous
// one is untouched) and the temporary file is removed.
void write_output(const std::string& path, bool overwrite, const OutputDataset& ds, const mpi::Comm& comm);

}  // namespace tessera
