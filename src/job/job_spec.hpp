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

// `select:` on one dimension, by coordinate values (inclusive, xarray .sel semantics). Values are
// kept as written: numbers, or ISO dates that only the file's calendar can interpret.
struct SelectSpec {
  std::string dim;
  std::vector<std::string> values;  // one value (a single index) or two (a range)
  SourcePos pos;
};

struct InputSpec {
  std::string alias;                // key under `inputs:`
  std::vector<std::string> paths;   // `path:` or `paths:`; local ones made absolute against the job file's folder; may hold globs
  std::string variable;             // NetCDF name, or /group/name for plain HDF5
  std::vector<SelectSpec> select;   // applied before any reduction sees the input
  // Object storage (s3:// and http(s):// paths); empty = AWS environment variables. Never secrets.
  std::string endpoint;             // e.g. http://127.0.0.1:9000
  std::string region;
  bool anonymous = false;           // unsigned requests (public buckets)
  SourcePos pos;
};

enum class Op { sum, mean, min, max, count, var, std, frequency, median, quantile, histogram };
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

  // Climate vocabulary (all optional).
  std::vector<SelectSpec> select;   // a sub-range of the input this reduction uses (no wrap-around)
  std::string groupby;              // month | season | dayofyear | year | hour: one result per group over all years
  std::string resample;             // day | month | season | year: one result per calendar period
  std::string weights;              // "area" or the name of a variable/input holding weights
  std::string where_op;             // gt | ge | lt | le | between: values kept (count/sum/mean/frequency)
  double where_a = 0, where_b = 0;
  double min_valid = 0;             // fraction of valid values a cell needs (0: any)
  std::string anomaly_of;           // subtract this reduction's result before reducing
  std::vector<double> q;            // quantile levels in [0, 1]
  std::vector<double> bins;         // histogram edges, increasing

  bool grouped() const { return !groupby.empty() || !resample.empty(); }
  // Needs whole series per cell (sorting), planned separately from the streaming reductions.
  bool whole_series() const { return op == Op::median || op == Op::quantile; }
};

struct OutputSpec {
  std::string path;                 // absolute
  bool overwrite = false;
  std::optional<DType> dtype;       // overrides float->float, double->double
};

// `run.checkpoint`: where and how often partial states are saved (see exec/checkpoint.hpp).
struct CheckpointSpec {
  std::string dir;                  // absolute; empty = no checkpoints (unless --checkpoint-dir)
  double every_seconds = 0;         // 0 = only when told to stop (SIGTERM, SIGUSR1)
  SourcePos pos;
};

struct RunSpec {
  std::uint64_t memory_per_rank = 512ull << 20;  // bytes for data buffers
  CheckpointSpec checkpoint;
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
