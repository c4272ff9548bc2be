#include "io/aggregate.hpp"

#include <algorithm>
#include <stdexcept>

#include "cf/calendar.hpp"
#include "core/error.hpp"

namespace tessera {
namespace {

std::string list_names(const std::vector<std::string>& names) {
  std::string s;
  for (std::size_t i = 0; i < names.size() && i < 12; ++i) s += (i ? ", " : "") + names[i];
  if (names.size() > 12) s += ", ...";
  return s;
}

const std::string& path_of(const InputMeta& m) { return m.parts.at(0).path; }

// The file's record coordinate when it has values (a file without one is not ordered by time).
CoordinateInfo* record_coordinate(InputMeta& m) {
  for (auto& c : m.coords)
    if (c.var.name == m.var.dims.at(0) && !c.values.empty()) return &c;
  return nullptr;
}

double first_time(const InputMeta& m) {
  for (const auto& c : m.coords)
    if (c.var.name == m.var.dims.at(0) && !c.values.empty()) return c.values.front();
  return 0;
}

void check_agree(const InputMeta& s, const InputMeta& first) {
  const std::string& name = first.var.name;
  if (s.var.dims != first.var.dims)
    throw InputError("file '" + path_of(s) + "': " + name + " has dimensions (" + list_names(s.var.dims) +
                     "), but '" + path_of(first) + "' has (" + list_names(first.var.dims) + ")");
  for (std::size_t i = 1; i < s.var.shape.size(); ++i)
    if (s.var.shape[i] != first.var.shape[i])
      throw InputError("file '" + path_of(s) + "': dimension '" + s.var.dims[i] + "' has length " +
                       std::to_string(s.var.shape[i]) + ", but '" + path_of(first) + "' has " +
                       std::to_string(first.var.shape[i]) + "; files of one input must share every dimension "
                       "but the record one");
  if (s.var.type != first.var.type)
    throw InputError("file '" + path_of(s) + "': " + name + " is " + dtype_name(s.var.type) + ", but '" +
                     path_of(first) + "' has " + dtype_name(first.var.type));
}

// The file's record coordinate (values and bounds) converted onto `to`'s units and calendar.
void convert_units(InputMeta& s, CoordinateInfo& c, const InputMeta& first, const CoordinateInfo& to) {
  const std::string& rec = c.var.name;
  const Attribute* u = c.var.attr("units");
  const Attribute* u0 = to.var.attr("units");
  if ((u == nullptr) == (u0 == nullptr) && (!u || u->text == u0->text)) return;
  const bool times = u && u0 && u->text.find(" since ") != std::string::npos &&
                     u0->text.find(" since ") != std::string::npos;
  if (!times)
    throw InputError("file '" + path_of(s) + "': " + rec + " units '" + (u ? u->text : "") + "' differ from '" +
                     (u0 ? u0->text : "") + "' in '" + path_of(first) +
                     "'; files of one input must share the record coordinate's units");
  const Attribute* cal = c.var.attr("calendar");
  const Attribute* cal0 = to.var.attr("calendar");
  const std::string cs = cal && cal->is_text ? cal->text : "", c0 = cal0 && cal0->is_text ? cal0->text : "";
  const std::string target = u0->text;
  try {
    const cf::TimeUnits from = cf::parse_time_units(u->text, cs), dest = cf::parse_time_units(target, c0);
    if (from.calendar != dest.calendar)
      throw InputError("file '" + path_of(s) + "': " + rec + " uses the " + cf::calendar_name(from.calendar) +
                       " calendar, but '" + path_of(first) + "' the " + cf::calendar_name(dest.calendar) +
                       " calendar; files of one input must share a calendar");
    for (double& v : c.values) v = cf::convert(v, from, dest);
    for (double& v : c.bounds) v = cf::convert(v, from, dest);
    for (auto& a : c.var.attrs)
      if (a.name == "units") a.text = target;
  } catch (const std::invalid_argument& e) {
    throw InputError("file '" + path_of(s) + "': time coordinate '" + rec + "': " + e.what());
  }
}

std::string common_kind(const std::vector<InputMeta>& files) {
  std::string kind = files.front().kind;
  for (const auto& f : files) {
    if (f.kind == kind) continue;
    const auto hdf5_remote = [](const std::string& k) { return k == "hdf5-remote" || k == "hdf5-ros3"; };
    if (hdf5_remote(f.kind) && hdf5_remote(kind)) {
      kind = "hdf5-ros3";  // the ROS3 reader reads chunk-indexed files too
      continue;
    }
    throw InputError("file '" + path_of(f) + "' is read as " + f.kind + ", but '" + path_of(files.front()) +
                     "' as " + kind + ": files of one remote input must share a format (convert them with nccopy)");
  }
  return kind;
}

}  // namespace

InputMeta aggregate_files(std::vector<InputMeta> files) {
  if (files.empty()) throw InputError("an input with no files");
  for (auto& f : files)
    if (f.parts.size() != 1 || f.var.dims.empty())
      throw std::logic_error("aggregate_files: one file's scan must have one part and a non-scalar variable");
  for (const auto& s : files) check_agree(s, files.front());
  const std::string kind = common_kind(files);

  // Order files along the record axis by their first coordinate value (in one unit), not by name.
  const bool all_have = std::all_of(files.begin(), files.end(), [](InputMeta& m) { return record_coordinate(m); });
  if (files.size() > 1 && all_have) {
    const InputMeta& first = files.front();
    const CoordinateInfo to = *record_coordinate(files.front());
    for (auto& s : files) convert_units(s, *record_coordinate(s), first, to);
    std::stable_sort(files.begin(), files.end(),
                     [](const InputMeta& a, const InputMeta& b) { return first_time(a) < first_time(b); });
  }

  InputMeta m;
  m.alias = files.front().alias;
  m.kind = kind;
  m.var = files.front().var;
  m.global_attrs = files.front().global_attrs;
  std::size_t offset = 0;
  for (const auto& s : files) {
    FilePart p = s.parts.front();
    p.offset = offset;
    p.length = s.var.shape[0];
    offset += p.length;
    m.parts.push_back(std::move(p));
  }
  m.var.shape[0] = offset;
  // Coordinates: the record one concatenated in file order, the others from the first file.
  const std::string rec = m.var.dims[0];
  for (const auto& c : files.front().coords) {
    CoordinateInfo agg = c;
    if (c.var.name == rec) {
      agg.values.clear();
      agg.bounds.clear();
      bool bounds_everywhere = true;
      for (const auto& s : files) {
        const CoordinateInfo* sc = s.coordinate(rec);
        if (!sc) {
          agg.values.clear();
          break;
        }
        agg.values.insert(agg.values.end(), sc->values.begin(), sc->values.end());
        if (sc->bounds.size() != 2 * sc->values.size()) bounds_everywhere = false;
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

}  // namespace tessera
