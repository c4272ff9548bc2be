#pragma once
// Exact, order-independent sums for an array of cells, in three tiers (all exact):
//  - fast:  one double per cell, while plain summation is provably exact (every value a
//           multiple of 2^q and every partial sum below 2^(53+q));
//  - split: two doubles per cell: each value v is cut at a fixed bit K into h (a multiple of
//           2^K) and l = v - h (|l| <= 2^(K-1)), summed separately; exact while both sums stay
//           within 53 bits of their quantum, which covers ~106 bits of dynamic range (e.g. the
//           squares of float32 temperatures over decades of daily data);
//  - wide:  a 640-bit fixed-point integer per cell (WideSum) at a common anchor.
// The value is the exact sum rounded once: identical at any rank count, tile size or order, and
// at least as accurate as any double-precision summation.
#include <Kokkos_Core.hpp>

#include <climits>
#include <cstdint>
#include <vector>

#include "mpi/comm.hpp"
#include "reduce/wide_sum.hpp"

namespace tessera {

class ExactSum {
 public:
  enum class Mode { fast, split, wide };
  static constexpr int no_quantum = INT_MAX;  // nothing non-zero added yet

  // How the kernel adds one batch: h = (v + split_constant) - split_constant goes to the first
  // double and v - h to the second (split_constant 0 in the fast tier), or WideSum::add(v, anchor).
  struct Batch {
    Mode mode = Mode::fast;
    double split_constant = 0.0;
    int anchor = 0;
  };

  ExactSum() = default;
  // `expected_terms`: the most values one cell will receive in the whole reduction (from the
  // plan); it lets the first batch pick a tier that the later ones will not overflow.
  explicit ExactSum(std::size_t cells, double expected_terms = 0);

  // Before adding `terms` values per cell, each a multiple of 2^qexp with |v| <= max_abs.
  Batch prepare(double max_abs, double terms, int qexp);
  // The batch prepare() returns while the tier stays as it is (nothing changed).
  Batch current() const;

  // Collective: brings every rank's array to one tier so partial states add cell by cell.
  void harmonize(const mpi::Comm& comm);
  // An empty array with the same tier and parameters (after harmonize) over `cells` cells.
  ExactSum empty_like(std::size_t cells) const;
  // Checkpoints: the tier and its bounds as bytes, and an empty array over `cells` cells in the
  // tier read back from `p` (advanced), so that saved cells merge exactly.
  void write_tier(std::vector<char>& buf) const;
  ExactSum with_tier(const char*& p, std::size_t cells) const;

  Mode mode() const { return mode_; }
  int anchor() const { return anchor_; }  // wide tier: values are integers times 2^anchor
  Kokkos::View<double*> hi() const { return hi_; }
  Kokkos::View<double*> lo() const { return lo_; }
  Kokkos::View<WideSum*> wide() const { return wide_; }

  // Host copies of the cells, for finalising and packing (no-op on host backends).
  void sync_to_host();
  Kokkos::View<double*>::HostMirror host_hi() const { return host_hi_; }
  Kokkos::View<double*>::HostMirror host_lo() const { return host_lo_; }
  Kokkos::View<WideSum*>::HostMirror host_wide() const { return host_wide_; }
  // Exact value of one cell from the host copy: correctly rounded, and as a double-double.
  double value(std::size_t cell) const;
  void value_dd(std::size_t cell, double& hi, double& lo) const;

  // Cell payload for exchange: 8 (fast), 16 (split) or sizeof(WideSum) bytes. Packing reads
  // and merging adds to the host copy (merging is exact after harmonize()).
  std::size_t cell_bytes() const;
  void pack_cell(std::vector<char>& buf, std::size_t cell) const;
  void merge_cell(const char*& data, std::size_t cell);

 private:
  void to_split(int k);
  double cap(double accumulated, double per_value, double carried) const;
  void to_wide(int anchor);

  std::size_t cells_ = 0;
  double expected_terms_ = 0;
  Mode mode_ = Mode::fast;
  Kokkos::View<double*> hi_, lo_;
  Kokkos::View<WideSum*> wide_;
  Kokkos::View<double*>::HostMirror host_hi_, host_lo_;
  Kokkos::View<WideSum*>::HostMirror host_wide_;
  // Bounds on |first| and |second| double of any cell. Batches add their bounds, which is loose
  // when they touch different cells, so both are also capped by what the plan allows a cell:
  // expected_terms_ values of at most max_seen_ (plus the split remainders), and whatever the
  // move to the split tier carried over (conv_hi_, conv_lo_).
  double hi_bound_ = 0.0, lo_bound_ = 0.0;
  double max_seen_ = 0.0, conv_hi_ = 0.0, conv_lo_ = 0.0;
  int q_ = no_quantum;                       // every value added is a multiple of 2^q_
  int k_ = 0;                                // split bit (split tier)
  double wide_bound_ = 0.0;
  int anchor_ = no_quantum;
};

}  // namespace tessera
