#pragma once
// Synthetic CF datasets for demos, tests and benchmarks: a daily near-surface temperature
// tas(time, lat, lon) on a regular grid, with optional fill values, packing, chunking,
// compression, NetCDF-3 formats and a split into several files along time. Values depend only
// on the global indices and the seed, so any file layout holds the same data.
#include <cstdint>
#include <string>
#include <vector>

#include "mpi/comm.hpp"

namespace tessera {

struct SyntheticSpec {
  std::string path;                    // one file, or the pattern base for several (tas.nc -> tas_000.nc ...)
  std::string variable = "tas";
  std::size_t nt = 365, ny = 90, nx = 180;
  std::string format = "netcdf4";      // netcdf4 | classic | 64bit-offset | cdf5
  std::string dtype = "float";         // float | double | short (packed with scale_factor/add_offset)
  std::vector<std::size_t> chunks;     // netcdf4 only; empty = contiguous
  int deflate = 0;                     // netcdf4 only; 0 = off
  bool shuffle = false;
  double fill_fraction = 0.0;          // share of values written as _FillValue
  std::size_t files = 1;
  std::size_t start_day = 0;           // first time step (days since 2000-01-01): pieces of one series
  std::string calendar = "standard";   // CF calendar of the time axis
  std::string epoch = "2000-01-01";    // reference date of the time units (values move with it)
  bool cell_area = false;              // also write areacella(lat, lon) and cell_measures
  std::size_t steps_per_day = 1;       // 4: 6-hourly, 24: hourly (start_day then counts steps)
  std::uint64_t seed = 1;
  bool overwrite = false;
};

// Validates the spec and returns the paths it would write; JobError when one exists (without
// overwrite) or the spec is inconsistent.
std::vector<std::string> check_synthetic(const SyntheticSpec& spec);

// Collective. Returns the paths written.
std::vector<std::string> generate_dataset(const SyntheticSpec& spec, const mpi::Comm& comm);

// The value at global indices (t, y, x): NaN where the cell is a fill value.
double synthetic_value(const SyntheticSpec& spec, std::size_t t, std::size_t y, std::size_t x);

}  // namespace tessera
