#include "io/selection.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>
#include <sstream>
#include <stdexcept>

#include "core/error.hpp"
#include "io/time_axis.hpp"

namespace tessera {
namespace {

std::string fmt(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

bool is_longitude(const CoordinateInfo& c) {
  if (const Attribute* sn = c.var.attr("standard_name"); sn && sn->is_text && sn->text == "longitude") return true;
  const Attribute* u = c.var.attr("units");
  if (!u || !u->is_text) return false;
  static const char* east[] = {"degrees_east", "degree_east", "degree_E", "degrees_E", "degreeE", "degreesE"};
  return std::any_of(std::begin(east), std::end(east), [&](const char* e) { return u->text == e; });
}

bool parse_number(const std::string& s, double& out) {
  try {
    std::size_t used = 0;
    out = std::stod(s, &used);
    return used == s.size() && std::isfinite(out);
  } catch (const std::exception&) {
    return false;
  }
}

// Consecutive runs of `idx` (in the given order) as segments; `shift` per index carried along.
std::vector<Segment> runs(const std::vector<std::size_t>& idx, const std::vector<double>& shift) {
  std::vector<Segment> out;
  for (std::size_t k = 0; k < idx.size(); ++k) {
    if (!out.empty() && idx[k] == out.back().start + out.back().count && shift[k] == out.back().shift) {
      ++out.back().count;
    } else {
      out.push_back({idx[k], 1, shift[k]});
    }
  }
  return out;
}

std::string range_text(const std::vector<double>& v) {
  const auto [lo, hi] = std::minmax_element(v.begin(), v.end());
  return fmt(*lo) + " .. " + fmt(*hi);
}

}  // namespace

bool Selection::identity(const std::vector<std::size_t>& shape) const {
  for (std::size_t a = 0; a < axes.size(); ++a)
    if (axes[a].size() != 1 || axes[a][0].start != 0 || axes[a][0].count != shape[a] || axes[a][0].shift != 0)
      return false;
  return true;
}

Selection resolve_selection(const InputMeta& meta, const std::vector<SelectSpec>& specs, const std::string& job_file,
                            const std::string& what) {
  Selection sel;
  for (std::size_t n : meta.var.shape) sel.axes.push_back({Segment{0, n, 0}});
  std::optional<TimeAxis> time;
  bool time_scanned = false;
  for (const SelectSpec& s : specs) {
    const std::string at = job_file + ":" + std::to_string(s.pos.line) + ":" + std::to_string(s.pos.column) +
                           ": select '" + s.dim + "' in " + what;
    const int ax = meta.var.axis_of(s.dim);
    if (ax < 0) {
      std::string dims;
      for (const auto& d : meta.var.dims) dims += (dims.empty() ? "" : ", ") + d;
      throw JobError(at + ": '" + s.dim + "' is not a dimension of " + meta.var.name + " (" + dims + ")");
    }
    const CoordinateInfo* c = meta.coordinate(s.dim);
    if (!c || c->values.size() != meta.var.shape[ax])
      throw JobError(at + ": the input has no coordinate variable '" + s.dim + "' to select by");
    const std::vector<double>& v = c->values;
    const Attribute* cu = c->var.attr("units");
    const bool is_time = cu && cu->is_text && cu->text.find(" since ") != std::string::npos;
    if (is_time && !time_scanned) time = find_time_axis(meta, what), time_scanned = true;
    std::vector<std::size_t> idx;
    std::vector<double> shift;
    if (time && time->axis == std::size_t(ax)) {
      // Dates in the file's calendar; a date names its whole period ("2020" is all of 2020).
      double lo = 0, hi = 0;
      try {
        lo = cf::from_datetime(cf::parse_iso_date(s.values.front(), time->units.calendar), time->units);
        hi = cf::from_datetime(cf::parse_iso_date(s.values.back(), time->units.calendar, true), time->units);
      } catch (const std::invalid_argument& e) {
        throw JobError(at + ": " + e.what() + " (dates are ISO 8601 in the file's " +
                       cf::calendar_name(time->units.calendar) + " calendar, e.g. \"1991-01-01\")");
      }
      if (lo > hi) std::swap(lo, hi);
      for (std::size_t i = 0; i < v.size(); ++i)
        if (v[i] >= lo && v[i] <= hi) idx.push_back(i), shift.push_back(0);
      if (idx.empty())
        throw JobError(at + ": selects no time step; the data spans " + cf::format_iso(time->dates.front()) + " .. " +
                       cf::format_iso(time->dates.back()) + " (" + cf::calendar_name(time->units.calendar) +
                       " calendar)");
    } else {
      std::vector<double> x;
      for (const auto& t : s.values) {
        double d = 0;
        if (!parse_number(t, d)) throw JobError(at + ": '" + t + "' is not a number (the coordinate is numeric)");
        x.push_back(d);
      }
      if (x.size() == 1) {
        for (std::size_t i = 0; i < v.size(); ++i)
          if (std::fabs(v[i] - x[0]) <= 1e-6 * std::max(1.0, std::fabs(x[0]))) {
            idx.push_back(i), shift.push_back(0);
            break;
          }
        if (idx.empty()) {
          std::string vals;
          for (std::size_t i = 0; i < v.size() && i < 12; ++i) vals += (i ? ", " : "") + fmt(v[i]);
          throw JobError(at + ": no '" + s.dim + "' equals " + fmt(x[0]) + "; its values are " + vals +
                         (v.size() > 12 ? ", ..." : "") + " (give [first, last] for a range)");
        }
      } else if (is_longitude(*c)) {
        // Longitudes go east from the first bound to the second, across the seam if need be:
        // [350, 10] and [-10, 10] work on 0..360 and -180..180 grids alike.
        const double a = x[0];
        double span = std::fmod(x[1] - x[0], 360.0);
        if (span < 0) span += 360.0;
        const bool all = x[1] - x[0] >= 360.0;
        std::vector<std::pair<double, std::size_t>> keyed;
        for (std::size_t i = 0; i < v.size(); ++i) {
          double key = std::fmod(v[i] - a, 360.0);
          if (key < 0) key += 360.0;
          if (all || key <= span + 1e-9) keyed.push_back({key, i});
        }
        const bool ascending = v.size() < 2 || v[1] > v[0];
        if (ascending) std::stable_sort(keyed.begin(), keyed.end());
        for (const auto& [key, i] : keyed) {
          idx.push_back(i);
          // Continuous output longitudes: shift by whole turns so they run from the first bound.
          shift.push_back(all ? 0.0 : 360.0 * std::round((a + key - v[i]) / 360.0));
        }
        if (idx.empty())
          throw JobError(at + ": selects no longitude; the grid spans " + range_text(v));
      } else {
        const double lo = std::min(x[0], x[1]), hi = std::max(x[0], x[1]);
        for (std::size_t i = 0; i < v.size(); ++i)
          if (v[i] >= lo && v[i] <= hi) idx.push_back(i), shift.push_back(0);
        if (idx.empty())
          throw JobError(at + ": [" + fmt(x[0]) + ", " + fmt(x[1]) + "] selects nothing; '" + s.dim + "' spans " +
                         range_text(v));
      }
    }
    sel.axes[ax] = runs(idx, shift);
  }
  return sel;
}

SelectedInput apply_selection(const InputMeta& meta, const Selection& sel_in) {
  SelectedInput out;
  out.sel = sel_in;
  out.stored = meta;
  out.view = meta;
  const std::size_t nd = meta.var.shape.size();
  // Files on the record axis that no segment touches are neither opened nor read.
  if (nd > 0 && !meta.parts.empty()) {
    std::size_t lo = meta.var.shape[0], hi = 0;
    for (const Segment& s : out.sel.axes[0]) lo = std::min(lo, s.start), hi = std::max(hi, s.start + s.count);
    std::vector<FilePart> kept;
    for (const FilePart& p : meta.parts)
      if (p.offset < hi && p.offset + p.length > lo) kept.push_back(p);
    if (!kept.empty() && kept.size() < meta.parts.size()) {
      const std::size_t origin = kept.front().offset;
      const std::size_t end = kept.back().offset + kept.back().length;
      for (FilePart& p : kept) p.offset -= origin;
      out.stored.parts = kept;
      out.stored.var.shape[0] = end - origin;
      for (Segment& s : out.sel.axes[0]) s.start -= origin;
      for (CoordinateInfo& c : out.stored.coords)
        if (c.var.name == meta.var.dims[0]) {
          c.values = std::vector<double>(c.values.begin() + origin, c.values.begin() + end);
          if (!c.bounds.empty()) c.bounds = std::vector<double>(c.bounds.begin() + 2 * origin, c.bounds.begin() + 2 * end);
          c.var.shape = {end - origin};
        }
      out.view.parts = kept;
    }
  }
  for (std::size_t a = 0; a < nd; ++a) {
    const auto& segs = out.sel.axes[a];
    std::size_t n = 0;
    for (const Segment& s : segs) n += s.count;
    out.view.var.shape[a] = n;
    // Chunk alignment only survives a selection that starts on a chunk boundary.
    if (!out.view.var.chunks.empty() && (segs.size() != 1 || segs[0].start % out.view.var.chunks[a] != 0))
      out.view.var.chunks[a] = 1;
    for (CoordinateInfo& c : out.view.coords) {
      if (c.var.name != meta.var.dims[a]) continue;
      const CoordinateInfo* sc = nullptr;
      for (const CoordinateInfo& s : out.stored.coords)
        if (s.var.name == c.var.name) sc = &s;
      std::vector<double> vals, bnds;
      for (const Segment& s : segs)
        for (std::size_t i = s.start; i < s.start + s.count; ++i) {
          vals.push_back(sc->values[i] + s.shift);
          if (!sc->bounds.empty()) bnds.push_back(sc->bounds[2 * i] + s.shift), bnds.push_back(sc->bounds[2 * i + 1] + s.shift);
        }
      c.values = std::move(vals);
      c.bounds = std::move(bnds);
      c.var.shape = {n};
    }
  }
  return out;
}

namespace {

class SelectedSource final : public Source {
 public:
  SelectedSource(InputMeta view, Selection sel, std::unique_ptr<Source> inner)
      : Source(std::move(view)), sel_(std::move(sel)), inner_(std::move(inner)) {}

