#pragma once
// Inputs that are not local NetCDF/HDF5 files: Zarr stores (local or remote) and NetCDF-4/HDF5
// files behind s3:// or http(s):// URLs. scan_input and open_source hand these over here.
#include <optional>
#include <string>
#include <vector>

#include "io/metadata.hpp"
#include "job/job_spec.hpp"

namespace tessera {

// True when an input's paths are URLs or Zarr stores.
bool is_remote_or_zarr(const InputSpec& in);

InputMeta scan_remote_or_zarr(const InputSpec& in, const std::string& job_file);

// Every variable of a remote object or Zarr store, for `tessera inspect` without --variable:
// NetCDF-3 from its header, NetCDF-4/HDF5 through ROS3 (summarize_hdf5), Zarr from .zmetadata
// or a listing. For a glob, the first matching object's; `objects` gets every object it matched.
FileSummary summarize_remote_or_zarr(const InputSpec& in, const std::string& job_file,
                                     std::vector<std::string>& objects);

// Variable `name` of the first object (or store) of a scanned remote or Zarr input, whole, as
// doubles (values as stored: no unpacking, fill values kept), read with the input's own remote
// options: what `weights:` naming a variable (or cell_measures) reads. nullopt when the object
// has no such variable; other failures are the scan's or read's own errors.
struct WholeVariable {
  VariableInfo var;
  std::vector<double> values;
};
std::optional<WholeVariable> read_remote_variable(const InputMeta& input, const std::string& name);

}  // namespace tessera
