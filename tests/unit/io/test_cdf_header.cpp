// The NetCDF-3 header parser on hand-built headers: sound ones give the documented offsets;
// corrupt sizes (found by tests/fuzz/fuzz_cdf_header) are InputErrors, never a wrap-around
// that would hide a truncated file, an out-of-range read or a huge allocation.
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "../thrown.hpp"

#include "core/error.hpp"
#include "io/cdf_header.hpp"

namespace tessera {
namespace {

constexpr std::uint64_t max64 = std::numeric_limits<std::uint64_t>::max();

// Big-endian header writer; `wide` counts (CDF5) are 8 bytes, offsets 8 bytes unless classic.
struct Header {
  int version;
  std::vector<unsigned char> b;
  explicit Header(int v, std::uint64_t numrecs) : version(v) {
    b = {'C', 'D', 'F', static_cast<unsigned char>(v)};
    count(numrecs);
  }
  Header& u(std::uint64_t x, int width) {
    for (int i = width - 1; i >= 0; --i) b.push_back(static_cast<unsigned char>(x >> (8 * i)));
    return *this;
  }
  Header& count(std::uint64_t x) { return u(x, version == 5 ? 8 : 4); }
  Header& offset(std::uint64_t x) { return u(x, version == 1 ? 4 : 8); }
  Header& name(const std::string& s) {
    count(s.size());
    b.insert(b.end(), s.begin(), s.end());
    while (b.size() % 4) b.push_back(0);
    return *this;
  }
  Header& absent() { return u(0, 4).count(0); }
  Header& dims(std::vector<std::pair<std::string, std::uint64_t>> ds) {
    u(0x0A, 4).count(ds.size());
    for (auto& [n, len] : ds) name(n).count(len);
    return *this;
  }
  // One variable: dimension ids, type (5 float, 6 double), begin offset, no attributes.
  Header& var(const std::string& n, std::vector<std::uint64_t> dimids, int type, std::uint64_t begin) {
    name(n).count(dimids.size());
    for (auto id : dimids) count(id);
    absent();
    u(type, 4).count(0).offset(begin);
    return *this;
  }
};

std::string error_of(const std::vector<unsigned char>& bytes) {
  return testing::message_of<InputError>([&] { parse_cdf_header("x.nc", bytes); });
}

TEST(CdfHeader, RecordAndFixedVariablesGiveOffsetsAndDataEnd) {
  Header h(2, 3);
  h.dims({{"time", 0}, {"lat", 4}}).absent();
  h.u(0x0B, 4).count(2).var("lat", {1}, 6, 1000).var("tas", {0, 1}, 5, 1032);
  const CdfHeader c = parse_cdf_header("x.nc", h.b);
  ASSERT_EQ(c.vars.size(), 2u);
  EXPECT_FALSE(c.vars[0].is_record);
  EXPECT_EQ(c.vars[0].bytes, 32u);
  EXPECT_TRUE(c.vars[1].is_record);
  EXPECT_EQ(c.vars[1].shape, (std::vector<std::uint64_t>{3, 4}));
  EXPECT_EQ(c.record_size, 16u);
  EXPECT_EQ(c.data_end(), 1032u + 2 * 16 + 16);
}

TEST(CdfHeader, CutOffHeaderIsAnInputErrorNamingTheFile) {
  Header h(1, 0);
  h.dims({{"lat", 4}}).absent();
  h.u(0x0B, 4).count(1).var("lat", {0}, 6, 200);
  for (std::size_t n : {0, 3, 7, 20, 40}) {
    std::vector<unsigned char> cut(h.b.begin(), h.b.begin() + std::min(n, h.b.size() - 1));
    EXPECT_NE(error_of(cut).find("'x.nc' has a malformed NetCDF-3 header"), std::string::npos) << n;
  }
}

// A CDF5 name length near 2^64 wrapped the bounds check: an out-of-range read or a huge string.
TEST(CdfHeader, NameLengthNear64BitsIsMalformedNotAnAllocation) {
  Header h(5, 0);
  h.u(0x0A, 4).count(1).count(max64 - 1);
  h.b.resize(h.b.size() + 16, 'a');
  EXPECT_NE(error_of(h.b).find("ends inside the header"), std::string::npos);
}

// An attribute count near 2^62 made size * count wrap to a small skip.
TEST(CdfHeader, AttributeSizeThatOverflowsIsMalformed) {
  Header h(5, 0);
  h.absent();
  h.u(0x0C, 4).count(1).name("a").u(6, 4).count(1ull << 61);  // 8-byte doubles: 2^64 bytes
  h.b.resize(h.b.size() + 64, 0);
  EXPECT_NE(error_of(h.b).find("malformed"), std::string::npos);
}

// begin + bytes past 2^64 made data_end() small, so a truncated file passed the size check
// (corpus: tests/fuzz/corpus/cdf_header/crash-data-end-wraps).
TEST(CdfHeader, DataEndThatWouldWrapIsMalformed) {
  Header fixed(5, 0);
  fixed.dims({{"x", 1ull << 40}}).absent();
  fixed.u(0x0B, 4).count(1).var("v", {0}, 6, max64 - 100);
  EXPECT_NE(error_of(fixed.b).find("too large"), std::string::npos);

  Header records(5, max64 / 4);
  records.dims({{"time", 0}, {"x", 1000}}).absent();
  records.u(0x0B, 4).count(1).var("v", {0, 1}, 6, 4096);
  EXPECT_NE(error_of(records.b).find("too large"), std::string::npos);

  Header product(5, 0);
  product.dims({{"x", 1ull << 31}, {"y", 1ull << 31}}).absent();  // 2^62 doubles: 2^65 bytes
  product.u(0x0B, 4).count(1).var("v", {0, 1}, 6, 0);
  EXPECT_NE(error_of(product.b).find("too large"), std::string::npos);
}

}  // namespace
}  // namespace tessera
