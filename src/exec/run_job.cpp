#include "exec/run_job.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <ctime>
#include <exception>
#include <fstream>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include <nlohmann/json.hpp>

#include "cf/decoding.hpp"
#include "core/cleanup.hpp"
#include "core/error.hpp"
#include "core/stop_request.hpp"
#include "core/version.hpp"
#include "decomp/box_iteration.hpp"
#include "exec/accumulator.hpp"
#include "exec/checkpoint.hpp"
#include "exec/output_builder.hpp"
#include "exec/weights.hpp"
#include "io/scan.hpp"
#include "io/sink.hpp"
#include "io/source.hpp"
#include "mpi/phase.hpp"
#include "plan/plan.hpp"
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

std::string utc_now() {
  std::time_t t = std::time(nullptr);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&t));
  return buf;
}


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

// Bounding box of two boxes of one rank (either may be empty).
Box hull(const Box& a, const Box& b) {
  if (empty(a)) return b;
  if (empty(b)) return a;
  Box h = a;
  for (std::size_t i = 0; i < a.rank(); ++i) {
    h.start[i] = std::min(a.start[i], b.start[i]);
    h.count[i] = std::max(a.start[i] + a.count[i], b.start[i] + b.count[i]) - h.start[i];
  }
  return h;
}

std::vector<char> boxes_bytes(const std::vector<Box>& boxes) {
  std::vector<char> out;
  auto put = [&](std::uint64_t v) { out.insert(out.end(), reinterpret_cast<const char*>(&v), reinterpret_cast<const char*>(&v) + 8); };
  put(boxes.size());
  for (const Box& b : boxes) {
    put(b.rank());
    for (auto v : b.start) put(v);
    for (auto v : b.count) put(v);
  }
  return out;
}

