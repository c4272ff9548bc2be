#include "exec/run_job.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <ctime>
#include <exception>
#include <fstream>
#include <map>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cf/decoding.hpp"
#include "core/error.hpp"
#include "core/version.hpp"
#include "io/scan.hpp"
#include "io/sink.hpp"
#include "io/source.hpp"
#include "mpi/phase.hpp"
#include "plan/plan.hpp"
#include "reduce/reduction_state.hpp"
#include "report/progress.hpp"

namespace tessera {
namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct PhaseTimes {
  double plan = 0, read = 0, compute = 0, combine = 0, write = 0;
};

// Elements per work region: small enough that a region's stored values stay in cache while
// every reduction of the input passes over them.
constexpr std::uint64_t region_elements = 1 << 16;

constexpr double nc_fill_float = 9.9692099683868690e+36;
constexpr double nc_fill_double = 9.9692099683868690e+36;

std::string cf_method(Op op) {
  switch (op) {
    case Op::sum: return "sum";
    case Op::mean: return "mean";
    case Op::min: return "minimum";
    case Op::max: return "maximum";
    case Op::var: return "variance";
    case Op::std: return "standard_deviation";
    case Op::count: return "";
  }
  return "";
}

std::string squared_units(const std::string& u) {
  if (u.find_first_of(" /*.^-") == std::string::npos) return u + "2";
  return "(" + u + ")^2";
}

// Result of one reduction on this rank: the owned box and its final values.
struct Result {
  std::size_t reduction;
  Box owned;
  bool owns;
  std::vector<double> values;
};

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}

// ---- output assembly ----
class OutputBuilder {
 public:
  OutputBuilder(const JobSpec& job, const std::vector<InputMeta>& metas, int rank) : job_(job), metas_(metas), rank_(rank) {}

  // `dec`: the input's CF decoding, as the executor used it.
  void add(const InputPlan& ip, const ReductionPlan& rp, const Result& res, const Decoding& dec) {
    const InputMeta& m = metas_[ip.input];
    const ReductionSpec& spec = job_.reductions[rp.index];
    for (std::size_t j = 0; j < rp.out_dims.size(); ++j) add_dimension_coordinate(m, rp.out_dims[j], rp.out_shape[j]);
    CellMethods cms;
    if (const Attribute* prior = m.var.attr("cell_methods"); prior && prior->is_text) cms.prior = prior->text;
    cms.method = cf_method(spec.op);
    for (std::size_t a : rp.axes.reduced) {
      const std::string& d = m.var.dims[a];
      const CoordinateInfo* c = m.coordinate(d);
      if (c && c->values.empty()) c = nullptr;
      if (c) reduced_coords_.push_back({m.alias, c});
      cms.reduced.push_back({d, c});
    }
    OutputVariable v;
    v.name = spec.name;
    v.dims = rp.out_dims;
    if (spec.op == Op::count) {
      v.type = DType::i32;
    } else {
      v.type = job_.output.dtype ? *job_.output.dtype : (dec.unpacked == DType::f32 ? DType::f32 : DType::f64);
      if (!dec.packed && !dtype_is_float(m.var.type) && !job_.output.dtype) v.type = DType::f64;
      v.has_fill = true;
      const Attribute* f = m.var.attr("_FillValue");
      v.fill = (f && !dec.packed && m.var.type == v.type && !f->values.empty()) ? f->values[0]
               : v.type == DType::f32                                        ? nc_fill_float
                                                                              : nc_fill_double;
    }
    for (const char* keep : {"long_name", "standard_name", "units"}) {
      const Attribute* a = m.var.attr(keep);
      if (!a || !a->is_text) continue;
      Attribute copy = *a;
      if (copy.name == "units") {
        if (spec.op == Op::count) continue;
        if (spec.op == Op::var) copy.text = squared_units(copy.text);
      }
      if (copy.name == "standard_name" && spec.op != Op::mean && spec.op != Op::min && spec.op != Op::max) continue;
      if (copy.name == "long_name") copy.text = op_name(spec.op) + " of " + copy.text;
      v.attrs.push_back(copy);
    }
    if (spec.op == Op::count) {
      v.attrs.push_back(Attribute::make_text("long_name", "number of valid values of " + m.var.name));
      v.attrs.push_back(Attribute::make_text("units", "1"));
    }
    if ((spec.op == Op::var || spec.op == Op::std) && spec.ddof)
      v.attrs.push_back(Attribute::make_number("tessera_ddof", DType::i32, {double(spec.ddof)}));
    cell_methods_.push_back(std::move(cms));
    v.owned = res.owns ? res.owned : Box(std::vector<std::size_t>(rp.out_dims.size(), 0),
                                         std::vector<std::size_t>(rp.out_dims.size(), 0));
    if (res.owns) v.values = res.values;
    results_.push_back(std::move(v));
  }

