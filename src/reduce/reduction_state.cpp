#include "reduce/reduction_state.hpp"

#include <cmath>
#include <cstring>
#include <limits>

#include "core/error.hpp"

namespace tessera {
namespace {

constexpr int max_dims = 8;

// Maps (output cell of the tile, reduced element) to offsets in the tile and in the state.
struct TileIndexer {
  int nk = 0, nr = 0;
  std::size_t kcount[max_dims] = {}, ktile[max_dims] = {}, kstate[max_dims] = {};
  std::size_t rcount[max_dims] = {}, rtile[max_dims] = {};
  std::size_t base_state = 0, cells = 1, reduced = 1;

  TileIndexer(const Box& tile, const Box& state_box, const AxisMap& axes) {
    if (axes.kept.size() > max_dims || axes.reduced.size() > max_dims)
      throw InputError("variables with more than 8 dimensions are not supported");
    const auto ts = row_major_strides(tile.count);
    const auto ss = row_major_strides(state_box.count);
    nk = static_cast<int>(axes.kept.size());
    nr = static_cast<int>(axes.reduced.size());
    for (int j = 0; j < nk; ++j) {
      const std::size_t a = axes.kept[j];
      kcount[j] = tile.count[a];
      ktile[j] = ts[a];
      kstate[j] = ss[j];
      base_state += (tile.start[a] - state_box.start[j]) * ss[j];
      cells *= tile.count[a];
    }
    for (int j = 0; j < nr; ++j) {
      rcount[j] = tile.count[axes.reduced[j]];
      rtile[j] = ts[axes.reduced[j]];
      reduced *= rcount[j];
    }
  }

