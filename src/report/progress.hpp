#pragma once
// Progress of the read/reduce phase on rank 0's stderr: a live line on a terminal, a plain line
// every few seconds in batch logs. Rank 0's own share stands for the whole job (the plan
// balances ranks), so no communication is needed to report.
#include <chrono>
#include <cstdint>

namespace tessera {

class Progress {
 public:
  Progress(bool enabled, std::uint64_t total_bytes, int ranks);
  void advance(std::uint64_t bytes);  // rank 0's bytes
  void finish();

 private:
  void print(bool final_line);
  bool enabled_, tty_;
  std::uint64_t total_, done_ = 0;
  int ranks_;
  std::chrono::steady_clock::time_point start_, last_;
};

}  // namespace tessera
