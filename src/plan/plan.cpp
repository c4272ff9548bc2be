#include "plan/plan.hpp"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include <cmath>
#include <map>
#include <optional>

#include "core/error.hpp"
#include "io/selection.hpp"
#include "io/time_axis.hpp"

namespace tessera {
namespace {

constexpr std::uint64_t max_tile_bytes = 64ull << 20;
constexpr std::uint64_t cache_tile_bytes = 8ull << 20;

std::string at(const JobSpec& job, const ReductionSpec& r) {
  return job.file + ":" + std::to_string(r.pos.line) + ":" + std::to_string(r.pos.column) + ": reduction '" +
         r.name + "'";
}

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (std::size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
  return s;
}

AxisMap axes_for(const JobSpec& job, const ReductionSpec& r, const InputMeta& m) {
  AxisMap a;
  for (const auto& d : r.over) {
    int ax = m.var.axis_of(d);
    if (ax < 0)
      throw JobError(at(job, r) + ": '" + d + "' is not a dimension of " + m.var.name + " (" + join(m.var.dims) +
                     "); list dimensions of the input under `over:`");
    a.reduced.push_back(static_cast<std::size_t>(ax));
  }
  std::sort(a.reduced.begin(), a.reduced.end());
  for (std::size_t i = 0; i < m.var.dims.size(); ++i)
    if (!std::binary_search(a.reduced.begin(), a.reduced.end(), i)) a.kept.push_back(i);
  return a;
}

// Group keys along the time axis and the output coordinate of each group.
GroupPlan plan_groups(const ReductionSpec& r, const TimeAxis& t, const Box& domain) {
  GroupPlan g;
  g.climatology = !r.groupby.empty();
  g.period = g.climatology ? r.groupby : r.resample;
  const cf::Calendar cal = t.units.calendar;
  // The calendar period one time step belongs to: a group member's own span.
  cf::Period member = cf::Period::day;
  if (g.period == "month") member = cf::Period::month;
  else if (g.period == "season") member = cf::Period::season;
  else if (g.period == "year") member = cf::Period::year;
  else if (g.period == "hour") member = cf::Period::hour;
  auto span_of = [&](std::size_t i) {
    const cf::DateTime p0 = cf::period_start(t.dates[i], member, cal);
    return std::make_pair(cf::from_datetime(p0, t.units), cf::from_datetime(cf::next_period_start(p0, member, cal), t.units));
  };
  auto key_of = [&](std::size_t i, double period_start) -> double {
    const cf::DateTime& d = t.dates[i];
    if (!g.climatology) return period_start;
    if (g.period == "month") return d.month;
    if (g.period == "season") return cf::season_of_month(d.month);
    if (g.period == "dayofyear") return cf::day_of_year(d, cal);
    if (g.period == "year") return d.year;
    return d.hour;
  };
  std::map<double, std::vector<std::size_t>> keyed;  // key -> indices in the domain, in key order
  std::vector<std::pair<double, double>> span(t.dates.size());
  const std::size_t lo_i = domain.start[t.axis], hi_i = lo_i + domain.count[t.axis];
  for (std::size_t i = lo_i; i < hi_i; ++i) {
    span[i] = span_of(i);
    keyed[key_of(i, span[i].first)].push_back(i);
  }
  g.of.assign(t.dates.size(), GroupPlan::none);
  std::map<double, std::uint32_t> index;
  for (const auto& [key, members] : keyed) {
    const auto n = static_cast<std::uint32_t>(g.size.size());
    index[key] = n;
    double lo = HUGE_VAL, hi = -HUGE_VAL;
    for (std::size_t i : members) {
      g.of[i] = n;
      lo = std::min(lo, span[i].first);
      hi = std::max(hi, span[i].second);
    }
    g.size.push_back(members.size());
    g.lo.push_back(lo);
    g.hi.push_back(hi);
    // Resampled periods sit at their middle; a climatological group at the middle of its first member's period.
    const auto& first = span[members.front()];
    g.value.push_back(0.5 * (first.first + first.second));
  }
  // A climatology applies to every time step with its key, also outside its own selection:
  // anomalies of other years look their month up here (reductions still only add their domain).
  if (g.climatology)
    for (std::size_t i = 0; i < t.dates.size(); ++i)
      if (i < lo_i || i >= hi_i)
        if (auto it = index.find(key_of(i, 0.0)); it != index.end()) g.of[i] = it->second;
  return g;
}

// The contiguous index range a reduction's own `select:` names (whole axes elsewhere).
Box reduction_domain(const JobSpec& job, const ReductionSpec& r, const InputMeta& m) {
  Box d = Box::whole(m.var.shape);
  if (r.select.empty()) return d;
  const Selection sel = resolve_selection(m, r.select, job.file, "reduction '" + r.name + "'");
  for (std::size_t a = 0; a < sel.axes.size(); ++a) {
    if (sel.axes[a].size() != 1 || sel.axes[a][0].shift != 0)
      throw JobError(at(job, r) + ": the selection on '" + m.var.dims[a] + "' is not one contiguous range; "
                     "select ranges across the longitude seam on the input instead");
    d.start[a] = sel.axes[a][0].start;
    d.count[a] = sel.axes[a][0].count;
  }
  return d;
}

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  std::ostringstream os;
  os << std::fixed << std::setprecision(u ? 1 : 0) << b << ' ' << units[u];
  return os.str();
}

// The output box a rank accumulates: its hyperslab within the reduction's domain, through the
// kept axes, the groups its time steps fall in, and whole extra dimensions.
}  // namespace

