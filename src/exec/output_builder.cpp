#include "exec/output_builder.hpp"

#include <algorithm>
#include <cmath>
#include <map>
#include <sstream>

#include "core/error.hpp"
#include "core/version.hpp"

namespace tessera {
namespace {

constexpr double nc_fill_double = 9.9692099683868690e+36;
constexpr double nc_fill_int = -2147483647.0;

std::string cf_method(Op op) {
  switch (op) {
    case Op::sum: return "sum";
    case Op::mean: return "mean";
    case Op::min: return "minimum";
    case Op::max: return "maximum";
    case Op::var: return "variance";
    case Op::std: return "standard_deviation";
    case Op::median: return "median";
    case Op::count:
    case Op::frequency:
    case Op::quantile:
    case Op::histogram: return "";
  }
  return "";
}

std::string squared_units(const std::string& u) {
  if (u.find_first_of(" /*.^-") == std::string::npos) return u + "2";
  return "(" + u + ")^2";
}

std::string number(double v) {
  std::ostringstream os;
  os.precision(10);
  os << v;
  return os.str();
}

std::string condition_text(const ReductionSpec& s, const std::string& var) {
  if (s.where_op.empty()) return "";
  if (s.where_op == "between") return number(s.where_a) + " <= " + var + " <= " + number(s.where_b);
  const char* sym = s.where_op == "gt" ? " > " : s.where_op == "ge" ? " >= " : s.where_op == "lt" ? " < " : " <= ";
  return var + sym + number(s.where_a);
}

bool same_values(const std::vector<double>& a, const std::vector<double>& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!(a[i] == b[i]) && !(std::isnan(a[i]) && std::isnan(b[i]))) return false;
  return true;
}

}  // namespace

bool OutputBuilder::has_dim(const std::string& n) const {
  return std::any_of(dims_.begin(), dims_.end(), [&](const Dim& d) { return d.name == n; });
}

std::vector<Attribute> OutputBuilder::coordinate_attrs(const CoordinateInfo& c) {
  std::vector<Attribute> out;
  for (const auto& a : c.var.attrs)
    if (a.name != "bounds" && a.name != "_FillValue" && a.name != "climatology") out.push_back(a);
  return out;
}

OutputVariable OutputBuilder::rank0_variable(const std::string& name, std::vector<std::string> dims, DType type,
                                             const std::vector<std::size_t>& shape, std::vector<double> values) const {
  OutputVariable v;
  v.name = name;
  v.dims = std::move(dims);
  v.type = type;
  v.owned = rank_ == 0 ? Box::whole(shape) : Box(std::vector<std::size_t>(shape.size(), 0), std::vector<std::size_t>(shape.size(), 0));
  if (rank_ == 0) v.values = std::move(values);
  return v;
}

std::string OutputBuilder::claim_dimension(const std::string& base, const std::string& alt, std::size_t length,
                                           const std::vector<double>& values, bool& is_new) {
  for (int k = 0;; ++k) {
    const std::string name = k == 0 ? base : k == 1 ? alt : alt + "_" + std::to_string(k);
    auto it = std::find_if(dims_.begin(), dims_.end(), [&](const Dim& d) { return d.name == name; });
    if (it == dims_.end()) {
      dims_.push_back({name, length, values});
      is_new = true;
      return name;
    }
    if (it->length == length && same_values(it->values, values)) {
      is_new = false;
      return name;
    }
  }
}

std::string OutputBuilder::claim_scalar(const CoordinateInfo* c, const std::string& alt, double lo, double hi, bool& is_new) {
  for (int k = 0;; ++k) {
    const std::string name = k == 0 ? c->var.name : k == 1 ? alt : alt + "_" + std::to_string(k);
    auto it = std::find_if(scalars_.begin(), scalars_.end(), [&](const Scalar& s) { return s.name == name; });
    if (it == scalars_.end()) {
      scalars_.push_back({name, lo, hi, c});
      is_new = true;
      return name;
    }
    if (it->lo == lo && it->hi == hi) {
      is_new = false;
      return name;
    }
  }
}

