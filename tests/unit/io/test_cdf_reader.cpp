// The direct NetCDF-3 reader against netcdf-c on small files: every format, fixed and record
// variables (interleaved with other record variables), every type, unwritten (fill) regions and
// boxes that cut any axis must give the same bytes; what it is unsure of, it declines.
#include <netcdf.h>
#include <unistd.h>

#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "decomp/box.hpp"
#include "io/cdf_reader.hpp"
#include "io/netcdf.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

class CdfReaderTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    std::string name = std::string("tessera-cdf-reader-") + std::to_string(::getpid()) + "-" +
                       ::testing::UnitTest::GetInstance()->current_test_info()->name();
    for (char& c : name) if (c == '/') c = '_';  // parameterised names hold '/'
    dir_ = (fs::temp_directory_path() / name).string();
    fs::remove_all(dir_);
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // time (unlimited, 5) x lat 3 x lon 4, plus fixed variables; some regions left unwritten.
  std::string make(const std::string& format) {
    const std::string path = (fs::path(dir_) / "in.nc").string();
    nc::File f = nc::File::create(path, format);
    const int t = f.define_dimension("time", 0), y = f.define_dimension("lat", 3), x = f.define_dimension("lon", 4);
    const int z = f.define_dimension("lev", 2);
    const int vt = f.define_variable("time", DType::f64, {t});
    const int tas = f.define_variable("tas", DType::f32, {t, y, x});
    const int pr = f.define_variable("pr", DType::i16, {t, y, x});   // packed shorts, another record var
    const int b = f.define_variable("b", DType::i8, {t, x});           // 4 bytes per record
    const int oro = f.define_variable("oro", DType::f64, {z, y, x});   // fixed
    const int msk = f.define_variable("msk", DType::i32, {y, x});      // fixed, partly unwritten
    int big = -1, ub = -1;
    if (format == "cdf5") {
      big = f.define_variable("big", DType::i64, {t, y});
      ub = f.define_variable("ub", DType::u16, {y, x});
    }
    f.put_attribute(pr, Attribute::make_number("scale_factor", DType::f32, {0.01}));
    f.end_define();
    std::vector<double> times{0, 1, 2, 3, 4};
    f.write(vt, Box({0}, {5}), DType::f64, times.data());
    std::vector<float> tv(60);
    for (std::size_t i = 0; i < tv.size(); ++i) tv[i] = 250.0f + 0.37f * static_cast<float>(i) * (i % 2 ? -1 : 1);
    f.write(tas, Box({0, 0, 0}, {4, 3, 4}), DType::f32, tv.data());  // record 4 of tas stays fill
    std::vector<std::int16_t> pv(60);
    for (std::size_t i = 0; i < pv.size(); ++i) pv[i] = static_cast<std::int16_t>(i * 977 - 30000);
    f.write(pr, Box({0, 0, 0}, {5, 3, 4}), DType::i16, pv.data());
    std::vector<std::int8_t> bv(20);
    for (std::size_t i = 0; i < bv.size(); ++i) bv[i] = static_cast<std::int8_t>(i * 13 - 100);
    const std::size_t s0[2] = {0, 0}, c_b[2] = {5, 4}, c_ub[2] = {3, 4};  // types nc::File does not write
    EXPECT_EQ(nc_put_vara_schar(f.id(), b, s0, c_b, reinterpret_cast<const signed char*>(bv.data())), NC_NOERR);
    std::vector<double> ov(24);
    for (std::size_t i = 0; i < ov.size(); ++i) ov[i] = 1e300 / static_cast<double>(i + 1) - static_cast<double>(i);
    f.write(oro, Box({0, 0, 0}, {2, 3, 4}), DType::f64, ov.data());
    std::vector<std::int32_t> mv(4, -123456789);
    f.write(msk, Box({1, 0}, {1, 4}), DType::i32, mv.data());  // rows 0 and 2 keep the fill value
    if (big >= 0) {
      std::vector<std::int64_t> gv(15);
      for (std::size_t i = 0; i < gv.size(); ++i) gv[i] = static_cast<std::int64_t>(i) * 0x0102030405060708LL - 7;
      f.write(big, Box({0, 0}, {5, 3}), DType::i64, gv.data());
      std::vector<std::uint16_t> uv(12);
      for (std::size_t i = 0; i < uv.size(); ++i) uv[i] = static_cast<std::uint16_t>(65535 - i * 4099);
      EXPECT_EQ(nc_put_vara_ushort(f.id(), ub, s0, c_ub, uv.data()), NC_NOERR);
    }
    f.close();
    return path;
  }

  // Every box of a few shapes: whole, cut on each axis, single elements, empty.
  static std::vector<Box> boxes(const std::vector<std::size_t>& shape) {
    std::vector<Box> out{Box::whole(shape)};
    const std::size_t n = shape.size();
    for (std::size_t a = 0; a < n; ++a) {
      for (std::size_t s = 0; s < shape[a]; ++s)
        for (std::size_t c = 0; s + c <= shape[a]; ++c) {
          Box b = Box::whole(shape);
          b.start[a] = s, b.count[a] = c;
          out.push_back(b);
        }
    }
    Box inner = Box::whole(shape);  // cut on every axis at once
    for (std::size_t a = 0; a < n; ++a)
      if (shape[a] > 2) inner.start[a] = 1, inner.count[a] = shape[a] - 2;
    out.push_back(inner);
    Box one(std::vector<std::size_t>(n, 0), std::vector<std::size_t>(n, 1));
    for (std::size_t a = 0; a < n; ++a) one.start[a] = shape[a] - 1;
    out.push_back(one);
    return out;
  }

  std::string dir_;
};