  KOKKOS_INLINE_FUNCTION void cell(std::size_t c, std::size_t& tile_off, std::size_t& state_idx) const {
    tile_off = 0;
    state_idx = base_state;
    for (int j = nk - 1; j >= 0; --j) {
      const std::size_t i = c % kcount[j];
      c /= kcount[j];
      tile_off += i * ktile[j];
      state_idx += i * kstate[j];
    }
  }
};

// ---- double-double arithmetic for the variance's final subtraction ----
struct DD {
  double hi, lo;
};
DD quick_two_sum(double a, double b) {
  const double s = a + b;
  return {s, b - (s - a)};
}
DD two_sum(double a, double b) {
  const double s = a + b, bb = s - a;
  return {s, (a - (s - bb)) + (b - bb)};
}
DD dd_mul(DD a, DD b) {
  const double p = a.hi * b.hi;
  double e = std::fma(a.hi, b.hi, -p);
  e += a.hi * b.lo + a.lo * b.hi;
  return quick_two_sum(p, e);
}
DD dd_div(DD a, double d) {
  const double q1 = a.hi / d;
  const double p = q1 * d, pe = std::fma(q1, d, -p);
  const double r = ((a.hi - p) - pe) + a.lo;
  return quick_two_sum(q1, r / d);
}
DD dd_sub(DD a, DD b) {
  DD s = two_sum(a.hi, -b.hi);
  s.lo += a.lo - b.lo;
  return quick_two_sum(s.hi, s.lo);
}

template <class T>
void put(std::vector<char>& buf, const T& v) {
  const char* p = reinterpret_cast<const char*>(&v);
  buf.insert(buf.end(), p, p + sizeof(T));
}
template <class T>
T take(const char*& p) {
  T v;
  std::memcpy(&v, p, sizeof(T));
  p += sizeof(T);
  return v;
}

// Visits the cells of `sub` (row-major) with their index in `box`.
template <class F>
void for_each_cell(const Box& box, const Box& sub, F&& f) {
  if (empty(sub)) return;
  const auto bs = row_major_strides(box.count);
  const std::size_t n = sub.rank();
  std::vector<std::size_t> idx(n, 0);
  const std::uint64_t total = volume(sub);
  for (std::uint64_t k = 0; k < total; ++k) {
    std::size_t cell = 0;
    for (std::size_t j = 0; j < n; ++j) cell += (sub.start[j] + idx[j] - box.start[j]) * bs[j];
    f(cell);
    for (std::size_t j = n; j-- > 0;) {
      if (++idx[j] < sub.count[j]) break;
      idx[j] = 0;
    }
  }
}

}  // namespace

StateNeeds StateNeeds::for_op(Op op) {
  StateNeeds n;
  n.minmax = op == Op::min || op == Op::max;
  n.sum = op == Op::sum || op == Op::mean || op == Op::var || op == Op::std;
  n.sumsq = op == Op::var || op == Op::std;
  return n;
}

ReductionState::ReductionState(const Box& out_box, StateNeeds needs, int mantissa_bits)
    : box_(out_box), cells_(empty(out_box) ? 0 : static_cast<std::size_t>(volume(out_box))), needs_(needs),
      mantissa_bits_(mantissa_bits), count_("count", cells_) {
  if (needs_.minmax) {
    min_ = Kokkos::View<double*>("min", cells_);
    max_ = Kokkos::View<double*>("max", cells_);
    Kokkos::deep_copy(min_, std::numeric_limits<double>::infinity());
    Kokkos::deep_copy(max_, -std::numeric_limits<double>::infinity());
  }
  if (needs_.sum) sum_ = ExactSum(cells_);
  if (needs_.sumsq) sumsq_ = ExactSum(cells_);
}

std::size_t ReductionState::bytes_per_cell() const {
  std::size_t b = sizeof(std::int64_t);
  if (needs_.minmax) b += 2 * sizeof(double);
  if (needs_.sum) b += sum_.cell_bytes();
  if (needs_.sumsq) b += sumsq_.cell_bytes();
  return b;
}

void ReductionState::add_tile(const TileValues& values, const Box& tile_box, const AxisMap& axes,
                              const TileStats& stats) {
  const TileIndexer ix(tile_box, box_, axes);
  if (ix.cells == 0 || ix.reduced == 0) return;
  const double n = static_cast<double>(ix.reduced);
  const bool sum_fast = !needs_.sum || sum_.prepare(n * stats.max_abs, stats.min_qexp) == ExactSum::Mode::fast;
  // x^2 = p + e exactly (fma); e is zero for float and small integer inputs.
  const double sq_terms = mantissa_bits_ == 23 ? 1.0 : 2.0;
  const int sq_q = stats.min_qexp == ExactSum::no_quantum ? ExactSum::no_quantum : 2 * stats.min_qexp;
  const bool sq_fast =
      !needs_.sumsq ||
      sumsq_.prepare(sq_terms * n * stats.max_abs * stats.max_abs, sq_q) == ExactSum::Mode::fast;

  auto v = values;
  auto cnt = count_;
  auto mn = min_;
  auto mx = max_;
  auto sf = sum_.fast();
  auto sw = sum_.wide();
  auto qf = sumsq_.fast();
  auto qw = sumsq_.wide();
  const int sa = sum_.anchor(), qa = sumsq_.anchor();
  const bool do_minmax = needs_.minmax, do_sum = needs_.sum, do_sq = needs_.sumsq;
  Kokkos::parallel_for(
      "reduce_tile", ix.cells, KOKKOS_LAMBDA(std::size_t c) {
        std::size_t off, s;
        ix.cell(c, off, s);
        std::int64_t k = 0;
        double lo = 0, hi = 0, fs = 0, fq = 0;
        if (do_minmax) lo = mn(s), hi = mx(s);
        WideSum ws, wq;
        std::size_t r[max_dims] = {};
        for (std::size_t e = 0; e < ix.reduced; ++e) {
          const double x = v(off);
          if (is_valid(x)) {
            ++k;
            if (do_minmax) {
              lo = x < lo ? x : lo;
              hi = x > hi ? x : hi;
            }
            if (do_sum) {
              if (sum_fast) fs += x;
              else ws.add(x, sa);
            }
            if (do_sq) {
              const double p = x * x, pe = fma(x, x, -p);
              if (sq_fast) fq += p, fq += pe;
              else wq.add(p, qa), wq.add(pe, qa);
            }
          }
          // Odometer over the reduced axes, innermost first.
          for (int j = ix.nr - 1; j >= 0; --j) {
            off += ix.rtile[j];
            if (++r[j] < ix.rcount[j]) break;
            off -= ix.rcount[j] * ix.rtile[j];
            r[j] = 0;
          }
        }
        cnt(s) += k;
        if (do_minmax) mn(s) = lo, mx(s) = hi;
        if (do_sum) {
          if (sum_fast) sf(s) += fs;
          else sw(s).add(ws);
        }
        if (do_sq) {
          if (sq_fast) qf(s) += fq;
          else qw(s).add(wq);
        }
      });
  host_current_ = false;
}

void ReductionState::harmonize(const mpi::Comm& comm) {
  if (needs_.sum) sum_.harmonize(comm);
  if (needs_.sumsq) sumsq_.harmonize(comm);
}

ReductionState ReductionState::empty_like(const Box& box) const {
  ReductionState s(box, needs_, mantissa_bits_);
  if (needs_.sum) s.sum_ = sum_.empty_like(s.cells_);
  if (needs_.sumsq) s.sumsq_ = sumsq_.empty_like(s.cells_);
  return s;
}

void ReductionState::sync_to_host() {
  if (host_current_) return;
  host_count_ = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), count_);
  if (needs_.minmax) {
    host_min_ = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), min_);
    host_max_ = Kokkos::create_mirror_view_and_copy(Kokkos::HostSpace(), max_);
  }
  if (needs_.sum) sum_.sync_to_host();
  if (needs_.sumsq) sumsq_.sync_to_host();
  host_current_ = true;
}

