#pragma once
// Renders a Kubeflow MPI Operator MPIJob (kubeflow.org/v2beta1) plus the ConfigMap holding the
// job file, as one multi-document YAML for `kubectl apply -f` (`tessera render mpijob`).
#include <string>
#include <vector>

#include "job/job_spec.hpp"

namespace tessera {

struct MpiJobOptions {
  int workers = 2;
  int slots = 1;
  std::string image;
  std::string ns = "default";
  std::string cpu = "1", memory = "2Gi";   // per worker; requests = limits
  std::vector<std::string> node_selector;  // key=value
  std::string region;                      // topology.kubernetes.io/region
  std::string credentials_secret;          // object-store credentials (Secret name), optional
};

std::string render_mpijob(const JobSpec& job, const std::string& job_text, const MpiJobOptions& opt);

}  // namespace tessera