  bool collective() const override { return inner_->collective(); }

  void read(const Box& box, void* dst) override {
    const std::size_t nd = box.rank();
    const std::size_t esize = dtype_size(meta_.var.type);
    // Per axis, the pieces of the box in each segment: (stored start, count, offset in the box).
    struct Piece {
      std::size_t start, count, offset;
    };
    std::vector<std::vector<Piece>> pieces(nd);
    bool direct = true;
    for (std::size_t a = 0; a < nd; ++a) {
      std::size_t view0 = 0;
      for (const Segment& s : sel_.axes[a]) {
        const std::size_t lo = std::max(view0, box.start[a]), hi = std::min(view0 + s.count, box.start[a] + box.count[a]);
        if (lo < hi && !empty(box)) pieces[a].push_back({s.start + (lo - view0), hi - lo, lo - box.start[a]});
        else pieces[a].push_back({0, 0, 0});  // keeps one entry per segment for collective readers
        view0 += s.count;
      }
      std::size_t used = 0;
      for (const Piece& p : pieces[a]) used += p.count > 0;
      if (used > 1) direct = false;
    }
    // Every combination of segments, one read each (empty where the box misses it).
    std::vector<std::size_t> k(nd, 0);
    std::vector<char> buffer;
    for (;;) {
      Box stored{std::vector<std::size_t>(nd), std::vector<std::size_t>(nd)};
      bool hit = true;
      for (std::size_t a = 0; a < nd; ++a) {
        const Piece& p = pieces[a][k[a]];
        stored.start[a] = p.start, stored.count[a] = p.count;
        hit = hit && p.count > 0;
      }
      if (!hit) {
        if (inner_->collective()) inner_->read(Box(std::vector<std::size_t>(nd, 0), std::vector<std::size_t>(nd, 0)), dst);
      } else if (direct) {
        inner_->read(stored, dst);
      } else {
        buffer.resize(static_cast<std::size_t>(volume(stored)) * esize);
        inner_->read(stored, buffer.data());
        scatter(buffer.data(), stored, pieces, k, box, static_cast<char*>(dst), esize);
      }
      std::size_t a = nd;
      while (a-- > 0) {
        if (++k[a] < pieces[a].size()) break;
        k[a] = 0;
      }
      if (a == std::size_t(-1)) break;
    }
  }

