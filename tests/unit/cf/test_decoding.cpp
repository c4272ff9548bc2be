#include "cf/decoding.hpp"

#include <gtest/gtest.h>

#include "../thrown.hpp"

#include <cmath>
#include <limits>
#include <string>

#include "core/error.hpp"

namespace tessera {
namespace {

VariableInfo var_of(DType type, std::vector<Attribute> attrs) {
  VariableInfo v;
  v.name = "tas";
  v.dims = {"time", "lat", "lon"};
  v.shape = {2, 3, 4};
  v.type = type;
  v.attrs = std::move(attrs);
  return v;
}

Attribute num(const char* name, DType t, std::vector<double> v) { return Attribute::make_number(name, t, std::move(v)); }

// The message of the InputError thrown by decoding_for (fails the test if none is thrown).
std::string error_of(const VariableInfo& v, const std::string& where = "input 'a'") {
  return testing::message_of<InputError>([&] { decoding_for(v, where); });
}

TEST(Decoding, PlainVariableIsNotPackedAndHasNoMissingValues) {
  for (DType t : {DType::f32, DType::f64, DType::i16, DType::u8, DType::i64}) {
    const Decoding d = decoding_for(var_of(t, {}), "x");
    EXPECT_FALSE(d.packed);
    EXPECT_EQ(d.n_missing, 0);
    EXPECT_EQ(d.unpacked, t);
    EXPECT_EQ(d.mantissa_bits, dtype_mantissa_bits(t));
    EXPECT_EQ(d.unpack(3.5), 3.5);
  }
  EXPECT_EQ(decoding_for(var_of(DType::f32, {}), "x").mantissa_bits, 23);
  EXPECT_EQ(decoding_for(var_of(DType::f64, {}), "x").mantissa_bits, 52);
  EXPECT_EQ(decoding_for(var_of(DType::i32, {}), "x").mantissa_bits, 0);
}

TEST(Decoding, FillValueAndMissingValuesAreCollected) {
  const Decoding d = decoding_for(
      var_of(DType::i16, {num("_FillValue", DType::i16, {-32767}), num("missing_value", DType::i16, {-999, -998})}), "x");
  ASSERT_EQ(d.n_missing, 3);
  EXPECT_EQ(d.missing[0], -32767);
  EXPECT_EQ(d.missing[1], -999);
  EXPECT_EQ(d.missing[2], -998);
  EXPECT_FALSE(d.packed);
}

TEST(Decoding, NaNFillValueIsNotAComparisonValue) {
  // NaN never compares equal; NaN stored values are missing anyway.
  const Decoding d = decoding_for(
      var_of(DType::f32, {num("_FillValue", DType::f32, {std::nan("")}), num("missing_value", DType::f32, {1e20})}), "x");
  ASSERT_EQ(d.n_missing, 1);
  EXPECT_EQ(d.missing[0], 1e20);
}

TEST(Decoding, AtMostFourMissingValuesAreKept) {
  const Decoding d =
      decoding_for(var_of(DType::i32, {num("missing_value", DType::i32, {1, 2, 3, 4, 5, 6})}), "x");
  EXPECT_EQ(d.n_missing, Decoding::max_missing);
  EXPECT_EQ(d.missing[3], 4);
}

TEST(Decoding, ScaleAndOffsetMakeItPacked) {
  const Decoding d = decoding_for(var_of(DType::i16, {num("scale_factor", DType::f32, {0.01}),
                                                      num("add_offset", DType::f32, {273.15})}),
                                  "x");
  EXPECT_TRUE(d.packed);
  EXPECT_EQ(d.scale, 0.01);
  EXPECT_EQ(d.offset, 273.15);
  EXPECT_EQ(d.unpacked, DType::f32);  // CF: the attributes' type is the unpacked type
  EXPECT_EQ(d.mantissa_bits, 0);      // reductions see the stored shorts
  EXPECT_DOUBLE_EQ(d.unpack(100), 274.15);
}

TEST(Decoding, UnpackedTypeFollowsScaleFactorThenAddOffset) {
  EXPECT_EQ(decoding_for(var_of(DType::i16, {num("scale_factor", DType::f64, {2})}), "x").unpacked, DType::f64);
  // Only add_offset: its type decides; scale stays 1.
  const Decoding d = decoding_for(var_of(DType::i16, {num("add_offset", DType::f64, {10})}), "x");
  EXPECT_TRUE(d.packed);
  EXPECT_EQ(d.scale, 1.0);
  EXPECT_EQ(d.offset, 10.0);
  EXPECT_EQ(d.unpacked, DType::f64);
  EXPECT_EQ(d.unpack(5), 15.0);
  // scale_factor's type wins over add_offset's.
  EXPECT_EQ(decoding_for(var_of(DType::i16, {num("add_offset", DType::f64, {1}), num("scale_factor", DType::f32, {2})}), "x")
                .unpacked,
            DType::f32);
}

TEST(Decoding, IntegerTypedScaleUnpacksToFloat) {
  const Decoding d = decoding_for(var_of(DType::i16, {num("scale_factor", DType::i32, {10})}), "x");
  EXPECT_TRUE(d.packed);
  EXPECT_EQ(d.unpacked, DType::f32);
  EXPECT_EQ(d.unpack(3), 30.0);
}

TEST(Decoding, NegativeScaleIsAccepted) {
  const Decoding d = decoding_for(var_of(DType::i16, {num("scale_factor", DType::f32, {-0.5})}), "x");
  EXPECT_EQ(d.unpack(4), -2.0);
}

TEST(Decoding, ZeroScaleIsRejectedWithContext) {
  const std::string msg = error_of(var_of(DType::i16, {num("scale_factor", DType::f32, {0.0})}), "input 'obs'");
  EXPECT_NE(msg.find("input 'obs'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("scale_factor"), std::string::npos) << msg;
  EXPECT_NE(msg.find("'tas'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("finite and non-zero"), std::string::npos) << msg;
}

TEST(Decoding, NonFiniteScaleIsRejected) {
  for (double bad : {std::numeric_limits<double>::infinity(), -std::numeric_limits<double>::infinity(), std::nan("")}) {
    const std::string msg = error_of(var_of(DType::i16, {num("scale_factor", DType::f64, {bad})}));
    EXPECT_NE(msg.find("scale_factor of 'tas'"), std::string::npos) << msg;
  }
}

TEST(Decoding, NonFiniteOffsetIsRejected) {
  for (double bad : {std::numeric_limits<double>::infinity(), std::nan("")}) {
    const std::string msg = error_of(var_of(DType::i16, {num("add_offset", DType::f64, {bad})}), "input 'b'");
    EXPECT_NE(msg.find("input 'b'"), std::string::npos) << msg;
    EXPECT_NE(msg.find("add_offset of 'tas' is not finite"), std::string::npos) << msg;
  }
}

TEST(Decoding, TextAttributesAreRejected) {
  for (const char* name : {"_FillValue", "missing_value", "scale_factor", "add_offset"}) {
    const std::string msg = error_of(var_of(DType::f32, {Attribute::make_text(name, "abc")}));
    EXPECT_NE(msg.find(std::string("attribute ") + name), std::string::npos) << msg;
    EXPECT_NE(msg.find("must be numeric"), std::string::npos) << msg;
    EXPECT_NE(msg.find("'abc'"), std::string::npos) << msg;
  }
}

TEST(Decoding, EmptyNumericAttributeIsRejected) {
  EXPECT_THROW(decoding_for(var_of(DType::f32, {num("scale_factor", DType::f32, {})}), "x"), InputError);
}

TEST(Decoding, OtherAttributesAreIgnored) {
  const Decoding d = decoding_for(
      var_of(DType::f32, {Attribute::make_text("units", "K"), num("valid_max", DType::f32, {400})}), "x");
  EXPECT_FALSE(d.packed);
  EXPECT_EQ(d.n_missing, 0);
}

}  // namespace
}  // namespace tessera
