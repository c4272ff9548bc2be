// NetCDF-3 over HTTP/S3: which byte ranges a box becomes (one per contiguous run, record
// variables strided by the record size), and attributes as the header parser reports them.
#include <cstdint>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "io/cdf_header.hpp"
#include "io/remote_cdf.hpp"

namespace tessera {
namespace {

std::vector<std::pair<std::uint64_t, std::uint64_t>> ranges(const CdfLayout& l, const Box& b, char* dst,
                                                            std::vector<std::ptrdiff_t>* at = nullptr) {
  std::vector<net::RangeRead> reads;
  add_cdf_reads("http://h/f.nc", l, b, dst, reads);
  std::vector<std::pair<std::uint64_t, std::uint64_t>> out;
  for (const auto& r : reads) {
    out.emplace_back(r.offset, r.length);
    if (at) at->push_back(r.dst - dst);
  }
  return out;
}

TEST(RemoteCdf, FixedVariableWholeRowsAreOneRun) {
  CdfLayout l{{4, 3, 5}, false, 100, 0, DType::f32};
  char dst[1];
  // Whole trailing axes: rows 1-2 of axis 0 are one run.
  EXPECT_EQ(ranges(l, Box({1, 0, 0}, {2, 3, 5}), dst), (std::vector<std::pair<std::uint64_t, std::uint64_t>>{{100 + 60, 120}}));
  // A partial last axis: one run per (i, j).
  std::vector<std::ptrdiff_t> at;
  const auto r = ranges(l, Box({0, 1, 2}, {2, 2, 3}), dst, &at);
  ASSERT_EQ(r.size(), 4u);
  EXPECT_EQ(r[0], (std::pair<std::uint64_t, std::uint64_t>{100 + (5 + 2) * 4, 12}));
  EXPECT_EQ(r[3], (std::pair<std::uint64_t, std::uint64_t>{100 + (15 + 10 + 2) * 4, 12}));
  EXPECT_EQ(at, (std::vector<std::ptrdiff_t>{0, 12, 24, 36}));
}

TEST(RemoteCdf, RecordVariableIsStridedByTheRecordSize) {
  CdfLayout l{{6, 3, 5}, true, 1000, 256, DType::i16};
  char dst[1];
  // Whole records of the variable: one run per record, 30 bytes each, 256 apart.
  const auto r = ranges(l, Box({2, 0, 0}, {3, 3, 5}), dst);
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0], (std::pair<std::uint64_t, std::uint64_t>{1000 + 2 * 256, 30}));
  EXPECT_EQ(r[2], (std::pair<std::uint64_t, std::uint64_t>{1000 + 4 * 256, 30}));
  // A band of rows: contiguous within each record.
  const auto band = ranges(l, Box({0, 1, 0}, {2, 2, 5}), dst);
  ASSERT_EQ(band.size(), 2u);
  EXPECT_EQ(band[1], (std::pair<std::uint64_t, std::uint64_t>{1000 + 256 + 10, 20}));
  // A 1-d record variable (time): one element per record.
  CdfLayout t{{6}, true, 40, 256, DType::f64};
  const auto tr = ranges(t, Box({1}, {2}), dst);
  ASSERT_EQ(tr.size(), 2u);
  EXPECT_EQ(tr[1], (std::pair<std::uint64_t, std::uint64_t>{40 + 2 * 256, 8}));
  EXPECT_TRUE(ranges(t, Box({1}, {0}), dst).empty());
}

TEST(RemoteCdf, HeaderAttributesAsNetcdfReportsThem) {
  // CDF1: dims (x=2), global attrs title="ab\0" (char, NUL stripped) and
  // valid=[-1s, 7s] (short); one variable v(x) float with scale_factor=0.5f.
  std::vector<unsigned char> b = {'C', 'D', 'F', 1, 0, 0, 0, 0};
  auto u = [&](std::uint64_t x, int w) {
    for (int i = w - 1; i >= 0; --i) b.push_back(static_cast<unsigned char>(x >> (8 * i)));
  };
  auto name = [&](const std::string& s) {
    u(s.size(), 4);
    b.insert(b.end(), s.begin(), s.end());
    while (b.size() % 4) b.push_back(0);
  };
  u(0x0A, 4), u(1, 4), name("x"), u(2, 4);
  u(0x0C, 4), u(2, 4);
  name("title"), u(2, 4), u(3, 4), b.insert(b.end(), {'a', 'b', 0, 0});
  name("valid"), u(3, 4), u(2, 4), u(0xFFFF, 2), u(7, 2);
  u(0x0B, 4), u(1, 4), name("v"), u(1, 4), u(0, 4);
  u(0x0C, 4), u(1, 4), name("scale_factor"), u(5, 4), u(1, 4), u(0x3F000000, 4);
  u(5, 4), u(8, 4), u(200, 4);
  const CdfHeader h = parse_cdf_header("x.nc", b);
  ASSERT_EQ(h.dims.size(), 1u);
  EXPECT_EQ(h.dims[0].name, "x");
  ASSERT_EQ(h.global_attrs.size(), 2u);
  EXPECT_TRUE(h.global_attrs[0].is_text);
  EXPECT_EQ(h.global_attrs[0].text, "ab");
  EXPECT_EQ(h.global_attrs[1].type, DType::i16);
  EXPECT_EQ(h.global_attrs[1].values, (std::vector<double>{-1, 7}));
  ASSERT_EQ(h.vars.size(), 1u);
  EXPECT_EQ(h.vars[0].nc_type, 5u);
  EXPECT_EQ(h.vars[0].dimids, (std::vector<std::uint64_t>{0}));
  ASSERT_EQ(h.vars[0].attrs.size(), 1u);
  EXPECT_EQ(h.vars[0].attrs[0].type, DType::f32);
  EXPECT_EQ(h.vars[0].attrs[0].values, (std::vector<double>{0.5}));
  EXPECT_EQ(h.format_name(), "classic");
  // Cut inside the header: the error a remote reader answers with a longer read.
  b.resize(b.size() - 6);
  EXPECT_THROW(parse_cdf_header("x.nc", b), CdfHeaderCut);
}

}  // namespace
}  // namespace tessera
