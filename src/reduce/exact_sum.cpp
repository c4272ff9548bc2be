#include "reduce/exact_sum.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <initializer_list>

#include "core/error.hpp"

namespace tessera {
namespace {

// |sum| < 2^(bits + q) keeps a sum of multiples of 2^q exact in `bits` bits. The bounds are
// doubles that may have been rounded down by a few ulps: leave a margin.
bool fits(double bound, int q, int bits) {
  if (q == ExactSum::no_quantum) return true;
  return bound * (1.0 + 1e-12) < std::ldexp(1.0, bits + q);
}

constexpr int double_bits = 53;
constexpr int wide_bits = 64 * wide_limbs - 2;  // sign bit plus one bit of slack

[[noreturn]] void range_error() {
  throw RuntimeError("values span more than 2^600 in one reduction: exact accumulation cannot hold them; check the "
                     "input for garbage values (e.g. an unset _FillValue)");
}

// The split constant for bit k: (v + C) - C rounds v to a multiple of 2^k when |v| <= 2^(k+51).
double split_constant(int k) { return 1.5 * std::ldexp(1.0, k + 52); }

}  // namespace

ExactSum::ExactSum(std::size_t cells, double expected_terms)
    : cells_(cells), expected_terms_(expected_terms), hi_("exact_sum_hi", cells) {}

std::size_t ExactSum::cell_bytes() const {
  switch (mode_) {
    case Mode::fast: return sizeof(double);
    case Mode::split: return 2 * sizeof(double);
    case Mode::wide: return sizeof(WideSum);
  }
  return 0;
}

double ExactSum::cap(double accumulated, double per_value, double carried) const {
  if (expected_terms_ <= 0) return accumulated;
  return std::min(accumulated, carried + expected_terms_ * per_value);
}

void ExactSum::to_split(int k) {
  // Existing plain sums are cut at bit k like any value (|hi| <= 2^(k+51) is checked by the caller).
  lo_ = Kokkos::View<double*>("exact_sum_lo", cells_);
  auto h = hi_;
  auto l = lo_;
  const double c = split_constant(k);
  Kokkos::parallel_for("exact_sum_to_split", cells_, KOKKOS_LAMBDA(std::size_t i) {
    const double v = h(i), top = (v + c) - c;
    h(i) = top;
    l(i) = v - top;
  });
  if (hi_bound_ > 0) {
    lo_bound_ = std::ldexp(1.0, k - 1);
    hi_bound_ += lo_bound_;
  }
  conv_hi_ = hi_bound_;
  conv_lo_ = lo_bound_;
  k_ = k;
  mode_ = Mode::split;
}

void ExactSum::to_wide(int anchor) {
  if (mode_ == Mode::wide) {
    if (anchor < anchor_) {
      const int shift = anchor_ - anchor;
      auto w = wide_;
      Kokkos::parallel_for("exact_sum_reanchor", cells_, KOKKOS_LAMBDA(std::size_t i) { w(i).shift_left(shift); });
      anchor_ = anchor;
    }
    return;
  }
  // Move the exact doubles into the integers once; later batches all go wide.
  wide_ = Kokkos::View<WideSum*>("exact_sum_wide", cells_);
  auto w = wide_;
  auto h = hi_;
  auto l = lo_;
  const bool has_lo = mode_ == Mode::split;
  Kokkos::parallel_for("exact_sum_to_wide", cells_, KOKKOS_LAMBDA(std::size_t i) {
    w(i).add(h(i), anchor);
    h(i) = 0.0;
    if (has_lo) {
      w(i).add(l(i), anchor);
      l(i) = 0.0;
    }
  });
  wide_bound_ = hi_bound_ + lo_bound_;
  hi_bound_ = lo_bound_ = 0.0;
  anchor_ = anchor;
  mode_ = Mode::wide;
}

ExactSum::Batch ExactSum::current() const {
  Batch b;
  b.mode = mode_;
  b.split_constant = mode_ == Mode::split ? split_constant(k_) : 0.0;
  b.anchor = anchor_;
  return b;
}

ExactSum::Batch ExactSum::prepare(double max_abs, double terms, int qexp) {
  if (max_abs == 0.0 || qexp == no_quantum) return current();  // only zeros or missing values: nothing to add
  Batch b;
  const double bound = terms * max_abs;
  const int q = std::min(q_, qexp);
  max_seen_ = std::max(max_seen_, max_abs);
  if (mode_ == Mode::fast) {
    const double hb = cap(hi_bound_ + bound, max_seen_, 0.0);
    if (fits(hb, q, double_bits)) {
      hi_bound_ = hb;
      q_ = q;
      return b;
    }
    // Choose the split bit so the whole reduction fits: the first double holds the projected
    // total (with a factor 2 of slack), the second the per-value remainders of up to 2^(k-1).
    const double total_terms = std::max(expected_terms_, terms);
    const double projected = 2.0 * std::max(hb, total_terms * max_abs);
    const int k = static_cast<int>(std::ceil(std::log2(projected))) - (double_bits - 1);
    const double rem = std::ldexp(1.0, k - 1);
    if (max_abs <= std::ldexp(1.0, k + 51) && hi_bound_ <= std::ldexp(1.0, k + 51) &&
        fits(total_terms * rem + rem, q, double_bits))
      to_split(k);
  }
  if (mode_ == Mode::split) {
    const double rem = std::ldexp(1.0, k_ - 1);
    const double hb = cap(hi_bound_ + bound + terms * rem, max_seen_ + rem, conv_hi_);
    const double lb = cap(lo_bound_ + terms * rem, rem, conv_lo_);
    if (max_abs <= std::ldexp(1.0, k_ + 51) && fits(hb, k_, double_bits) && fits(lb, q, double_bits)) {
      hi_bound_ = hb;
      lo_bound_ = lb;
      q_ = q;
      b.mode = Mode::split;
      b.split_constant = split_constant(k_);
      return b;
    }
  }
  const int anchor = std::min({anchor_, q, q_});
  const double need = cap(wide_bound_ + hi_bound_ + lo_bound_ + bound, max_seen_, 0.0);
  if (!fits(need, anchor, wide_bits)) range_error();
  to_wide(anchor);
  wide_bound_ = need;
  q_ = q;
  b.mode = Mode::wide;
  b.anchor = anchor_;
  return b;
}

void ExactSum::harmonize(const mpi::Comm& comm) {
  const bool has_data = hi_bound_ > 0 || lo_bound_ > 0 || wide_bound_ > 0;
  const std::int64_t top = comm.allreduce_max(std::int64_t(has_data ? static_cast<int>(mode_) : 0));
  const int q = static_cast<int>(comm.allreduce_min(std::int64_t(std::min(q_, anchor_))));
  // Partial sums of different ranks add up; the plan's cap holds for the total too.
  max_seen_ = comm.allreduce_max(max_seen_);
  const double conv_hi = comm.allreduce_sum(conv_hi_), conv_lo = comm.allreduce_sum(conv_lo_);
  // Ranks agree on the split bit only if they chose the same one; a rank without data takes it.
  const std::int64_t k_min = comm.allreduce_min(std::int64_t(has_data && mode_ == Mode::split ? k_ : INT_MAX));
  const std::int64_t k_max = comm.allreduce_max(std::int64_t(has_data && mode_ == Mode::split ? k_ : INT_MIN));
  const bool fast_with_data = comm.allreduce_max(std::int64_t(has_data && mode_ == Mode::fast)) != 0;
  const double rem = k_max == INT_MIN ? 0.0 : std::ldexp(1.0, static_cast<int>(k_max) - 1);
  const double hi_total = cap(comm.allreduce_sum(hi_bound_), max_seen_ + rem, conv_hi);
  const double lo_total = cap(comm.allreduce_sum(lo_bound_), rem, conv_lo);
  const double all_total = cap(comm.allreduce_sum(hi_bound_ + lo_bound_ + wide_bound_), max_seen_, 0.0);
  if (top == static_cast<int>(Mode::fast) && fits(hi_total, q, double_bits)) {
    hi_bound_ = hi_total;  // plain double addition of the partial sums is exact
    q_ = q;
    return;
  }
  if (top == static_cast<int>(Mode::split)) {
    if (k_min == k_max && !fast_with_data && fits(hi_total, static_cast<int>(k_min), double_bits) &&
        fits(lo_total, q, double_bits)) {
      if (mode_ != Mode::split) to_split(static_cast<int>(k_min));
      hi_bound_ = hi_total;
      lo_bound_ = lo_total;
      q_ = q;
      return;
    }
  }
  if (q == no_quantum) return;
  if (!fits(all_total, q, wide_bits)) range_error();
  to_wide(q);
  wide_bound_ = all_total;
  q_ = q;
}

ExactSum ExactSum::empty_like(std::size_t cells) const {
  ExactSum e(cells, expected_terms_);
  e.mode_ = mode_;
  e.hi_bound_ = hi_bound_;
  e.lo_bound_ = lo_bound_;
  e.q_ = q_;
  e.k_ = k_;
  e.wide_bound_ = wide_bound_;
  e.anchor_ = anchor_;
  e.max_seen_ = max_seen_;
  e.conv_hi_ = conv_hi_;
  e.conv_lo_ = conv_lo_;
  if (mode_ == Mode::split) e.lo_ = Kokkos::View<double*>("exact_sum_lo", cells);
  if (mode_ == Mode::wide) e.wide_ = Kokkos::View<WideSum*>("exact_sum_wide", cells);
  return e;
}

namespace {
template <class T>
void put_value(std::vector<char>& buf, const T& v) {
  const char* p = reinterpret_cast<const char*>(&v);
  buf.insert(buf.end(), p, p + sizeof(T));
}
template <class T>
T take_value(const char*& p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  p += sizeof(T);
  return v;
}
}  // namespace

void ExactSum::write_tier(std::vector<char>& buf) const {
  put_value(buf, static_cast<std::int32_t>(mode_));
  put_value(buf, static_cast<std::int32_t>(q_));
  put_value(buf, static_cast<std::int32_t>(k_));
  put_value(buf, static_cast<std::int32_t>(anchor_));
  for (double d : {hi_bound_, lo_bound_, wide_bound_, max_seen_, conv_hi_, conv_lo_}) put_value(buf, d);
}

ExactSum ExactSum::with_tier(const char*& p, std::size_t cells) const {
  ExactSum e(cells, expected_terms_);
  const auto mode = take_value<std::int32_t>(p);
  if (mode < 0 || mode > static_cast<int>(Mode::wide)) throw RuntimeError("checkpoint holds an unknown exact-sum tier");
  e.mode_ = static_cast<Mode>(mode);
  e.q_ = take_value<std::int32_t>(p);
  e.k_ = take_value<std::int32_t>(p);
  e.anchor_ = take_value<std::int32_t>(p);
  for (double* d : {&e.hi_bound_, &e.lo_bound_, &e.wide_bound_, &e.max_seen_, &e.conv_hi_, &e.conv_lo_})
    *d = take_value<double>(p);
  if (e.mode_ == Mode::split) e.lo_ = Kokkos::View<double*>("exact_sum_lo", cells);
  if (e.mode_ == Mode::wide) e.wide_ = Kokkos::View<WideSum*>("exact_sum_wide", cells);
  return e;
}

void ExactSum::sync_to_host() {
  host_hi_ = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), hi_);
  if (mode_ == Mode::split) host_lo_ = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), lo_);
  if (mode_ == Mode::wide) host_wide_ = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), wide_);
}

