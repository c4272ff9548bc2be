// The InputMeta message rank 0 broadcasts: it round-trips, and a malformed one is a
// RuntimeError (found by tests/fuzz/fuzz_input_meta: library exceptions escaped, and a
// missing key indexed past the end of a const JSON object).
#include <gtest/gtest.h>

#include "../thrown.hpp"

#include <cmath>
#include <string>

#include "core/error.hpp"
#include "io/metadata.hpp"

namespace tessera {
namespace {

InputMeta sample() {
  InputMeta m;
  m.alias = "tas";
  m.kind = "netcdf";
  m.var.name = "tas";
  m.var.dims = {"time", "lat"};
  m.var.shape = {4, 3};
  m.var.type = DType::i16;
  m.var.chunks = {2, 3};
  m.var.attrs = {Attribute::make_number("_FillValue", DType::i16, {-32767}),
                 Attribute::make_number("scale_factor", DType::f64, {std::nan("")}),
                 Attribute::make_text("units", "K")};
  m.parts = {{"/d/a.nc", "netCDF-4", 0, 4, ""}};
  CoordinateInfo time;
  time.var.name = "time";
  time.var.dims = {"time"};
  time.var.shape = {4};
  time.values = {0, 1, 2, 3};
  m.coords = {time};
  return m;
}

std::string error_of(const std::string& message) {
  return testing::message_of<RuntimeError>([&] { input_meta_from_json(message); });
}

TEST(Metadata, RoundTripsExactlyIncludingNaN) {
  const InputMeta m = input_meta_from_json(to_json(sample()));
  EXPECT_EQ(m.var.shape, sample().var.shape);
  EXPECT_EQ(m.var.type, DType::i16);
  ASSERT_EQ(m.var.attrs.size(), 3u);
  EXPECT_TRUE(std::isnan(m.var.attrs[1].values[0]));
  EXPECT_EQ(m.var.attrs[2].text, "K");
  EXPECT_EQ(m.coords.at(0).values, sample().coords[0].values);
  EXPECT_EQ(m.parts.at(0).path, "/d/a.nc");
}

TEST(Metadata, MalformedMessagesAreRuntimeErrors) {
  const std::string good = to_json(sample());
  EXPECT_NE(error_of("").find("malformed input metadata"), std::string::npos);  // corpus: crash-empty
  EXPECT_NE(error_of(good.substr(0, good.size() / 2)).find("malformed"), std::string::npos);
  EXPECT_NE(error_of("[]").find("malformed"), std::string::npos);
  EXPECT_NE(error_of("{}").find("malformed"), std::string::npos);  // every key missing
}

TEST(Metadata, UnknownElementTypeIsRejected) {
  std::string msg = to_json(sample());
  // The first "type" (an i16 attribute) is the one-byte integer 2 right after the key: make it 99.
  const std::string key = std::string("i\x04type", 6) + "i";
  const std::size_t at = msg.find(key + std::string(1, '\x02'));
  ASSERT_NE(at, std::string::npos);
  msg[at + key.size()] = 99;
  EXPECT_NE(error_of(msg).find("unknown element type 99"), std::string::npos);
}

}  // namespace
}  // namespace tessera
