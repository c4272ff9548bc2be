#pragma once
// One input made of several files (local paths or URLs) along the record axis (axis 0): the one
// place where files of an input are checked against each other, their record coordinates put on
// one time unit and calendar (CF "<unit> since <date>"), ordered by first record coordinate, and
// concatenated. Local scans (scan.cpp) and remote scans (remote_input.cpp) both end here, so a
// series gives the same metadata wherever its files lie.
#include <string>
#include <vector>

#include "io/metadata.hpp"

namespace tessera {

// `files`: one InputMeta per file, as its scanner made it (one part, offset 0, length = the
// file's record count; coordinates of the variable's dimensions; the file's global attributes).
// Returns the aggregate: the variable, attributes and non-record coordinates of the first file in
// record order; parts in record order with their offsets; the record coordinate (and its bounds
// when every file has them) concatenated in the first file's units. A record coordinate missing
// from some file drops it (files then keep their listed order). Different dimensions, shapes,
// types, units that are not times, or calendars are an InputError naming both files.
// Files of different `kind`s: NetCDF-4/HDF5 over HTTP, chunk-indexed and ROS3-only, read all
// through ROS3; other mixes (NetCDF-3 and NetCDF-4 objects in one remote input) are refused.
InputMeta aggregate_files(std::vector<InputMeta> files);

}  // namespace tessera
