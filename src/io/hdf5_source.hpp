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

// The reader for an InputMeta from scan_hdf5; files are opened on first use and kept open.
std::unique_ptr<Source> open_hdf5_source(const InputMeta& meta);

}  // namespace tessera
