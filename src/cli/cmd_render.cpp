#include <fstream>
#include <iostream>
#include <sstream>

#include "cli/options.hpp"
#include "core/error.hpp"
#include "mpi/phase.hpp"
#include "sched/mpijob.hpp"
#include "sched/slurm_script.hpp"

namespace tessera::cli {
namespace {

std::string read_text(const std::string& path) {
  std::ifstream f(path);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

// Prints or writes (-o) the rendered text, on rank 0.
void emit(const std::string& text, const std::string& out, const mpi::Comm& comm) {
  mpi::run_phase(comm, [&] {
    if (comm.rank() != 0) return;
    if (out.empty() || out == "-") {
      std::cout << text;
      return;
    }
    std::ofstream f(out);
    f << text;
    if (!f) throw RuntimeError("cannot write '" + out + "'");
  });
}

int render_slurm_cmd(const Args& args, const mpi::Comm& comm) {
  po::options_description opts("render slurm options");
  std::string job_path, out;
  SlurmOptions o;
  opts.add_options()("job", po::value(&job_path)->required(), "job file (YAML)")(
      "nodes,N", po::value(&o.nodes)->default_value(o.nodes), "nodes")(
      "ntasks-per-node", po::value(&o.ntasks_per_node)->default_value(0), "MPI ranks per node (0: site default)")(
      "time,t", po::value(&o.time)->default_value(o.time), "wall-time limit")(
      "account,A", po::value(&o.account), "account to charge")(
      "partition,p", po::value(&o.partition), "partition")(
      "constraint,C", po::value(&o.constraint), "node features (e.g. cpu)")(
      "qos,q", po::value(&o.qos), "quality of service")(
      "tessera", po::value(&o.tessera)->default_value(o.tessera), "path of the tessera executable on the nodes")(
      "output,o", po::value(&out), "write the script here instead of stdout");
  po::positional_options_description pos;
  pos.add("job", 1);
  po::variables_map vm;
  if (!parse_options("render slurm", "JOB.yaml [--nodes N] [--ntasks-per-node T] [--time T] [-A ACCOUNT] [-p PARTITION] [-o FILE]",
                     args, opts, pos, vm, comm))
    return 0;
  const JobSpec job = load_job(job_path, comm);
  emit(mpi::run_phase(comm, [&] { return render_slurm(job, o); }), out, comm);
  return 0;
}

int render_mpijob_cmd(const Args& args, const mpi::Comm& comm) {
  po::options_description opts("render mpijob options");
  std::string job_path, out;
  MpiJobOptions o;
  opts.add_options()("job", po::value(&job_path)->required(), "job file (YAML)")(
      "workers", po::value(&o.workers)->default_value(o.workers), "worker pods")(
      "slots", po::value(&o.slots)->default_value(o.slots), "MPI ranks per worker (slotsPerWorker)")(
      "image", po::value(&o.image)->required(), "container image")(
      "namespace", po::value(&o.ns)->default_value(o.ns), "Kubernetes namespace")(
      "cpu", po::value(&o.cpu)->default_value(o.cpu), "CPU per worker (requests = limits)")(
      "memory", po::value(&o.memory)->default_value(o.memory), "memory per worker (requests = limits)")(
      "node-selector", po::value(&o.node_selector)->composing(), "KEY=VALUE, repeatable")(
      "region", po::value(&o.region), "place pods in this region (topology.kubernetes.io/region)")(
      "credentials-secret", po::value(&o.credentials_secret), "Secret with object-store credentials")(
      "checkpoint-claim", po::value(&o.checkpoint_claim),
      "ReadWriteMany PVC for checkpoints, mounted at /tessera/checkpoint (default dir: /tessera/checkpoint/JOB)")(
      "checkpoint-dir", po::value(&o.checkpoint_dir),
      "checkpoint folder in the pods (tessera run --checkpoint-dir), on the checkpoint claim or under /tessera/out")(
      "grace-period", po::value(&o.grace_seconds)->default_value(o.grace_seconds),
      "seconds an evicted pod has to save a checkpoint (terminationGracePeriodSeconds)")(
      "output,o", po::value(&out), "write the manifest here instead of stdout");
  po::positional_options_description pos;
  pos.add("job", 1);
  po::variables_map vm;
  if (!parse_options("render mpijob", "JOB.yaml --image IMG [--workers N] [--slots S] [--namespace NS] [--checkpoint-claim PVC] [--checkpoint-dir DIR] [--grace-period S] [-o FILE]", args,
                     opts, pos, vm, comm))
    return 0;
  const JobSpec job = load_job(job_path, comm);
  emit(mpi::run_phase(comm, [&] { return render_mpijob(job, read_text(job_path), o); }), out, comm);
  return 0;
}

}  // namespace

int cmd_render(const Args& args, const mpi::Comm& comm) {
  if (!args.empty() && args[0] == "slurm") return render_slurm_cmd(Args(args.begin() + 1, args.end()), comm);
  if (!args.empty() && args[0] == "mpijob") return render_mpijob_cmd(Args(args.begin() + 1, args.end()), comm);
  if (!args.empty() && (args[0] == "--help" || args[0] == "-h")) {
    if (comm.rank() == 0) std::cout << "usage: tessera render slurm JOB.yaml [options] | tessera render mpijob JOB.yaml --image IMG [options]\n";
    return 0;
  }
  throw UsageError("tessera render: say what to render: `tessera render slurm JOB.yaml` or `tessera render mpijob JOB.yaml --image IMG`");
}

}  // namespace tessera::cli
