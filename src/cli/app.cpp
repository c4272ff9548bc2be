#include <signal.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <map>

#include "cli/commands.hpp"
#include "core/error.hpp"
#include "core/version.hpp"
#include "core/cleanup.hpp"

namespace tessera::cli {
namespace {

const char* usage_text =
    "usage: tessera <command> [options]\n"
    "\n"
    "commands:\n"
    "  run JOB.yaml        run a job (under mpirun/srun, or alone on one rank)\n"
    "  validate JOB.yaml   check the job and its inputs' metadata without reading data\n"
    "  plan JOB.yaml       print the decomposition for --ranks N\n"
    "  inspect PATH        dimensions, variables, chunking, compression, CF attributes\n"
    "  generate PATH       write a synthetic CF dataset\n"
    "  render slurm|mpijob JOB.yaml   a Slurm batch script or a Kubernetes MPIJob for the job\n"
    "\n"
    "  tessera <command> --help   options of a command\n"
    "  tessera --version          version\n"
    "\n"
    "exit codes: 0 success, 2 usage or job-file error, 3 input-data error, 4 runtime or I/O failure\n";

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> d(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) d[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t prev = d[0];
    d[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      std::size_t cur = d[j];
      d[j] = std::min({d[j] + 1, d[j - 1] + 1, prev + (a[i - 1] != b[j - 1])});
      prev = cur;
    }
  }
  return d[b.size()];
}

// Names from hostile input can be megabytes long (a 10 MB variable name): keep each word of a
// message readable, with its start, its end and how much was left out.
std::string shorten_words(const std::string& msg) {
  constexpr std::size_t max_word = 200, head = 120, tail = 40;
  std::string out;
  std::size_t i = 0;
  while (i < msg.size()) {
    std::size_t j = msg.find_first_of(" \n", i);
    if (j == std::string::npos) j = msg.size();
    const std::size_t n = j - i;
    if (n > max_word)
      out += msg.substr(i, head) + "[... " + std::to_string(n - head - tail) + " bytes ...]" + msg.substr(j - tail, tail);
    else
      out += msg.substr(i, n);
    if (j < msg.size()) out += msg[j];
    i = j + 1;
  }
  return out;
}

// Names read from corrupt files can hold any byte: escape control characters and invalid UTF-8
// as \xNN, so the message stays readable text and cannot drive the terminal.
std::string printable(const std::string& msg) {
  std::string out;
  const auto* b = reinterpret_cast<const unsigned char*>(msg.data());
  const std::size_t n = msg.size();
  for (std::size_t i = 0; i < n;) {
    const unsigned char c = b[i];
    std::size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    bool ok = len > 0 && i + len <= n && !(len == 2 && c < 0xC2);
    for (std::size_t k = 1; ok && k < len; ++k) ok = (b[i + k] & 0xC0) == 0x80;
    if (ok && len == 1 && (c == 0x7F || (c < 0x20 && c != '\n' && c != '\t'))) ok = false;
    if (ok) {
      out.append(msg, i, len);
      i += len;
    } else {
      char hex[5];
      std::snprintf(hex, sizeof hex, "\\x%02X", c);
      out += hex;
      ++i;
    }
  }
  return out;
}

void print_error(const std::string& full, int rank_note) {
  const std::string msg = printable(shorten_words(full));
  if (rank_note >= 0)
    std::fprintf(stderr, "tessera: error (rank %d): %s\n", rank_note, msg.c_str());
  else
    std::fprintf(stderr, "tessera: error: %s\n", msg.c_str());
  std::fflush(stderr);
}

}  // namespace

int run_cli(int argc, char** argv) {
  // Past a file-size limit (ulimit -f) a write must fail with EFBIG, reported as an I/O error,
  // instead of SIGXFSZ killing the rank mid-collective.
  ::signal(SIGXFSZ, SIG_IGN);
  const mpi::Comm comm = mpi::Comm::world();
  const int rank = comm.rank(), size = comm.size();
  const std::vector<std::string> all(argv + 1, argv + argc);
  if (all.empty() || all[0] == "-h" || all[0] == "--help" || all[0] == "help") {
    if (rank == 0) std::cout << usage_text;
    return all.empty() ? static_cast<int>(ExitCode::usage) : 0;
  }
  if (all[0] == "--version" || all[0] == "-V") {
    if (rank == 0) std::cout << "tessera " << version_string << "\n";
    return 0;
  }
  const std::map<std::string, int (*)(const Args&, const mpi::Comm&)> commands = {
      {"run", cmd_run}, {"validate", cmd_validate}, {"plan", cmd_plan}, {"inspect", cmd_inspect},
      {"generate", cmd_generate}, {"render", cmd_render}};
  try {
    auto it = commands.find(all[0]);
    if (it == commands.end()) {
      std::string best;
      std::size_t best_d = 3;
      for (const auto& [name, fn] : commands)
        if (std::size_t d = edit_distance(all[0], name); d < best_d) best = name, best_d = d;
      throw UsageError("unknown command '" + all[0] + "'" + (best.empty() ? "" : "; did you mean '" + best + "'?") +
                       "\n" + usage_text);
    }
    return it->second(Args(all.begin() + 1, all.end()), comm);
  } catch (const AgreedError& e) {
    // Every rank knows; one prints. Name the rank when only one of several saw the problem.
    if (e.code() == ExitCode::checkpointed) {
      // Not an error: the launcher (slurm/tessera.sbatch) resubmits on this code.
      if (rank == 0) std::fprintf(stderr, "tessera: %s\n", e.what()), std::fflush(stderr);
      return static_cast<int>(e.code());
    }
    if (rank == 0) print_error(e.what(), size > 1 && e.failed_ranks == 1 ? e.origin_rank : -1);
    if (library_shutdown_skipped()) {
      std::fflush(nullptr);
      std::_Exit(static_cast<int>(e.code()));
    }
    return static_cast<int>(e.code());
  } catch (const UsageError& e) {
    // Command lines are the same on every rank, so is this error.
    if (rank == 0) print_error(e.what(), -1);
    return static_cast<int>(e.code());
  } catch (const Error& e) {
    print_error(e.what(), size > 1 ? rank : -1);
    remove_registered_files();  // the output lock and temporary file: the abort unwinds nothing
    if (size > 1) comm.abort(static_cast<int>(e.code()));
    return static_cast<int>(e.code());
  } catch (const std::exception& e) {
    print_error(std::string("unexpected failure: ") + e.what(), size > 1 ? rank : -1);
    remove_registered_files();
    if (size > 1) comm.abort(static_cast<int>(ExitCode::runtime));
    return static_cast<int>(ExitCode::runtime);
  }
}

}  // namespace tessera::cli
