#pragma once
// Job file (YAML) -> JobSpec. Every error is a JobError that starts with "FILE:LINE:COL: ".
#include <string>

#include "job/job_spec.hpp"

namespace tessera {

JobSpec parse_job_file(const std::string& path);
// The two halves of parse_job_file: the file's bytes (JobError if unreadable), then the job they
// hold, with relative paths taken from the file's folder.
std::string read_job_file(const std::string& path);
JobSpec parse_job_file_text(const std::string& path, const std::string& text);
// `label` names the text in messages; relative paths resolve against `base_dir`.
JobSpec parse_job_text(const std::string& text, const std::string& label, const std::string& base_dir);

// "512MiB", "2GB", "1048576" -> bytes; false on malformed input.
bool parse_byte_size(const std::string& text, std::uint64_t& bytes);

// "30s", "5min", "1h", "2d", "90" (seconds) -> seconds > 0; false on malformed or zero input.
bool parse_duration(const std::string& text, double& seconds);

}  // namespace tessera