Box output_footprint(const ReductionPlan& rp, const Box& b, bool any_time) {
  const std::size_t n = rp.out_shape.size();
  Box s(std::vector<std::size_t>(n, 0), std::vector<std::size_t>(n, 0));
  Box domain = rp.domain;
  if (any_time && rp.axes.group_axis != AxisMap::none) {
    domain.start[rp.axes.group_axis] = 0;
    domain.count[rp.axes.group_axis] = rp.groups.of.size();
  }
  const Box sub = empty(b) ? b : intersect(b, domain);
  if (empty(sub)) return n == 0 ? Box() : s;
  for (std::size_t j = 0; j < rp.axes.kept.size(); ++j) {
    const std::size_t k = rp.axes.kept[j], slot = rp.axes.kept_slot(j);
    s.start[slot] = sub.start[k] - rp.axes.kept_origin(j);
    s.count[slot] = sub.count[k];
  }
  if (rp.axes.group_axis != AxisMap::none) {
    const std::size_t t = rp.axes.group_axis;
    std::uint32_t lo = GroupPlan::none, hi = 0;
    for (std::size_t i = sub.start[t]; i < sub.start[t] + sub.count[t]; ++i) {
      const std::uint32_t g = rp.groups.of[i];
      if (g == GroupPlan::none) continue;
      lo = std::min(lo, g), hi = std::max(hi, g);
    }
    if (lo == GroupPlan::none) return Box(std::vector<std::size_t>(n, 0), std::vector<std::size_t>(n, 0));
    s.start[rp.axes.group_slot] = lo;
    s.count[rp.axes.group_slot] = hi - lo + 1;
  }
  if (rp.extra_dims) {
    const std::size_t slot = rp.kind == ReductionKind::series ? 0 : n - 1;
    s.start[slot] = 0;
    s.count[slot] = rp.out_shape[slot];
  }
  return s;
}

