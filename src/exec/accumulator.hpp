#pragma once
// One reduction's partial result on one rank, whatever its kind: it accumulates work regions of
// tiles, merges partial states of other ranks and finalises its cells. The executor streams
// tiles and moves bytes; an accumulator only knows how to accumulate, merge and finalise.
#include <memory>
#include <vector>

#include "cf/decoding.hpp"
#include "decomp/box.hpp"
#include "job/job_spec.hpp"
#include "mpi/comm.hpp"
#include "plan/plan.hpp"
#include "reduce/tile_geometry.hpp"
#include "reduce/tile_kernels.hpp"

namespace tessera {

// Weights over some axes of the input (view index space), row-major over those axes.
struct WeightField {
  std::vector<std::size_t> axes;
  std::vector<std::size_t> shape;
  std::vector<double> values;
  std::string source;  // for messages and metadata: "cell_area", "bounds", "cos(lat)", a variable name
};

// A finished reduction's values over `box` (its output space) on the ranks that need them.
struct AnomalyBase {
  const ReductionPlan* plan = nullptr;
  Box box;
  std::vector<double> values;
};

struct ReductionContext {
  const ReductionSpec* spec = nullptr;
  const ReductionPlan* plan = nullptr;
  const Decoding* dec = nullptr;
  const WeightField* weights = nullptr;
  const AnomalyBase* base = nullptr;
};

class Accumulator {
 public:
  virtual ~Accumulator() = default;
  // `state_box`: the output cells this rank accumulates (the plan's state box).
  static std::unique_ptr<Accumulator> make(const ReductionContext& ctx, const Box& state_box);

  // Adds `region` (inside tile.layout). `stats` describes the region's stored values.
  virtual void add(const RawTile& tile, const Box& region, const TileStats& stats) = 0;
  // The same without statistics, when this accumulator can measure the region while it adds it
  // (one pass instead of region_stats and add): false, and nothing done, when it cannot.
  virtual bool add_unmeasured(const RawTile&, const Box&) { return false; }
  virtual void harmonize(const mpi::Comm&) {}
  virtual std::unique_ptr<Accumulator> empty_like(const Box& box) const = 0;
  virtual std::vector<char> pack(const Box& sub) = 0;
  virtual void merge_packed(const Box& sub, const char* data, std::size_t size) = 0;
  // Checkpoints: the cells of `sub` with what merging them needs (exact-sum tiers), and the
  // inverse. restore() adds a saved `saved_box` (any rank's, any rank count) to the cells of
  // `sub` (inside both); every restore into one accumulator must come before its first add().
  std::vector<char> save(const Box& sub);
  void restore(const Box& saved_box, const Box& sub, const char* data, std::size_t size);
  // Final values of every cell of box() (row-major), NaN where missing.
  virtual std::vector<double> finalize() = 0;

  const Box& box() const { return box_; }

 protected:
  Accumulator(const ReductionContext& ctx, const Box& box) : ctx_(ctx), box_(box) {}
  virtual void write_tier(std::vector<char>&) const {}
  // Zeroes the state and takes the tiers read from `p` (advanced).
  virtual void adopt_tier(const char*&) {}
  // Calls f(sub, group) for the parts of `region` inside the domain with one group each.
  template <class F>
  void for_each_group_run(const Box& region, F&& f) const;
  // min_valid: cells whose valid values fall short of the fraction become missing.
  void apply_min_valid(std::vector<double>& out, const std::vector<std::int64_t>& valid) const;

  ReductionContext ctx_;
  Box box_;
  bool restored_ = false;
};

}  // namespace tessera
