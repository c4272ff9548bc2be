#include "sched/mpijob.hpp"

#include "core/error.hpp"

namespace tessera {

std::string render_mpijob(const JobSpec&, const std::string&, const MpiJobOptions&) {
  throw JobError("tessera render mpijob is not available yet");
}

}  // namespace tessera
