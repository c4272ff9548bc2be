// Partial reduction states built on every rank from an uneven share of a deterministic dataset,
// harmonised, exchanged with alltoallv and merged into owned boxes, must finalise to exactly the
// bits a single rank gets from the whole dataset, at any rank count. Also: agree / run_phase.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "cf/decoding.hpp"
#include "core/error.hpp"
#include "decomp/box.hpp"
#include "mpi/comm.hpp"
#include "mpi/phase.hpp"
#include "reduce/reduction_state.hpp"

namespace tessera {
namespace {

using Sizes = std::vector<std::size_t>;

const Sizes shape{11, 3, 70};  // (time, lat, lon); lon > 64 so kernels split runs

std::uint64_t bits_of(double x) {
  std::uint64_t b;
  std::memcpy(&b, &x, sizeof b);
  return b;
}

// A stateless hash of the index, so every rank generates identical data independently.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}
double unit(std::size_t i, std::uint64_t salt) { return static_cast<double>(mix(i * 7919 + salt) >> 11) * 0x1p-53; }

enum class Kind {
  integers,      // int32 in [-1000, 1000] with a _FillValue: fast tier everywhere
  scaled,        // doubles scaled by 2^(-3t): wide tier with a different anchor on every rank
  tiny_at_end,   // floats in +-[1, 100) plus 1e-20 in the last two steps: wide on the last rank only
};

struct Dataset {
  DType type;
  std::vector<std::int32_t> i32;
  std::vector<float> f32;
  std::vector<double> f64;
  Decoding dec;
  const void* data() const {
    return type == DType::i32 ? static_cast<const void*>(i32.data())
                              : type == DType::f32 ? static_cast<const void*>(f32.data()) : static_cast<const void*>(f64.data());
  }
  std::size_t element_bytes() const { return dtype_size(type); }
};

Dataset make_dataset(Kind kind) {
  Dataset d;
  VariableInfo var;
  var.name = "v";
  var.dims = {"time", "lat", "lon"};
  var.shape = shape;
  const std::size_t n = shape[0] * shape[1] * shape[2];
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t t = i / (shape[1] * shape[2]);
    const bool missing = unit(i, 1) < 0.1;
    const double u = unit(i, 2);
    switch (kind) {
      case Kind::integers:
        d.i32.push_back(missing ? -999999 : static_cast<std::int32_t>(std::floor(u * 2001)) - 1000);
        break;
      case Kind::scaled:
        d.f64.push_back(missing ? std::nan("")
                                : (u < 0.5 ? -1 : 1) * (1 + 99 * unit(i, 3)) * std::ldexp(1.0, -3 * static_cast<int>(t)));
        break;
      case Kind::tiny_at_end: {
        float x = static_cast<float>((1 + 99 * u) * (unit(i, 3) < 0.5 ? -1 : 1));
        if (t >= 9 && i % 5 == 0) x = 1e-20f;
        d.f32.push_back(missing ? std::nanf("") : x);
        break;
      }
    }
  }
  switch (kind) {
    case Kind::integers:
      d.type = var.type = DType::i32;
      var.attrs = {Attribute::make_number("_FillValue", DType::i32, {-999999}),
                   Attribute::make_number("scale_factor", DType::f64, {0.25}),
                   Attribute::make_number("add_offset", DType::f64, {-3.0})};
      break;
    case Kind::scaled: d.type = var.type = DType::f64; break;
    case Kind::tiny_at_end: d.type = var.type = DType::f32; break;
  }
  d.dec = decoding_for(var, "test");
  return d;
}

// A copy of the stored values of `b` (C order), as a reader would produce.
std::vector<char> read(const Dataset& d, const Box& b) {
  const std::size_t es = d.element_bytes();
  std::vector<char> out;
  const auto strides = row_major_strides(shape);
  Sizes idx(b.start);
  for (std::uint64_t k = 0; k < volume(b); ++k) {
    std::size_t off = 0;
    for (std::size_t j = 0; j < 3; ++j) off += idx[j] * strides[j];
    const char* p = static_cast<const char*>(d.data()) + off * es;
    out.insert(out.end(), p, p + es);
    for (std::size_t j = 3; j-- > 0;) {
      if (++idx[j] < b.start[j] + b.count[j]) break;
      idx[j] = b.start[j];
    }
  }
  return out;
}

// Streams `box` into `st` in tiles of `tile_elems` and work regions of `region_elems`.
void accumulate(ReductionState& st, const Dataset& d, const Box& box, const AxisMap& axes, std::uint64_t tile_elems,
                std::uint64_t region_elems) {
  for (const Box& t : tile(box, tile_elems, {1, 1, 1})) {
    const std::vector<char> buf = read(d, t);
    const RawTile rt{d.type, buf.data(), t};
    for (const Box& region : split_to_budget(t, region_elems, axes.reduced)) {
      const TileStats stats = region_stats(rt, region, d.dec);
      st.add(rt, region, axes, stats, d.dec);
    }
  }
}

AxisMap axes_over(const Sizes& reduced) {
  AxisMap m;
  m.reduced = reduced;
  for (std::size_t i = 0; i < 3; ++i)
    if (std::find(reduced.begin(), reduced.end(), i) == reduced.end()) m.kept.push_back(i);
  return m;
}

// Rank r's share of the time axis: quadratic cut points, so shares are uneven and, with 4
// ranks, rank 0's is empty.
Box rank_box(int r, int p) {
  const std::size_t T = shape[0];
  const std::size_t lo = T * r * r / (p * p), hi = T * (r + 1) * (r + 1) / (p * p);
  return Box({lo, 0, 0}, {hi - lo, shape[1], shape[2]});
}

Box zero_box(std::size_t rank) { return Box(Sizes(rank, 0), Sizes(rank, 0)); }

Sizes out_shape(const AxisMap& axes) {
  Sizes s;
  for (auto k : axes.kept) s.push_back(shape[k]);
  return s;
}

// The part of the output rank r finalises: slabs of the last output axis (rank 0 for scalars).
Box owned_box(const AxisMap& axes, int r, int p) {
  const Sizes os = out_shape(axes);
  if (os.empty()) return Box();
  Box b = Box::whole(os);
  const std::size_t last = os.size() - 1, n = os[last];
  b.start[last] = n * r / p;
  b.count[last] = n * (r + 1) / p - n * r / p;
  return b;
}

Box state_box(const AxisMap& axes, int r, int p) {
  const Box rb = rank_box(r, p);
  if (axes.kept.empty()) return Box();  // scalar: every rank holds one cell (count 0 if no data)
  return empty(rb) ? zero_box(axes.kept.size()) : project_out(rb, axes.reduced);
}

struct Case {
  Op op;
  int ddof;
};

// Runs the distributed pipeline for one op and compares with the local full computation.
void check_distributed(const Dataset& d, const AxisMap& axes, Case c, const std::string& label) {
  const mpi::Comm world = mpi::Comm::world();
  const int me = world.rank(), p = world.size();
  const StateNeeds needs = StateNeeds::for_op(c.op);

  ReductionState st(state_box(axes, me, p), needs, d.dec.mantissa_bits);
  const Box mine = rank_box(me, p);
  if (!empty(mine)) accumulate(st, d, mine, axes, 150 + 37 * me, 64 + 11 * me);  // rank-specific tiling
  st.harmonize(world);

  std::vector<std::vector<char>> send(p);
  for (int dst = 0; dst < p; ++dst) {
    const Box own = owned_box(axes, dst, p);
    if (axes.kept.empty()) {
      if (dst == 0) send[dst] = st.pack(Box());
      continue;
    }
    const Box sub = intersect(st.box(), own);
    if (!empty(st.box()) && !empty(sub)) send[dst] = st.pack(sub);
  }
  const auto recv = world.alltoallv(send);

  const Box own = owned_box(axes, me, p);
  const bool owner = axes.kept.empty() ? me == 0 : !empty(own);
  if (!owner) {
    for (int src = 0; src < p; ++src) EXPECT_TRUE(recv[src].empty()) << label << ": unexpected data from " << src;
    return;
  }
  ReductionState merged = st.empty_like(own);
  for (int src = 0; src < p; ++src) {
    if (axes.kept.empty()) {
      ASSERT_FALSE(recv[src].empty()) << label << ": nothing from rank " << src;
      merged.merge_packed(Box(), recv[src].data(), recv[src].size());
      continue;
    }
    const Box sub = intersect(state_box(axes, src, p), own);
    if (empty(state_box(axes, src, p)) || empty(sub)) {
      EXPECT_TRUE(recv[src].empty());
      continue;
    }
    merged.merge_packed(sub, recv[src].data(), recv[src].size());
  }
  const std::vector<double> got = merged.finalize(c.op, c.ddof, d.dec);

  // Reference: this rank alone, the whole dataset as one tile and one region.
  ReductionState full(Box::whole(out_shape(axes)), needs, d.dec.mantissa_bits);
  accumulate(full, d, Box::whole(shape), axes, UINT64_MAX, UINT64_MAX);
  const std::vector<double> all = full.finalize(c.op, c.ddof, d.dec);
  std::vector<double> want;
  if (axes.kept.empty()) {
    want = all;
  } else {
    const Box whole_out = Box::whole(out_shape(axes));
    const auto strides = row_major_strides(whole_out.count);
    Sizes idx(own.start);
    for (std::uint64_t k = 0; k < volume(own); ++k) {
      std::size_t off = 0;
      for (std::size_t j = 0; j < idx.size(); ++j) off += idx[j] * strides[j];
      want.push_back(all[off]);
      for (std::size_t j = idx.size(); j-- > 0;) {
        if (++idx[j] < own.start[j] + own.count[j]) break;
        idx[j] = own.start[j];
      }
    }
  }
  ASSERT_EQ(got.size(), want.size()) << label;
  int bad = 0;
  for (std::size_t i = 0; i < got.size() && bad < 5; ++i)
    if (bits_of(got[i]) != bits_of(want[i])) {
      ++bad;
      ADD_FAILURE() << label << " rank " << me << "/" << p << " cell " << i << ": " << got[i] << " vs " << want[i];
    }
}

const Case all_cases[] = {{Op::sum, 0}, {Op::mean, 0}, {Op::min, 0}, {Op::max, 0},
                          {Op::count, 0}, {Op::var, 0}, {Op::var, 1}, {Op::std, 1}};
const std::vector<Sizes> reductions = {{0}, {0, 1, 2}, {1}, {0, 2}};

void run_all(Kind kind, const char* name) {
  const Dataset d = make_dataset(kind);
  for (const Sizes& red : reductions)
    for (const Case& c : all_cases)
      check_distributed(d, axes_over(red), c,
                        std::string(name) + " over " + std::to_string(red.size()) + " axes (first " +
                            std::to_string(red[0]) + ") " + op_name(c.op) + " ddof " + std::to_string(c.ddof));
}

TEST(ReductionMerge, IntegersInFastTierMatchSingleRankBitwise) { run_all(Kind::integers, "integers"); }

TEST(ReductionMerge, ScaledDoublesWithPerRankAnchorsMatchSingleRankBitwise) { run_all(Kind::scaled, "scaled"); }

TEST(ReductionMerge, TinyValuesOnLastRankOnlyMatchSingleRankBitwise) { run_all(Kind::tiny_at_end, "tiny_at_end"); }

TEST(ReductionMerge, TinyDatasetIsWideOnlyWhereTheTinyValuesAre) {
  // Guards the premise of TinyValuesOnLastRankOnly...: before harmonize, a rank's sum state
  // leaves the fast tier exactly when its share reaches the last two time steps; after it,
  // every rank holds the same tier.
  const mpi::Comm world = mpi::Comm::world();
  const int me = world.rank(), p = world.size();
  const Dataset d = make_dataset(Kind::tiny_at_end);
  const AxisMap axes = axes_over({0});
  ReductionState st(state_box(axes, me, p), StateNeeds::for_op(Op::sum), d.dec.mantissa_bits);
  const Box mine = rank_box(me, p);
  if (!empty(mine)) accumulate(st, d, mine, axes, 150, 64);
  const bool has_tiny = !empty(mine) && mine.start[0] + mine.count[0] > 9;
  EXPECT_EQ(st.bytes_per_cell() > 8 + sizeof(double), has_tiny) << "rank " << me;
  st.harmonize(world);
  const auto sizes = world.allgather(static_cast<std::int64_t>(st.bytes_per_cell()));
  for (int r = 0; r < p; ++r) {
    EXPECT_EQ(sizes[r], sizes[0]) << "rank " << r;
    EXPECT_GT(sizes[r], static_cast<std::int64_t>(8 + sizeof(double))) << "rank " << r;
  }
}

TEST(ReductionMerge, HarmonizeGivesEveryRankTheSameTierAndAnchor) {
  // The last rank alone sees 1e-20 (wide tier); the others stay fast until harmonize.
  const mpi::Comm world = mpi::Comm::world();
  const int me = world.rank(), p = world.size();
  ExactSum s(2);
  const bool tiny = me == p - 1;
  // Tiny rank: {5, 1e-20}, multiples of 2^-119 (1e-20 = f * 2^-66); others: {3}, integers.
  const std::vector<double> xs = tiny ? std::vector<double>{5.0, 1e-20} : std::vector<double>{3.0};
  const ExactSum::Mode m = s.prepare(tiny ? 5.0 : 3.0, tiny ? 2 : 1, tiny ? -66 - 53 : 0).mode;
  for (double x : xs) {
    if (m == ExactSum::Mode::fast) s.hi()(0) += x;
    else s.wide()(0).add(x, s.anchor());
  }
  const double x = tiny ? 5.0 : 3.0;  // the exact sums, rounded
  EXPECT_EQ(m, tiny ? ExactSum::Mode::wide : ExactSum::Mode::fast);
  s.harmonize(world);
  const auto modes = world.allgather(static_cast<std::int64_t>(s.mode()));
  const auto anchors = world.allgather(static_cast<std::int64_t>(s.anchor()));
  for (int r = 0; r < p; ++r) {
    EXPECT_EQ(modes[r], static_cast<std::int64_t>(ExactSum::Mode::wide)) << "rank " << r;
    EXPECT_EQ(anchors[r], anchors[0]) << "rank " << r;
  }
  // The value survives re-anchoring exactly.
  s.sync_to_host();
  EXPECT_EQ(s.value(0), x);
  EXPECT_EQ(s.value(1), 0.0);
}

TEST(ReductionMerge, HarmonizeKeepsFastTierWhenTheTotalFits) {
  const mpi::Comm world = mpi::Comm::world();
  ExactSum s(1);
  EXPECT_EQ(s.prepare(1000.0, 1, 0).mode, ExactSum::Mode::fast);
  s.hi()(0) += 1000.0;
  s.harmonize(world);
  EXPECT_EQ(s.mode(), ExactSum::Mode::fast);
}

// ---- collectives used by the exchange ----

TEST(Comm, AlltoallvDeliversVariableSizedBuffers) {
  const mpi::Comm world = mpi::Comm::world();
  const int me = world.rank(), p = world.size();
  std::vector<std::vector<char>> send(p);
  for (int dst = 0; dst < p; ++dst)
    for (int k = 0; k < (me + 2 * dst) % 4 * 3; ++k) send[dst].push_back(static_cast<char>(me * 16 + dst + k));
  const auto recv = world.alltoallv(send);
  ASSERT_EQ(recv.size(), static_cast<std::size_t>(p));
  for (int src = 0; src < p; ++src) {
    ASSERT_EQ(recv[src].size(), static_cast<std::size_t>((src + 2 * me) % 4 * 3)) << "from " << src;
    for (std::size_t k = 0; k < recv[src].size(); ++k)
      EXPECT_EQ(recv[src][k], static_cast<char>(src * 16 + me + static_cast<int>(k)));
  }
}

TEST(Agree, FailureOnLastRankIsSeenByAll) {
  const mpi::Comm world = mpi::Comm::world();
  const int me = world.rank(), p = world.size();
  const bool fail = me == p - 1;
  const mpi::Agreement a = mpi::agree(world, fail ? 4 : 0, fail ? "disk full on rank " + std::to_string(me) : "");
  EXPECT_EQ(a.code, 4);
  EXPECT_EQ(a.origin_rank, p - 1);
  EXPECT_EQ(a.failed_ranks, 1);
  EXPECT_EQ(a.message, "disk full on rank " + std::to_string(p - 1));
}

TEST(Agree, NoFailureMeansCodeZero) {
  const mpi::Comm world = mpi::Comm::world();
  const mpi::Agreement a = mpi::agree(world, 0, "ignored");
  EXPECT_EQ(a.code, 0);
  EXPECT_EQ(a.origin_rank, -1);
  EXPECT_EQ(a.failed_ranks, 0);
  EXPECT_EQ(a.message, "");
}

TEST(Agree, LowestFailingRankWins) {
  // Ranks in the upper half fail with alternating codes and their own messages.
  const mpi::Comm world = mpi::Comm::world();
  const int me = world.rank(), p = world.size();
  const int first = p / 2;
  const bool fail = me >= first;
  const mpi::Agreement a = mpi::agree(world, fail ? 3 + me % 2 : 0, "rank " + std::to_string(me));
  EXPECT_EQ(a.origin_rank, first);
  EXPECT_EQ(a.failed_ranks, p - first);
  EXPECT_EQ(a.code, 3 + first % 2);
  EXPECT_EQ(a.message, "rank " + std::to_string(first));
}

TEST(RunPhase, ExceptionOnLastRankBecomesTheSameAgreedErrorEverywhere) {
  const mpi::Comm world = mpi::Comm::world();
  const int me = world.rank(), p = world.size();
  try {
    mpi::run_phase(world, [&] {
      if (me == p - 1) throw InputError("bad file on rank " + std::to_string(me));
    });
    ADD_FAILURE() << "no AgreedError on rank " << me;
  } catch (const AgreedError& e) {
    EXPECT_EQ(e.code(), ExitCode::input);
    EXPECT_EQ(e.origin_rank, p - 1);
    EXPECT_EQ(e.failed_ranks, 1);
    EXPECT_EQ(std::string(e.what()), "bad file on rank " + std::to_string(p - 1));
  }
  // A phase that returns a value gives it back when nobody failed.
  EXPECT_EQ(mpi::run_phase(world, [&] { return me * 2; }), me * 2);
}

}  // namespace
}  // namespace tessera
