#pragma once
// Checkpoints of a run: partial reduction states plus the input boxes already in them, saved so
// that a later run (at any rank count) resumes where this one stopped and writes the same bytes.
//
// Layout of a checkpoint directory:
//   DIR/manifest.json        the published generation (written aside, then renamed: atomic)
//   DIR/gen-N/rank-R.state   rank R's saved states of generation N
// A generation is written completely by every rank before rank 0 publishes it, and older ones
// are removed only after, so a reader always finds either a whole checkpoint or none.
// States are saved per output cell in the global index space (each owner's merged cells), and
// progress as global input boxes: neither depends on the writer's rank count.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "decomp/box.hpp"
#include "io/metadata.hpp"
#include "job/job_spec.hpp"

namespace tessera {

// One saved piece of a reduction's state: its cells `box` (output index space) as bytes.
struct SavedState {
  std::size_t reduction = 0;
  Box box;
  std::vector<char> data;  // Accumulator::save
};

struct CheckpointManifest {
  std::uint64_t generation = 0;
  int ranks = 0;                       // how many ranks wrote it (one file each)
  std::size_t pass = 0;                // the pass in progress; earlier passes are complete
  std::vector<std::vector<Box>> done;  // per input plan (Plan::inputs order): input boxes in the states
  double seconds = 0;                  // how long writing it took (for the log)
};

std::string to_json(const CheckpointManifest& m);
CheckpointManifest manifest_from_json(const std::string& json);

// What a checkpoint must match to be reused: Tessera's version, the job file's SHA-256 (its
// every setting, memory_per_rank included) and each input file's size and modification time
// (local) or size and ETag (object storage). Rank 0 only: it stats the inputs.
std::string checkpoint_fingerprint(const JobSpec& job, const std::vector<InputMeta>& metas);

class CheckpointStore {
 public:
  explicit CheckpointStore(std::string dir) : dir_(std::move(dir)) {}
  const std::string& dir() const { return dir_; }

  // The published checkpoint, if any (rank 0). JobError/InputError when it belongs to another
  // job, Tessera version or different inputs (never reused silently). Generation folders
  // without a manifest (a run stopped while writing) are ignored with a warning on stderr.
  std::optional<CheckpointManifest> load(const std::string& fingerprint) const;
  // Every saved state of a published generation (all writer ranks' files).
  std::vector<SavedState> read_states(const CheckpointManifest& m) const;
  // The next generation number (rank 0): above every folder present.
  std::uint64_t next_generation() const;

  // Every rank: its file of generation `gen` (folder created as needed), flushed to disk.
  void write_rank(std::uint64_t gen, int rank, const std::vector<SavedState>& states) const;
  // Rank 0, after every rank wrote: makes `m` the published checkpoint, removes older generations.
  void publish(const CheckpointManifest& m, const std::string& fingerprint) const;
  // Rank 0, after a successful run: the checkpoint is of no further use.
  void remove() const;

 private:
  std::string gen_dir(std::uint64_t gen) const;
  std::string dir_;
};

}  // namespace tessera
