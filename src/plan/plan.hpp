#pragma once
// From a JobSpec and the inputs' metadata (no data read) to a Plan: per input, the axis split
// across ranks, each rank's hyperslab and tiles; per reduction, the output box each rank
// accumulates, the box it finalises and writes, and which ranks exchange partial states.
#include <cstdint>
#include <string>
#include <vector>

#include "decomp/box.hpp"
#include "io/metadata.hpp"
#include "job/job_spec.hpp"
#include "reduce/reduction_state.hpp"

namespace tessera {

// The output time axis of a grouped reduction (groupby: climatology; resample: calendar periods).
struct GroupPlan {
  std::string period;                   // month, season, dayofyear, year, hour, day
  bool climatology = false;             // groupby (over all years) rather than resample
  std::vector<std::uint32_t> of;        // group of each input index along the time axis; `none` outside
  std::vector<std::size_t> size;        // input indices per group
  std::vector<double> value, lo, hi;    // output coordinate and bounds, in the input's time units
  static constexpr std::uint32_t none = 0xffffffffu;
};

// How a reduction accumulates (what the executor runs for it).
enum class ReductionKind {
  direct,      // stored values straight into the kernels (count, min, max, sums)
  derived,     // decoded values transformed first (weights, where, anomalies, frequency)
  histogram,   // counts per bin
  series,      // whole series per cell, sorted (median, quantile)
};

struct ReductionPlan {
  std::size_t index = 0;                // into JobSpec::reductions
  ReductionKind kind = ReductionKind::direct;
  std::size_t pass = 0;                 // 0, or one more than the pass of its anomaly base
  Box domain;                           // the input index range this reduction uses (select:)
  AxisMap axes;
  GroupPlan groups;                     // when axes.group_axis is set
  double values_per_cell = 1;           // input values per output cell (per group: times its size)
  std::size_t extra_dims = 0;           // quantile (first) or bin (last) output dimension
  std::size_t state_index = 0;          // index of this reduction's accumulator on its input plan
  std::vector<std::string> out_dims;
  std::vector<std::size_t> out_shape;
  std::vector<Box> state_boxes;         // per rank, output index space
  std::vector<Box> owned_boxes;         // per rank: finalised and written by that rank
  bool exchanges = false;               // partial states move between ranks
  std::uint64_t state_bytes_per_cell = 0;

  // Scalar outputs (every axis reduced) have no empty box: rank 0 owns them.
  bool owns(int rank) const { return out_shape.empty() ? rank == 0 : !empty(owned_boxes[rank]); }
  // The part of `src`'s partial state that `dst` merges (empty box: nothing to send).
  bool sends(int src, int dst, Box& sub) const {
    if (!owns(dst)) return false;
    sub = out_shape.empty() ? Box() : intersect(state_boxes[src], owned_boxes[dst]);
    return out_shape.empty() || !empty(sub);
  }
};

struct InputPlan {
  std::size_t input = 0;                // into JobSpec::inputs (and the metas)
  std::size_t pass = 0;                 // inputs are streamed once per pass
  bool whole_series = false;            // tiles hold whole reduced extents (split along kept axes only)
  Box read_box;                         // what the reductions of this plan use
  std::size_t split_axis = 0;
  std::vector<Box> rank_boxes;          // per rank, input index space
  std::vector<std::vector<Box>> tiles;  // per rank
  std::uint64_t tile_elements = 0;
  std::size_t element_bytes = 0;        // stored type
  std::vector<ReductionPlan> reductions;
};

struct Plan {
  int ranks = 1;
  std::size_t passes = 1;
  std::vector<InputPlan> inputs;
  std::uint64_t peak_bytes_per_rank(int rank) const;  // buffers + states, the estimate `plan` prints
};

// Validates the reductions against the metadata (JobError naming the job line) and plans.
Plan make_plan(const JobSpec& job, const std::vector<InputMeta>& metas, int ranks);

// The output cells (of `rp`'s output space) that the input box `b` contributes to; with
// `any_time`, the cells a time step of `b` outside the reduction's own time range looks up
// (a climatology serves anomalies of every year).
Box output_footprint(const ReductionPlan& rp, const Box& b, bool any_time = false);

// Where reduction `index` is planned.
const ReductionPlan* find_reduction(const Plan& plan, std::size_t index, const InputPlan** ip = nullptr);

// Human-readable plan for `tessera plan`.
std::string describe(const Plan& plan, const JobSpec& job, const std::vector<InputMeta>& metas);

}  // namespace tessera