namespace {

// Output boxes: a rank's state covers the projection of its hyperslab; when those are disjoint
// (split along a kept axis) each rank owns its own; otherwise the output is dealt out in slabs.
void plan_outputs(ReductionPlan& rp, const std::vector<Box>& rank_boxes, int ranks) {
  rp.state_boxes.clear();
  for (const Box& b : rank_boxes) rp.state_boxes.push_back(output_footprint(rp, b));
  bool disjoint = true;
  for (int i = 0; i < ranks && disjoint; ++i)
    for (int j = i + 1; j < ranks && disjoint; ++j)
      if (!empty(rp.state_boxes[i]) && !empty(intersect(rp.state_boxes[i], rp.state_boxes[j]))) disjoint = false;
  if (disjoint && !rp.out_shape.empty()) {
    rp.owned_boxes = rp.state_boxes;
    rp.exchanges = false;
    return;
  }
  rp.exchanges = ranks > 1;
  const Box whole = Box::whole(rp.out_shape);
  if (whole.rank() == 0) {  // a scalar result: rank 0 owns it
    rp.owned_boxes.assign(ranks, Box());
    return;
  }
  // Deal along the longest output axis for balance.
  std::size_t axis = 0;
  for (std::size_t i = 1; i < rp.out_shape.size(); ++i)
    if (rp.out_shape[i] > rp.out_shape[axis]) axis = i;
  rp.owned_boxes = split_along(whole, axis, static_cast<std::size_t>(ranks));
}

std::uint64_t state_bytes(const ReductionSpec& r) {
  if (r.op == Op::histogram) return 8;
  if (r.whole_series()) return 8;
  StateNeeds n = StateNeeds::for_op(r.op);
  std::uint64_t b = 8 + (n.minmax ? 16 : 0) + (n.sum ? 8 : 0) + (n.sumsq ? 8 : 0);
  if (!r.weights.empty()) b += 16;
  return b;
}

}  // namespace

