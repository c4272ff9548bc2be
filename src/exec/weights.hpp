#pragma once
// Weights for `weights:` reductions, built on every rank from metadata (and a small variable read
// when the file names its cell areas): area weights from `cell_measures`, else from latitude and
// longitude bounds (exact spherical cell areas), else cos(latitude) on a regular grid.
#include <vector>

#include "exec/accumulator.hpp"
#include "io/selection.hpp"
#include "job/job_spec.hpp"

namespace tessera {

WeightField make_weights(const JobSpec& job, const ReductionSpec& r, const SelectedInput& in,
                         const std::vector<SelectedInput>& inputs);

}  // namespace tessera
