#pragma once
// Weights for `weights:` reductions, built by rank 0 from metadata (and a small variable read when
// the job or the file names one: local, remote or Zarr) and broadcast: area weights from
// `cell_measures`, else from latitude and longitude bounds (exact spherical cell areas), else
// cos(latitude) on a regular grid.
#include <map>
#include <string>
#include <vector>

#include "exec/accumulator.hpp"
#include "io/selection.hpp"
#include "job/job_spec.hpp"

namespace tessera {

// Built by rank 0 alone (a remote input's weights variable costs a scan and a read) and broadcast
// as bytes: these two pack a job's weights (by reduction index) and unpack them bit for bit.
std::string weights_to_bytes(const std::map<std::size_t, WeightField>& weights);
std::map<std::size_t, WeightField> weights_from_bytes(const std::string& bytes);

WeightField make_weights(const JobSpec& job, const ReductionSpec& r, const SelectedInput& in,
                         const std::vector<SelectedInput>& inputs);

}  // namespace tessera