Plan make_plan(const JobSpec& job, const std::vector<InputMeta>& metas, int ranks) {
  Plan plan;
  plan.ranks = ranks;
  // Passes: a reduction runs one pass after the reduction it takes anomalies of.
  std::vector<std::size_t> pass(job.reductions.size(), 0);
  for (std::size_t ri = 0; ri < job.reductions.size(); ++ri)
    for (std::size_t b = 0; b < ri; ++b)
      if (job.reductions[b].name == job.reductions[ri].anomaly_of) pass[ri] = pass[b] + 1;
  for (std::size_t p : pass) plan.passes = std::max(plan.passes, p + 1);

  for (std::size_t ii = 0; ii < job.inputs.size(); ++ii) {
    const InputMeta& m = metas[ii];
    // Decoded only when a reduction groups by time: other jobs run on files whose calendar is unusual.
    std::optional<TimeAxis> time;
    bool time_decoded = false;
    // One input plan per pass and layout: streaming tiles, or whole series per cell.
    std::map<std::pair<std::size_t, bool>, InputPlan> by_kind;
    for (std::size_t ri = 0; ri < job.reductions.size(); ++ri) {
      const ReductionSpec& r = job.reductions[ri];
      if (r.input != job.inputs[ii].alias) continue;
      ReductionPlan rp;
      rp.index = ri;
      rp.pass = pass[ri];
      rp.domain = reduction_domain(job, r, m);
      rp.axes = axes_for(job, r, m);
      if (r.whole_series()) rp.kind = ReductionKind::series;
      else if (r.op == Op::histogram) rp.kind = ReductionKind::histogram;
      else if (!r.weights.empty() || !r.where_op.empty() || !r.anomaly_of.empty() || r.op == Op::frequency)
        rp.kind = ReductionKind::derived;
      if (r.grouped()) {
        if (!time_decoded) time = find_time_axis(m, "input '" + m.alias + "'"), time_decoded = true;
        if (!time)
          throw JobError(at(job, r) + ": " + (r.groupby.empty() ? "resample" : "groupby") + " needs a time axis, and " +
                         m.var.name + " has no coordinate with units '<unit> since <date>'");
        const std::size_t t = time->axis;
        rp.axes.group_axis = t;
        rp.axes.reduced.erase(std::remove(rp.axes.reduced.begin(), rp.axes.reduced.end(), t), rp.axes.reduced.end());
        rp.axes.kept.erase(std::remove(rp.axes.kept.begin(), rp.axes.kept.end(), t), rp.axes.kept.end());
        rp.groups = plan_groups(r, *time, rp.domain);
      }
      // Output dimensions: [quantile] + kept and grouped axes in input order + [bin].
      if (r.op == Op::quantile) {
        rp.extra_dims = 1;
        rp.out_dims.push_back("quantile");
        rp.out_shape.push_back(r.q.size());
      }
      for (std::size_t a = 0; a < m.var.dims.size(); ++a) {
        const auto kit = std::find(rp.axes.kept.begin(), rp.axes.kept.end(), a);
        if (kit != rp.axes.kept.end()) {
          rp.axes.slot.push_back(rp.out_dims.size());
          rp.axes.origin.push_back(rp.domain.start[a]);
          rp.out_dims.push_back(m.var.dims[a]);
          rp.out_shape.push_back(rp.domain.count[a]);
        } else if (a == rp.axes.group_axis) {
          rp.axes.group_slot = rp.out_dims.size();
          rp.out_dims.push_back(m.var.dims[a]);
          rp.out_shape.push_back(rp.groups.size.size());
        }
      }
      if (r.op == Op::histogram) {
        rp.extra_dims = 1;
        rp.out_dims.push_back("bin");
        rp.out_shape.push_back(r.bins.size() - 1);
      }
      for (std::size_t a : rp.axes.reduced) rp.values_per_cell *= double(rp.domain.count[a]);
      for (const auto& c : m.coords)
        if (c.var.name == r.name)
          throw JobError(at(job, r) + ": the name clashes with the coordinate variable '" + c.var.name +
                         "' written to the output; choose another name");
      if (r.name == "quantile" || r.name == "bin" || r.name == "climatology_bounds")
        throw JobError(at(job, r) + ": the name '" + r.name + "' is used for a coordinate Tessera writes; choose another name");
      rp.state_bytes_per_cell = state_bytes(r);
      InputPlan& ip = by_kind[{rp.pass, r.whole_series()}];
      ip.input = ii;
      ip.pass = rp.pass;
      ip.whole_series = r.whole_series();
      ip.reductions.push_back(std::move(rp));
    }

    for (auto& [key, ip] : by_kind) {
      ip.element_bytes = dtype_size(m.var.type);
      // Read only what the reductions use: the bounding box of their domains.
      ip.read_box = ip.reductions.front().domain;
      for (const auto& rp : ip.reductions) {
        const Box& d = rp.domain;
        for (std::size_t a = 0; a < d.rank(); ++a) {
          const std::size_t lo = std::min(ip.read_box.start[a], d.start[a]);
          const std::size_t hi = std::max(ip.read_box.start[a] + ip.read_box.count[a], d.start[a] + d.count[a]);
          ip.read_box.start[a] = lo, ip.read_box.count[a] = hi - lo;
        }
      }
      // Axes a whole-series plan must not cut: every reduced or grouped axis of its reductions.
      std::vector<bool> whole(m.var.shape.size(), false);
      if (ip.whole_series)
        for (const auto& rp : ip.reductions) {
          for (std::size_t a : rp.axes.reduced) whole[a] = true;
          if (rp.axes.group_axis != AxisMap::none) whole[rp.axes.group_axis] = true;
        }
      // Choose the split axis: the smallest cost of (bytes read by the busiest rank) plus
      // (partial-state bytes a rank sends when the axis is reduced by some reduction).
      const auto align = m.chunk_alignment();
      double best = -1;
      for (std::size_t ax = 0; ax < m.var.shape.size(); ++ax) {
        if (whole[ax]) continue;
        auto boxes = split_along(ip.read_box, ax, static_cast<std::size_t>(ranks), align[ax]);
        std::uint64_t max_read = 0;
        for (const Box& b : boxes) max_read = std::max<std::uint64_t>(max_read, empty(b) ? 0 : volume(b));
        double cost = static_cast<double>(max_read) * static_cast<double>(ip.element_bytes);
        if (ranks > 1)
          for (const auto& rp : ip.reductions)
            if (std::binary_search(rp.axes.reduced.begin(), rp.axes.reduced.end(), ax) || ax == rp.axes.group_axis) {
              std::uint64_t cells = 1;
              for (auto sz : rp.out_shape) cells *= sz;
              cost += static_cast<double>(cells * rp.state_bytes_per_cell);
            }
        if (best < 0 || cost < best) {
          best = cost;
          ip.split_axis = ax;
          ip.rank_boxes = boxes;
        }
      }
      if (best < 0) {  // every axis is reduced: one rank reads each whole series
        ip.split_axis = 0;
        ip.rank_boxes = split_along(ip.read_box, 0, static_cast<std::size_t>(ranks), ip.read_box.count[0]);
      }
      // Tiles: what one read buffer of stored values holds within the memory budget: ~8 MiB, or
      // one chunk where chunks are larger (no chunk decompressed twice), at most 64 MiB. A buffer
      // that small is still in the last-level cache when the kernels read it (3 GB time mean on
      // 2 ranks: ~20% less CPU than 64 MiB tiles, and 50 MiB less memory per rank).
      const std::uint64_t chunk_bytes = m.chunk_bytes();
      // A chunk read whole (decoded or fetched) must fit the budget on its own, or the budget
      // would be a promise the reader cannot keep.
      const auto mib = [](std::uint64_t b) { return std::to_string((b + (1u << 20) - 1) >> 20) + " MiB"; };
      if (m.reads_whole_chunks() && chunk_bytes > job.run.memory_per_rank)
        throw JobError("input '" + m.alias + "': variable '" + m.var.name + "' has chunks of " + mib(chunk_bytes) +
                       " uncompressed, which Tessera reads whole, but run.memory_per_rank is " +
                       mib(job.run.memory_per_rank) + ": raise memory_per_rank to at least " + mib(chunk_bytes) +
                       ", or rechunk the file (e.g. nccopy -c)");
      const std::uint64_t buffer =
          std::min({job.run.memory_per_rank, max_tile_bytes, std::max(cache_tile_bytes, chunk_bytes)});
      ip.tile_elements = std::max<std::uint64_t>(1, buffer / ip.element_bytes);
      if (ip.whole_series) {
        // Whole series per cell: cut kept axes only, outermost first; the sort buffer doubles the tile.
        std::vector<std::size_t> order;
        for (std::size_t a = 0; a < whole.size(); ++a)
          if (!whole[a]) order.push_back(a);
        ip.tile_elements = std::max<std::uint64_t>(1, job.run.memory_per_rank / (ip.element_bytes + 16));
        for (const Box& b : ip.rank_boxes) {
          auto ts = empty(b) ? std::vector<Box>{} : split_to_budget(b, ip.tile_elements, order);
          for (const Box& t : ts)
            for (std::size_t a = 0; a < whole.size(); ++a)
              if (whole[a] && t.count[a] != b.count[a])
                throw JobError("input '" + m.alias + "': one whole series of the median/quantile reductions (" +
                               std::to_string(b.count[a]) + " values along '" + m.var.dims[a] +
                               "') does not fit in run.memory_per_rank; raise it");
          ip.tiles.push_back(std::move(ts));
        }
      } else {
        for (const Box& b : ip.rank_boxes) ip.tiles.push_back(empty(b) ? std::vector<Box>{} : tile(b, ip.tile_elements, align));
      }
      for (std::size_t k = 0; k < ip.reductions.size(); ++k) {
        ip.reductions[k].state_index = k;
        plan_outputs(ip.reductions[k], ip.rank_boxes, ranks);
      }
      plan.inputs.push_back(std::move(ip));
    }
  }
  std::stable_sort(plan.inputs.begin(), plan.inputs.end(), [](const InputPlan& a, const InputPlan& b) { return a.pass < b.pass; });
  return plan;
}