void OutputBuilder::add(const InputPlan& ip, const ReductionPlan& rp, const Result& res, const Decoding& dec,
                        const std::string& weights) {
  const InputMeta& m = metas_[ip.input];
  const ReductionSpec& spec = job_.reductions[rp.index];
  OutputVariable v;
  v.name = spec.name;
  CellMethods cms;
  if (const Attribute* prior = m.var.attr("cell_methods"); prior && prior->is_text) cms.prior = prior->text;
  cms.method = cf_method(spec.op);

  // Dimensions and their coordinates.
  for (std::size_t j = 0; j < rp.out_dims.size(); ++j) {
    const std::size_t len = rp.out_shape[j];
    const bool is_group = rp.axes.group_axis != AxisMap::none && j == rp.axes.group_slot;
    const bool is_quantile = rp.extra_dims && rp.kind == ReductionKind::series && j == 0;
    const bool is_bin = rp.extra_dims && rp.kind == ReductionKind::histogram && j + 1 == rp.out_dims.size();
    bool is_new = false;
    std::string name;
    if (is_group) {
      const CoordinateInfo* c = m.coordinate(rp.out_dims[j]);
      const GroupPlan& g = rp.groups;
      // A second time axis in one file needs its own name: time_month (climatology), time_monthly (resampled).
      static const std::map<std::string, std::string> every = {{"day", "daily"}, {"month", "monthly"}, {"season", "seasonal"}, {"year", "yearly"}};
      const std::string alt = rp.out_dims[j] + "_" + (g.climatology ? g.period : every.at(g.period));
      name = claim_dimension(rp.out_dims[j], alt, len, g.value, is_new);
      cms.group_dim = name;
      cms.resampled = !g.climatology;
      cms.group_within = g.period == "hour" ? "days" : "years";
      if (is_new) {
        OutputVariable t = rank0_variable(name, {name}, DType::f64, {len}, g.value);
        if (c) t.attrs = coordinate_attrs(*c);
        const std::string bname = g.climatology ? (name == "time" ? "climatology_bounds" : name + "_climatology_bounds")
                                                : name + "_bnds";
        t.attrs.push_back(Attribute::make_text(g.climatology ? "climatology" : "bounds", bname));
        std::vector<double> b;
        for (std::size_t i = 0; i < len; ++i) b.push_back(g.lo[i]), b.push_back(g.hi[i]);
        coords_.push_back(std::move(t));
        coords_.push_back(rank0_variable(bname, {name, "bnds"}, DType::f64, {len, 2}, b));
        if (!has_dim("bnds")) dims_.push_back({"bnds", 2, {}});
      }
    } else if (is_quantile) {
      name = claim_dimension("quantile", "quantile_" + spec.name, len, spec.q, is_new);
      if (is_new) {
        OutputVariable q = rank0_variable(name, {name}, DType::f64, {len}, spec.q);
        q.attrs.push_back(Attribute::make_text("long_name", "quantile level (numpy linear interpolation)"));
        q.attrs.push_back(Attribute::make_text("units", "1"));
        coords_.push_back(std::move(q));
      }
    } else if (is_bin) {
      std::vector<double> centres, edges;
      for (std::size_t i = 0; i + 1 < spec.bins.size(); ++i) {
        centres.push_back(0.5 * (spec.bins[i] + spec.bins[i + 1]));
        edges.push_back(spec.bins[i]), edges.push_back(spec.bins[i + 1]);
      }
      name = claim_dimension("bin", "bin_" + spec.name, len, centres, is_new);
      if (is_new) {
        OutputVariable b = rank0_variable(name, {name}, DType::f64, {len}, centres);
        b.attrs.push_back(Attribute::make_text("long_name", "bin centre of " + m.var.name));
        if (const Attribute* u = m.var.attr("units"); u && u->is_text) b.attrs.push_back(*u);
        b.attrs.push_back(Attribute::make_text("bounds", name + "_bnds"));
        coords_.push_back(std::move(b));
        coords_.push_back(rank0_variable(name + "_bnds", {name, "bnds"}, DType::f64, {len, 2}, edges));
        if (!has_dim("bnds")) dims_.push_back({"bnds", 2, {}});
      }
    } else {
      // A kept axis, possibly narrowed by the reduction's own selection.
      const std::size_t a = static_cast<std::size_t>(m.var.axis_of(rp.out_dims[j]));
      const std::size_t o = rp.domain.start[a];
      const CoordinateInfo* c = m.coordinate(rp.out_dims[j]);
      const bool has_coord = c && c->values.size() == m.var.shape[a];
      std::vector<double> vals;
      if (has_coord) vals.assign(c->values.begin() + o, c->values.begin() + o + len);
      name = claim_dimension(rp.out_dims[j], rp.out_dims[j] + "_" + spec.name, len, vals, is_new);
      if (is_new && has_coord) {
        OutputVariable cv = rank0_variable(name, {name}, c->var.type == DType::f32 ? DType::f32 : DType::f64, {len}, vals);
        cv.attrs = coordinate_attrs(*c);
        if (c->bounds.size() == 2 * c->values.size()) {
          const std::string bname = name == rp.out_dims[j] ? c->bounds_name : name + "_bnds";
          cv.attrs.push_back(Attribute::make_text("bounds", bname));
          std::vector<double> b(c->bounds.begin() + 2 * o, c->bounds.begin() + 2 * (o + len));
          coords_.push_back(std::move(cv));
          coords_.push_back(rank0_variable(bname, {name, "bnds"}, coords_.back().type, {len, 2}, b));
          if (!has_dim("bnds")) dims_.push_back({"bnds", 2, {}});
        } else {
          coords_.push_back(std::move(cv));
        }
      }
    }
    v.dims.push_back(name);
  }
  // Reduced axes: scalar coordinates over the range actually reduced.
  for (std::size_t a : rp.axes.reduced) {
    const std::string& d = m.var.dims[a];
    const CoordinateInfo* c = m.coordinate(d);
    if (!c || c->values.empty()) {
      cms.reduced.push_back({d, nullptr});
      continue;
    }
    const std::size_t i0 = rp.domain.start[a], i1 = i0 + rp.domain.count[a] - 1;
    const bool b = c->bounds.size() == 2 * c->values.size();
    const double lo = b ? c->bounds[2 * i0] : c->values[i0], hi = b ? c->bounds[2 * i1 + 1] : c->values[i1];
    bool is_new = false;
    const std::string name = claim_scalar(c, d + "_" + spec.name, lo, hi, is_new);
    cms.reduced.push_back({name, c});
  }

  // Type, fill value and attributes.
  const bool integer_out = spec.op == Op::count || spec.op == Op::histogram;
  if (integer_out) {
    v.type = DType::i32;
    if (spec.min_valid > 0) v.has_fill = true, v.fill = nc_fill_int;
  } else {
    const bool decoded = rp.kind != ReductionKind::direct;  // values were unpacked before reducing
    v.type = job_.output.dtype ? *job_.output.dtype : (dec.unpacked == DType::f32 ? DType::f32 : DType::f64);
    if (!dec.packed && !dtype_is_float(m.var.type) && !job_.output.dtype) v.type = DType::f64;
    if (spec.op == Op::frequency && !job_.output.dtype) v.type = DType::f64;
    v.has_fill = true;
    const Attribute* f = m.var.attr("_FillValue");
    v.fill = (f && !dec.packed && m.var.type == v.type && !f->values.empty() && !decoded) ? f->values[0]
             : v.type == DType::f32                                                          ? double(9.96921e+36f)
                                                                                             : nc_fill_double;
  }
  const std::string cond = condition_text(spec, m.var.name);
  const bool anomaly = !spec.anomaly_of.empty();
  for (const char* keep : {"long_name", "standard_name", "units"}) {
    const Attribute* a = m.var.attr(keep);
    if (!a || !a->is_text) continue;
    Attribute copy = *a;
    if (copy.name == "units") {
      if (integer_out || spec.op == Op::frequency) continue;
      if (spec.op == Op::var) copy.text = squared_units(copy.text);
    }
    if (copy.name == "standard_name" && (anomaly || (spec.op != Op::mean && spec.op != Op::min && spec.op != Op::max &&
                                                     spec.op != Op::median && spec.op != Op::quantile)))
      continue;
    if (copy.name == "long_name") {
      std::string what = anomaly ? "anomaly of " + copy.text + " from " + spec.anomaly_of : copy.text;
      if (!spec.weights.empty()) what = what + " (weighted by " + weights + ")";
      if (spec.op == Op::quantile) copy.text = "quantiles of " + what;
      else if (spec.op == Op::histogram) copy.text = "histogram of " + what;
      else if (spec.op == Op::frequency) copy.text = "fraction of valid values of " + what + " where " + cond;
      else if (spec.op == Op::count) continue;
      else copy.text = op_name(spec.op) + " of " + what + (cond.empty() ? "" : " where " + cond);
    }
    v.attrs.push_back(copy);
  }
  if (spec.op == Op::count)
    v.attrs.push_back(Attribute::make_text("long_name", "number of valid values of " + m.var.name + (cond.empty() ? "" : " where " + cond)));
  if (integer_out || spec.op == Op::frequency) v.attrs.push_back(Attribute::make_text("units", "1"));
  if ((spec.op == Op::var || spec.op == Op::std) && spec.ddof)
    v.attrs.push_back(Attribute::make_number("tessera_ddof", DType::i32, {double(spec.ddof)}));
  if (!cond.empty()) v.attrs.push_back(Attribute::make_text("tessera_where", cond));
  if (spec.min_valid > 0) v.attrs.push_back(Attribute::make_number("tessera_min_valid", DType::f64, {spec.min_valid}));
  if (!spec.weights.empty()) v.attrs.push_back(Attribute::make_text("tessera_weights", weights));
  if (anomaly) v.attrs.push_back(Attribute::make_text("tessera_anomaly_of", spec.anomaly_of));
  cell_methods_.push_back(std::move(cms));
  const std::size_t nd = rp.out_dims.size();
  v.owned = res.owns ? res.owned : Box(std::vector<std::size_t>(nd, 0), std::vector<std::size_t>(nd, 0));
  if (res.owns) v.values = res.values;
  results_.push_back(std::move(v));
}

