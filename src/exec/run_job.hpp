#pragma once
// Executes a job on every rank of a communicator: scan (rank 0) -> plan -> stream tiles through
// the reductions -> merge partial states -> write the output atomically -> report.
#include <string>
#include <vector>

#include "io/metadata.hpp"
#include "io/selection.hpp"
#include "job/job_spec.hpp"
#include "mpi/comm.hpp"

namespace tessera {

struct RunOptions {
  bool overwrite = false;     // --overwrite (or output.overwrite in the job)
  bool quiet = false;         // no progress lines
  std::string report_path;    // --report FILE.json
  std::string command_line;   // recorded in the output's history
  std::string checkpoint_dir; // --checkpoint-dir: overrides run.checkpoint.dir (enables checkpoints)
};

struct RunSummary {
  std::string output_path;
  std::vector<std::string> lines;  // a short, human summary (rank 0)
};

// Rank 0 reads every input's metadata; all ranks receive it. Errors are agreed (AgreedError).
std::vector<InputMeta> scan_inputs(const JobSpec& job, const mpi::Comm& comm);

// Every rank resolves the inputs' `select:` against the broadcast metadata (JobError when a
// selection is malformed or selects nothing); views_of gives what plans and outputs see.
std::vector<SelectedInput> select_inputs(const JobSpec& job, const std::vector<InputMeta>& metas);
std::vector<InputMeta> views_of(const std::vector<SelectedInput>& inputs);

RunSummary run_job(const JobSpec& job, const RunOptions& opt, const mpi::Comm& comm);

}  // namespace tessera