const ReductionPlan* find_reduction(const Plan& plan, std::size_t index, const InputPlan** where) {
  for (const auto& ip : plan.inputs)
    for (const auto& rp : ip.reductions)
      if (rp.index == index) {
        if (where) *where = &ip;
        return &rp;
      }
  return nullptr;
}

std::uint64_t Plan::peak_bytes_per_rank(int rank) const {
  std::uint64_t peak = 0;
  for (const auto& ip : inputs) {
    std::uint64_t largest_tile = 0;
    for (const Box& t : ip.tiles[rank]) largest_tile = std::max(largest_tile, volume(t));
    std::uint64_t b = largest_tile * ip.element_bytes;
    for (const auto& rp : ip.reductions) {
      const Box& s = rp.state_boxes[rank];
      const Box& o = rp.owned_boxes[rank];
      b += (empty(s) ? 0 : volume(s)) * rp.state_bytes_per_cell;
      if (rp.exchanges) b += 2 * (empty(o) ? 0 : volume(o)) * rp.state_bytes_per_cell;
    }
    peak = std::max(peak, b);
  }
  return peak;
}

std::string describe(const Plan& plan, const JobSpec& job, const std::vector<InputMeta>& metas) {
  std::ostringstream os;
  os << "job " << job.name << " on " << plan.ranks << " rank" << (plan.ranks > 1 ? "s" : "") << "\n";
  for (const auto& ip : plan.inputs) {
    const InputMeta& m = metas[ip.input];
    os << "input " << m.alias << ": " << m.var.name << "(" << join(m.var.dims) << ") shape " << to_string(Box::whole(m.var.shape))
       << " " << dtype_name(m.var.type) << ", " << m.parts.size() << " file" << (m.parts.size() > 1 ? "s" : "")
       << (m.var.chunks.empty() ? ", contiguous" : ", chunked") << (m.var.compression.empty() ? "" : ", " + m.var.compression)
       << "\n";
    if (plan.passes > 1 || ip.whole_series)
      os << "  pass " << ip.pass + 1 << " of " << plan.passes << (ip.pass > 0 ? " (reads the input again: anomalies need the earlier results)" : "")
         << (ip.whole_series ? ", whole series per cell (median/quantile)" : "") << "\n";
    os << "  split along '" << m.var.dims[ip.split_axis] << "'; tiles of at most " << ip.tile_elements
       << " elements (" << human_bytes(double(ip.tile_elements) * double(ip.element_bytes)) << ")\n";
    for (int r = 0; r < plan.ranks; ++r) {
      const Box& b = ip.rank_boxes[r];
      std::uint64_t bytes = empty(b) ? 0 : volume(b) * ip.element_bytes;
      os << "  rank " << r << ": reads " << to_string(b) << " = " << human_bytes(double(bytes)) << " in "
         << ip.tiles[r].size() << " tile" << (ip.tiles[r].size() == 1 ? "" : "s") << ", peak memory ~"
         << human_bytes(double(plan.peak_bytes_per_rank(r))) << "\n";
    }
    for (const auto& rp : ip.reductions) {
      const ReductionSpec& spec = job.reductions[rp.index];
      os << "  reduction " << spec.name << " = " << op_name(spec.op) << " over (" << join(spec.over) << ")";
      if (!spec.groupby.empty()) os << " grouped by " << spec.groupby << " (" << rp.groups.size.size() << " groups)";
      if (!spec.resample.empty()) os << " resampled by " << spec.resample << " (" << rp.groups.size.size() << " periods)";
      if (!spec.anomaly_of.empty()) os << " of anomalies from " << spec.anomaly_of;
      if (!spec.weights.empty()) os << " weighted by " << spec.weights;
      os << " -> (" << join(rp.out_dims) << ")";
      if (!rp.exchanges) {
        os << ": ranks own disjoint outputs, no exchange\n";
        continue;
      }
      os << ": partial states merged\n";
      for (int src = 0; src < plan.ranks; ++src)
        for (int dst = 0; dst < plan.ranks; ++dst) {
          Box sub;
          if (src == dst || empty(ip.rank_boxes[src]) || !rp.sends(src, dst, sub)) continue;
          os << "    rank " << src << " -> rank " << dst << ": " << to_string(sub) << " "
             << human_bytes(double(volume(sub) * rp.state_bytes_per_cell)) << "\n";
        }
    }
  }
  return os.str();
}

}  // namespace tessera
