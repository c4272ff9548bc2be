#include "sched/slurm_script.hpp"

#include <algorithm>
#include <filesystem>
#include <sstream>
#include <string_view>

#include "core/error.hpp"
#include "core/version.hpp"

namespace tessera {
namespace {

// Everything after the job-specific variables, verbatim from slurm/tessera.sbatch (from its
// marker line to the end) so the rendered and the shipped script behave the same;
// tests/unit/sched/test_slurm_script.cpp fails when the two drift apart.
const char* const k_body = R"SH(# ---- From here on the same in slurm/tessera.sbatch and `tessera render slurm` output. ----
# Launcher: auto (srun, else mpirun), srun or mpirun.
TESSERA_LAUNCHER="${TESSERA_LAUNCHER:-auto}"
# srun's MPI plugin: pmix for Open MPI (and MPICH built with PMIx); empty: the site's MpiDefault.
TESSERA_SRUN_MPI="${TESSERA_SRUN_MPI-pmix}"
# Extra launcher options, split on spaces (e.g. "--cpu-bind=cores").
TESSERA_SRUN_FLAGS="${TESSERA_SRUN_FLAGS:-}"
TESSERA_MPIRUN_FLAGS="${TESSERA_MPIRUN_FLAGS:-}"
# Run report (JSON); default: next to the log, named after it.
TESSERA_REPORT="${TESSERA_REPORT:-}"
# Parallel HDF5 on Lustre, GPFS or NFS: without this, opening files fails ("NetCDF: HDF error").
export HDF5_USE_FILE_LOCKING="${HDF5_USE_FILE_LOCKING:-FALSE}"

say() { echo "tessera-sbatch: $*"; }
fail() {
  local code=$1
  shift
  echo "tessera-sbatch: error: $*" >&2
  exit "$code"
}

[ -n "${SLURM_JOB_ID:-}" ] || fail 2 "not in a Slurm job: submit with sbatch [options] SCRIPT JOB.yaml"
[ -n "$JOB" ] || fail 2 "no job file: sbatch [options] SCRIPT JOB.yaml [tessera run options]"
exe=$(command -v -- "$TESSERA" 2>/dev/null) ||
  fail 4 "tessera executable '$TESSERA' not found on $(hostname): set TESSERA=/path/to/tessera or add it to PATH"
[[ $exe == /* ]] || exe="$PWD/$exe"

# Tasks of the allocation: "2(x3),1" -> 7.
count_tasks() {
  local total=0 part parts
  IFS=, read -ra parts <<<"$1"
  for part in "${parts[@]}"; do
    if [[ $part =~ ^([0-9]+)\(x([0-9]+)\)$ ]]; then
      total=$((total + BASH_REMATCH[1] * BASH_REMATCH[2]))
    elif [[ $part =~ ^[0-9]+$ ]]; then
      total=$((total + part))
    else
      return 1
    fi
  done
  echo "$total"
}
slots=$(count_tasks "${SLURM_TASKS_PER_NODE:-}") || fail 4 "cannot read SLURM_TASKS_PER_NODE='${SLURM_TASKS_PER_NODE:-}'"
# SLURM_NTASKS is set when a task count was asked for; both launchers are told to start it, and
# mpirun can only start as many ranks as the allocation has slots.
ranks=${SLURM_NTASKS:-$slots}
[ "$ranks" -ge 1 ] 2>/dev/null || fail 4 "bad task count SLURM_NTASKS='$ranks'"
[ "$ranks" -eq "$slots" ] ||
  fail 4 "SLURM_NTASKS=$ranks but the nodes hold $slots tasks (SLURM_TASKS_PER_NODE=$SLURM_TASKS_PER_NODE): the launcher would not start one rank per task"

# The report goes next to the log: tessera-123.out -> tessera-123.report.json.
if [ -z "$TESSERA_REPORT" ]; then
  log=$(scontrol show job "$SLURM_JOB_ID" 2>/dev/null | sed -n 's/^ *StdOut=//p' | head -n 1) || log=""
  if [ -n "$log" ] && [[ $log != /dev/* ]] && [ -d "$(dirname -- "$log")" ]; then
    TESSERA_REPORT="${log%.out}.report.json"
  else
    TESSERA_REPORT="${SLURM_SUBMIT_DIR:-.}/${SLURM_JOB_NAME:-tessera}-$SLURM_JOB_ID.report.json"
  fi
fi
rm -f -- "$TESSERA_REPORT"  # a stale report must not pass the rank check below

mpi_flag=()
[ -z "$TESSERA_SRUN_MPI" ] || mpi_flag=(--mpi="$TESSERA_SRUN_MPI")
# Cheap probe (one task, about a second): tessera itself starts MPI under srun. It fails when
# Slurm lacks the plugin or the MPI library cannot use it ("not built with SLURM's PMI support").
srun_can_launch_mpi() {
  timeout 120 srun "${mpi_flag[@]}" --nodes=1 --ntasks=1 --quiet "$exe" --version >/dev/null 2>&1
}
launcher=$TESSERA_LAUNCHER
if [ "$launcher" = auto ]; then
  if srun_can_launch_mpi; then
    launcher=srun
  else
    launcher=mpirun
    say "srun ${mpi_flag[*]} cannot start MPI ranks here (no PMIx support in Slurm or in the MPI library): falling back to mpirun"
  fi
fi
case "$launcher" in
  srun)
    read -ra extra <<<"$TESSERA_SRUN_FLAGS"
    # srun (22.05+) no longer takes --cpus-per-task from the job: pass it on for threaded builds.
    [ -z "${SLURM_CPUS_PER_TASK:-}" ] || extra=(--cpus-per-task="$SLURM_CPUS_PER_TASK" "${extra[@]}")
    launch=(srun "${mpi_flag[@]}" --ntasks="$ranks" "${extra[@]}")
    ;;
  mpirun)
    command -v mpirun >/dev/null 2>&1 || fail 4 "mpirun not found (needed because srun cannot launch MPI here)"
    read -ra extra <<<"$TESSERA_MPIRUN_FLAGS"
    launch=(mpirun -n "$ranks" "${extra[@]}")
    ;;
  *) fail 2 "TESSERA_LAUNCHER must be auto, srun or mpirun, not '$launcher'" ;;
esac

say "job $SLURM_JOB_ID: $JOB on $ranks rank(s), ${SLURM_JOB_NUM_NODES:-1} node(s) ($SLURM_JOB_NODELIST), via ${launch[*]}"
say "tessera: $exe; report: $TESSERA_REPORT"
set +e
# Preemption and time limits: Slurm signals this shell (--signal=B:USR1@120, or
# `scancel --signal=USR1 --batch`; SIGTERM when the job is cancelled or requeued). The launcher
# gets SIGUSR1 (srun and mpirun forward it to every rank): with checkpoints enabled (run.checkpoint
# or --checkpoint-dir) Tessera finishes its tile, saves a checkpoint and exits 75; without, it
# ignores SIGUSR1 and runs on.
forward_stop() {
  say "got SIG$1: asking tessera to checkpoint and stop"
  kill -USR1 "$pid" 2>/dev/null || true
}
trap 'forward_stop USR1' USR1
trap 'forward_stop TERM' TERM
"${launch[@]}" "$exe" run "$JOB" --report "$TESSERA_REPORT" "$@" &
pid=$!
# A trapped signal ends `wait` early (status 128+signal) while the launcher runs on: wait again.
while :; do
  wait "$pid"
  rc=$?
  kill -0 "$pid" 2>/dev/null || break
done
if [ "$rc" -gt 128 ]; then
  wait "$pid" 2>/dev/null
  rc2=$?
  [ "$rc2" -eq 127 ] || rc=$rc2  # 127: already collected, rc is the launcher's own status
fi
trap - USR1 TERM
set -e

# Ranks Tessera saw (the report's "ranks"): fewer means every rank ran alone, e.g. an MPI
# library that cannot use srun's PMI plugin. Checked on failure too: such singletons compete
# for the output's lock, so one writes a report and the others exit 4.
seen=$(sed -n 's/^ *"ranks": *\([0-9][0-9]*\).*/\1/p' "$TESSERA_REPORT" 2>/dev/null | head -n 1) || seen=""
if [ "$rc" -eq 0 ] && [ -z "$seen" ]; then
  fail 4 "tessera exited 0 but wrote no report at $TESSERA_REPORT"
fi
if [ -n "$seen" ] && [ "$seen" -ne "$ranks" ]; then
  fail 4 "tessera ran on $seen rank(s), the allocation has $ranks task(s): ${launch[0]} did not start one MPI job (try TESSERA_LAUNCHER=mpirun, or TESSERA_SRUN_MPI matching your MPI)"
fi
# Tessera's own codes pass through; anything else (a crash, a launcher error) is a runtime failure.
# 75: checkpointed on request; requeue the job (#SBATCH --requeue) so that it resumes.
if [ "$rc" -eq 75 ]; then
  say "tessera saved a checkpoint and stopped (exit 75): requeueing job $SLURM_JOB_ID to resume from it"
  scontrol requeue "$SLURM_JOB_ID" ||
    say "error: scontrol requeue $SLURM_JOB_ID failed: resubmit the job yourself to resume"
  exit 75
fi
case "$rc" in
  0 | 2 | 3 | 4) say "tessera exited with $rc" ;;
  *)
    say "error: ${launch[0]} exited with $rc (not a Tessera exit code: a crash or a launch failure); exiting with 4"
    rc=4
    ;;
esac
exit "$rc"
)SH";

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// Same alphabet as the job parser: the name lands in #SBATCH lines and file names unquoted.
void check_job_name(const std::string& s) {
  const bool ok = !s.empty() && s.size() <= 63 && is_lower_alnum(s[0]) &&
                  std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
  if (!ok)
    throw JobError("job name '" + s + "' cannot be used as a Slurm job name; use 1-63 of a-z, 0-9 and '-', starting with a letter or digit");
}

// #SBATCH values are not quoted (sbatch's own parser, then the shell sees the script), so only a
// small alphabet that means nothing to either is let through.
bool is_safe_char(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
         std::string_view("_.,:=+-").find(c) != std::string_view::npos;
}
void check_value(const std::string& option, const std::string& value) {
  if (!std::all_of(value.begin(), value.end(), is_safe_char))
    throw JobError("--" + option + " '" + value +
                   "' cannot go into a batch script; use only letters, digits and _ . , : = + -");
}

// A bash word that is exactly `s`: single quotes, each embedded ' written as '\''.
std::string shell_quote(const std::string& s) {
  if (s.find('\0') != std::string::npos) throw JobError("a path contains a NUL character");
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Paths with a folder part are made absolute: the job may start in another folder than the
// one `render` ran in. A bare name ("tessera") stays a PATH lookup.
std::string absolute_path(const std::string& p) {
  if (p.find('/') == std::string::npos || p.front() == '/') return p;
  return std::filesystem::absolute(p).lexically_normal().string();
}

bool is_hex(const std::string& s) {
  return std::all_of(s.begin(), s.end(), [](char c) { return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'); });
}

// One directive with its comment; unset optional ones stay as disabled examples (##SBATCH).
void directive(std::ostringstream& os, const std::string& comment, const std::string& option, const std::string& value,
               const std::string& example) {
  if (value.empty())
    os << "# " << comment << " Not set: the site's default (remove one '#' to set).\n"
       << "##SBATCH --" << option << "=" << example << "\n";
  else
    os << "# " << comment << "\n"
       << "#SBATCH --" << option << "=" << value << "\n";
}

}  // namespace

std::string render_slurm(const JobSpec& job, const SlurmOptions& opt) {
  check_job_name(job.name);
  if (opt.nodes < 1) throw JobError("--nodes must be at least 1, not " + std::to_string(opt.nodes));
  if (opt.ntasks_per_node < 0)
    throw JobError("--ntasks-per-node must be 0 (the site's default) or more, not " + std::to_string(opt.ntasks_per_node));
  check_value("time", opt.time);
  check_value("account", opt.account);
  check_value("partition", opt.partition);
  check_value("constraint", opt.constraint);
  check_value("qos", opt.qos);
  if (opt.tessera.empty()) throw JobError("--tessera must name the tessera executable");
  if (job.file.empty()) throw JobError("the job has no file to run");

  std::ostringstream os;
  os << "#!/usr/bin/env bash\n"
     << "# Tessera job '" << job.name << "', rendered by `tessera render slurm` (tessera " << version_string << ").\n";
  if (!job.hash.empty() && is_hex(job.hash)) os << "# Job file SHA-256 when rendered: " << job.hash << "\n";
  os << "#\n"
     << "#   sbatch [sbatch options] THIS_SCRIPT [tessera run options, e.g. --overwrite]\n"
     << "#\n"
     << "# sbatch options on the command line override the #SBATCH lines. Launches with srun (PMIx),\n"
     << "# else mpirun; checks the rank count; exits with Tessera's code (0 ok, 2 job/usage, 3 input\n"
     << "# data, 4 runtime; 75 checkpointed and requeued). Same logic as slurm/tessera.sbatch; tunables\n"
     << "# below and after the marker.\n"
     << "#\n"
     << "# Job name (squeue).\n"
     << "#SBATCH --job-name=" << job.name << "\n"
     << "# Log (stdout and stderr) in the submit folder; %j is the job id.\n"
     << "#SBATCH --output=" << job.name << "-%j.out\n"
     << "# SIGUSR1 to this shell 120 s before the time limit: checkpoint, then requeue (exit 75).\n"
     << "#SBATCH --signal=B:USR1@120\n"
     << "# Requeueable (scontrol requeue when Tessera exits 75).\n"
     << "#SBATCH --requeue\n"
     << "# Append to the log when requeued, so it shows every run.\n"
     << "#SBATCH --open-mode=append\n"
     << "# Nodes.\n"
     << "#SBATCH --nodes=" << opt.nodes << "\n";
  if (opt.ntasks_per_node > 0)
    os << "# MPI ranks per node (one rank per Slurm task).\n"
       << "#SBATCH --ntasks-per-node=" << opt.ntasks_per_node << "\n";
  else
    os << "# MPI ranks per node (one rank per Slurm task). Not set: the site's default (remove one '#' to set).\n"
       << "##SBATCH --ntasks-per-node=128\n";
  directive(os, "Wall-time limit.", "time", opt.time, "01:00:00");
  directive(os, "Account charged.", "account", opt.account, "myproject");
  directive(os, "Partition.", "partition", opt.partition, "regular");
  directive(os, "Node features (e.g. cpu on Perlmutter).", "constraint", opt.constraint, "cpu");
  directive(os, "Quality of service.", "qos", opt.qos, "regular");
  os << "set -euo pipefail\n"
     << "\n"
     << "# The tessera executable as the compute nodes see it.\n"
     << "TESSERA=" << shell_quote(absolute_path(opt.tessera)) << "\n"
     << "# The job file.\n"
     << "JOB=" << shell_quote(absolute_path(job.file.find('/') == std::string::npos ? "./" + job.file : job.file)) << "\n"
     << "\n"
     << k_body;
  return os.str();
}

}  // namespace tessera
