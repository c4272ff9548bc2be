#pragma once
// Shared Boost.Program_options plumbing for the subcommands: parse, --help, usage errors.
#include <boost/program_options.hpp>

#include <string>

#include "cli/commands.hpp"
#include "job/job_spec.hpp"

namespace tessera::cli {

namespace po = boost::program_options;

// Parses `args` against `opts` (+ positional). Returns false when --help was printed (rank 0).
bool parse_options(const std::string& command, const std::string& synopsis, const Args& args,
                   po::options_description& opts, const po::positional_options_description& pos,
                   po::variables_map& vm, const mpi::Comm& comm);

// Parses the job file on every rank, agreeing on errors (printed once).
JobSpec load_job(const std::string& path, const mpi::Comm& comm);

}  // namespace tessera::cli