// CF 7.3: a cell method names a dimension of the variable, a scalar coordinate, a standard
// name, or `area`; latitude and longitude together are the area. CF 7.4: a climatology says
// "within years" and "over years".
std::string OutputBuilder::cell_methods_text(const CellMethods& cm) const {
  if (cm.method.empty()) return cm.prior;
  std::vector<std::string> names;
  for (const auto& [name, coord] : cm.reduced) {
    // A reduced axis whose name belongs to another variable's dimension (and so has no scalar
    // coordinate here) is named by its standard_name.
    std::string n = name;
    if (coord && has_dim(name))
      if (const Attribute* sn = coord->var.attr("standard_name"); sn && sn->is_text) n = sn->text;
    names.push_back(n);
  }
  auto lat = std::find(names.begin(), names.end(), "latitude");
  auto lon = std::find(names.begin(), names.end(), "longitude");
  if (lat != names.end() && lon != names.end()) {
    *lat = "area";
    names.erase(std::find(names.begin(), names.end(), "longitude"));
  }
  std::string text = cm.prior;
  auto add = [&](const std::string& s) { text += (text.empty() ? "" : " ") + s; };
  if (!cm.group_dim.empty()) {
    if (cm.resampled) add(cm.group_dim + ": " + cm.method);
    else add(cm.group_dim + ": " + cm.method + " within " + cm.group_within + " " + cm.group_dim + ": " + cm.method +
             " over " + cm.group_within);
  }
  if (!names.empty()) {
    std::string s;
    for (const auto& n : names) s += n + ": ";
    add(s + cm.method);
  }
  return text;
}