struct Var {
  std::string name;
  DType type;
  std::vector<std::size_t> shape;
};

TEST_P(CdfReaderTest, GivesTheSameBytesAsNetcdfC) {
  const std::string format = GetParam();
  const std::string path = make(format);
  std::vector<Var> vars{{"time", DType::f64, {5}},        {"tas", DType::f32, {5, 3, 4}}, {"pr", DType::i16, {5, 3, 4}},
                        {"b", DType::i8, {5, 4}},         {"oro", DType::f64, {2, 3, 4}}, {"msk", DType::i32, {3, 4}}};
  if (format == "cdf5") vars.push_back({"big", DType::i64, {5, 3}}), vars.push_back({"ub", DType::u16, {3, 4}});
  nc::File f = nc::File::open(path);
  for (const Var& v : vars) {
    auto r = CdfReader::open(path, v.name, v.type, v.shape);
    ASSERT_NE(r, nullptr) << v.name;
    const std::size_t es = dtype_size(v.type);
    for (const Box& b : boxes(v.shape)) {
      const std::size_t n = empty(b) ? 0 : static_cast<std::size_t>(volume(b));
      std::vector<unsigned char> want(n * es + 1, 0xA5), got(n * es + 1, 0x5A);
      f.read(v.name, b, v.type, want.data());
      r->read(b, got.data());
      want.back() = got.back() = 0;  // the guard byte: compared below, separately
      EXPECT_EQ(0, std::memcmp(want.data(), got.data(), n * es)) << v.name << to_string(b);
    }
  }
}

TEST_P(CdfReaderTest, ReadsIntoAnUnalignedBufferAndLeavesTheRestAlone) {
  const std::string path = make(GetParam());
  auto r = CdfReader::open(path, "oro", DType::f64, {2, 3, 4});
  ASSERT_NE(r, nullptr);
  std::vector<unsigned char> buf(24 * 8 + 2, 0xEE), want(24 * 8);
  r->read(Box({0, 0, 0}, {2, 3, 4}), buf.data() + 1);
  nc::File::open(path).read("oro", Box({0, 0, 0}, {2, 3, 4}), DType::f64, want.data());
  EXPECT_EQ(0, std::memcmp(buf.data() + 1, want.data(), want.size()));
  EXPECT_EQ(buf.front(), 0xEE);
  EXPECT_EQ(buf.back(), 0xEE);
}

TEST_P(CdfReaderTest, DeclinesWhatItIsUnsureOf) {
  const std::string path = make(GetParam());
  EXPECT_EQ(CdfReader::open(path, "nosuch", DType::f32, {5, 3, 4}), nullptr);
  EXPECT_EQ(CdfReader::open(path, "tas", DType::f64, {5, 3, 4}), nullptr);   // element size differs
  EXPECT_EQ(CdfReader::open(path, "tas", DType::f32, {5, 3, 5}), nullptr);   // shape differs
  EXPECT_EQ(CdfReader::open(path, "tas", DType::f32, {5, 12}), nullptr);     // rank differs
  EXPECT_NE(CdfReader::open(path, "tas", DType::f32, {9, 3, 4}), nullptr);   // axis 0: the aggregate's
  EXPECT_EQ(CdfReader::open((fs::path(dir_) / "none.nc").string(), "tas", DType::f32, {5, 3, 4}), nullptr);
}

TEST_P(CdfReaderTest, BoxOutsideOrTruncatedFileIsAnInputError) {
  const std::string path = make(GetParam());
  auto r = CdfReader::open(path, "tas", DType::f32, {5, 3, 4});
  ASSERT_NE(r, nullptr);
  std::vector<float> buf(100);
  EXPECT_THROW(r->read(Box({4, 0, 0}, {2, 3, 4}), buf.data()), InputError);
  EXPECT_THROW(r->read(Box({0, 0}, {1, 3}), buf.data()), InputError);
  fs::resize_file(path, fs::file_size(path) - 70);  // tas's last record cut
  auto cut = CdfReader::open(path, "tas", DType::f32, {5, 3, 4});
  ASSERT_NE(cut, nullptr);
  try {
    cut->read(Box({0, 0, 0}, {5, 3, 4}), buf.data());
    FAIL() << "no exception";
  } catch (const InputError& e) {
    EXPECT_NE(std::string(e.what()).find("truncated"), std::string::npos) << e.what();
  }
}

TEST_P(CdfReaderTest, NotNetcdf3IsDeclined) {
  const std::string path = (fs::path(dir_) / "text.nc").string();
  std::ofstream(path) << "not a NetCDF file at all";
  EXPECT_EQ(CdfReader::open(path, "tas", DType::f32, {5, 3, 4}), nullptr);
}

INSTANTIATE_TEST_SUITE_P(Formats, CdfReaderTest, ::testing::Values("classic", "64bit-offset", "cdf5"));

TEST(CdfReaderNetcdf4, IsDeclined) {
  const std::string path = (fs::temp_directory_path() / ("tessera-cdf-reader-nc4-" + std::to_string(::getpid()) + ".nc")).string();
  fs::remove(path);
  {
    nc::File f = nc::File::create(path, "netcdf4");
    const int x = f.define_dimension("x", 4);
    f.define_variable("v", DType::f32, {x});
    f.end_define();
    f.close();
  }
  EXPECT_EQ(CdfReader::open(path, "v", DType::f32, {4}), nullptr);
  fs::remove(path);
}

}  // namespace
}  // namespace tessera
