// Selections by coordinate value: index ranges, longitude wrap-around, dates in the file's
// calendar, the view's coordinates, and the errors users see.
#include <gtest/gtest.h>

#include "core/error.hpp"
#include "io/selection.hpp"

namespace tessera {
namespace {

CoordinateInfo coord(const std::string& name, std::vector<double> values, std::vector<Attribute> attrs = {}) {
  CoordinateInfo c;
  c.var.name = name;
  c.var.dims = {name};
  c.var.shape = {values.size()};
  c.var.type = DType::f64;
  c.var.attrs = std::move(attrs);
  c.values = std::move(values);
  for (double v : c.values) c.bounds.push_back(v - 0.5), c.bounds.push_back(v + 0.5);
  c.bounds_name = name + "_bnds";
  return c;
}

// tas(time=365 daily values of 2001, lat = 85 ... -85 descending, lon = 0 ... 350 every 10 degrees).
InputMeta meta(const std::string& calendar = "standard") {
  InputMeta m;
  m.alias = "tas";
  m.kind = "netcdf";
  m.var.name = "tas";
  m.var.dims = {"time", "lat", "lon"};
  m.var.shape = {365, 18, 36};
  std::vector<double> t, lat, lon;
  for (int i = 0; i < 365; ++i) t.push_back(366 + i + 0.5);  // days since 2000-01-01: 2001
  for (int i = 0; i < 18; ++i) lat.push_back(85 - 10 * i);
  for (int i = 0; i < 36; ++i) lon.push_back(10 * i);
  m.coords.push_back(coord("time", t, {Attribute::make_text("units", "days since 2000-01-01"),
                                       Attribute::make_text("calendar", calendar)}));
  m.coords.push_back(coord("lat", lat, {Attribute::make_text("units", "degrees_north")}));
  m.coords.push_back(coord("lon", lon, {Attribute::make_text("units", "degrees_east")}));
  m.parts.push_back({"/data/tas_2001.nc", "netCDF-4", 0, 365, ""});
  return m;
}

SelectSpec sel(const std::string& dim, std::vector<std::string> values) {
  SelectSpec s;
  s.dim = dim;
  s.values = std::move(values);
  s.pos = {7, 5};
  return s;
}

std::string error_of(const InputMeta& m, const SelectSpec& s) {
  try {
    resolve_selection(m, {s}, "job.yaml", "input 'tas'");
  } catch (const JobError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(Selection, NoSelectionIsIdentity) {
  const InputMeta m = meta();
  const Selection s = resolve_selection(m, {}, "job.yaml", "input 'tas'");
  EXPECT_TRUE(s.identity(m.var.shape));
}

TEST(Selection, DescendingLatitudeRangeInEitherOrder) {
  const InputMeta m = meta();
  for (auto range : {std::vector<std::string>{"-30", "30"}, std::vector<std::string>{"30", "-30"}}) {
    const Selection s = resolve_selection(m, {sel("lat", range)}, "job.yaml", "input 'tas'");
    ASSERT_EQ(s.axes[1].size(), 1u);
    EXPECT_EQ(s.axes[1][0].start, 6u);  // 25, 15, 5, -5, -15, -25
    EXPECT_EQ(s.axes[1][0].count, 6u);
  }
}

TEST(Selection, LongitudeAcrossTheSeamGivesTwoPiecesAndContinuousValues) {
  const InputMeta m = meta();
  const Selection s = resolve_selection(m, {sel("lon", {"340", "20"})}, "job.yaml", "input 'tas'");
  ASSERT_EQ(s.axes[2].size(), 2u);
  EXPECT_EQ(s.axes[2][0].start, 34u);  // 340, 350
  EXPECT_EQ(s.axes[2][0].count, 2u);
  EXPECT_EQ(s.axes[2][1].start, 0u);   // 0, 10, 20
  EXPECT_EQ(s.axes[2][1].count, 3u);
  const SelectedInput in = apply_selection(m, s);
  EXPECT_EQ(in.view.var.shape[2], 5u);
  EXPECT_EQ(in.view.coordinate("lon")->values, (std::vector<double>{340, 350, 360, 370, 380}));
  // The same cells from a -180..180 style request.
  const Selection t = resolve_selection(m, {sel("lon", {"-20", "20"})}, "job.yaml", "input 'tas'");
  ASSERT_EQ(t.axes[2].size(), 2u);
  EXPECT_EQ(t.axes[2][0].start, 34u);
  EXPECT_EQ(apply_selection(m, t).view.coordinate("lon")->values, (std::vector<double>{-20, -10, 0, 10, 20}));
}

TEST(Selection, DatesNameWholePeriodsInclusive) {
  const InputMeta m = meta();
  const Selection s = resolve_selection(m, {sel("time", {"2001-02", "2001-03-31"})}, "job.yaml", "input 'tas'");
  ASSERT_EQ(s.axes[0].size(), 1u);
  EXPECT_EQ(s.axes[0][0].start, 31u);
  EXPECT_EQ(s.axes[0][0].count, 28u + 31u);
  const Selection one = resolve_selection(m, {sel("time", {"2001-12"})}, "job.yaml", "input 'tas'");
  EXPECT_EQ(one.axes[0][0].start, 334u);
  EXPECT_EQ(one.axes[0][0].count, 31u);
}

TEST(Selection, DatesFollowTheCalendar) {
  // 2001-02-30 exists only in a 360_day calendar.
  EXPECT_NE(error_of(meta("standard"), sel("time", {"2001-02-30", "2001-03-01"})).find("job.yaml:7:5"), std::string::npos);
  const InputMeta m = meta("360_day");
  const Selection s = resolve_selection(m, {sel("time", {"2001-02-30", "2001-02-30"})}, "job.yaml", "input 'tas'");
  EXPECT_EQ(s.axes[0][0].count, 1u);
}

TEST(Selection, SingleValueMustMatch) {
  const InputMeta m = meta();
  const Selection s = resolve_selection(m, {sel("lat", {"45"})}, "job.yaml", "input 'tas'");
  EXPECT_EQ(s.axes[1][0].start, 4u);
  EXPECT_EQ(s.axes[1][0].count, 1u);
  const std::string e = error_of(m, sel("lat", {"44"}));
  EXPECT_NE(e.find("no 'lat' equals 44"), std::string::npos) << e;
}

TEST(Selection, ErrorsGiveTheAvailableRange) {
  const InputMeta m = meta();
  std::string e = error_of(m, sel("time", {"1990", "1991"}));
  EXPECT_NE(e.find("job.yaml:7:5: select 'time'"), std::string::npos) << e;
  EXPECT_NE(e.find("2001-01-01T12:00:00 .. 2001-12-31T12:00:00"), std::string::npos) << e;
  e = error_of(m, sel("lat", {"100", "120"}));
  EXPECT_NE(e.find("spans -85 .. 85"), std::string::npos) << e;
  e = error_of(m, sel("depth", {"1", "2"}));
  EXPECT_NE(e.find("'depth' is not a dimension of tas (time, lat, lon)"), std::string::npos) << e;
  e = error_of(m, sel("lat", {"north", "2"}));
  EXPECT_NE(e.find("'north' is not a number"), std::string::npos) << e;
}

TEST(Selection, FilesOutsideATimeSelectionAreDropped) {
  InputMeta m = meta();
  m.parts = {{"/d/a.nc", "netCDF-4", 0, 100, ""}, {"/d/b.nc", "netCDF-4", 100, 100, ""}, {"/d/c.nc", "netCDF-4", 200, 165, ""}};
  const Selection s = resolve_selection(m, {sel("time", {"2001-05-01", "2001-06-30"})}, "job.yaml", "input 'tas'");
  const SelectedInput in = apply_selection(m, s);
  ASSERT_EQ(in.stored.parts.size(), 1u);
  EXPECT_EQ(in.stored.parts[0].path, "/d/b.nc");
  EXPECT_EQ(in.stored.parts[0].offset, 0u);
  EXPECT_EQ(in.stored.var.shape[0], 100u);
  EXPECT_EQ(in.sel.axes[0][0].start, 120u - 100u);  // May 1st is day 120 of 2001
  EXPECT_EQ(in.view.var.shape[0], 61u);
}

}  // namespace
}  // namespace tessera
