#include "cli/options.hpp"

#include <iostream>

#include "core/error.hpp"
#include "job/job_parser.hpp"
#include "mpi/phase.hpp"

namespace tessera::cli {

bool parse_options(const std::string& command, const std::string& synopsis, const Args& args,
                   po::options_description& opts, const po::positional_options_description& pos,
                   po::variables_map& vm, const mpi::Comm& comm) {
  opts.add_options()("help,h", "show this help");
  try {
    po::store(po::command_line_parser(args).options(opts).positional(pos).run(), vm);
    if (vm.count("help")) {
      if (comm.rank() == 0) std::cout << "usage: tessera " << command << " " << synopsis << "\n\n" << opts << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    throw UsageError("tessera " + command + ": " + e.what() + "\nusage: tessera " + command + " " + synopsis +
                     " (see tessera " + command + " --help)");
  }
  return true;
}

// Rank 0 alone reads and checks the job file: thousands of ranks opening one small file load a
// parallel file system's metadata server, and a hostile job file (10 MB of '[') then costs one
// rank's time, not every rank's on shared cores. The others parse the bytes rank 0 accepted.
JobSpec load_job(const std::string& path, const mpi::Comm& comm) {
  std::string text;
  JobSpec job = mpi::run_phase(comm, [&] {
    if (comm.rank() != 0) return JobSpec{};
    text = read_job_file(path);
    return parse_job_file_text(path, text);
  });
  if (comm.size() == 1) return job;
  text = comm.broadcast(text);
  return mpi::run_phase(comm, [&] { return comm.rank() == 0 ? std::move(job) : parse_job_file_text(path, text); });
}

}  // namespace tessera::cli
