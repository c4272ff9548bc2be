#include "sched/slurm_script.hpp"

#include "core/error.hpp"

namespace tessera {

std::string render_slurm(const JobSpec&, const SlurmOptions&) {
  throw JobError("tessera render slurm is not available yet");
}

}  // namespace tessera