 private:
  template <class Pieces>
  static void scatter(const char* src, const Box& piece, const Pieces& pieces, const std::vector<std::size_t>& k,
                      const Box& box, char* dst, std::size_t esize) {
    const std::size_t nd = box.rank();
    const auto ds = row_major_strides(box.count);
    std::size_t base = 0;
    for (std::size_t a = 0; a < nd; ++a) base += pieces[a][k[a]].offset * ds[a];
    const std::size_t row = piece.count[nd - 1] * esize;
    std::vector<std::size_t> i(nd, 0);
    const std::uint64_t rows = volume(piece) / piece.count[nd - 1];
    for (std::uint64_t r = 0; r < rows; ++r) {
      std::size_t off = base;
      for (std::size_t a = 0; a + 1 < nd; ++a) off += i[a] * ds[a];
      std::memcpy(dst + off * esize, src, row);
      src += row;
      for (std::size_t a = nd - 1; a-- > 0;) {
        if (++i[a] < piece.count[a]) break;
        i[a] = 0;
      }
    }
  }

  Selection sel_;
  std::unique_ptr<Source> inner_;
};

}  // namespace

std::unique_ptr<Source> open_selected(const SelectedInput& in, const mpi::Comm* comm) {
  auto inner = open_source(in.stored, comm);
  if (in.sel.identity(in.stored.var.shape)) return inner;
  return std::make_unique<SelectedSource>(in.view, in.sel, std::move(inner));
}

}  // namespace tessera