OutputDataset OutputBuilder::build(const std::string& history, int ranks) {
  OutputDataset ds;
  for (const auto& d : dims_) ds.dims.push_back({d.name, d.length});
  for (auto& c : coords_) ds.vars.push_back(std::move(c));
  bool need_bnds = has_dim("bnds");
  for (const Scalar& s : scalars_) {
    if (has_dim(s.name)) continue;  // the name belongs to a dimension coordinate of another result
    OutputVariable sv;
    sv.name = s.name;
    sv.type = DType::f64;
    sv.attrs = coordinate_attrs(*s.coord);
    sv.attrs.push_back(Attribute::make_text("bounds", s.name + "_bnds"));
    if (rank_ == 0) sv.values = {0.5 * (s.lo + s.hi)};
    ds.vars.push_back(sv);
    ds.vars.push_back(rank0_variable(s.name + "_bnds", {"bnds"}, DType::f64, {2}, {s.lo, s.hi}));
    if (!need_bnds) ds.dims.push_back({"bnds", 2}), need_bnds = true;
  }
  for (std::size_t i = 0; i < results_.size(); ++i) {
    // `coordinates` names the scalar coordinates that were written (not dimension coordinates).
    std::string c;
    for (const auto& [name, coord] : cell_methods_[i].reduced)
      if (coord && !has_dim(name)) c += (c.empty() ? "" : " ") + name;
    if (!c.empty()) results_[i].attrs.push_back(Attribute::make_text("coordinates", c));
    const std::string cm = cell_methods_text(cell_methods_[i]);
    if (!cm.empty()) results_[i].attrs.push_back(Attribute::make_text("cell_methods", cm));
    ds.vars.push_back(std::move(results_[i]));
  }
  const InputMeta& first = metas_.front();
  for (const auto& a : first.global_attrs)
    if (a.name != "Conventions" && a.name != "history" && a.name.rfind("_NC", 0) != 0 && a.name.rfind("tessera", 0) != 0)
      ds.global_attrs.push_back(a);
  std::string prior;
  if (const Attribute* h = find_attribute(first.global_attrs, "history"); h && h->is_text) prior = "\n" + h->text;
  ds.global_attrs.push_back(Attribute::make_text("Conventions", "CF-1.8"));
  ds.global_attrs.push_back(Attribute::make_text("history", history + prior));
  ds.global_attrs.push_back(Attribute::make_text("tessera_version", version_string));
  ds.global_attrs.push_back(Attribute::make_text("tessera_job", job_.name));
  ds.global_attrs.push_back(Attribute::make_text("tessera_job_sha256", job_.hash));
  ds.global_attrs.push_back(Attribute::make_number("tessera_ranks", DType::i32, {double(ranks)}));
  return ds;
}

}  // namespace tessera
