#pragma once
// Typed errors thrown at host level and caught once in main (see cli/exit_code.hpp).
#include <stdexcept>
#include <string>

namespace tessera {

// Stable, documented process exit codes (README "Exit codes").
enum class ExitCode : int {
  success = 0,
  usage = 2,     // bad command line or job file
  input = 3,     // input data is missing, malformed or inconsistent
  runtime = 4,   // I/O or runtime failure while running
  checkpointed = 75,  // stopped on request after saving a checkpoint: run again to resume (EX_TEMPFAIL)
};

class Error : public std::runtime_error {
 public:
  Error(ExitCode code, const std::string& what) : std::runtime_error(what), code_(code) {}
  ExitCode code() const noexcept { return code_; }

 private:
  ExitCode code_;
};

// Command line.
struct UsageError : Error {
  explicit UsageError(const std::string& what) : Error(ExitCode::usage, what) {}
};

// Job file (names file:line:col where known).
struct JobError : Error {
  explicit JobError(const std::string& what) : Error(ExitCode::usage, what) {}
};

// Input data: missing file or variable, corrupt file, inconsistent files.
struct InputError : Error {
  explicit InputError(const std::string& what) : Error(ExitCode::input, what) {}
};

// Failure while running: unwritable output, I/O error, resource limits.
struct RuntimeError : Error {
  explicit RuntimeError(const std::string& what) : Error(ExitCode::runtime, what) {}
};

// Not a failure: the run was told to stop (SIGTERM, SIGUSR1), saved a checkpoint and stops.
struct CheckpointedStop : Error {
  explicit CheckpointedStop(const std::string& what) : Error(ExitCode::checkpointed, what) {}
};

// An error every rank knows about, agreed at a phase boundary; main prints it once (rank 0).
struct AgreedError : Error {
  AgreedError(ExitCode code, const std::string& what, int origin, int failed)
      : Error(code, what), origin_rank(origin), failed_ranks(failed) {}
  int origin_rank;   // lowest rank that failed
  int failed_ranks;  // how many ranks failed
};

}  // namespace tessera
