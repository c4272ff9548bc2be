#pragma once
// Renders a Kubeflow MPI Operator MPIJob (kubeflow.org/v2beta1) plus the ConfigMap holding the
// job file, as one multi-document YAML for `kubectl apply -f` (`tessera render mpijob`).
//
// The pod layout is fixed so that a job written next to the repository's data/ and out/ folders
// runs unchanged (k8s/README.md): the job file is mounted at /tessera/jobs/job.yaml, so its
// relative paths `../data/...` and `../out/...` land on the shared workspace volume (a
// ReadWriteMany PersistentVolumeClaim) mounted at /tessera/data (read-only) and /tessera/out.
#include <cstdint>
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
  // Checkpoints (README "Kubernetes (MPI Operator)", "Preemption"). checkpoint_claim: a
  // ReadWriteMany PVC mounted on the workers at mpijob::checkpoint_mount. checkpoint_dir: where
  // the ranks save (`tessera run --checkpoint-dir`), an absolute path in the pods on a writable
  // volume; with a claim it defaults to <checkpoint_mount>/<MPIJob name>. Neither: the job's own
  // run.checkpoint, if any.
  std::string checkpoint_claim;
  std::string checkpoint_dir;
  // terminationGracePeriodSeconds of every pod: how long an evicted pod has to save a checkpoint
  // before the kubelet's SIGKILL (Kubernetes' default, 30 s, is short for a large job).
  int grace_seconds = 120;
};

// Throws UsageError for bad options and JobError for a job that cannot run in the pod layout
// (e.g. a local path outside the workspace volume); the text is re-parsed before it is returned.
std::string render_mpijob(const JobSpec& job, const std::string& job_text, const MpiJobOptions& opt);

namespace mpijob {

// The pod layout the manifest and the image agree on (k8s/Dockerfile, k8s/README.md).
inline constexpr const char* job_dir = "/tessera/jobs";            // ConfigMap volume, read-only
inline constexpr const char* job_path = "/tessera/jobs/job.yaml";  // what `tessera run` reads
inline constexpr const char* data_dir = "/tessera/data";           // workspace subPath data/, read-only
inline constexpr const char* out_dir = "/tessera/out";             // workspace subPath out/
inline constexpr const char* workspace_claim = "tessera-workspace";
inline constexpr const char* checkpoint_mount = "/tessera/checkpoint";  // --checkpoint-claim, workers
// Entry points in the image (k8s/): they turn the kubelet's SIGTERM into a checkpoint request.
inline constexpr const char* launcher_entry = "/usr/local/bin/tessera-launcher";
inline constexpr const char* worker_entry = "/usr/local/bin/tessera-sshd";
inline constexpr const char* ssh_dir = "/home/tessera/.ssh";      // spec.sshAuthMountPath
inline constexpr int uid = 1000;                                   // the image's user `tessera`
inline constexpr int ssh_port = 2222;

// Lower-cases `raw`, turns every run of characters outside [a-z0-9] into one '-', makes it start
// with a letter (prefix "t-" otherwise: Service names are DNS-1035 labels) and end with an
// alphanumeric, and cuts it to `max_len` (>= 3). An empty result becomes "tessera".
std::string dns_label(const std::string& raw, std::size_t max_len = 63);
bool is_dns1123_label(const std::string& s);      // [a-z0-9]([-a-z0-9]*[a-z0-9])?, <= 63
bool is_dns1123_subdomain(const std::string& s);  // dot-separated labels, <= 253
bool is_quantity(const std::string& s);           // Kubernetes resource quantity ("500m", "2Gi", "1e3")
// Quantity -> value in base units (bytes for memory, cores for CPU); false when malformed.
bool quantity_value(const std::string& s, double& value);

// The MPIJob's name for a job: its sanitised name, short enough that the operator's longest pod
// hostname `<name>-worker-<workers-1>` stays a DNS-1123 label.
std::string job_name(const std::string& raw, int workers);

}  // namespace mpijob
}  // namespace tessera
