#pragma once
// Exact, order-independent sums for an array of cells. Two tiers per array:
//  - fast: a plain double per cell, used while plain summation is provably exact (every value
//    added is a multiple of 2^q and every partial sum stays below 2^(53+q));
//  - wide: a 256-bit fixed-point integer per cell (WideSum) at a common anchor otherwise.
// Both are exact, so the result is the exact sum rounded once: identical at any rank count,
// tile size or order, and at least as accurate as any double-precision summation.
#include <Kokkos_Core.hpp>

#include <climits>
#include <cstdint>

#include "mpi/comm.hpp"
#include "reduce/wide_sum.hpp"

namespace tessera {

class ExactSum {
 public:
  enum class Mode { fast, wide };
  static constexpr int no_quantum = INT_MAX;  // nothing added yet

  ExactSum() = default;
  explicit ExactSum(std::size_t cells);

  // Before adding a batch whose values are multiples of 2^qexp and whose per-cell sum of
  // |values| is at most `bound`: picks the tier and updates the bookkeeping (may widen).
  Mode prepare(double bound, int qexp);

  // Collective: brings every rank's array to one tier and anchor so partial states from
  // different ranks can be added cell by cell.
  void harmonize(const mpi::Comm& comm);
  // An empty array with the same tier/anchor as this one (after harmonize) over `cells` cells.
  ExactSum empty_like(std::size_t cells) const;

  Mode mode() const { return wide_used_ ? Mode::wide : Mode::fast; }
  int anchor() const { return anchor_; }
  Kokkos::View<double*> fast() const { return fast_; }
  Kokkos::View<WideSum*> wide() const { return wide_; }

  // Host copies of the cells, for finalising and packing (no-op on host backends).
  void sync_to_host();
  void sync_to_device();
  Kokkos::View<double*>::HostMirror host_fast() const { return host_fast_; }
  Kokkos::View<WideSum*>::HostMirror host_wide() const { return host_wide_; }
  // Exact value of one cell from the host copy: correctly rounded, and as a double-double.
  double value(std::size_t cell) const;
  void value_dd(std::size_t cell, double& hi, double& lo) const;

  // Cell payload for exchange: 8 bytes (fast) or sizeof(WideSum) (wide).
  std::size_t cell_bytes() const { return wide_used_ ? sizeof(WideSum) : sizeof(double); }

 private:
  void ensure_wide(int anchor);

  Kokkos::View<double*> fast_;
  Kokkos::View<WideSum*> wide_;
  Kokkos::View<double*>::HostMirror host_fast_;
  Kokkos::View<WideSum*>::HostMirror host_wide_;
  double fast_bound_ = 0.0;   // upper bound of |fast| in any cell
  int fast_q_ = no_quantum;   // every value in `fast` is a multiple of 2^fast_q_
  bool wide_used_ = false;
  double wide_bound_ = 0.0;
  int anchor_ = no_quantum;
};

}  // namespace tessera
