#pragma once
// Input discovery: expand globs, read every file's metadata (no data), check that the files
// agree and order them along the record axis. Runs on one rank; the result is broadcast.
#include <string>
#include <vector>

#include "io/metadata.hpp"
#include "job/job_spec.hpp"

namespace tessera {

// Local paths for an input's patterns, sorted, duplicates removed; InputError if a pattern
// matches nothing (naming the pattern and the job file location).
std::vector<std::string> expand_paths(const InputSpec& in, const std::string& job_file);

InputMeta scan_input(const InputSpec& in, const std::string& job_file);

// Metadata of every variable in one local NetCDF file, for `tessera inspect` (FileSummary:
// metadata.hpp).
FileSummary summarize_file(const std::string& path);

}  // namespace tessera
