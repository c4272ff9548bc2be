// make_plan on hand-built metadata and jobs (no files): decomposition invariants checked
// against independent element-marking oracles.
#include "plan/plan.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <ostream>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"

namespace tessera {

inline void PrintTo(const Box& b, std::ostream* os) { *os << to_string(b); }

namespace {

InputSpec input_spec(const std::string& alias, const std::string& path) {
  InputSpec in;
  in.alias = alias;
  in.paths = {path};
  in.variable = "tas";
  return in;
}

using Sizes = std::vector<std::size_t>;

InputMeta meta_of(Sizes shape, Sizes chunks = {}, DType type = DType::f32,
                  std::vector<std::string> dims = {"time", "lat", "lon"}) {
  InputMeta m;
  m.alias = "in";
  m.kind = "netcdf";
  m.var.name = "tas";
  m.var.dims = std::move(dims);
  m.var.shape = std::move(shape);
  m.var.type = type;
  m.var.chunks = std::move(chunks);
  m.parts.push_back(FilePart{"/data/tas.nc", "netCDF-4", 0, m.var.shape.empty() ? 0 : m.var.shape[0], ""});
  return m;
}

ReductionSpec reduction(std::string name, Op op, std::vector<std::string> over, std::string input = "in") {
  ReductionSpec r;
  r.name = std::move(name);
  r.input = std::move(input);
  r.op = op;
  r.over = std::move(over);
  r.pos = SourcePos{3, 5};
  return r;
}

JobSpec job_of(std::vector<ReductionSpec> reductions, std::uint64_t memory = 512ull << 20) {
  JobSpec j;
  j.file = "job.yaml";
  j.name = "test";
  j.inputs.push_back(input_spec("in", "/data/tas.nc"));
  j.reductions = std::move(reductions);
  j.output.path = "/out/x.nc";
  j.run.memory_per_rank = memory;
  return j;
}

// Every element of `whole` is covered by exactly one of `boxes` (empty ones allowed) and no
// box reaches outside it.
void expect_partition(const Box& whole, const std::vector<Box>& boxes, const std::string& what) {
  if (whole.rank() == 0) return;
  std::vector<int> hits(static_cast<std::size_t>(volume(whole)), 0);
  const auto strides = row_major_strides(whole.count);
  for (const Box& b : boxes) {
    if (empty(b)) continue;
    ASSERT_TRUE(contains(whole, b)) << what << ": " << to_string(b);
    Sizes idx(b.start);
    for (std::uint64_t k = 0; k < volume(b); ++k) {
      std::size_t flat = 0;
      for (std::size_t j = 0; j < b.rank(); ++j) flat += (idx[j] - whole.start[j]) * strides[j];
      ++hits[flat];
      for (std::size_t j = b.rank(); j-- > 0;) {
        if (++idx[j] < b.start[j] + b.count[j]) break;
        idx[j] = b.start[j];
      }
    }
  }
  for (std::size_t i = 0; i < hits.size(); ++i) ASSERT_EQ(hits[i], 1) << what << ": element " << i;
}

// The invariants every plan must satisfy, whatever the heuristics chose.
void check_plan(const Plan& plan, const JobSpec& job, const InputMeta& m, int ranks) {
  ASSERT_EQ(plan.ranks, ranks);
  ASSERT_EQ(plan.inputs.size(), 1u);
  const InputPlan& ip = plan.inputs[0];
  const Box whole = Box::whole(m.var.shape);
  const auto align = m.chunk_alignment();
  ASSERT_EQ(ip.rank_boxes.size(), static_cast<std::size_t>(ranks));
  ASSERT_EQ(ip.tiles.size(), static_cast<std::size_t>(ranks));
  expect_partition(whole, ip.rank_boxes, "rank boxes");
  const std::size_t ax = ip.split_axis;
  for (int r = 0; r < ranks; ++r) {
    const Box& b = ip.rank_boxes[r];
    // Only the split axis is cut, on chunk boundaries.
    for (std::size_t i = 0; i < whole.rank(); ++i)
      if (i != ax && !empty(b)) {
        EXPECT_EQ(b.count[i], whole.count[i]) << "rank " << r;
      }
    if (!empty(b)) {
      if (b.start[ax] != 0) {
        EXPECT_EQ(b.start[ax] % align[ax], 0u) << "rank " << r << " " << to_string(b);
      }
      const std::size_t end = b.start[ax] + b.count[ax];
      if (end != whole.count[ax]) {
        EXPECT_EQ(end % align[ax], 0u) << "rank " << r << " " << to_string(b);
      }
    }
    // Tiles: inside the rank box, covering it once, each within the read-buffer budget.
    if (empty(b)) {
      EXPECT_TRUE(ip.tiles[r].empty()) << "rank " << r;
    } else {
      std::vector<Box> shifted;
      for (const Box& t : ip.tiles[r]) {
        EXPECT_TRUE(contains(b, t)) << to_string(t) << " outside " << to_string(b);
        EXPECT_LE(volume(t), ip.tile_elements);
        EXPECT_LE(volume(t) * ip.element_bytes, std::max<std::uint64_t>(job.run.memory_per_rank, ip.element_bytes));
      }
      expect_partition(b, ip.tiles[r], "tiles of rank " + std::to_string(r));
    }
  }
  EXPECT_EQ(ip.element_bytes, dtype_size(m.var.type));
  for (const ReductionPlan& rp : ip.reductions) {
    const ReductionSpec& spec = job.reductions[rp.index];
    // Output shape: the kept dimensions in input order.
    Sizes want_shape;
    std::vector<std::string> want_dims;
    for (std::size_t i = 0; i < m.var.dims.size(); ++i)
      if (std::find(spec.over.begin(), spec.over.end(), m.var.dims[i]) == spec.over.end()) {
        want_shape.push_back(m.var.shape[i]);
        want_dims.push_back(m.var.dims[i]);
      }
    EXPECT_EQ(rp.out_shape, want_shape);
    EXPECT_EQ(rp.out_dims, want_dims);
    ASSERT_EQ(rp.state_boxes.size(), static_cast<std::size_t>(ranks));
    for (int r = 0; r < ranks; ++r)
      if (!empty(ip.rank_boxes[r])) {
        EXPECT_EQ(rp.state_boxes[r], project_out(ip.rank_boxes[r], rp.axes.reduced)) << "rank " << r;
      }
    if (rp.out_shape.empty()) {
      // A scalar: rank 0 owns it and everyone with data sends to rank 0.
      EXPECT_TRUE(rp.owns(0));
      for (int r = 1; r < ranks; ++r) EXPECT_FALSE(rp.owns(r));
      continue;
    }
    ASSERT_EQ(rp.owned_boxes.size(), static_cast<std::size_t>(ranks));
    // Owned boxes partition the output: every cell is written exactly once.
    expect_partition(Box::whole(rp.out_shape), rp.owned_boxes, "owned boxes");
    if (!rp.exchanges) {
      for (int r = 0; r < ranks; ++r) EXPECT_EQ(rp.owned_boxes[r], rp.state_boxes[r]) << "rank " << r;
      continue;
    }
    // With exchanges, each owner receives every partial state overlapping its box.
    for (int dst = 0; dst < ranks; ++dst)
      for (int src = 0; src < ranks; ++src) {
        Box sub;
        const bool sends = rp.sends(src, dst, sub);
        const Box want = intersect(rp.state_boxes[src], rp.owned_boxes[dst]);
        EXPECT_EQ(sends, !empty(want) && !empty(rp.owned_boxes[dst])) << src << " -> " << dst;
        if (sends) {
          EXPECT_EQ(sub, want);
        }
      }
  }
}

TEST(Plan, MeanOverTimeOfContiguousDataSplitsAlongAKeptAxis) {
  const InputMeta m = meta_of({12, 6, 8});
  const JobSpec job = job_of({reduction("tas_mean", Op::mean, {"time"})});
  for (int ranks = 2; ranks <= 5; ++ranks) {
    SCOPED_TRACE("ranks " + std::to_string(ranks));
    const Plan plan = make_plan(job, {m}, ranks);
    check_plan(plan, job, m, ranks);
    const InputPlan& ip = plan.inputs[0];
    EXPECT_NE(ip.split_axis, 0u) << "splitting the reduced axis costs an exchange for nothing";
    ASSERT_EQ(ip.reductions.size(), 1u);
    const ReductionPlan& rp = ip.reductions[0];
    EXPECT_FALSE(rp.exchanges);
    EXPECT_EQ(rp.axes.reduced, (Sizes{0}));
    EXPECT_EQ(rp.axes.kept, (Sizes{1, 2}));
    for (int r = 0; r < ranks; ++r)
      for (int s = r + 1; s < ranks; ++s)
        EXPECT_TRUE(empty(intersect(rp.state_boxes[r], rp.state_boxes[s]))) << r << " vs " << s;
    EXPECT_NE(describe(plan, job, {m}).find("no exchange"), std::string::npos);
  }
}

// Compressed chunks (1, Y, X): any cut of lat or lon would decompress every chunk twice, so only
// time can be split.
InputMeta deflated(InputMeta m) {
  m.var.compression = "deflate(1) shuffle";
  return m;
}

TEST(Plan, OneChunkPerTimeStepSplitsAlongTimeWithExchange) {
  const InputMeta m = deflated(meta_of({12, 6, 8}, {1, 6, 8}));
  const JobSpec job = job_of({reduction("tas_mean", Op::mean, {"time"})});
  for (int ranks = 2; ranks <= 4; ++ranks) {
    SCOPED_TRACE("ranks " + std::to_string(ranks));
    const Plan plan = make_plan(job, {m}, ranks);
    check_plan(plan, job, m, ranks);
    const InputPlan& ip = plan.inputs[0];
    EXPECT_EQ(ip.split_axis, 0u);
    for (int r = 0; r < ranks; ++r) EXPECT_FALSE(empty(ip.rank_boxes[r])) << "rank " << r;
    const ReductionPlan& rp = ip.reductions[0];
    EXPECT_TRUE(rp.exchanges);
    for (int r = 0; r < ranks; ++r) EXPECT_EQ(rp.state_boxes[r], Box::whole({6, 8}));
    const std::string text = describe(plan, job, {m});
    EXPECT_NE(text.find("split along 'time'"), std::string::npos) << text;
    EXPECT_NE(text.find("partial states merged"), std::string::npos) << text;
  }
}

TEST(Plan, MultiStepChunksKeepRankBoxesChunkAligned) {
  const InputMeta m = deflated(meta_of({13, 6, 8}, {3, 6, 8}));
  const JobSpec job = job_of({reduction("s", Op::sum, {"time"})});
  for (int ranks = 2; ranks <= 6; ++ranks) {
    SCOPED_TRACE("ranks " + std::to_string(ranks));
    const Plan plan = make_plan(job, {m}, ranks);
    check_plan(plan, job, m, ranks);  // includes the alignment of every cut
    EXPECT_EQ(plan.inputs[0].split_axis, 0u);
  }
}

TEST(Plan, UnfilteredChunksNeedNoAlignmentSoAKeptAxisIsSplit) {
  // Chunks stored plainly are read in part for the cost of their bytes: no exchange needed.
  const InputMeta m = meta_of({12, 6, 8}, {1, 6, 8});
  EXPECT_EQ(m.chunk_alignment(), (Sizes{1, 1, 1}));
  const JobSpec job = job_of({reduction("tas_mean", Op::mean, {"time"})});
  const Plan plan = make_plan(job, {m}, 2);
  check_plan(plan, job, m, 2);
  EXPECT_NE(plan.inputs[0].split_axis, 0u);
  EXPECT_FALSE(plan.inputs[0].reductions[0].exchanges);
}

TEST(Plan, RandomShapesChunksAndBudgetsSatisfyInvariants) {
  std::mt19937_64 rng(1001);
  const std::vector<std::vector<std::string>> overs = {{"time"}, {"lat"}, {"lat", "lon"}, {"time", "lat", "lon"}, {}};
  const Op ops[] = {Op::mean, Op::min, Op::std, Op::count};
  for (int iter = 0; iter < 150; ++iter) {
    std::uniform_int_distribution<std::size_t> ext(1, 9), ch(1, 4), mem(1, 2000);
    const Sizes shape{ext(rng), ext(rng), ext(rng)};
    Sizes chunks;
    if (iter % 3) chunks = {ch(rng), ch(rng), ch(rng)};
    const InputMeta m = meta_of(shape, chunks, iter % 2 ? DType::f32 : DType::i16);
    std::vector<ReductionSpec> reds;
    for (int k = 0; k < 1 + iter % 3; ++k)
      reds.push_back(reduction("r" + std::to_string(k), ops[(iter + k) % 4], overs[(iter + 2 * k) % overs.size()]));
    const JobSpec job = job_of(reds, mem(rng));
    const int ranks = 1 + iter % 6;
    SCOPED_TRACE("iteration " + std::to_string(iter) + " shape " + to_string(Box::whole(shape)) + " ranks " +
                 std::to_string(ranks) + " memory " + std::to_string(job.run.memory_per_rank));
    const Plan plan = make_plan(job, {m}, ranks);
    check_plan(plan, job, m, ranks);
    if (HasFatalFailure()) return;
  }
}

TEST(Plan, TilesRespectTheMemoryBudget) {
  const InputMeta m = meta_of({10, 20, 30}, {}, DType::f64);
  const JobSpec job = job_of({reduction("m", Op::mean, {"time"})}, 8 * 150);  // 150 doubles
  const Plan plan = make_plan(job, {m}, 2);
  check_plan(plan, job, m, 2);
  const InputPlan& ip = plan.inputs[0];
  EXPECT_LE(ip.tile_elements * ip.element_bytes, job.run.memory_per_rank);
  for (const auto& tiles : ip.tiles) {
    EXPECT_GT(tiles.size(), 1u);
    for (const Box& t : tiles) EXPECT_LE(volume(t) * 8, 8u * 150);
  }
}

TEST(Plan, TinyMemoryStillPlansOneElementTiles) {
  const InputMeta m = meta_of({2, 3, 4}, {}, DType::f64);
  const JobSpec job = job_of({reduction("m", Op::max, {"lat"})}, 1);
  const Plan plan = make_plan(job, {m}, 1);
  check_plan(plan, job, m, 1);
  EXPECT_EQ(plan.inputs[0].tile_elements, 1u);
  EXPECT_EQ(plan.inputs[0].tiles[0].size(), 24u);
}

TEST(Plan, ChunksReadWholeMustFitTheMemoryBudget) {
  // 4 x 8 x 8 floats = 1 KiB per chunk: decoded whole when deflated, read in part when plain.
  const JobSpec job = job_of({reduction("m", Op::mean, {"time"})}, 1000);
  try {
    make_plan(job, {deflated(meta_of({8, 8, 8}, {4, 8, 8}))}, 2);
    FAIL() << "no exception";
  } catch (const JobError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'tas'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("memory_per_rank"), std::string::npos) << msg;
    EXPECT_NE(msg.find("nccopy -c"), std::string::npos) << msg;
  }
  const InputMeta plain = meta_of({8, 8, 8}, {4, 8, 8});
  const Plan plan = make_plan(job, {plain}, 2);
  check_plan(plan, job, plain, 2);
  EXPECT_NO_THROW(make_plan(job_of({reduction("m", Op::mean, {"time"})}, 1024), {deflated(meta_of({8, 8, 8}, {4, 8, 8}))}, 2));
}

TEST(Plan, UnknownDimensionThrowsJobErrorNamingIt) {
  const InputMeta m = meta_of({4, 3, 2});
  const JobSpec job = job_of({reduction("bad", Op::mean, {"time", "depth"})});
  try {
    make_plan(job, {m}, 2);
    FAIL() << "no exception";
  } catch (const JobError& e) {
    const std::string msg = e.what();
    EXPECT_NE(msg.find("'depth'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("job.yaml:3:5"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'bad'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("time, lat, lon"), std::string::npos) << msg;  // lists what exists
  }
}

TEST(Plan, MoreRanksThanElementsLeavesSomeRanksEmpty) {
  const InputMeta m = meta_of({2, 3, 2});
  const JobSpec job = job_of({reduction("m", Op::mean, {"time"}), reduction("t", Op::sum, {"time", "lat", "lon"})});
  const int ranks = 7;
  const Plan plan = make_plan(job, {m}, ranks);
  check_plan(plan, job, m, ranks);
  int empty_ranks = 0;
  for (const Box& b : plan.inputs[0].rank_boxes) empty_ranks += empty(b);
  EXPECT_GE(empty_ranks, ranks - 3);
  for (int r = 0; r < ranks; ++r) EXPECT_NO_THROW(plan.peak_bytes_per_rank(r));
  const std::string text = describe(plan, job, {m});
  EXPECT_NE(text.find("rank 6:"), std::string::npos) << text;
}

TEST(Plan, ScalarReductionIsOwnedByRankZero) {
  const InputMeta m = meta_of({6, 4, 5}, {1, 4, 5});
  const JobSpec job = job_of({reduction("total", Op::sum, {"lon", "time", "lat"})});
  const Plan plan = make_plan(job, {m}, 3);
  check_plan(plan, job, m, 3);
  const ReductionPlan& rp = plan.inputs[0].reductions[0];
  EXPECT_TRUE(rp.out_shape.empty());
  EXPECT_EQ(rp.axes.reduced, (Sizes{0, 1, 2}));  // sorted, whatever the job's order
  EXPECT_TRUE(rp.exchanges);
  for (int src = 0; src < 3; ++src) {
    Box sub;
    EXPECT_TRUE(rp.sends(src, 0, sub));
    EXPECT_EQ(sub, Box());
    EXPECT_FALSE(rp.sends(src, 1, sub));
  }
}

TEST(Plan, SingleRankOwnsEverything) {
  const InputMeta m = meta_of({5, 4, 3});
  const JobSpec job = job_of({reduction("v", Op::var, {"lat"})});
  const Plan plan = make_plan(job, {m}, 1);
  check_plan(plan, job, m, 1);
  EXPECT_EQ(plan.inputs[0].rank_boxes[0], Box::whole({5, 4, 3}));
  EXPECT_FALSE(plan.inputs[0].reductions[0].exchanges);
  EXPECT_EQ(plan.inputs[0].reductions[0].owned_boxes[0], Box::whole({5, 3}));
}

TEST(Plan, NameClashWithCoordinateIsAJobError) {
  InputMeta m = meta_of({4, 3, 2});
  CoordinateInfo lat;
  lat.var.name = "lat";
  lat.var.dims = {"lat"};
  lat.var.shape = {3};
  m.coords.push_back(lat);
  const JobSpec job = job_of({reduction("lat", Op::mean, {"time"})});
  try {
    make_plan(job, {m}, 1);
    FAIL() << "no exception";
  } catch (const JobError& e) {
    EXPECT_NE(std::string(e.what()).find("coordinate variable 'lat'"), std::string::npos) << e.what();
  }
}

TEST(Plan, InputsWithoutReductionsAreNotPlanned) {
  InputMeta a = meta_of({4, 3, 2});
  InputMeta b = meta_of({7, 3, 2});
  b.alias = "other";
  JobSpec job = job_of({reduction("m", Op::mean, {"time"}, "other")});
  job.inputs.push_back(input_spec("other", "/data/o.nc"));
  const Plan plan = make_plan(job, {a, b}, 2);
  ASSERT_EQ(plan.inputs.size(), 1u);
  EXPECT_EQ(plan.inputs[0].input, 1u);
  check_plan(plan, job, b, 2);
}

TEST(Plan, PeakMemoryCountsTilesAndStates) {
  const InputMeta m = meta_of({8, 4, 4}, {}, DType::f64);
  const JobSpec job = job_of({reduction("m", Op::mean, {"time"})}, 8 * 16);
  const Plan plan = make_plan(job, {m}, 1);
  // One tile of 16 doubles, a state of 16 cells x (count + sum) bytes.
  EXPECT_EQ(plan.peak_bytes_per_rank(0), 16u * 8 + 16u * 16);
}

}  // namespace
}  // namespace tessera
