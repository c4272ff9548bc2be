#pragma once
// The subcommands. Each parses its own options (Boost.Program_options), runs on every rank and
// returns an exit code; errors are thrown (see core/error.hpp) and printed once by run_cli.
#include <string>
#include <vector>

#include "mpi/comm.hpp"

namespace tessera::cli {

using Args = std::vector<std::string>;  // after the subcommand name

int cmd_run(const Args& args, const mpi::Comm& comm);
int cmd_validate(const Args& args, const mpi::Comm& comm);
int cmd_plan(const Args& args, const mpi::Comm& comm);
int cmd_inspect(const Args& args, const mpi::Comm& comm);
int cmd_generate(const Args& args, const mpi::Comm& comm);
int cmd_render(const Args& args, const mpi::Comm& comm);

// argv -> exit code; the whole command line interface.
int run_cli(int argc, char** argv);

}  // namespace tessera::cli
