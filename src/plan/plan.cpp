#include "plan/plan.hpp"

#include <algorithm>
#include <iomanip>
#include <sstream>

#include "core/error.hpp"

namespace tessera {
namespace {

constexpr std::uint64_t max_tile_bytes = 64ull << 20;

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

std::string human_bytes(double b) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  int u = 0;
  while (b >= 1024 && u < 4) b /= 1024, ++u;
  std::ostringstream os;
  os << std::fixed << std::setprecision(u ? 1 : 0) << b << ' ' << units[u];
  return os.str();
}

// Output boxes: a rank's state covers the projection of its hyperslab; when those are disjoint
// (split along a kept axis) each rank owns its own; otherwise the output is dealt out in slabs.
void plan_outputs(ReductionPlan& rp, const std::vector<Box>& rank_boxes, int ranks) {
  rp.state_boxes.clear();
  for (const Box& b : rank_boxes) {
    Box s = project_out(b, rp.axes.reduced);
    if (empty(b)) s = Box(std::vector<std::size_t>(s.rank(), 0), std::vector<std::size_t>(s.rank(), 0));
    rp.state_boxes.push_back(s);
  }
  bool disjoint = true;
  for (int i = 0; i < ranks && disjoint; ++i)
    for (int j = i + 1; j < ranks && disjoint; ++j)
      if (!empty(rp.state_boxes[i]) && !empty(intersect(rp.state_boxes[i], rp.state_boxes[j]))) disjoint = false;
  if (disjoint) {
    rp.owned_boxes = rp.state_boxes;
    rp.exchanges = false;
    return;
  }
  rp.exchanges = true;
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

std::uint64_t state_bytes(Op op) {
  StateNeeds n = StateNeeds::for_op(op);
  return 8 + (n.minmax ? 16 : 0) + (n.sum ? 8 : 0) + (n.sumsq ? 8 : 0);
}

}  // namespace

Plan make_plan(const JobSpec& job, const std::vector<InputMeta>& metas, int ranks) {
  Plan plan;
  plan.ranks = ranks;
  std::vector<std::string> names;
  for (std::size_t ii = 0; ii < job.inputs.size(); ++ii) {
    const InputMeta& m = metas[ii];
    InputPlan ip;
    ip.input = ii;
    ip.element_bytes = dtype_size(m.var.type);
    for (std::size_t ri = 0; ri < job.reductions.size(); ++ri) {
      const ReductionSpec& r = job.reductions[ri];
      if (r.input != job.inputs[ii].alias) continue;
      ReductionPlan rp;
      rp.index = ri;
      rp.axes = axes_for(job, r, m);
      for (std::size_t k : rp.axes.kept) {
        rp.out_dims.push_back(m.var.dims[k]);
        rp.out_shape.push_back(m.var.shape[k]);
      }
      for (const auto& c : m.coords)
        if (c.var.name == r.name)
          throw JobError(at(job, r) + ": the name clashes with the coordinate variable '" + c.var.name +
                         "' written to the output; choose another name");
      rp.state_bytes_per_cell = state_bytes(r.op);
      ip.reductions.push_back(std::move(rp));
    }
    if (ip.reductions.empty()) continue;  // an input no reduction uses is not read

    // Choose the split axis: the smallest cost of (bytes read by the busiest rank) plus
    // (partial-state bytes a rank sends when the axis is reduced by some reduction).
    const Box whole = Box::whole(m.var.shape);
    const auto align = m.chunk_alignment();
    double best = -1;
    for (std::size_t ax = 0; ax < m.var.shape.size(); ++ax) {
      auto boxes = split_along(whole, ax, static_cast<std::size_t>(ranks), align[ax]);
      std::uint64_t max_read = 0;
      for (const Box& b : boxes) max_read = std::max<std::uint64_t>(max_read, empty(b) ? 0 : volume(b));
      double cost = static_cast<double>(max_read) * static_cast<double>(ip.element_bytes);
      if (ranks > 1)
        for (const auto& rp : ip.reductions)
          if (std::binary_search(rp.axes.reduced.begin(), rp.axes.reduced.end(), ax)) {
            std::uint64_t cells = 1;
            for (auto s : rp.out_shape) cells *= s;
            cost += static_cast<double>(cells * rp.state_bytes_per_cell);
          }
      if (best < 0 || cost < best) {
        best = cost;
        ip.split_axis = ax;
        ip.rank_boxes = boxes;
      }
    }
    // Tiles: what one read buffer of stored values holds within the memory budget, and at most
    // 64 MiB: large reads are efficient well before that, and a smaller buffer stays warm.
    const std::uint64_t buffer = std::min<std::uint64_t>(job.run.memory_per_rank, max_tile_bytes);
    ip.tile_elements = std::max<std::uint64_t>(1, buffer / ip.element_bytes);
    for (const Box& b : ip.rank_boxes) ip.tiles.push_back(tile(b, ip.tile_elements, align));
    for (auto& rp : ip.reductions) plan_outputs(rp, ip.rank_boxes, ranks);
    plan.inputs.push_back(std::move(ip));
  }
  return plan;
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
      os << "  reduction " << spec.name << " = " << op_name(spec.op) << " over (" << join(spec.over) << ") -> ("
         << join(rp.out_dims) << ")";
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
