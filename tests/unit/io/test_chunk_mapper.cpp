// Mapping NetCDF-4 chunks in place must give the bytes netcdf-c reads, over the slab around the
// box, and decline what it cannot map (filters, chunks that cut another axis, a truncated file).
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "decomp/box.hpp"
#include "io/chunk_mapper.hpp"
#include "io/netcdf.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

class ChunkMapperTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = (fs::temp_directory_path() / ("tessera-chunk-mapper-" + std::to_string(::getpid()) + "-" +
                                         ::testing::UnitTest::GetInstance()->current_test_info()->name()))
               .string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // tas(time 10, lat 3, lon 4) float, written in order, chunked as given (deflate if asked).
  std::string make(const std::vector<std::size_t>& chunks, bool deflate = false) {
    const std::string path = (fs::path(dir_) / "in.nc").string();
    fs::remove(path);
    nc::File f = nc::File::create(path, "netcdf4");
    const int t = f.define_dimension("time", 10), y = f.define_dimension("lat", 3), x = f.define_dimension("lon", 4);
    const int v = f.define_variable("tas", DType::f32, {t, y, x});
    f.define_chunking(v, chunks);
    if (deflate) f.define_deflate(v, true, 2);
    f.end_define();
    values_.resize(120);
    for (std::size_t i = 0; i < values_.size(); ++i) values_[i] = 250.0f + 0.25f * static_cast<float>(i);
    f.write(v, Box({0, 0, 0}, {10, 3, 4}), DType::f32, values_.data());
    f.close();
    return path;
  }

  std::string dir_;
  std::vector<float> values_;
};

TEST_F(ChunkMapperTest, MapsTimeSlabsInPlaceWithTheSameBytes) {
  const std::string path = make({4, 3, 4});  // the last chunk overhangs the end
  auto m = ChunkMapper::open(path, "tas", DType::f32, {10, 3, 4});
  ASSERT_TRUE(m);
  for (const Box& box : {Box({0, 0, 0}, {10, 3, 4}), Box({3, 1, 0}, {5, 2, 4}), Box({9, 0, 1}, {1, 3, 2})}) {
    Box layout;
    const float* p = static_cast<const float*>(m->map(box, layout));
    ASSERT_TRUE(p) << to_string(box);
    // The slab around the box: the same time range, every other axis whole.
    EXPECT_EQ(layout, Box({box.start[0], 0, 0}, {box.count[0], 3, 4}));
    EXPECT_EQ(0, std::memcmp(p, values_.data() + box.start[0] * 12, box.count[0] * 12 * sizeof(float)));
  }
  m->release();
}

TEST_F(ChunkMapperTest, DeclinesWhatItCannotMap) {
  EXPECT_FALSE(ChunkMapper::open(make({4, 3, 2}), "tas", DType::f32, {10, 3, 4}));  // chunks cut lon
  EXPECT_FALSE(ChunkMapper::open(make({4, 3, 4}, true), "tas", DType::f32, {10, 3, 4}));  // deflate
  EXPECT_FALSE(ChunkMapper::open(make({4, 3, 4}), "tas", DType::f64, {10, 3, 4}));  // another type
  EXPECT_FALSE(ChunkMapper::open(make({4, 3, 4}), "nope", DType::f32, {10, 3, 4}));
}

TEST_F(ChunkMapperTest, DeclinesBoxesPastTheEndOfATruncatedFile) {
  const std::string path = make({4, 3, 4});
  auto m = ChunkMapper::open(path, "tas", DType::f32, {10, 3, 4});
  ASSERT_TRUE(m);
  Box layout;
  for (std::size_t t = 0; t < 10; ++t) ASSERT_TRUE(m->map(Box({t, 0, 0}, {1, 3, 4}), layout));
  m->release();
  // Cut after it was opened: boxes whose bytes are gone are declined (read() reports them).
  fs::resize_file(path, 0);
  for (std::size_t t = 0; t < 10; ++t) EXPECT_FALSE(m->map(Box({t, 0, 0}, {1, 3, 4}), layout));
}

}  // namespace
}  // namespace tessera
