#pragma once
// `select:` by coordinate values. A selection turns an input into a view: per axis, the pieces
// of the stored axis that form the selected one, in order (two pieces for a longitude range
// across the grid's seam). Everything above the reader works in the view's index space, so
// plans, reductions and outputs need not know a selection was made.
#include <memory>
#include <string>
#include <vector>

#include "decomp/box.hpp"
#include "io/metadata.hpp"
#include "io/source.hpp"
#include "job/job_spec.hpp"

namespace tessera {

struct Segment {
  std::size_t start = 0, count = 0;  // in the stored axis
  double shift = 0;                  // added to coordinate values (whole turns of longitude)
};

struct Selection {
  std::vector<std::vector<Segment>> axes;  // per axis; one segment covering the axis when unselected
  bool identity(const std::vector<std::size_t>& shape) const;
};

struct SelectedInput {
  InputMeta stored;  // the input, with the files the selection does not touch dropped
  InputMeta view;    // what the selection shows: shape and coordinates of the selected part
  Selection sel;     // view -> stored
};

// Resolves the per-axis index ranges `specs` select in `meta` (JobError naming `job_file` and
// the key's line, with the available range, when a value is malformed or selects nothing).
Selection resolve_selection(const InputMeta& meta, const std::vector<SelectSpec>& specs, const std::string& job_file,
                            const std::string& what);

SelectedInput apply_selection(const InputMeta& meta, const Selection& sel);

// A reader of the view: reads the stored pieces a view box covers. Over a collective reader it
// makes the same number of reads on every rank (empty ones where a box misses a piece).
std::unique_ptr<Source> open_selected(const SelectedInput& in, const mpi::Comm* comm);

}  // namespace tessera
