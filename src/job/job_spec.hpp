#pragma once
// The validated, in-memory form of a job file (version 1). Pure data: no YAML, no I/O.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.hpp"

namespace tessera {

// Where a value came from in the job file, for error messages ("job.yaml:12:7").
struct SourcePos {
  int line = 0;    // 1-based, 0 = unknown
  int column = 0;  // 1-based
};

struct InputSpec {
  std::string alias;                // key under `inputs:`
  std::vector<std::string> paths;   // `path:` or `paths:`; local ones made absolute against the job file's folder; may hold globs
  std::string variable;             // NetCDF name, or /group/name for plain HDF5
  // Object storage (s3:// and http(s):// paths); empty = AWS environment variables. Never secrets.
  std::string endpoint;             // e.g. http://127.0.0.1:9000
  std::string region;
  bool anonymous = false;           // unsigned requests (public buckets)
  SourcePos pos;
};

enum class Op { sum, mean, min, max, count, var, std };
std::string op_name(Op op);
bool parse_op(const std::string& s, Op& out);
std::vector<std::string> op_names();  // every op, in declaration order (for messages)

struct ReductionSpec {
  std::string name;                 // output variable name
  std::string input;                // alias of an input (filled in when the job has one input)
  Op op = Op::mean;
  std::vector<std::string> over;    // dimensions reduced
  int ddof = 0;                     // var/std only
  SourcePos pos;
};

struct OutputSpec {
  std::string path;                 // absolute
  bool overwrite = false;
  std::optional<DType> dtype;       // overrides float->float, double->double
};

struct RunSpec {
  std::uint64_t memory_per_rank = 512ull << 20;  // bytes for data buffers
};

struct JobSpec {
  std::string file;                 // path of the job file as given
  std::string dir;                  // folder relative paths resolve against
  std::string hash;                 // SHA-256 of the job file text (hex)
  std::string name;
  std::vector<InputSpec> inputs;    // in file order
  std::vector<ReductionSpec> reductions;
  OutputSpec output;
  RunSpec run;

  const InputSpec* find_input(const std::string& alias) const;
};

}  // namespace tessera