std::vector<char> ReductionState::pack(const Box& sub) {
  sync_to_host();
  std::vector<char> buf;
  buf.reserve(static_cast<std::size_t>(volume(sub)) * bytes_per_cell());
  const auto sum_f = sum_.host_fast(), sq_f = sumsq_.host_fast();
  const auto sum_w = sum_.host_wide(), sq_w = sumsq_.host_wide();
  const bool sum_wide = needs_.sum && sum_.mode() == ExactSum::Mode::wide;
  const bool sq_wide = needs_.sumsq && sumsq_.mode() == ExactSum::Mode::wide;
  for_each_cell(box_, sub, [&](std::size_t c) {
    put(buf, host_count_(c));
    if (needs_.minmax) put(buf, host_min_(c)), put(buf, host_max_(c));
    if (needs_.sum) sum_wide ? put(buf, sum_w(c)) : put(buf, sum_f(c));
    if (needs_.sumsq) sq_wide ? put(buf, sq_w(c)) : put(buf, sq_f(c));
  });
  return buf;
}

void ReductionState::merge_packed(const Box& sub, const char* data, std::size_t size) {
  sync_to_host();
  if (size != static_cast<std::size_t>(volume(sub)) * bytes_per_cell())
    throw RuntimeError("internal error: partial state of " + to_string(sub) + " has " + std::to_string(size) +
                       " bytes, expected " + std::to_string(volume(sub) * bytes_per_cell()));
  auto sum_f = sum_.host_fast(), sq_f = sumsq_.host_fast();
  auto sum_w = sum_.host_wide(), sq_w = sumsq_.host_wide();
  const bool sum_wide = needs_.sum && sum_.mode() == ExactSum::Mode::wide;
  const bool sq_wide = needs_.sumsq && sumsq_.mode() == ExactSum::Mode::wide;
  const char* p = data;
  for_each_cell(box_, sub, [&](std::size_t c) {
    host_count_(c) += take<std::int64_t>(p);
    if (needs_.minmax) {
      host_min_(c) = std::min(host_min_(c), take<double>(p));
      host_max_(c) = std::max(host_max_(c), take<double>(p));
    }
    // Exact by harmonize(): fast sums add without rounding, wide ones are integers.
    if (needs_.sum) sum_wide ? sum_w(c).add(take<WideSum>(p)) : void(sum_f(c) += take<double>(p));
    if (needs_.sumsq) sq_wide ? sq_w(c).add(take<WideSum>(p)) : void(sq_f(c) += take<double>(p));
  });
}

std::vector<double> ReductionState::finalize(Op op, int ddof, const Decoding& dec) {
  sync_to_host();
  std::vector<double> out(cells_, std::nan(""));
  const double scale = dec.packed ? dec.scale : 1.0, offset = dec.packed ? dec.offset : 0.0;
  for (std::size_t c = 0; c < cells_; ++c) {
    const std::int64_t n = host_count_(c);
    if (op == Op::count) {
      out[c] = static_cast<double>(n);
      continue;
    }
    if (n == 0) continue;
    const double dn = static_cast<double>(n);
    switch (op) {
      case Op::sum: out[c] = sum_.value(c) * scale + offset * dn; break;
      case Op::mean: out[c] = sum_.value(c) / dn * scale + offset; break;
      case Op::min: out[c] = (scale >= 0 ? host_min_(c) : host_max_(c)) * scale + offset; break;
      case Op::max: out[c] = (scale >= 0 ? host_max_(c) : host_min_(c)) * scale + offset; break;
      case Op::var:
      case Op::std: {
        if (n - ddof <= 0) break;
        DD s1, s2;
        sum_.value_dd(c, s1.hi, s1.lo);
        sumsq_.value_dd(c, s2.hi, s2.lo);
        const DD m2 = dd_sub(s2, dd_div(dd_mul(s1, s1), dn));  // exact sums in, ~106 bits out
        double var = (m2.hi + m2.lo) / static_cast<double>(n - ddof);
        if (var < 0) var = 0;  // only from the last-bit rounding of an exactly zero variance
        var *= scale * scale;
        out[c] = op == Op::var ? var : std::sqrt(var);
        break;
      }
      case Op::count: break;
    }
  }
  return out;
}

}  // namespace tessera
