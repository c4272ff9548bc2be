#include "exec/weights.hpp"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>

#include "core/error.hpp"
#include "io/netcdf.hpp"
#include "io/remote_input.hpp"
#include "core/dtype_visit.hpp"
#include "cf/decoding.hpp"

namespace tessera {
namespace {

constexpr double deg = 3.14159265358979323846 / 180.0;

bool has_text(const VariableInfo& v, const char* attr, std::initializer_list<const char*> values) {
  const Attribute* a = v.attr(attr);
  if (!a || !a->is_text) return false;
  return std::any_of(values.begin(), values.end(), [&](const char* s) { return a->text == s; });
}

// The axis whose coordinate is latitude (or longitude), by standard_name, units or name.
int find_axis(const InputMeta& m, bool lat) {
  for (std::size_t a = 0; a < m.var.dims.size(); ++a) {
    const CoordinateInfo* c = m.coordinate(m.var.dims[a]);
    const std::string& d = m.var.dims[a];
    if (lat ? (d == "lat" || d == "latitude") : (d == "lon" || d == "longitude")) return int(a);
    if (!c) continue;
    if (has_text(c->var, "standard_name", {lat ? "latitude" : "longitude"})) return int(a);
    if (lat && has_text(c->var, "units", {"degrees_north", "degree_north", "degree_N", "degrees_N"})) return int(a);
    if (!lat && has_text(c->var, "units", {"degrees_east", "degree_east", "degree_E", "degrees_E"})) return int(a);
  }
  return -1;
}

// View index -> stored index along one axis of a selection.
std::vector<std::size_t> stored_indices(const Selection& sel, std::size_t axis) {
  std::vector<std::size_t> out;
  for (const Segment& s : sel.axes[axis])
    for (std::size_t i = 0; i < s.count; ++i) out.push_back(s.start + i);
  return out;
}

// A whole variable of the input's first file (or object, or Zarr store); nullopt when absent.
std::optional<WholeVariable> load_variable(const SelectedInput& in, const std::string& name) {
  if (in.stored.kind != "netcdf") return read_remote_variable(in.stored, name);
  nc::File f = nc::File::open(in.stored.parts.front().path);
  if (!f.has_variable(name)) return std::nullopt;
  WholeVariable w;
  w.var = f.variable(name);
  w.values = f.read_all_as_double(name);
  return w;
}

bool reads_variables(const InputMeta& m) {
  return m.kind == "netcdf" || m.kind == "zarr" || m.kind == "hdf5-remote" || m.kind == "hdf5-ros3" ||
         m.kind == "netcdf3-remote";
}

// A variable of the input's first file over some of its dimensions, through the selection;
// `loaded` when the caller has read it already.
WeightField read_weight_variable(const std::string& name, const SelectedInput& in, const std::string& at,
                                 std::optional<WholeVariable> loaded = std::nullopt) {
  const std::string& path = in.stored.parts.front().path;
  if (!reads_variables(in.stored))
    throw JobError(at + ": weights from a variable need a NetCDF or Zarr input (local or remote), and '" + path +
                   "' is read as " + in.stored.kind + "; give the weights as an input of their own");
  if (!loaded) loaded = load_variable(in, name);
  if (!loaded) throw JobError(at + ": no variable or input named '" + name + "' (looked in '" + path + "')");
  const VariableInfo& v = loaded->var;
  const std::vector<double>& all = loaded->values;
  WeightField w;
  w.source = name;
  for (const auto& d : v.dims) {
    const int a = in.view.var.axis_of(d);
    if (a < 0 || (a == 0 && in.stored.parts.size() > 1))
      throw JobError(at + ": weights variable '" + name + "' has dimension '" + d + "', which " + in.view.var.name +
                     " does not share (or which spans several files)");
    w.axes.push_back(std::size_t(a));
    w.shape.push_back(in.view.var.shape[a]);
  }
  // Pick the selected cells, in the view's order.
  std::vector<std::vector<std::size_t>> idx;
  for (std::size_t j = 0; j < v.dims.size(); ++j) idx.push_back(stored_indices(in.sel, w.axes[j]));
  const auto ss = row_major_strides(v.shape);
  std::size_t n = 1;
  for (auto s : w.shape) n *= s;
  w.values.resize(n);
  std::vector<std::size_t> k(w.shape.size(), 0);
  for (std::size_t e = 0; e < n; ++e) {
    std::size_t off = 0;
    for (std::size_t j = 0; j < k.size(); ++j) off += idx[j][k[j]] * ss[j];
    const double x = all[off];
    if (!(x >= 0) || !std::isfinite(x))
      throw InputError("weights variable '" + name + "' in '" + path + "' holds " + std::to_string(x) +
                       "; weights must be finite and >= 0");
    w.values[e] = x;
    for (std::size_t j = k.size(); j-- > 0;) {
      if (++k[j] < w.shape[j]) break;
      k[j] = 0;
    }
  }
  return w;
}

}  // namespace

WeightField make_weights(const JobSpec& job, const ReductionSpec& r, const SelectedInput& in,
                         const std::vector<SelectedInput>& inputs) {
  const std::string at = job.file + ":" + std::to_string(r.pos.line) + ":" + std::to_string(r.pos.column) +
                         ": reduction '" + r.name + "'";
  const InputMeta& m = in.view;
  if (r.weights != "area") {
    for (std::size_t i = 0; i < job.inputs.size(); ++i)
      if (job.inputs[i].alias == r.weights) {
        // Another input holds the weights: read it whole (it is small: areas, masks).
        const SelectedInput& w_in = inputs[i];
        WeightField w;
        w.source = w_in.view.var.name;
        for (const auto& d : w_in.view.var.dims) {
          const int a = m.var.axis_of(d);
          if (a < 0 || w_in.view.var.shape[w.axes.size()] != m.var.shape[a])
            throw JobError(at + ": weights input '" + r.weights + "' has dimension '" + d + "' that does not match " +
                           m.var.name + "'s");
          w.axes.push_back(std::size_t(a));
          w.shape.push_back(m.var.shape[a]);
        }
        std::size_t n = 1;
        for (auto s : w.shape) n *= s;
        if (n > (std::size_t(1) << 28)) throw JobError(at + ": weights input '" + r.weights + "' is too large to hold in memory");
        std::vector<char> raw(n * dtype_size(w_in.view.var.type));
        open_selected(w_in, nullptr)->read(Box::whole(w_in.view.var.shape), raw.data());
        const Decoding dec = decoding_for(w_in.view.var, "weights input '" + r.weights + "'");
        w.values.resize(n);
        visit_dtype(w_in.view.var.type, [&](auto t) {
          using T = decltype(t);
          const T* p = reinterpret_cast<const T*>(raw.data());
          for (std::size_t e = 0; e < n; ++e) {
            double x = static_cast<double>(p[e]);
            for (int k = 0; k < dec.n_missing; ++k)
              if (x == dec.missing[k]) x = 0;
            x = dec.unpack(x);
            w.values[e] = std::isfinite(x) && x > 0 ? x : 0.0;  // missing weights drop the cell
          }
        });
        return w;
      }
    return read_weight_variable(r.weights, in, at);
  }

  // Area weights. CF cell_measures first ("area: areacella").
  if (const Attribute* cm = m.var.attr("cell_measures"); cm && cm->is_text && reads_variables(in.stored)) {
    const std::string& t = cm->text;
    const auto p = t.find("area:");
    if (p != std::string::npos) {
      std::size_t b = p + 5;
      while (b < t.size() && t[b] == ' ') ++b;
      std::size_t e = b;
      while (e < t.size() && t[e] != ' ') ++e;
      const std::string name = t.substr(b, e - b);
      if (auto loaded = load_variable(in, name)) return read_weight_variable(name, in, at, std::move(loaded));
    }
  }
  const int lat = find_axis(m, true), lon = find_axis(m, false);
  if (lat < 0)
    throw JobError(at + ": weights: area needs a latitude axis, and " + m.var.name +
                   " has none (no coordinate with standard_name latitude or units degrees_north)");
  const CoordinateInfo* cy = m.coordinate(m.var.dims[lat]);
  const CoordinateInfo* cx = lon >= 0 ? m.coordinate(m.var.dims[lon]) : nullptr;
  if (!cy || cy->values.size() != m.var.shape[lat])
    throw JobError(at + ": weights: area needs latitude values, and '" + m.var.dims[lat] + "' has no coordinate variable");
  const std::size_t ny = m.var.shape[lat], nx = lon >= 0 ? m.var.shape[lon] : 1;
  std::vector<double> wy(ny), wx(nx, 1.0);
  WeightField w;
  if (cy->bounds.size() == 2 * ny) {
    // Exact spherical cell areas (up to R^2): (sin(phi1) - sin(phi0)) * (lambda1 - lambda0).
    w.source = "cell bounds";
    for (std::size_t j = 0; j < ny; ++j) {
      const double a = std::clamp(cy->bounds[2 * j], -90.0, 90.0), b = std::clamp(cy->bounds[2 * j + 1], -90.0, 90.0);
      wy[j] = std::fabs(std::sin(b * deg) - std::sin(a * deg));
    }
    if (cx && cx->bounds.size() == 2 * nx)
      for (std::size_t i = 0; i < nx; ++i) {
        double d = std::fabs(cx->bounds[2 * i + 1] - cx->bounds[2 * i]);
        if (d > 360.0) d = 360.0;
        wx[i] = d * deg;
      }
  } else {
    w.source = "cos(latitude)";
    for (std::size_t j = 0; j < ny; ++j) wy[j] = std::max(0.0, std::cos(cy->values[j] * deg));
  }
  // Equal longitude widths (regular grids): the weights depend on latitude alone, and keeping
  // them over latitude only lets the weighted kernel add a row's weight sum once per row.
  const bool regular = std::all_of(wx.begin(), wx.end(), [&](double d) { return d == wx[0]; });
  if (lon >= 0 && regular) {
    w.axes = {std::size_t(lat)};
    w.shape = {ny};
    w.values.resize(ny);
    for (std::size_t j = 0; j < ny; ++j) w.values[j] = wy[j] * wx[0];  // the same products as below
  } else if (lon >= 0) {
    w.axes = {std::size_t(std::min(lat, lon)), std::size_t(std::max(lat, lon))};
    w.shape = {m.var.shape[w.axes[0]], m.var.shape[w.axes[1]]};
    w.values.resize(ny * nx);
    for (std::size_t j = 0; j < ny; ++j)
      for (std::size_t i = 0; i < nx; ++i) w.values[lat < lon ? j * nx + i : i * ny + j] = wy[j] * wx[i];
  } else {
    w.axes = {std::size_t(lat)};
    w.shape = {ny};
    w.values = wy;
  }
  return w;
}

namespace {

template <class T>
void put(std::string& out, const T* p, std::size_t n) {
  const std::uint64_t count = n;
  out.append(reinterpret_cast<const char*>(&count), sizeof count);
  out.append(reinterpret_cast<const char*>(p), n * sizeof(T));
}

template <class T>
std::vector<T> take(const std::string& in, std::size_t& at) {
  std::uint64_t n = 0;
  if (in.size() - at < sizeof n) throw RuntimeError("weights broadcast: message cut short");
  std::memcpy(&n, in.data() + at, sizeof n);
  at += sizeof n;
  if (n > (in.size() - at) / sizeof(T)) throw RuntimeError("weights broadcast: message cut short");
  std::vector<T> v(n);
  if (n) std::memcpy(v.data(), in.data() + at, n * sizeof(T));
  at += n * sizeof(T);
  return v;
}

}  // namespace

std::string weights_to_bytes(const std::map<std::size_t, WeightField>& weights) {
  std::string out;
  for (const auto& [index, w] : weights) {
    const std::uint64_t i = index;
    put(out, &i, 1);
    put(out, w.axes.data(), w.axes.size());
    put(out, w.shape.data(), w.shape.size());
    put(out, w.values.data(), w.values.size());
    put(out, w.source.data(), w.source.size());
  }
  return out;
}

std::map<std::size_t, WeightField> weights_from_bytes(const std::string& bytes) {
  std::map<std::size_t, WeightField> out;
  for (std::size_t at = 0; at < bytes.size();) {
    const auto index = take<std::uint64_t>(bytes, at);
    if (index.size() != 1) throw RuntimeError("weights broadcast: malformed message");
    WeightField& w = out[index[0]];
    w.axes = take<std::size_t>(bytes, at);
    w.shape = take<std::size_t>(bytes, at);
    w.values = take<double>(bytes, at);
    const auto text = take<char>(bytes, at);
    w.source.assign(text.begin(), text.end());
  }
  return out;
}

}  // namespace tessera