double ExactSum::value(std::size_t cell) const {
  switch (mode_) {
    case Mode::fast: return host_hi_(cell);
    case Mode::split: return host_hi_(cell) + host_lo_(cell);  // one rounding of an exact pair
    case Mode::wide: return wide_to_double(host_wide_(cell), anchor_);
  }
  return 0.0;
}

void ExactSum::value_dd(std::size_t cell, double& hi, double& lo) const {
  switch (mode_) {
    case Mode::fast:
      hi = host_hi_(cell), lo = 0.0;
      return;
    case Mode::split: {
      const double a = host_hi_(cell), b = host_lo_(cell), s = a + b, bb = s - a;
      hi = s, lo = (a - (s - bb)) + (b - bb);  // two-sum: exact
      return;
    }
    case Mode::wide: wide_to_double_double(host_wide_(cell), anchor_, hi, lo); return;
  }
}

void ExactSum::pack_cell(std::vector<char>& buf, std::size_t cell) const {
  auto put = [&](const void* p, std::size_t n) {
    buf.insert(buf.end(), static_cast<const char*>(p), static_cast<const char*>(p) + n);
  };
  switch (mode_) {
    case Mode::fast: put(&host_hi_(cell), sizeof(double)); break;
    case Mode::split: put(&host_hi_(cell), sizeof(double)), put(&host_lo_(cell), sizeof(double)); break;
    case Mode::wide: put(&host_wide_(cell), sizeof(WideSum)); break;
  }
}

void ExactSum::merge_cell(const char*& data, std::size_t cell) {
  auto take = [&](void* p, std::size_t n) {
    std::memcpy(p, data, n);
    data += n;
  };
  double a = 0, b = 0;
  WideSum w;
  switch (mode_) {
    case Mode::fast: take(&a, sizeof a), host_hi_(cell) += a; break;
    case Mode::split: take(&a, sizeof a), take(&b, sizeof b), host_hi_(cell) += a, host_lo_(cell) += b; break;
    case Mode::wide: take(&w, sizeof w), host_wide_(cell).add(w); break;
  }
}

}  // namespace tessera
