// What `tessera inspect` lists for a whole file: summarize_hdf5 (the path remote NetCDF-4/HDF5
// objects take, through ROS3) must list a NetCDF-4 file as summarize_file (netCDF-C) does:
// same dimensions and order, unlimited dimension, variables, attributes and global attributes.
#include <unistd.h>

#include <filesystem>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "decomp/box.hpp"
#include "io/hdf5_source.hpp"
#include "io/netcdf.hpp"
#include "io/scan.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

std::string describe(const Attribute& a) {
  std::string s = a.name + "=";
  if (a.is_text) return s + "\"" + a.text + "\"";
  s += dtype_name(a.type) + ":";
  for (double v : a.values) s += std::to_string(v) + ",";
  return s;
}

std::vector<std::string> describe(const std::vector<Attribute>& attrs) {
  std::vector<std::string> out;
  for (const auto& a : attrs) out.push_back(describe(a));
  return out;
}

// A NetCDF-4 file with a record axis, a dimension without a coordinate variable (bnds), a
// variable defined before its coordinates, chunking, deflate + shuffle, attributes of several
// types and global attributes.
void write_netcdf4(const std::string& path) {
  nc::File f = nc::File::create(path, "netcdf4");
  const int time = f.define_dimension("time", 0);
  const int lat = f.define_dimension("lat", 3);
  const int bnds = f.define_dimension("bnds", 2);
  const int lon = f.define_dimension("lon", 4);
  const int tas = f.define_variable("tas", DType::f32, {time, lat, lon});
  f.define_chunking(tas, {2, 3, 2});
  f.define_deflate(tas, true, 2);
  f.put_attribute(tas, Attribute::make_text("units", "K"));
  f.put_attribute(tas, Attribute::make_number("_FillValue", DType::f32, {1e20}));
  f.put_attribute(tas, Attribute::make_number("valid_range", DType::f32, {100, 400}));
  const int t = f.define_variable("time", DType::f64, {time});
  f.put_attribute(t, Attribute::make_text("units", "days since 2000-01-01"));
  f.put_attribute(t, Attribute::make_text("bounds", "time_bnds"));
  const int tb = f.define_variable("time_bnds", DType::f64, {time, bnds});
  const int la = f.define_variable("lat", DType::f32, {lat});
  f.put_attribute(la, Attribute::make_text("units", "degrees_north"));
  const int lo = f.define_variable("lon", DType::f64, {lon});
  const int n = f.define_variable("count", DType::i32, {lat, lon});
  f.put_attribute(n, Attribute::make_number("flag_values", DType::i16, {1, 2, 3}));
  f.put_attribute(-1, Attribute::make_text("title", "summary test"));
  f.put_attribute(-1, Attribute::make_number("version", DType::i32, {7}));
  f.end_define();
  const std::vector<float> tas_v(5 * 3 * 4, 280.0f);
  f.write(tas, Box{{0, 0, 0}, {5, 3, 4}}, DType::f32, tas_v.data());
  const std::vector<double> tv{0.5, 1.5, 2.5, 3.5, 4.5}, tbv(10, 1.0), lov{0, 90, 180, 270};
  const std::vector<float> lav{-45, 0, 45};
  const std::vector<int> nv(12, 1);
  f.write(t, Box{{0}, {5}}, DType::f64, tv.data());
  f.write(tb, Box{{0, 0}, {5, 2}}, DType::f64, tbv.data());
  f.write(la, Box{{0}, {3}}, DType::f32, lav.data());
  f.write(lo, Box{{0}, {4}}, DType::f64, lov.data());
  f.write(n, Box{{0, 0}, {3, 4}}, DType::i32, nv.data());
  f.close();
}

TEST(Summary, Hdf5ListsANetcdf4FileAsNetcdfDoes) {
  const std::string path =
      (fs::temp_directory_path() / ("tessera-summary-" + std::to_string(::getpid()) + ".nc")).string();
  fs::remove(path);
  write_netcdf4(path);
  const FileSummary want = summarize_file(path);
  const FileSummary got = summarize_hdf5(path);
  fs::remove(path);

  EXPECT_EQ(got.format, want.format);
  EXPECT_EQ(got.dims, want.dims);
  EXPECT_EQ(got.unlimited, want.unlimited);
  ASSERT_EQ(want.vars.size(), 6u);  // bnds' placeholder scale is no variable
  ASSERT_EQ(got.vars.size(), want.vars.size());
  for (std::size_t i = 0; i < want.vars.size(); ++i) {
    const VariableInfo &g = got.vars[i], &w = want.vars[i];
    SCOPED_TRACE(w.name);
    EXPECT_EQ(g.name, w.name);
    EXPECT_EQ(g.dims, w.dims);
    EXPECT_EQ(g.shape, w.shape);
    EXPECT_EQ(g.type, w.type);
    EXPECT_EQ(g.chunks, w.chunks);
    EXPECT_EQ(g.compression, w.compression);
    EXPECT_EQ(describe(g.attrs), describe(w.attrs));
  }
  EXPECT_EQ(describe(got.global_attrs), describe(want.global_attrs));
}

}  // namespace
}  // namespace tessera
