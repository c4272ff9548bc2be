#pragma once
// The partial state of one reduction over a box of output cells: count, min, max and exact
// sums of x and x^2 as the operation needs. A reduction only says how to accumulate a tile,
// merge another state and finalise; where the data comes from is the executor's business.
#include <Kokkos_Core.hpp>

#include <vector>

#include "cf/decoding.hpp"
#include "decomp/box.hpp"
#include "job/job_spec.hpp"
#include "mpi/comm.hpp"
#include "reduce/exact_sum.hpp"
#include "reduce/tile_geometry.hpp"
#include "reduce/tile_kernels.hpp"

namespace tessera {
namespace detail {
struct StateViews;
}

struct StateNeeds {
  bool minmax = false, sum = false, sumsq = false;
  static StateNeeds for_op(Op op);
};

class ReductionState {
 public:
  // `expected_terms`: the most values a cell receives over the whole reduction (the plan knows).
  ReductionState(const Box& out_box, StateNeeds needs, int mantissa_bits, double expected_terms = 0);

  const Box& box() const { return box_; }
  std::size_t cells() const { return cells_; }

  // Adds the valid values of `region` (input index space, inside tile.layout), decoding stored
  // values with `dec` (fill values and NaN are skipped). `stats` describes the region's values.
  void add(const RawTile& tile, const Box& region, const AxisMap& axes, const TileStats& stats, const Decoding& dec,
           std::size_t group = 0);
  // The plain sum of one region (one group) that add() would do after region_stats, in one pass
  // that measures while it sums (the same statistics, the same sums): true when the region was
  // added, false when this state cannot do that (min/max, squares, a tier past fast, integers,
  // several missing values, cells not contiguous) and nothing was done.
  bool add_in_one_pass(const RawTile& tile, const Box& region, const AxisMap& axes, const Decoding& dec,
                       std::size_t group = 0);
  // Weighted sums straight from stored values (unpacked data only): `wx` (sum needs) gets the
  // sum of fl(w*x) and `w` the sum of w over the valid x of `region`. Weight of input index idx:
  // weights.values[sum idx[a] * weights.strides[a]]; every weight finite, with |w| <= max_abs
  // and every non-zero |w| >= min_abs.
  struct Weights {
    const double* values = nullptr;
    std::vector<std::size_t> strides;
    double max_abs = 0, min_abs = 0;
  };
  static void add_weighted(ReductionState& wx, ReductionState& w, const RawTile& tile, const Box& region,
                           const AxisMap& axes, const TileStats& stats, const Decoding& dec, std::size_t group,
                           const Weights& weights);
  // add_weighted after region_stats in one pass over `region` (f32/f64, contiguous reduced rows
  // as in an area-weighted field mean): sums with the batches of the regions before while
  // measuring, kept when the measured statistics choose those batches (the usual kernel runs
  // again otherwise). not_applicable: nothing was added; measure and call add_weighted, or take
  // the decoded path when the products could overflow (the same test as before add_weighted).
  enum class OnePass { added, not_applicable };
  static OnePass add_weighted_in_one_pass(ReductionState& wx, ReductionState& w, const RawTile& tile,
                                          const Box& region, const AxisMap& axes, const Decoding& dec,
                                          std::size_t group, const Weights& weights);
  // The same for already decoded doubles (NaN = missing) laid out over `tile_box`.
  void add_tile(const TileValues& values, const Box& tile_box, const AxisMap& axes, const TileStats& stats);

  // Collective over every rank holding a state of this reduction: common exact-sum tiers.
  void harmonize(const mpi::Comm& comm);
  // A zeroed state over `box` with the same tiers (after harmonize), to merge parts into.
  ReductionState empty_like(const Box& box) const;

  // Checkpoints: the exact-sum tiers as bytes, and a zeroed state over `box` in the tiers read
  // back from `p` (advanced), into which saved cells merge exactly.
  void write_tier(std::vector<char>& buf) const;
  ReductionState with_tier(const Box& box, const char*& p) const;

  // Exchange: the cells of `sub` (inside box()) as bytes, and the inverse that adds them here.
  std::vector<char> pack(const Box& sub);
  void merge_packed(const Box& sub, const char* data, std::size_t size);

  // Final values of every cell (row-major over box()), NaN where no valid value was seen.
  // Packed inputs are unpacked here: the statistics commute with the affine map.
  std::vector<double> finalize(Op op, int ddof, const Decoding& dec);

  std::size_t bytes_per_cell() const;

  // Per cell: the number of valid values added, and the exact sum (NaN without values).
  std::vector<std::int64_t> counts();
  std::vector<double> sums();

 private:
  void sync_to_host();
  // add() in two steps: the exact-sum batches for a region with `stats`, then the kernel.
  detail::StateViews prepare(const TileGeometry& g, const TileStats& stats);
  void launch(const RawTile& tile, const TileGeometry& g, const TileStats& stats, const Decoding& dec,
              const detail::StateViews& v);
  // add_weighted in two steps: the batches for a region with `stats`, then the kernel.
  static detail::StateViews prepare_weighted(ReductionState& wx, ReductionState& w, const TileGeometry& g,
                                             const TileStats& stats, const Decoding& dec, const Weights& weights);
  static void launch_weighted(ReductionState& w, const RawTile& tile, const TileGeometry& g, const TileGeometry& wg,
                              const detail::StateViews& v, const Decoding& dec, const Weights& weights);

  Box box_;
  std::size_t cells_ = 0;
  StateNeeds needs_;
  int mantissa_bits_ = 23;
  double expected_terms_ = 0;
  Kokkos::View<std::int64_t*> count_;
  Kokkos::View<double*> min_, max_;
  ExactSum sum_, sumsq_;
  Kokkos::View<std::int64_t*>::HostMirror host_count_;
  Kokkos::View<double*>::HostMirror host_min_, host_max_;
  bool host_current_ = false;  // host mirrors hold the latest values (false after add_tile)
  Kokkos::View<double*> scratch_;  // add_in_one_pass, add_weighted_in_one_pass: per-cell sums of one region
  bool one_pass_off_ = false;      // a region had missing values: measure separately from now on
};

}  // namespace tessera
