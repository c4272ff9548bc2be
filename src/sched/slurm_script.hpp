#pragma once
// Renders a ready-to-submit Slurm batch script for a job (`tessera render slurm`).
#include <string>

#include "job/job_spec.hpp"

namespace tessera {

struct SlurmOptions {
  int nodes = 1;
  int ntasks_per_node = 0;      // 0: the site's default (one per core)
  std::string time = "01:00:00";
  std::string account, partition, constraint, qos;
  std::string tessera = "tessera";  // the executable, as the compute nodes see it
};

// Throws JobError for values that cannot be rendered safely (names outside [a-z0-9-], shell
// metacharacters where a plain value is expected).
std::string render_slurm(const JobSpec& job, const SlurmOptions& opt);

}  // namespace tessera
