#pragma once
// Inputs that are not local NetCDF/HDF5 files: Zarr stores (local or remote) and NetCDF-4/HDF5
// files behind s3:// or http(s):// URLs. scan_input and open_source hand these over here.
#include <string>

#include "io/metadata.hpp"
#include "job/job_spec.hpp"

namespace tessera {

// True when an input's paths are URLs or Zarr stores.
bool is_remote_or_zarr(const InputSpec& in);

InputMeta scan_remote_or_zarr(const InputSpec& in, const std::string& job_file);

}  // namespace tessera