  OutputDataset build(const std::string& history, int ranks) {
    OutputDataset ds;
    for (const auto& d : dims_) ds.dims.push_back(d);
    bool need_bnds = false;
    for (auto& c : coords_) ds.vars.push_back(std::move(c));
    // Reduced axes become scalar coordinates spanning the reduced range, with CF bounds, unless
    // another reduction keeps that axis (the name then belongs to the dimension coordinate).
    std::map<std::string, bool> done;
    for (const auto& [alias, c] : reduced_coords_) {
      const std::string& name = c->var.name;
      if (done[name] || has_dim(name)) continue;
      done[name] = true;
      const std::size_t n = c->values.size();
      const double lo = c->bounds.size() == 2 * n ? c->bounds.front() : c->values.front();
      const double hi = c->bounds.size() == 2 * n ? c->bounds.back() : c->values.back();
      OutputVariable s;
      s.name = name;
      s.type = DType::f64;
      s.attrs = coordinate_attrs(*c);
      s.attrs.push_back(Attribute::make_text("bounds", name + "_bnds"));
      if (rank_ == 0) s.values = {0.5 * (lo + hi)};
      ds.vars.push_back(s);
      OutputVariable b;
      b.name = name + "_bnds";
      b.dims = {"bnds"};
      b.type = DType::f64;
      b.owned = rank_ == 0 ? Box({0}, {2}) : Box({0}, {0});
      if (rank_ == 0) b.values = {lo, hi};
      ds.vars.push_back(b);
      need_bnds = true;
    }
    for (auto& b : bounds_) ds.vars.push_back(std::move(b)), need_bnds = true;
    if (need_bnds) ds.dims.push_back({"bnds", 2});
    for (std::size_t i = 0; i < results_.size(); ++i) {
      // `coordinates` names the scalar coordinates that were written (not dimension coordinates).
      std::string c;
      for (const auto& [dim, coord] : cell_methods_[i].reduced)
        if (coord && !has_dim(dim)) c += (c.empty() ? "" : " ") + dim;
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

 private:
  struct CellMethods {
    std::string prior, method;
    std::vector<std::pair<std::string, const CoordinateInfo*>> reduced;  // dimension, its coordinate
  };

  // CF 7.3: a cell method names a dimension of the variable, a scalar coordinate, a standard
  // name, or `area`. A reduced axis whose name belongs to another variable's dimension (and so
  // has no scalar coordinate here) is named by its standard_name; latitude and longitude
  // together are the area.
  std::string cell_methods_text(const CellMethods& cm) const {
    if (cm.method.empty()) return cm.prior;
    std::vector<std::string> names;
    for (const auto& [dim, coord] : cm.reduced) {
      std::string name = dim;
      if (coord && has_dim(dim))
        if (const Attribute* sn = coord->var.attr("standard_name"); sn && sn->is_text) name = sn->text;
      names.push_back(name);
    }
    auto lat = std::find(names.begin(), names.end(), "latitude");
    auto lon = std::find(names.begin(), names.end(), "longitude");
    if (lat != names.end() && lon != names.end()) {
      *lat = "area";
      names.erase(std::find(names.begin(), names.end(), "longitude"));
    }
    std::string text = cm.prior;
    if (!text.empty()) text += " ";
    for (const auto& n : names) text += n + ": ";
    return text + cm.method;
  }

  bool has_dim(const std::string& n) const {
    for (const auto& d : dims_)
      if (d.name == n) return true;
    return false;
  }

  static std::vector<Attribute> coordinate_attrs(const CoordinateInfo& c) {
    std::vector<Attribute> out;
    for (const auto& a : c.var.attrs)
      if (a.name != "bounds" && a.name != "_FillValue") out.push_back(a);
    return out;
  }

  void add_dimension_coordinate(const InputMeta& m, const std::string& dim, std::size_t len) {
    for (const auto& d : dims_)
      if (d.name == dim) {
        if (d.length != len)
          throw JobError("output dimension '" + dim + "' would have lengths " + std::to_string(d.length) + " and " +
                         std::to_string(len) + " (inputs disagree); write such reductions to separate jobs");
        return;
      }
    dims_.push_back({dim, len});
    const CoordinateInfo* c = m.coordinate(dim);
    if (!c || c->values.size() != len) return;
    OutputVariable v;
    v.name = dim;
    v.dims = {dim};
    v.type = c->var.type == DType::f32 ? DType::f32 : DType::f64;
    v.attrs = coordinate_attrs(*c);
    v.owned = rank_ == 0 ? Box({0}, {len}) : Box({0}, {0});
    if (rank_ == 0) v.values = c->values;
    if (c->bounds.size() == 2 * len) {
      v.attrs.push_back(Attribute::make_text("bounds", c->bounds_name));
      OutputVariable b;
      b.name = c->bounds_name;
      b.dims = {dim, "bnds"};
      b.type = v.type;
      b.owned = rank_ == 0 ? Box({0, 0}, {len, 2}) : Box({0, 0}, {0, 0});
      if (rank_ == 0) b.values = c->bounds;
      bounds_.push_back(std::move(b));
    }
    coords_.push_back(std::move(v));
  }

  const JobSpec& job_;
  const std::vector<InputMeta>& metas_;
  int rank_;
  std::vector<OutputDimension> dims_;
  std::vector<OutputVariable> coords_, bounds_, results_;
  std::vector<std::pair<std::string, const CoordinateInfo*>> reduced_coords_;
  std::vector<CellMethods> cell_methods_;  // per result
};

void write_report(const std::string& path, const JobSpec& job, const Plan& plan, const PhaseTimes& t, double wall,
                  const std::vector<double>& bytes, const std::vector<double>& busy, const std::string& output) {
  nlohmann::json j;
  j["tessera_version"] = version_string;
  j["job"] = job.name;
  j["job_sha256"] = job.hash;
  j["output"] = output;
  j["ranks"] = plan.ranks;
  j["wall_seconds"] = wall;
  j["phases_seconds"] = {{"plan", t.plan}, {"read", t.read}, {"compute", t.compute}, {"combine", t.combine},
                         {"write", t.write}};
  double total = 0, max_busy = 0, sum_busy = 0;
  for (double b : bytes) total += b;
  for (double b : busy) max_busy = std::max(max_busy, b), sum_busy += b;
  j["bytes_read_per_rank"] = bytes;
  j["bytes_read"] = total;
  j["read_compute_seconds_per_rank"] = busy;
  j["throughput_gb_per_s"] = (t.read + t.compute) > 0 ? total / (t.read + t.compute) / 1e9 : 0.0;
  j["load_imbalance"] = sum_busy > 0 ? max_busy / (sum_busy / double(busy.size())) : 1.0;
  std::ofstream f(path);
  if (!f) throw RuntimeError("cannot write report '" + path + "'");
  f << j.dump(2) << "\n";
  if (!f) throw RuntimeError("cannot write report '" + path + "'");
}

}  // namespace

std::vector<InputMeta> scan_inputs(const JobSpec& job, const mpi::Comm& comm) {
  std::vector<std::string> blobs;
  try {
    blobs = mpi::run_phase(comm, [&] {
      std::vector<std::string> out;
      if (comm.rank() == 0)
        for (const auto& in : job.inputs) out.push_back(to_json(scan_input(in, job.file)));
      return out;
    });
  } catch (const AgreedError& e) {
    // Only rank 0 scans: its errors are about the inputs, not about rank 0.
    throw AgreedError(e.code(), e.what(), 0, comm.size());
  }
  std::vector<InputMeta> metas;
  for (std::size_t i = 0; i < job.inputs.size(); ++i)
    metas.push_back(input_meta_from_json(comm.broadcast(comm.rank() == 0 ? blobs[i] : std::string(), 0)));
  return metas;
}

RunSummary run_job(const JobSpec& job, const RunOptions& opt, const mpi::Comm& comm) {
  const auto t_start = Clock::now();
  const int rank = comm.rank(), ranks = comm.size();
  const bool overwrite = opt.overwrite || job.output.overwrite;
  PhaseTimes times;

  // 1. Report and plan: metadata only.
  auto t0 = Clock::now();
  mpi::run_phase(comm, [&] {
    if (rank == 0) check_output_path(job.output.path, overwrite);
  });
  const std::vector<InputMeta> metas = scan_inputs(job, comm);
  const Plan plan = mpi::run_phase(comm, [&] { return make_plan(job, metas, ranks); });
  times.plan = since(t0);

  // 2. Execute: stream this rank's tiles through every reduction of the input (one pass).
  std::vector<std::vector<ReductionState>> states(plan.inputs.size());
  std::vector<Decoding> decodings;
  double bytes_read = 0;
  mpi::run_phase(comm, [&] {
    std::uint64_t my_bytes = 0;
    for (const auto& ip : plan.inputs)
      for (const Box& t : ip.tiles[rank]) my_bytes += volume(t) * ip.element_bytes;
    Progress progress(!opt.quiet && rank == 0, my_bytes, ranks);
    for (std::size_t k = 0; k < plan.inputs.size(); ++k) {
      const InputPlan& ip = plan.inputs[k];
      const InputMeta& meta = metas[ip.input];
      decodings.push_back(decoding_for(meta.var, "input '" + meta.alias + "'"));
      const Decoding& dec = decodings.back();
      for (const auto& rp : ip.reductions) {
        double terms = 1;  // values per output cell over the whole input
        for (std::size_t a : rp.axes.reduced) terms *= double(meta.var.shape[a]);
        states[k].emplace_back(rp.state_boxes[rank], StateNeeds::for_op(job.reductions[rp.index].op),
                               dec.mantissa_bits, terms);
      }
      // Collective sources are opened by every rank together, and every rank then reads in
      // lockstep (an empty box once it has no tiles left); others open lazily and read alone.
      auto source = open_source(meta, &comm);
      const bool lockstep = source->collective();
      const std::vector<Box>& mine = ip.tiles[rank];
      std::size_t rounds = mine.size();
      if (lockstep)
        for (const auto& other : ip.tiles) rounds = std::max(rounds, other.size());
      if (rounds == 0) continue;
      std::uint64_t largest = 0;
      for (const Box& t : mine) largest = std::max(largest, volume(t));
      // Readers fill host memory; kernels read it where the default execution space can.
      RawBytes raw(Kokkos::ViewAllocateWithoutInitializing("raw_tile"), std::max<std::uint64_t>(1, largest) * ip.element_bytes);
      // Work regions: cache-sized pieces of a tile. Cut the first reduction's outer kept axes,
      // then its reduced axes, and its last kept axis (the kernels' contiguous runs) last.
      const AxisMap& first = ip.reductions.front().axes;
      std::vector<std::size_t> order(first.kept.begin(), first.kept.end() - (first.kept.empty() ? 0 : 1));
      order.insert(order.end(), first.reduced.begin(), first.reduced.end());
      const Box nothing(std::vector<std::size_t>(meta.var.shape.size(), 0), std::vector<std::size_t>(meta.var.shape.size(), 0));
      // After a failure a lockstep rank keeps taking part in the collective reads (with nothing)
      // so the others finish their rounds; the failure is reported when the phase ends.
      std::exception_ptr failure;
      for (std::size_t i = 0; i < rounds; ++i) {
        const bool has_tile = i < mine.size() && !failure;
        const Box& t = has_tile ? mine[i] : nothing;
        try {
          auto tr = Clock::now();
          source->read(t, raw.data());
          times.read += since(tr);
          if (!has_tile) continue;
          auto tc = Clock::now();
          auto dev = Kokkos::create_mirror_view_and_copy(Kokkos::DefaultExecutionSpace::memory_space(), raw);
          const RawTile tile{meta.var.type, dev.data(), t};
          for (const Box& region : split_to_budget(t, region_elements, order)) {
            // Measuring the region first also brings it into cache for the reductions.
            const TileStats stats = region_stats(tile, region, dec);
            for (std::size_t r = 0; r < ip.reductions.size(); ++r)
              states[k][r].add(tile, region, ip.reductions[r].axes, stats, dec);
          }
          Kokkos::fence();
          times.compute += since(tc);
        } catch (...) {
          if (!failure) failure = std::current_exception();
          if (!lockstep) break;
          continue;
        }
        const std::size_t n = static_cast<std::size_t>(volume(t));
        bytes_read += double(n * ip.element_bytes);
        progress.advance(n * ip.element_bytes);
      }
      if (failure) std::rethrow_exception(failure);
    }
    progress.finish();
  });

  // 3. Combine partial states: each owner merges the pieces of its output box.
  auto tm = Clock::now();
  std::vector<std::pair<double, double>> ranges(job.reductions.size(), {HUGE_VAL, -HUGE_VAL});
  OutputBuilder builder(job, metas, rank);
  mpi::run_phase(comm, [&] {
    for (std::size_t k = 0; k < plan.inputs.size(); ++k) {
      const InputPlan& ip = plan.inputs[k];
      for (std::size_t r = 0; r < ip.reductions.size(); ++r) {
        const ReductionPlan& rp = ip.reductions[r];
        const ReductionSpec& spec = job.reductions[rp.index];
        ReductionState& st = states[k][r];
        Result res{rp.index, rp.out_shape.empty() ? Box() : rp.owned_boxes[rank], rp.owns(rank), {}};
        if (rp.exchanges) {
          st.harmonize(comm);
          std::vector<std::vector<char>> send(ranks);
          for (int dst = 0; dst < ranks; ++dst) {
            Box sub;
            if (rp.sends(rank, dst, sub)) send[dst] = st.pack(sub);
          }
          const auto recv = comm.alltoallv(send);
          if (res.owns) {
            ReductionState mine = st.empty_like(res.owned);
            for (int src = 0; src < ranks; ++src) {
              Box sub;
              if (rp.sends(src, rank, sub)) mine.merge_packed(sub, recv[src].data(), recv[src].size());
            }
            res.values = mine.finalize(spec.op, spec.ddof, decodings[k]);
          }
        } else if (res.owns) {
          res.values = st.finalize(spec.op, spec.ddof, decodings[k]);
        }
        for (double x : res.values)
          if (!std::isnan(x)) ranges[rp.index] = {std::min(ranges[rp.index].first, x), std::max(ranges[rp.index].second, x)};
        builder.add(ip, rp, res, decodings[k]);
        st = ReductionState(Box(), StateNeeds{}, 0);  // free the partial state early
      }
    }
  });
  times.combine = since(tm);

  // 4. Write atomically.
  auto tw = Clock::now();
  std::ostringstream hist;
  hist << utc_now() << ": " << (opt.command_line.empty() ? "tessera run " + job.file : opt.command_line)
       << " (tessera " << version_string << ", " << ranks << " rank" << (ranks > 1 ? "s" : "") << ")";
  OutputDataset ds = mpi::run_phase(comm, [&] { return builder.build(hist.str(), ranks); });
  write_output(job.output.path, overwrite, ds, comm);
  times.write = since(tw);

  // 5. Report.
  const double wall = since(t_start);
  std::vector<double> bytes = comm.gather_to_root(bytes_read);
  std::vector<double> busy = comm.gather_to_root(times.read + times.compute);
  // Phase times of the slowest rank describe the job.
  times.read = comm.allreduce_max(times.read);
  times.compute = comm.allreduce_max(times.compute);
  RunSummary summary;
  summary.output_path = job.output.path;
  if (rank == 0) {
    double total = 0;
    for (double b : bytes) total += b;
    std::ostringstream os;
    os.setf(std::ios::fixed);
    os.precision(2);
    os << "wrote " << job.output.path << " (" << job.reductions.size() << " variable"
       << (job.reductions.size() > 1 ? "s" : "") << ") from " << total / 1e6 << " MB on " << ranks << " rank"
       << (ranks > 1 ? "s" : "") << " in " << wall << " s";
    summary.lines.push_back(os.str());
  }
  // One line per result: its value range over the whole output, for a quick sanity look.
  for (std::size_t i = 0; i < ranges.size(); ++i) {
    const double lo = comm.allreduce_min(ranges[i].first), hi = comm.allreduce_max(ranges[i].second);
    if (rank != 0) continue;
    std::ostringstream os;
    os << "  " << job.reductions[i].name << " = " << op_name(job.reductions[i].op) << " over (";
    for (std::size_t k = 0; k < job.reductions[i].over.size(); ++k) os << (k ? ", " : "") << job.reductions[i].over[k];
    os << "): ";
    if (lo > hi) os << "no valid values";
    else os << "min " << lo << ", max " << hi;
    summary.lines.push_back(os.str());
  }
  if (!opt.report_path.empty())
    mpi::run_phase(comm, [&] {
      if (rank == 0) write_report(opt.report_path, job, plan, times, wall, bytes, busy, job.output.path);
    });
  return summary;
}

}  // namespace tessera