std::vector<Box> boxes_from(const std::vector<char>& in) {
  std::size_t at = 0;
  auto take = [&] {
    std::uint64_t v;
    std::memcpy(&v, in.data() + at, 8);
    at += 8;
    return static_cast<std::size_t>(v);
  };
  std::vector<Box> out;
  if (in.empty()) return out;
  const std::size_t n = take();
  for (std::size_t k = 0; k < n; ++k) {
    const std::size_t nd = take();
    Box b{std::vector<std::size_t>(nd), std::vector<std::size_t>(nd)};
    for (auto& v : b.start) v = take();
    for (auto& v : b.count) v = take();
    out.push_back(b);
  }
  return out;
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

std::vector<SelectedInput> select_inputs(const JobSpec& job, const std::vector<InputMeta>& metas) {
  std::vector<SelectedInput> out;
  for (std::size_t i = 0; i < job.inputs.size(); ++i) {
    const InputSpec& in = job.inputs[i];
    const Selection sel = resolve_selection(metas[i], in.select, job.file, "input '" + in.alias + "'");
    out.push_back(apply_selection(metas[i], sel));
  }
  return out;
}

std::vector<InputMeta> views_of(const std::vector<SelectedInput>& inputs) {
  std::vector<InputMeta> out;
  for (const auto& s : inputs) out.push_back(s.view);
  return out;
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
  std::vector<SelectedInput> inputs;
  std::vector<InputMeta> views;
  std::vector<Decoding> decodings;
  std::map<std::size_t, WeightField> weights;  // by reduction index
  const Plan plan = mpi::run_phase(comm, [&] {
    inputs = select_inputs(job, metas);
    views = views_of(inputs);
    for (const auto& v : views) decodings.push_back(decoding_for(v.var, "input '" + v.alias + "'"));
    Plan p = make_plan(job, views, ranks);
    for (std::size_t ri = 0; ri < job.reductions.size(); ++ri) {
      const ReductionSpec& r = job.reductions[ri];
      if (r.weights.empty()) continue;
      for (std::size_t ii = 0; ii < job.inputs.size(); ++ii)
        if (rank == 0 && job.inputs[ii].alias == r.input) weights[ri] = make_weights(job, r, inputs[ii], inputs);
    }
    return p;
  });
  // Rank 0 alone reads weight variables (for a remote input: one scan and one read, not one per
  // rank) and sends them to the others, bit for bit.
  if (std::any_of(job.reductions.begin(), job.reductions.end(), [](const ReductionSpec& r) { return !r.weights.empty(); }))
    weights = weights_from_bytes(comm.broadcast(rank == 0 ? weights_to_bytes(weights) : std::string()));
  times.plan = since(t0);

  // Checkpoints: a published one in the dir is resumed (rank 0 checks that it belongs to this
  // job and these inputs); stop requests (SIGTERM, SIGUSR1) wait for the next tile boundary.
  const std::string ckpt_dir = opt.checkpoint_dir.empty() ? job.run.checkpoint.dir : opt.checkpoint_dir;
  const bool checkpointing = !ckpt_dir.empty();
  const double ckpt_every = job.run.checkpoint.every_seconds;
  std::optional<CheckpointStore> store;
  std::string fingerprint;
  std::optional<CheckpointManifest> resumed;
  std::vector<SavedState> restored;  // every saved state of the resumed checkpoint
  std::vector<std::vector<Box>> done(plan.inputs.size());  // per input plan: boxes already in the states
  if (checkpointing) {
    install_cleanup_handlers();
    stop_on_signal_at_tile_boundary();
    store.emplace(ckpt_dir);
    std::string text;
    try {
      text = mpi::run_phase(comm, [&] {
        if (rank != 0) return std::string();
        fingerprint = checkpoint_fingerprint(job, metas);
        const auto m = store->load(fingerprint);
        return m ? to_json(*m) : std::string();
      });
    } catch (const AgreedError& e) {
      throw AgreedError(e.code(), e.what(), 0, comm.size());  // about the checkpoint, not rank 0
    }
    text = comm.broadcast(text, 0);
    if (!text.empty()) {
      resumed = manifest_from_json(text);
      restored = mpi::run_phase(comm, [&] {
        if (resumed->done.size() != plan.inputs.size() || resumed->pass >= plan.passes)
          throw RuntimeError("checkpoint in '" + ckpt_dir + "' does not fit this job's plan; remove it to start over");
        return store->read_states(*resumed);
      });
      done = resumed->done;
      if (rank == 0 && !opt.quiet)
        std::cerr << "tessera: resuming from checkpoint gen-" << resumed->generation << " in " << ckpt_dir
                  << " (written by " << resumed->ranks << " rank" << (resumed->ranks > 1 ? "s" : "") << ")\n";
    }
  }
  // A rank's accumulator covers its state box; when resuming it also covers the cells it owns,
  // which receive the checkpoint's saved states (each saved cell goes to exactly one owner).
  auto state_box_of = [&](const ReductionPlan& rp, int r) {
    if (!resumed || rp.out_shape.empty()) return rp.state_boxes[r];
    return hull(rp.state_boxes[r], rp.owned_boxes[r]);
  };
  auto sends = [&](const ReductionPlan& rp, int src, int dst, Box& sub) {
    if (!rp.owns(dst)) return false;
    sub = rp.out_shape.empty() ? Box() : intersect(state_box_of(rp, src), rp.owned_boxes[dst]);
    return rp.out_shape.empty() || !empty(sub);
  };
  std::vector<SavedState> completed;  // this rank's owned states of finished passes (for checkpoints)
  auto last_ckpt = Clock::now();

  std::vector<Result> results(job.reductions.size());
  std::map<std::size_t, AnomalyBase> bases;  // by reduction index: results later passes subtract
  double bytes_read = 0;
  std::uint64_t my_bytes = 0;
  // What is left to read: each rank's tiles less the boxes a resumed checkpoint already holds.
  std::vector<std::vector<std::vector<Box>>> todo(plan.inputs.size());  // per input plan, per rank
  for (std::size_t ipi = 0; ipi < plan.inputs.size(); ++ipi) {
    const InputPlan& ip = plan.inputs[ipi];
    todo[ipi].resize(ranks);
    for (int r = 0; r < ranks; ++r)
      for (const Box& t : ip.tiles[r])
        for (Box& piece : subtract(t, done[ipi])) todo[ipi][r].push_back(std::move(piece));
    for (const Box& t : todo[ipi][rank]) my_bytes += volume(t) * ip.element_bytes;
  }
  Progress progress(!opt.quiet && rank == 0, my_bytes, ranks);

  std::vector<std::vector<Box>> finished(plan.inputs.size());  // per input plan: this rank's boxes read so far
  // Saves everything accumulated so far (collective: every rank at the same tile boundary). The
  // states are merged to their owners first, so the checkpoint holds one state per output cell
  // in one exact-sum tier per reduction; progress is the global set of input boxes read.
  // Returns the generation; a failed periodic save is a warning, a failed final one an error.
  auto save_checkpoint = [&](std::size_t pass, std::map<std::size_t, std::unique_ptr<Accumulator>>& accs,
                             bool final) -> std::uint64_t {
    const auto t_ck = Clock::now();
    std::vector<SavedState> states = completed;
    for (auto& [index, acc] : accs) {
      if (!acc) continue;
      const ReductionPlan& rp = *find_reduction(plan, index);
      const Box owned = rp.out_shape.empty() ? Box() : rp.owned_boxes[rank];
      acc->harmonize(comm);
      if (rp.exchanges) {
        std::vector<std::vector<char>> send(ranks);
        for (int dst = 0; dst < ranks; ++dst) {
          Box sub;
          if (sends(rp, rank, dst, sub)) send[dst] = acc->pack(sub);
        }
        const auto recv = comm.alltoallv(send);
        if (rp.owns(rank)) {
          auto merged = acc->empty_like(owned);
          for (int src = 0; src < ranks; ++src) {
            Box sub;
            if (sends(rp, src, rank, sub)) merged->merge_packed(sub, recv[src].data(), recv[src].size());
          }
          states.push_back({index, owned, merged->save(owned)});
        }
      } else if (rp.owns(rank)) {
        states.push_back({index, owned, acc->save(owned)});
      }
    }
    CheckpointManifest m;
    m.ranks = ranks;
    m.pass = pass;
    m.done = done;
    for (std::size_t ipi = 0; ipi < plan.inputs.size(); ++ipi) {
      std::vector<std::vector<char>> send(ranks);
      send[0] = boxes_bytes(finished[ipi]);
      const auto recv = comm.alltoallv(send);
      if (rank == 0)
        for (const auto& blob : recv)
          for (Box& b : boxes_from(blob)) m.done[ipi].push_back(std::move(b));
    }
    m.generation = std::stoull(comm.broadcast(rank == 0 ? std::to_string(store->next_generation()) : "", 0));
    std::string err;
    double bytes = 0;
    try {
      store->write_rank(m.generation, rank, states);
      for (const auto& st : states) bytes += double(st.data.size());
    } catch (const std::exception& e) {
      err = e.what();
    }
    bool failed = comm.allreduce_max(std::int64_t(!err.empty())) != 0;
    if (!failed && rank == 0) {
      try {
        m.seconds = since(t_ck);
        store->publish(m, fingerprint);
      } catch (const std::exception& e) {
        err = e.what();
      }
    }
    failed = comm.allreduce_max(std::int64_t(!err.empty())) != 0;
    bytes = comm.allreduce_sum(bytes);
    last_ckpt = Clock::now();
    if (failed) {
      if (final) throw RuntimeError(err.empty() ? "checkpoint: another rank could not write its part" : err);
      if (!err.empty()) std::cerr << "tessera: warning: checkpoint not saved, the run goes on: " << err << "\n";
      return 0;
    }
    if (rank == 0 && !opt.quiet) {
      std::ostringstream os;
      os.setf(std::ios::fixed);
      os.precision(3);
      os << "tessera: checkpoint gen-" << m.generation << " saved in " << ckpt_dir << " (" << bytes / 1e6 << " MB from "
         << ranks << " rank" << (ranks > 1 ? "s" : "") << " in " << since(t_ck) << " s)\n";
      std::cerr << os.str();
    }
    return m.generation;
  };

  for (std::size_t pass = 0; pass < plan.passes; ++pass) {
    // 2. Execute: stream this rank's tiles through every reduction of the input (one pass).
    std::map<std::size_t, std::unique_ptr<Accumulator>> accs;
    std::map<std::size_t, ReductionContext> contexts;
    mpi::run_phase(comm, [&] {
      for (std::size_t ipi = 0; ipi < plan.inputs.size(); ++ipi) {
        const InputPlan& ip = plan.inputs[ipi];
        if (ip.pass != pass) continue;
        const InputMeta& meta = views[ip.input];
        const Decoding& dec = decodings[ip.input];
        std::vector<Accumulator*> mine_accs;
        for (const auto& rp : ip.reductions) {
          ReductionContext ctx;
          ctx.spec = &job.reductions[rp.index];
          ctx.plan = &rp;
          ctx.dec = &dec;
          if (auto w = weights.find(rp.index); w != weights.end()) ctx.weights = &w->second;
          if (!ctx.spec->anomaly_of.empty())
            for (auto& [b, base] : bases)
              if (job.reductions[b].name == ctx.spec->anomaly_of) ctx.base = &base;
          contexts[rp.index] = ctx;
          accs[rp.index] = Accumulator::make(contexts[rp.index], state_box_of(rp, rank));
          for (const SavedState& st : restored) {
            if (st.reduction != rp.index) continue;
            if (rp.out_shape.empty()) {
              if (rank == 0) accs[rp.index]->restore(st.box, Box(), st.data.data(), st.data.size());
              continue;
            }
            const Box sub = intersect(st.box, rp.owned_boxes[rank]);
            if (!empty(sub)) accs[rp.index]->restore(st.box, sub, st.data.data(), st.data.size());
          }
          mine_accs.push_back(accs[rp.index].get());
        }
        // Collective sources are opened by every rank together, and every rank then reads in
        // lockstep (an empty box once it has no tiles left); others open lazily and read alone.
        auto source = open_selected(inputs[ip.input], &comm);
        const bool lockstep = source->collective();
        const std::vector<Box>& mine = todo[ipi][rank];
        // With checkpoints every rank takes part in every round: the decision to save is collective.
        std::size_t rounds = mine.size();
        if (lockstep || checkpointing)
          for (const auto& other : todo[ipi]) rounds = std::max(rounds, other.size());
        if (rounds == 0) continue;
        std::uint64_t largest = 0;
        for (const Box& t : mine) largest = std::max(largest, volume(t));
        // Readers fill host memory; kernels read it where the default execution space can.
        RawBytes raw(Kokkos::ViewAllocateWithoutInitializing("raw_tile"),
                     std::max<std::uint64_t>(1, largest) * ip.element_bytes);
        // Work regions: cache-sized pieces of a tile. Cut the first reduction's outer kept axes,
        // then its reduced axes, and its last kept axis (the kernels' contiguous runs) last.
        const AxisMap& first = ip.reductions.front().axes;
        std::vector<std::size_t> order(first.kept.begin(), first.kept.end() - (first.kept.empty() ? 0 : 1));
        if (first.group_axis != AxisMap::none) order.push_back(first.group_axis);
        order.insert(order.end(), first.reduced.begin(), first.reduced.end());
        const Box nothing(std::vector<std::size_t>(meta.var.shape.size(), 0), std::vector<std::size_t>(meta.var.shape.size(), 0));
        // After a failure a lockstep rank keeps taking part in the collective reads (with nothing)
        // so the others finish their rounds; the failure is reported when the phase ends.
        std::exception_ptr failure;
        constexpr bool host_kernels =
            Kokkos::SpaceAccessibility<Kokkos::DefaultExecutionSpace, Kokkos::HostSpace>::accessible;
        for (std::size_t i = 0; i < rounds; ++i) {
          const bool has_tile = i < mine.size() && !failure;
          const Box& t = has_tile ? mine[i] : nothing;
          bool added = false;
          try {
            auto tr = Clock::now();
            // Where the kernels can read host memory, a source may hand the tile over in place.
            Box layout = t;
            const void* mapped = has_tile && host_kernels && !ip.whole_series ? source->map(t, layout) : nullptr;
            if (!mapped && (has_tile || lockstep)) source->read(t, raw.data());
            times.read += since(tr);
            if (has_tile) {
            auto tc = Clock::now();
            decltype(Kokkos::create_mirror_view_and_copy(Kokkos::DefaultExecutionSpace::memory_space(), raw)) dev;
            if (!mapped) dev = Kokkos::create_mirror_view_and_copy(Kokkos::DefaultExecutionSpace::memory_space(), raw);
            const RawTile tile{meta.var.type, mapped ? mapped : static_cast<const void*>(dev.data()), mapped ? layout : t};
            if (ip.whole_series) {
              // Each tile holds whole series: no work regions.
              for (Accumulator* a : mine_accs) a->add(tile, t, TileStats{});
            } else {
              for (const Box& region : split_to_budget(t, region_elements, order)) {
                // A lone reduction that measures while it adds (the plain mean) reads it once.
                if (mine_accs.size() == 1 && mine_accs[0]->add_unmeasured(tile, region)) continue;
                // Measuring the region first also brings it into cache for the reductions.
                const TileStats stats = region_stats(tile, region, dec);
                for (Accumulator* a : mine_accs) a->add(tile, region, stats);
              }
            }
            Kokkos::fence();
            if (mapped) source->unmap();
            times.compute += since(tc);
            added = true;
            }
          } catch (...) {
            if (!failure) failure = std::current_exception();
            if (!lockstep && !checkpointing) break;
          }
          if (added) {
            const std::size_t n = static_cast<std::size_t>(volume(t));
            bytes_read += double(n * ip.element_bytes);
            progress.advance(n * ip.element_bytes);
            if (checkpointing) finished[ipi].push_back(t);
          }
          if (!checkpointing) continue;
          // A tile boundary: every rank learns whether any failed (stop), was asked to stop, or
          // (rank 0's clock) whether a periodic checkpoint is due.
          std::int64_t flag = failure ? 4 : 0;
          if (stop_requested()) flag |= 2;
          if (rank == 0 && ckpt_every > 0 && since(last_ckpt) >= ckpt_every) flag |= 1;
          flag = comm.allreduce_max(flag);
          if (flag & 4) break;
          if (flag & 2) {
            const std::uint64_t gen = save_checkpoint(pass, accs, true);
            std::ostringstream os;
            os.setf(std::ios::fixed);
            os.precision(0);
            os << "stopped on request (signal " << comm.allreduce_max(std::int64_t(stop_signal()))
               << ") after saving checkpoint gen-" << gen << " in " << ckpt_dir << " ("
               << 100.0 * comm.allreduce_sum(bytes_read) / std::max(1.0, comm.allreduce_sum(double(my_bytes)))
               << " % of this run's input read); run the same command again (at any rank count) to resume";
            throw CheckpointedStop(os.str());
          }
          if (flag & 1) save_checkpoint(pass, accs, false);
        }
        if (failure) std::rethrow_exception(failure);
      }
    });

    // 3. Combine partial states: each owner merges the pieces of its output box.
    auto tm = Clock::now();
    mpi::run_phase(comm, [&] {
      for (const InputPlan& ip : plan.inputs) {
        if (ip.pass != pass) continue;
        for (const ReductionPlan& rp : ip.reductions) {
          Accumulator& acc = *accs[rp.index];
          Result& res = results[rp.index];
          res = Result{rp.index, rp.out_shape.empty() ? Box() : rp.owned_boxes[rank], rp.owns(rank), {}};
          // Checkpoints keep one exact-sum tier per reduction (saved parts merge on restore).
          if (rp.exchanges || checkpointing) acc.harmonize(comm);
          if (rp.exchanges) {
            std::vector<std::vector<char>> send(ranks);
            for (int dst = 0; dst < ranks; ++dst) {
              Box sub;
              if (sends(rp, rank, dst, sub)) send[dst] = acc.pack(sub);
            }
            const auto recv = comm.alltoallv(send);
            if (res.owns) {
              auto merged = acc.empty_like(res.owned);
              for (int src = 0; src < ranks; ++src) {
                Box sub;
                if (sends(rp, src, rank, sub)) merged->merge_packed(sub, recv[src].data(), recv[src].size());
              }
              if (checkpointing) completed.push_back({rp.index, res.owned, merged->save(res.owned)});
              res.values = merged->finalize();
            }
          } else if (res.owns) {
            if (checkpointing) completed.push_back({rp.index, res.owned, acc.save(res.owned)});
            res.values = acc.finalize();
          }
          accs[rp.index].reset();  // free the partial state early
        }
      }
      // This pass's inputs are now wholly in the states of `completed`.
      for (std::size_t ipi = 0; ipi < plan.inputs.size(); ++ipi)
        if (plan.inputs[ipi].pass == pass) done[ipi] = {plan.inputs[ipi].read_box}, finished[ipi].clear();
    });

    // Anomaly bases finished in this pass go to the ranks whose tiles need them.
    mpi::run_phase(comm, [&] {
      for (std::size_t b = 0; b < job.reductions.size(); ++b) {
        const InputPlan* aip = nullptr;
        const ReductionPlan* arp = find_reduction(plan, b, &aip);
        if (!arp || arp->pass != pass) continue;
        // Per rank, the bounding box of A's cells its tiles of the dependent reductions touch.
        const std::size_t nd = arp->out_shape.size();
        const Box none(std::vector<std::size_t>(nd, 0), std::vector<std::size_t>(nd, 0));
        std::vector<std::optional<Box>> need(ranks);
        bool used = false;
        for (std::size_t ri = 0; ri < job.reductions.size(); ++ri) {
          if (job.reductions[ri].anomaly_of != job.reductions[b].name) continue;
          const InputPlan* bip = nullptr;
          find_reduction(plan, ri, &bip);
          used = true;
          for (int r = 0; r < ranks; ++r) {
            const Box f = output_footprint(*arp, bip->rank_boxes[r], true);
            if (nd > 0 && empty(f)) continue;
            if (!need[r]) {
              need[r] = f;
              continue;
            }
            for (std::size_t a = 0; a < nd; ++a) {
              const std::size_t lo = std::min(need[r]->start[a], f.start[a]);
              const std::size_t hi = std::max(need[r]->start[a] + need[r]->count[a], f.start[a] + f.count[a]);
              need[r]->start[a] = lo, need[r]->count[a] = hi - lo;
            }
          }
        }
        if (!used) continue;
        const Result& res = results[b];
        auto overlap = [&](int owner, int dst, Box& sub) {
          if (!arp->owns(owner) || !need[dst]) return false;
          if (nd == 0) return sub = Box(), true;
          sub = intersect(arp->owned_boxes[owner], *need[dst]);
          return !empty(sub);
        };
        std::vector<std::vector<char>> send(ranks);
        for (int dst = 0; dst < ranks; ++dst) {
          Box sub;
          if (!overlap(rank, dst, sub)) continue;
          for_each_offset(res.owned, sub, [&](std::size_t c) {
            const char* p = reinterpret_cast<const char*>(&res.values[c]);
            send[dst].insert(send[dst].end(), p, p + sizeof(double));
          });
        }
        const auto recv = comm.alltoallv(send);
        AnomalyBase base;
        base.plan = arp;
        base.box = need[rank] ? *need[rank] : none;
        base.values.assign(need[rank] ? static_cast<std::size_t>(nd == 0 ? 1 : volume(base.box)) : 0,
                           std::numeric_limits<double>::quiet_NaN());
        for (int src = 0; src < ranks; ++src) {
          Box sub;
          if (!overlap(src, rank, sub)) continue;
          std::size_t k = 0;
          for_each_offset(base.box, sub, [&](std::size_t c) {
            std::memcpy(&base.values[c], recv[src].data() + 8 * k++, sizeof(double));
          });
        }
        bases[b] = std::move(base);
      }
    });
    times.combine += since(tm);
  }
  progress.finish();

  // Per-variable value ranges for the summary.
  std::vector<std::pair<double, double>> ranges(job.reductions.size(), {HUGE_VAL, -HUGE_VAL});
  for (std::size_t i = 0; i < results.size(); ++i)
    for (double x : results[i].values)
      if (!std::isnan(x)) ranges[i] = {std::min(ranges[i].first, x), std::max(ranges[i].second, x)};

  // 4. Write atomically.
  auto tw = Clock::now();
  std::ostringstream hist;
  hist << utc_now() << ": " << (opt.command_line.empty() ? "tessera run " + job.file : opt.command_line)
       << " (tessera " << version_string << ", " << ranks << " rank" << (ranks > 1 ? "s" : "") << ")";
  OutputDataset ds = mpi::run_phase(comm, [&] {
    OutputBuilder builder(job, views, rank);
    for (std::size_t ri = 0; ri < job.reductions.size(); ++ri) {
      const InputPlan* ip = nullptr;
      const ReductionPlan* rp = find_reduction(plan, ri, &ip);
      auto w = weights.find(ri);
      builder.add(*ip, *rp, results[ri], decodings[ip->input], w == weights.end() ? "" : w->second.source);
    }
    return builder.build(hist.str(), ranks);
  });
  results.clear();
  bases.clear();
  write_output(job.output.path, overwrite, ds, comm);
  times.write = since(tw);
  // The output is complete: a rerun must start afresh, not resume.
  if (checkpointing)
    mpi::run_phase(comm, [&] {
      if (rank == 0) store->remove();
    });
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
