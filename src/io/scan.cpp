#include "io/scan.hpp"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

#include "core/error.hpp"
#include "io/aggregate.hpp"
#include "io/cdf_header.hpp"
#include "io/hdf5_source.hpp"
#include "io/netcdf.hpp"
#include "io/remote_input.hpp"

namespace tessera {
namespace {

std::string where(const InputSpec& in, const std::string& job_file) {
  return "input '" + in.alias + "' (" + job_file + ":" + std::to_string(in.pos.line) + ")";
}

bool has_glob(const std::string& p) { return p.find_first_of("*?[") != std::string::npos; }

std::string list_names(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < 12; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > 12) s += ", ...";
  return s;
}

// Reads the 1-d coordinate variable named like `dim` (and its bounds) when the file has one.
bool read_coordinate(const nc::File& f, const std::string& dim, CoordinateInfo& out) {
  if (!f.has_variable(dim)) return false;
  VariableInfo v = f.variable(dim);
  if (v.dims.size() != 1 || v.dims[0] != dim) return false;
  out.var = v;
  out.values = f.read_all_as_double(dim);
  out.bounds.clear();
  out.bounds_name.clear();
  if (const Attribute* b = v.attr("bounds"); b && b->is_text && f.has_variable(b->text)) {
    VariableInfo bv = f.variable(b->text);
    if (bv.shape.size() == 2 && bv.shape[0] == v.shape[0] && bv.shape[1] == 2) {
      out.bounds = f.read_all_as_double(b->text);
      out.bounds_name = b->text;
    }
  }
  return true;
}

InputMeta scan_netcdf(const InputSpec& in, const std::vector<std::string>& files, const std::string& job_file) {
  std::vector<InputMeta> scanned;
  for (const auto& path : files) {
    nc::File f = nc::File::open(path);
    if (!f.has_variable(in.variable))
      throw InputError("variable '" + in.variable + "' not found in '" + path + "' for " + where(in, job_file) +
                       "; it has: " + list_names(f.variable_names()));
    InputMeta s;
    s.alias = in.alias;
    s.kind = "netcdf";
    const std::string format = f.format_name();
    // NetCDF-C reads a cut-off NetCDF-3 file as zeros: compare the size with the header.
    if (format == "classic" || format == "64-bit offset" || format == "CDF5") check_cdf_complete(path);
    s.var = f.variable(in.variable);
    if (s.var.dims.empty())
      throw InputError("variable '" + in.variable + "' in '" + path + "' is a scalar: nothing to reduce");
    s.parts.push_back({path, format, 0, s.var.shape[0], ""});
    for (const auto& d : s.var.dims) {
      CoordinateInfo c;
      if (read_coordinate(f, d, c)) s.coords.push_back(std::move(c));
    }
    s.global_attrs = f.global_attributes();
    scanned.push_back(std::move(s));
  }
  return aggregate_files(std::move(scanned));
}

// Corrupt or hostile headers can declare any dimension lengths. Everything downstream counts
// elements and bytes in 64 bits, so refuse shapes whose size does not fit, counting the
// non-record dimensions on their own too (an empty record axis would hide their product).
void check_addressable(const InputMeta& m, const std::string& what) {
  constexpr std::uint64_t limit = std::uint64_t(1) << 62, max_chunk_bytes = std::uint64_t(1) << 30;
  const std::uint64_t element = std::max<std::uint64_t>(dtype_size(m.var.type), 1);
  std::uint64_t record = element;
  bool too_large = false;
  std::string shape;
  for (std::size_t i = 0; i < m.var.shape.size(); ++i) {
    const std::uint64_t n = m.var.shape[i];
    shape += (i ? " x " : "") + std::to_string(n);
    if (i == 0) continue;
    if (n != 0 && record > limit / n) too_large = true;
    else record *= n;
  }
  const std::uint64_t records = m.var.shape.empty() ? 1 : m.var.shape[0];
  if (too_large || (records != 0 && record > limit / records))
    throw InputError(what + ": variable '" + m.var.name + "' has shape " + shape + " (" + dtype_name(m.var.type) +
                     "), more than 2^62 bytes: the file's dimensions are corrupt or too large to reduce");
  // A chunk is decompressed whole, whatever part of it is read: a small file with a huge
  // compressed chunk (a "zip bomb", or careless chunking) would need that much memory per rank.
  std::uint64_t chunk = element;
  for (std::size_t c : m.var.chunks) chunk = c != 0 && chunk > limit / c ? limit : chunk * c;
  if (!m.var.chunks.empty() && chunk > max_chunk_bytes)
    throw InputError(what + ": variable '" + m.var.name + "' has chunks of " + std::to_string(chunk >> 20) +
                     " MiB uncompressed; Tessera reads whole chunks, so chunks above " +
                     std::to_string(max_chunk_bytes >> 20) + " MiB are refused: rechunk the file (e.g. nccopy -c)");
}

}  // namespace

std::vector<std::string> expand_paths(const InputSpec& in, const std::string& job_file) {
  std::vector<std::string> out;
  for (const auto& p : in.paths) {
    if (p.find("://") != std::string::npos)
      throw InputError(where(in, job_file) + ": remote path '" + p + "' is not supported yet (local files only)");
    if (has_glob(p)) {
      glob_t g{};
      int rc = ::glob(p.c_str(), 0, nullptr, &g);
      std::size_t found = rc == 0 ? g.gl_pathc : 0;
      for (std::size_t i = 0; i < found; ++i) out.emplace_back(g.gl_pathv[i]);
      globfree(&g);
      if (found == 0) throw InputError("no files match '" + p + "' for " + where(in, job_file));
    } else {
      std::error_code ec;
      if (!std::filesystem::is_regular_file(p, ec))
        throw InputError("input file '" + p + "' for " + where(in, job_file) + " does not exist or is not a file");
      out.push_back(p);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

InputMeta scan_input(const InputSpec& in, const std::string& job_file) {
  if (is_remote_or_zarr(in)) return scan_remote_or_zarr(in, job_file);
  std::vector<std::string> files = expand_paths(in, job_file);
  InputMeta m = looks_like_hdf5_path(in.variable) ? scan_hdf5(files, in.variable, in.alias)
                                                  : scan_netcdf(in, files, job_file);
  check_addressable(m, where(in, job_file) + " ('" + files.front() + (files.size() > 1 ? "', ..." : "'") + ")");
  return m;
}

FileSummary summarize_file(const std::string& path) {
  nc::File f = nc::File::open(path);
  FileSummary s;
  s.path = path;
  s.format = f.format_name();
  s.dims = f.dimensions();
  s.unlimited = f.unlimited_dimension();
  for (const auto& n : f.variable_names()) {
    try {
      s.vars.push_back(f.variable(n));
    } catch (const InputError&) {
      // Variables of types Tessera does not reduce (strings, compounds) are listed elsewhere.
    }
  }
  s.global_attrs = f.global_attributes();
  return s;
}

}  // namespace tessera
