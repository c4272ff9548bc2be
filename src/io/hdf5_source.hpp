#pragma once
// Inputs from plain HDF5 files (satellite products and the like), addressed by an absolute
// dataset path such as `variable: /grid/tas`. Several files aggregate along axis 0.
#include <memory>
#include <string>
#include <vector>

#include "io/metadata.hpp"
#include "io/source.hpp"

namespace tessera {

// A variable given as an absolute HDF5 path ("/group/name") selects this reader.
bool looks_like_hdf5_path(const std::string& variable);

// Opens every file (in the order given), checks that they agree on everything but the length
// of axis 0 and describes the aggregate. Throws InputError naming the file and object.
InputMeta scan_hdf5(const std::vector<std::string>& files, const std::string& variable, const std::string& alias);

// Every dataset of one file, listed as netCDF-C lists a NetCDF-4 file's variables (for `tessera
// inspect` of NetCDF-4/HDF5 URLs, opened through ROS3): root-level datasets by their name, others
// by their absolute path; dimensions named by their scales (a scale names its own axis 0);
// netCDF-4's placeholder scales (dimensions without a variable) and datasets of types Tessera
// does not read are left out; dimensions in netCDF's order (_Netcdf4Dimid) where the file has it.
FileSummary summarize_hdf5(const std::string& path);

// The reader for an InputMeta from scan_hdf5; files are opened on first use and kept open.
std::unique_ptr<Source> open_hdf5_source(const InputMeta& meta);

}  // namespace tessera
