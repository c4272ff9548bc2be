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

struct ReductionPlan {
  std::size_t index = 0;                // into JobSpec::reductions
  AxisMap axes;
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
  std::size_t split_axis = 0;
  std::vector<Box> rank_boxes;          // per rank, input index space
  std::vector<std::vector<Box>> tiles;  // per rank
  std::uint64_t tile_elements = 0;
  std::size_t element_bytes = 0;        // stored type
  std::vector<ReductionPlan> reductions;
};

struct Plan {
  int ranks = 1;
  std::vector<InputPlan> inputs;
  std::uint64_t peak_bytes_per_rank(int rank) const;  // buffers + states, the estimate `plan` prints
};

// Validates the reductions against the metadata (JobError naming the job line) and plans.
Plan make_plan(const JobSpec& job, const std::vector<InputMeta>& metas, int ranks);

// Human-readable plan for `tessera plan`.
std::string describe(const Plan& plan, const JobSpec& job, const std::vector<InputMeta>& metas);

}  // namespace tessera
