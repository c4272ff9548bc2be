#include "reduce/exact_sum.hpp"

#include <algorithm>
#include <cmath>

#include "core/error.hpp"

namespace tessera {
namespace {

// |sum| < 2^(bits + q) keeps a sum of multiples of 2^q exact in `bits` bits. The bound is
// a double that may have been rounded down by at most a few ulps: leave a margin.
bool fits(double bound, int q, int bits) {
  if (q == ExactSum::no_quantum) return true;
  return bound * (1.0 + 1e-12) < std::ldexp(1.0, bits + q);
}

constexpr int fast_bits = 53;
constexpr int wide_bits = 64 * wide_limbs - 2;  // sign bit plus one bit of slack

void range_error() {
  throw RuntimeError(
      "values span more than 2^250 in one reduction: exact accumulation cannot hold them; check the input "
      "for garbage values (e.g. an unset _FillValue)");
}

}  // namespace

ExactSum::ExactSum(std::size_t cells) : fast_("exact_sum_fast", cells) {}

void ExactSum::ensure_wide(int anchor) {
  if (!wide_used_) {
    wide_ = Kokkos::View<WideSum*>("exact_sum_wide", fast_.extent(0));
    wide_used_ = true;
    anchor_ = anchor;
    return;
  }
  if (anchor < anchor_) {
    const int k = anchor_ - anchor;
    auto w = wide_;
    Kokkos::parallel_for("exact_sum_reanchor", w.extent(0), KOKKOS_LAMBDA(std::size_t i) { w(i).shift_left(k); });
    anchor_ = anchor;
  }
}

ExactSum::Mode ExactSum::prepare(double bound, int qexp) {
  if (bound == 0.0 || qexp == no_quantum) return mode();  // only zeros or missing values
  const int q = std::min(fast_q_, qexp);
  if (!wide_used_ && fits(fast_bound_ + bound, q, fast_bits)) {
    fast_bound_ += bound;
    fast_q_ = q;
    return Mode::fast;
  }
  const int a = std::min({anchor_, qexp, fast_q_});
  const double need = wide_bound_ + fast_bound_ + bound;
  if (!fits(need, a, wide_bits)) range_error();
  const bool first = !wide_used_;
  ensure_wide(a);
  if (first && fast_bound_ > 0) {
    // Move the exact fast sums into the wide tier once; later batches all go wide.
    auto f = fast_;
    auto w = wide_;
    const int anchor = anchor_;
    Kokkos::parallel_for("exact_sum_spill", f.extent(0), KOKKOS_LAMBDA(std::size_t i) {
      w(i).add(f(i), anchor);
      f(i) = 0.0;
    });
  }
  wide_bound_ = need;
  fast_bound_ = 0.0;
  fast_q_ = no_quantum;
  return Mode::wide;
}

void ExactSum::harmonize(const mpi::Comm& comm) {
  const bool any_wide = comm.allreduce_max(std::int64_t(wide_used_)) != 0;
  const int q = static_cast<int>(comm.allreduce_min(std::int64_t(std::min(fast_q_, anchor_))));
  const double total = comm.allreduce_sum(fast_bound_ + wide_bound_);
  if (!any_wide && fits(total, q, fast_bits)) {
    fast_bound_ = total;
    fast_q_ = q;
    return;  // plain double addition of the partial sums is exact
  }
  if (!fits(total, q, wide_bits)) range_error();
  if (q == no_quantum) return;
  const bool had_fast = !wide_used_;
  ensure_wide(q);
  if (had_fast && fast_bound_ > 0) {
    auto f = fast_;
    auto w = wide_;
    const int anchor = anchor_;
    Kokkos::parallel_for("exact_sum_spill", f.extent(0), KOKKOS_LAMBDA(std::size_t i) {
      w(i).add(f(i), anchor);
      f(i) = 0.0;
    });
  }
  wide_bound_ = total;
  fast_bound_ = 0.0;
  fast_q_ = no_quantum;
}

ExactSum ExactSum::empty_like(std::size_t cells) const {
  ExactSum e(cells);
  e.fast_bound_ = fast_bound_;
  e.fast_q_ = fast_q_;
  e.wide_bound_ = wide_bound_;
  e.anchor_ = anchor_;
  if (wide_used_) {
    e.wide_ = Kokkos::View<WideSum*>("exact_sum_wide", cells);
    e.wide_used_ = true;
  }
  return e;
}

void ExactSum::sync_to_host() {
  host_fast_ = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), fast_);
  if (wide_used_) host_wide_ = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), wide_);
}

void ExactSum::sync_to_device() {
  Kokkos::deep_copy(fast_, host_fast_);
  if (wide_used_) Kokkos::deep_copy(wide_, host_wide_);
}

double ExactSum::value(std::size_t cell) const {
  if (!wide_used_) return host_fast_(cell);
  return wide_to_double(host_wide_(cell), anchor_);
}

void ExactSum::value_dd(std::size_t cell, double& hi, double& lo) const {
  if (!wide_used_) {
    hi = host_fast_(cell);
    lo = 0.0;
    return;
  }
  wide_to_double_double(host_wide_(cell), anchor_, hi, lo);
}

}  // namespace tessera
