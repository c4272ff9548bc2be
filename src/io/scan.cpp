#include "io/scan.hpp"

#include <glob.h>

#include <algorithm>
#include <filesystem>
#include <numeric>

#include <stdexcept>

#include "cf/calendar.hpp"
#include "core/error.hpp"
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
  struct Scanned {
    FilePart part;
    VariableInfo var;
    std::vector<CoordinateInfo> coords;
    std::vector<Attribute> globals;
  };
  std::vector<Scanned> scanned;
  for (const auto& path : files) {
    nc::File f = nc::File::open(path);
    if (!f.has_variable(in.variable))
      throw InputError("variable '" + in.variable + "' not found in '" + path + "' for " + where(in, job_file) +
                       "; it has: " + list_names(f.variable_names()));
    Scanned s;
    s.part.format = f.format_name();
    // NetCDF-C reads a cut-off NetCDF-3 file as zeros: compare the size with the header.
    if (s.part.format == "classic" || s.part.format == "64-bit offset" || s.part.format == "CDF5")
      check_cdf_complete(path);
    s.var = f.variable(in.variable);
    if (s.var.dims.empty())
      throw InputError("variable '" + in.variable + "' in '" + path + "' is a scalar: nothing to reduce");
    s.part = {path, s.part.format, 0, s.var.shape[0], ""};
    for (const auto& d : s.var.dims) {
      CoordinateInfo c;
      if (read_coordinate(f, d, c)) s.coords.push_back(std::move(c));
    }
    s.globals = f.global_attributes();
    scanned.push_back(std::move(s));
  }
  const Scanned& first = scanned.front();
  for (const auto& s : scanned) {
    if (s.var.dims != first.var.dims)
      throw InputError("file '" + s.part.path + "': " + in.variable + " has dimensions (" + list_names(s.var.dims) +
                       "), but '" + first.part.path + "' has (" + list_names(first.var.dims) + ")");
    for (std::size_t i = 1; i < s.var.shape.size(); ++i)
      if (s.var.shape[i] != first.var.shape[i])
        throw InputError("file '" + s.part.path + "': dimension '" + s.var.dims[i] + "' has length " +
                         std::to_string(s.var.shape[i]) + ", but '" + first.part.path + "' has " +
                         std::to_string(first.var.shape[i]) + "; files of one input must share every dimension "
                         "but the record one");
    if (s.var.type != first.var.type)
      throw InputError("file '" + s.part.path + "': " + in.variable + " is " + dtype_name(s.var.type) + ", but '" +
                       first.part.path + "' has " + dtype_name(first.var.type));
  }
  // Order files along the record axis by their first coordinate value, not by name.
  const std::string& rec = first.var.dims[0];
  auto record_coord = [&](Scanned& s) -> CoordinateInfo* {
    for (auto& c : s.coords)
      if (c.var.name == rec && !c.values.empty()) return &c;
    return nullptr;
  };
  auto first_coord = [&](const Scanned& s) -> const CoordinateInfo* {
    for (const auto& c : s.coords)
      if (c.var.name == rec && !c.values.empty()) return &c;
    return nullptr;
  };
  bool all_have = std::all_of(scanned.begin(), scanned.end(), [&](const Scanned& s) { return first_coord(s); });
  if (scanned.size() > 1 && all_have) {
    const Attribute* u0 = first_coord(first)->var.attr("units");
    const Attribute* cal0 = first_coord(first)->var.attr("calendar");
    const std::string c0 = cal0 && cal0->is_text ? cal0->text : "";
    for (auto& s : scanned) {
      CoordinateInfo& c = *record_coord(s);
      const Attribute* u = c.var.attr("units");
      if ((u == nullptr) != (u0 == nullptr) || (u && u0 && u->text != u0->text)) {
        // CF time in other units or from another reference date: convert to the first file's.
        const bool times = u && u0 && u->text.find(" since ") != std::string::npos &&
                           u0->text.find(" since ") != std::string::npos;
        if (!times)
          throw InputError("file '" + s.part.path + "': " + rec + " units '" + (u ? u->text : "") + "' differ from '" +
                           (u0 ? u0->text : "") + "' in '" + first.part.path +
                           "'; files of one input must share the record coordinate's units");
        const Attribute* cal = c.var.attr("calendar");
        const std::string cs = cal && cal->is_text ? cal->text : "";
        try {
          const cf::TimeUnits from = cf::parse_time_units(u->text, cs), to = cf::parse_time_units(u0->text, c0);
          if (from.calendar != to.calendar)
            throw InputError("file '" + s.part.path + "': " + rec + " uses the " + cf::calendar_name(from.calendar) +
                             " calendar, but '" + first.part.path + "' the " + cf::calendar_name(to.calendar) +
                             " calendar; files of one input must share a calendar");
          for (double& v : c.values) v = cf::convert(v, from, to);
          for (double& v : c.bounds) v = cf::convert(v, from, to);
          for (auto& a : c.var.attrs)
            if (a.name == "units") a.text = u0->text;
        } catch (const std::invalid_argument& e) {
          throw InputError("file '" + s.part.path + "': time coordinate '" + rec + "': " + e.what());
        }
      }
    }
    std::stable_sort(scanned.begin(), scanned.end(), [&](const Scanned& a, const Scanned& b) {
      return first_coord(a)->values.front() < first_coord(b)->values.front();
    });
  }
  InputMeta m;
  m.alias = in.alias;
  m.kind = "netcdf";
  m.var = scanned.front().var;
  m.global_attrs = scanned.front().globals;
  std::size_t offset = 0;
  for (auto& s : scanned) {
    s.part.offset = offset;
    offset += s.part.length;
    m.parts.push_back(s.part);
  }
  m.var.shape[0] = offset;
  // Coordinates: the record one concatenated in file order, the others from the first file.
  for (const auto& c : scanned.front().coords) {
    CoordinateInfo agg = c;
    if (c.var.name == rec) {
      agg.values.clear();
      agg.bounds.clear();
      bool bounds_everywhere = true;
      for (const auto& s : scanned) {
        const CoordinateInfo* sc = nullptr;
        for (const auto& x : s.coords)
          if (x.var.name == rec) sc = &x;
        if (!sc) { agg.values.clear(); break; }
        agg.values.insert(agg.values.end(), sc->values.begin(), sc->values.end());
        if (sc->bounds.empty()) bounds_everywhere = false;
        else agg.bounds.insert(agg.bounds.end(), sc->bounds.begin(), sc->bounds.end());
      }
      if (agg.values.size() != offset) continue;  // some file lacks the coordinate: drop it
      if (!bounds_everywhere) agg.bounds.clear(), agg.bounds_name.clear();
      agg.var.shape[0] = offset;
    }
    m.coords.push_back(std::move(agg));
  }
  return m;
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
