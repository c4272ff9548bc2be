// aggregate_files, the one place where files of an input (local or remote) are joined: record
// coordinates in other time units are converted onto the first file's, files are ordered by
// time, bounds kept only when every file has them; disagreements are InputErrors naming files.
#include <gtest/gtest.h>

#include "../thrown.hpp"

#include <string>

#include "core/error.hpp"
#include "io/aggregate.hpp"

namespace tessera {
namespace {

InputMeta file(const std::string& path, std::vector<double> times, const std::string& units,
               const std::string& kind = "netcdf", const std::string& calendar = "") {
  InputMeta m;
  m.alias = "tas";
  m.kind = kind;
  m.var.name = "tas";
  m.var.dims = {"time", "lat"};
  m.var.shape = {times.size(), 3};
  m.parts = {{path, "netCDF-4", 0, times.size(), ""}};
  m.global_attrs = {Attribute::make_text("source", path)};
  CoordinateInfo t;
  t.var.name = "time";
  t.var.dims = {"time"};
  t.var.shape = {times.size()};
  t.var.type = DType::f64;
  t.var.attrs = {Attribute::make_text("units", units)};
  if (!calendar.empty()) t.var.attrs.push_back(Attribute::make_text("calendar", calendar));
  t.bounds_name = "time_bnds";
  for (double v : times) t.bounds.insert(t.bounds.end(), {v - 0.5, v + 0.5});
  t.values = std::move(times);
  CoordinateInfo lat;
  lat.var.name = "lat";
  lat.var.dims = {"lat"};
  lat.var.shape = {3};
  lat.values = {-10, 0, 10};
  m.coords = {t, lat};
  return m;
}

TEST(Aggregate, ConvertsTimeUnitsOntoTheFirstFilesAndOrdersByTime) {
  // 2001-01-01 is day 366 after 2000-01-01 (2000 is a leap year).
  std::vector<InputMeta> files = {file("b.nc", {0, 24}, "hours since 2001-01-01 00:00"),
                                  file("a.nc", {364, 365}, "days since 2000-01-01")};
  const InputMeta m = aggregate_files(files);
  // The first file (as listed) sets the units: hours since 2001-01-01.
  const CoordinateInfo* t = m.coordinate("time");
  ASSERT_NE(t, nullptr);
  EXPECT_EQ(t->var.attr("units")->text, "hours since 2001-01-01 00:00");
  EXPECT_EQ(t->values, (std::vector<double>{-48, -24, 0, 24}));
  EXPECT_EQ(t->bounds.size(), 8u);
  EXPECT_EQ(t->bounds.front(), -60);  // 363.5 days since 2000-01-01
  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.parts[0].path, "a.nc");
  EXPECT_EQ(m.parts[1].path, "b.nc");
  EXPECT_EQ(m.parts[1].offset, 2u);
  EXPECT_EQ(m.var.shape[0], 4u);
  EXPECT_EQ(m.global_attrs.front().text, "a.nc");  // from the first file in record order
  EXPECT_EQ(m.coordinate("lat")->values.size(), 3u);
}

TEST(Aggregate, BoundsOnlyWhenEveryFileHasThem) {
  InputMeta b = file("b.nc", {2, 3}, "days since 2000-01-01");
  b.coords[0].bounds.clear();
  const InputMeta m = aggregate_files({file("a.nc", {0, 1}, "days since 2000-01-01"), b});
  EXPECT_TRUE(m.coordinate("time")->bounds.empty());
  EXPECT_TRUE(m.coordinate("time")->bounds_name.empty());
}

TEST(Aggregate, RefusesOtherCalendarsUnitsAndShapes) {
  std::string msg = testing::message_of<InputError>([] {
    aggregate_files({file("a.nc", {0}, "days since 2000-01-01", "netcdf", "noleap"),
                     file("b.nc", {0}, "days since 2001-01-01", "netcdf", "360_day")});
  });
  EXPECT_NE(msg.find("b.nc"), std::string::npos) << msg;
  EXPECT_NE(msg.find("calendar"), std::string::npos) << msg;
  msg = testing::message_of<InputError>(
      [] { aggregate_files({file("a.nc", {0}, "days since 2000-01-01"), file("b.nc", {1}, "K")}); });
  EXPECT_NE(msg.find("units 'K'"), std::string::npos) << msg;
  InputMeta wide = file("b.nc", {1}, "days since 2000-01-01");
  wide.var.shape[1] = 4;
  msg = testing::message_of<InputError>([&] { aggregate_files({file("a.nc", {0}, "days since 2000-01-01"), wide}); });
  EXPECT_NE(msg.find("dimension 'lat' has length 4"), std::string::npos) << msg;
}

TEST(Aggregate, RemoteKinds) {
  const InputMeta m = aggregate_files({file("http://h/a.nc", {0}, "days since 2000-01-01", "hdf5-remote"),
                                       file("http://h/b.nc", {1}, "days since 2000-01-01", "hdf5-ros3")});
  EXPECT_EQ(m.kind, "hdf5-ros3");
  const std::string msg = testing::message_of<InputError>([] {
    aggregate_files({file("http://h/a.nc", {0}, "days since 2000-01-01", "hdf5-remote"),
                     file("http://h/b.nc", {1}, "days since 2000-01-01", "netcdf3-remote")});
  });
  EXPECT_NE(msg.find("http://h/b.nc"), std::string::npos) << msg;
}

}  // namespace
}  // namespace tessera
