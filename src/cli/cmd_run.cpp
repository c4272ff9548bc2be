#include <cstdlib>
#include <filesystem>
#include <iostream>
#include <optional>

#include "cli/options.hpp"
#include "core/cleanup.hpp"
#include "core/stop_request.hpp"
#include "exec/run_job.hpp"
#include "io/sink.hpp"
#include "mpi/phase.hpp"
#include "plan/plan.hpp"

namespace tessera::cli {

namespace {
std::string joined(const std::string& cmd, const Args& args) {
  std::string s = "tessera " + cmd;
  for (const auto& a : args) s += " " + a;
  return s;
}
// A launcher that silently starts every rank as a singleton (e.g. Open MPI 5 ignoring the MPI
// Operator's OMPI_MCA_orte_* settings) would run N copies of a 1-rank job: refuse that.
void check_rank_count(int expected, const mpi::Comm& comm) {
  if (expected == 0)
    if (const char* env = std::getenv("TESSERA_EXPECT_RANKS"); env && *env) {
      try {
        expected = std::stoi(env);
      } catch (const std::exception&) {
        throw UsageError(std::string("TESSERA_EXPECT_RANKS must be a number, got '") + env + "'");
      }
    }
  if (expected > 0 && expected != comm.size())
    throw RuntimeError("tessera runs on " + std::to_string(comm.size()) + " rank(s) but " + std::to_string(expected) +
                       " were expected: the launcher did not start one MPI job (check the MPI library matches the "
                       "launcher, e.g. srun --mpi=pmix, and that the hostfile/slots are seen)");
}

}  // namespace

int cmd_run(const Args& args, const mpi::Comm& comm) {
  po::options_description opts("run options");
  std::string job_path;
  RunOptions ro;
  opts.add_options()("job", po::value(&job_path)->required(), "job file (YAML)")(
      "overwrite", po::bool_switch(&ro.overwrite), "replace an existing output")(
      "report", po::value(&ro.report_path), "write a JSON run report (phase times, bytes, throughput)")(
      "quiet,q", po::bool_switch(&ro.quiet), "no progress lines")(
      "checkpoint-dir", po::value(&ro.checkpoint_dir),
      "save checkpoints here (overrides run.checkpoint.dir) and resume from one found there")(
      "expect-ranks", po::value<int>(), "fail unless exactly this many ranks run (default: $TESSERA_EXPECT_RANKS)");
  po::positional_options_description pos;
  pos.add("job", 1);
  po::variables_map vm;
  if (!parse_options("run", "JOB.yaml [--overwrite] [--report FILE.json] [--quiet] [--expect-ranks N] [--checkpoint-dir DIR]", args, opts,
                     pos, vm, comm))
    return 0;
  const int expected = vm.count("expect-ranks") ? vm["expect-ranks"].as<int>() : 0;
  mpi::run_phase(comm, [&] { check_rank_count(expected, comm); });
  ro.command_line = joined("run", args);
  if (!ro.checkpoint_dir.empty()) ro.checkpoint_dir = std::filesystem::absolute(ro.checkpoint_dir).lexically_normal().string();
  const JobSpec job = load_job(job_path, comm);
  // Stop requests (SIGTERM, SIGUSR1) wait for a tile boundary when checkpoints are enabled; the
  // cleanup handlers go first so that this choice is not undone when they are installed.
  install_cleanup_handlers();
  if (!ro.checkpoint_dir.empty() || !job.run.checkpoint.dir.empty()) stop_on_signal_at_tile_boundary();
  else ignore_stop_signal();
  // Rank 0 holds the output's lock until the run ends, however it ends: a concurrent run
  // writing the same path stops here instead of interleaving (the kernel drops it on a crash).
  std::optional<OutputLock> lock;
  mpi::run_phase(comm, [&] {
    if (comm.rank() != 0) return;
    check_output_path(job.output.path, ro.overwrite || job.output.overwrite);
    lock.emplace(job.output.path);
  });
  const RunSummary s = run_job(job, ro, comm);
  if (comm.rank() == 0)
    for (const auto& line : s.lines) std::cout << line << "\n";
  return 0;
}

int cmd_validate(const Args& args, const mpi::Comm& comm) {
  po::options_description opts("validate options");
  std::string job_path;
  bool overwrite = false;
  opts.add_options()("job", po::value(&job_path)->required(), "job file (YAML)")(
      "overwrite", po::bool_switch(&overwrite), "an existing output would be replaced");
  po::positional_options_description pos;
  pos.add("job", 1);
  po::variables_map vm;
  if (!parse_options("validate", "JOB.yaml [--overwrite]", args, opts, pos, vm, comm)) return 0;
  const JobSpec job = load_job(job_path, comm);
  const auto metas = scan_inputs(job, comm);
  mpi::run_phase(comm, [&] {
    make_plan(job, views_of(select_inputs(job, metas)), comm.size());
    if (comm.rank() == 0) check_output_path(job.output.path, overwrite || job.output.overwrite);
  });
  if (comm.rank() == 0) {
    std::cout << job.file << ": valid; " << job.inputs.size() << " input" << (job.inputs.size() > 1 ? "s" : "")
              << " (";
    for (std::size_t i = 0; i < metas.size(); ++i)
      std::cout << (i ? ", " : "") << metas[i].alias << ": " << metas[i].parts.size() << " file"
                << (metas[i].parts.size() > 1 ? "s" : "");
    std::cout << "), " << job.reductions.size() << " reduction" << (job.reductions.size() > 1 ? "s" : "")
              << ", output " << job.output.path << "\n";
  }
  return 0;
}

int cmd_plan(const Args& args, const mpi::Comm& comm) {
  po::options_description opts("plan options");
  std::string job_path;
  int ranks = comm.size();
  opts.add_options()("job", po::value(&job_path)->required(), "job file (YAML)")(
      "ranks,n", po::value(&ranks)->default_value(comm.size()), "number of ranks to plan for");
  po::positional_options_description pos;
  pos.add("job", 1);
  po::variables_map vm;
  if (!parse_options("plan", "JOB.yaml [--ranks N]", args, opts, pos, vm, comm)) return 0;
  if (ranks < 1 || ranks > 1000000) throw UsageError("tessera plan: --ranks must be between 1 and 1000000");
  const JobSpec job = load_job(job_path, comm);
  const auto metas = scan_inputs(job, comm);
  const std::string text = mpi::run_phase(comm, [&] {
    const auto views = views_of(select_inputs(job, metas));
    return describe(make_plan(job, views, ranks), job, views);
  });
  if (comm.rank() == 0) std::cout << text;
  return 0;
}

}  // namespace tessera::cli
