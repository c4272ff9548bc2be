#include <iostream>
#include <sstream>

#include "cli/options.hpp"
#include "core/error.hpp"
#include "io/hdf5_source.hpp"
#include "io/remote_input.hpp"
#include "io/zarr_store.hpp"
#include "io/scan.hpp"
#include "mpi/phase.hpp"
#include "net/url.hpp"
#include "plan/plan.hpp"

namespace tessera::cli {
namespace {

std::string attr_text(const Attribute& a) {
  if (a.is_text) return "\"" + a.text + "\"";
  std::ostringstream os;
  os.precision(10);
  for (std::size_t i = 0; i < a.values.size(); ++i) os << (i ? ", " : "") << a.values[i];
  return os.str() + " (" + dtype_name(a.type) + ")";
}

std::string dims_text(const VariableInfo& v) {
  std::string s;
  for (std::size_t i = 0; i < v.dims.size(); ++i) s += (i ? ", " : "") + v.dims[i] + "=" + std::to_string(v.shape[i]);
  return s;
}

void print_variable(std::ostream& os, const VariableInfo& v) {
  os << "  " << dtype_name(v.type) << " " << v.name << "(" << dims_text(v) << ")";
  if (!v.chunks.empty()) {
    os << " chunks(";
    for (std::size_t i = 0; i < v.chunks.size(); ++i) os << (i ? ", " : "") << v.chunks[i];
    os << ")";
  } else if (!v.dims.empty()) {
    os << " contiguous";
  }
  if (!v.compression.empty()) os << " " << v.compression;
  os << "\n";
  for (const auto& a : v.attrs) os << "      " << a.name << " = " << attr_text(a) << "\n";
}

// What `tessera run` would do for the commonest job: the mean over the first dimension.
void print_decomposition(std::ostream& os, const std::string& path, const VariableInfo& v, int ranks) {
  if (v.dims.size() < 2) return;
  JobSpec job;
  job.file = "(inspect)";
  job.name = "inspect";
  InputSpec in;
  in.alias = "in";
  in.paths = {path};
  in.variable = v.name;
  job.inputs.push_back(in);
  ReductionSpec r;
  r.name = v.name + "_mean";
  r.input = "in";
  r.op = Op::mean;
  r.over = {v.dims[0]};
  job.reductions.push_back(r);
  InputMeta m;
  m.alias = "in";
  m.var = v;
  m.parts.push_back({path, "", 0, v.shape[0], ""});
  const Plan p = make_plan(job, {m}, ranks);
  const auto& ip = p.inputs.front();
  os << "      decomposition for a mean over '" << v.dims[0] << "' on " << ranks << " ranks: split along '"
     << v.dims[ip.split_axis] << "', " << ip.tiles[0].size() << " tile(s) on rank 0"
     << (ip.reductions[0].exchanges ? ", partial states merged" : ", no exchange") << "\n";
}

// Dimensions, the variables (all, or only `variable`) and, for a whole listing, the global
// attributes of one file or store: the same sections for local files, URLs and Zarr stores.
void print_summary(std::ostream& os, const FileSummary& s, const std::string& variable, int ranks) {
  os << "dimensions:\n";
  for (std::size_t i = 0; i < s.dims.size(); ++i)
    os << "  " << s.dims[i].first << " = " << s.dims[i].second
       << (static_cast<int>(i) == s.unlimited ? " (unlimited)" : "") << "\n";
  os << "variables:\n";
  bool found = variable.empty();
  for (const auto& v : s.vars) {
    if (!variable.empty() && v.name != variable) continue;
    found = true;
    print_variable(os, v);
    print_decomposition(os, s.path, v, ranks);
  }
  if (!found) throw InputError("variable '" + variable + "' not found in '" + s.path + "'");
  if (variable.empty()) {
    os << "global attributes:\n";
    for (const auto& a : s.global_attrs) os << "  " << a.name << " = " << attr_text(a) << "\n";
  }
}

// A URL (s3://, http(s)://, a glob over an S3 prefix) or a Zarr store. With --variable: scanned
// as `tessera run` scans an input (same remote options, same aggregation of several objects),
// then printed as a local file's variable is. Without: every variable of the object (a glob:
// of its first object) or store, from the format's own metadata (summarize_remote_or_zarr).
std::string inspect_remote(const InputSpec& in, int ranks) {
  const std::string& path = in.paths.front();
  std::ostringstream os;
  if (in.variable.empty()) {
    std::vector<std::string> objects;
    const FileSummary s = summarize_remote_or_zarr(in, "tessera inspect", objects);
    os << path << " (" << s.format;
    if (objects.size() > 1 || path.find_first_of("*?[") != std::string::npos)
      os << ", " << (objects.size() > 1 ? std::to_string(objects.size()) + " objects aggregate; the variables of the first, "
                                        : std::string("1 object matches, ")) << s.path;
    os << ")\n";
    print_summary(os, s, "", ranks);
    if (objects.size() > 1) {
      os << "objects:\n";
      for (const auto& o : objects) os << "  " << o << "\n";
    }
    return os.str();
  }
  const InputMeta m = scan_remote_or_zarr(in, "tessera inspect");
  os << path << " (" << (m.parts.front().format.empty() ? m.kind : m.parts.front().format);
  if (m.parts.size() > 1) os << ", " << m.parts.size() << " objects along '" << m.var.dims.front() << "'";
  os << ")\ndimensions:\n";
  for (std::size_t i = 0; i < m.var.dims.size(); ++i) os << "  " << m.var.dims[i] << " = " << m.var.shape[i] << "\n";
  os << "variables:\n";
  VariableInfo v = m.var;
  if (!v.name.empty() && v.name.front() == '/' && in.variable.front() != '/') v.name = in.variable;
  print_variable(os, v);
  print_decomposition(os, path, v, ranks);
  if (m.parts.size() > 1) {
    os << "objects:\n";
    for (const auto& p : m.parts) os << "  " << p.path << " [" << p.offset << ", " << p.offset + p.length << ")\n";
  }
  return os.str();
}

}  // namespace

int cmd_inspect(const Args& args, const mpi::Comm& comm) {
  po::options_description opts("inspect options");
  std::string path, variable;
  int ranks = 4;
  InputSpec remote;
  opts.add_options()("path", po::value(&path)->required(),
                     "NetCDF or HDF5 file; s3:// or http(s):// URL (an s3:// glob aggregates); Zarr store")(
      "variable", po::value(&variable), "only this variable (/group/name for plain HDF5); for a URL or store: scanned as `run` does")(
      "ranks,n", po::value(&ranks)->default_value(4), "ranks for the decomposition shown")(
      "endpoint", po::value(&remote.endpoint), "S3-compatible endpoint (as an input's `endpoint:`)")(
      "region", po::value(&remote.region), "S3 region (as an input's `region:`)")(
      "anonymous", po::bool_switch(&remote.anonymous), "unsigned requests (as an input's `anonymous: true`)");
  po::positional_options_description pos;
  pos.add("path", 1);
  po::variables_map vm;
  if (!parse_options("inspect", "PATH [--variable NAME] [--ranks N]", args, opts, pos, vm, comm)) return 0;
  if (ranks < 1) throw UsageError("tessera inspect: --ranks must be at least 1");
  const std::string text = mpi::run_phase(comm, [&]() -> std::string {
    if (comm.rank() != 0) return {};
    if (net::is_remote(path) || looks_like_zarr(path)) {
      remote.alias = "in";
      remote.paths = {path};
      remote.variable = variable;
      return inspect_remote(remote, ranks);
    }
    std::ostringstream os;
    if (looks_like_hdf5_path(variable)) {
      InputMeta m = scan_hdf5({path}, variable, "in");
      os << path << " (HDF5)\n";
      print_variable(os, m.var);
      print_decomposition(os, path, m.var, ranks);
      return os.str();
    }
    const FileSummary s = summarize_file(path);
    os << path << " (" << s.format << ")\n";
    print_summary(os, s, variable, ranks);
    return os.str();
  });
  if (comm.rank() == 0) std::cout << text;
  return 0;
}

}  // namespace tessera::cli
