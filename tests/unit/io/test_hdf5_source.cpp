// The plain-HDF5 reader: files are written here with the HDF5 C API (and its dimension-scale
// API), then scanned and read back through scan_hdf5 / open_hdf5_source.
#include <hdf5.h>
#include <hdf5_hl.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "core/error.hpp"
#include "decomp/box.hpp"
#include "io/hdf5.hpp"
#include "io/hdf5_source.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

// tas(t, y, x) with t the time index in the aggregate: every value says where it came from.
float tas_value(std::size_t t, std::size_t y, std::size_t x) { return 1000.0f * t + 10.0f * y + x + 0.5f; }

void add_text_attr(hid_t obj, const char* name, const std::string& value, bool variable_length) {
  h5::Handle type(H5Tcopy(H5T_C_S1), H5Tclose);
  H5Tset_size(type.get(), variable_length ? H5T_VARIABLE : value.size());
  h5::Handle space(H5Screate(H5S_SCALAR), H5Sclose);
  h5::Handle attr(H5Acreate2(obj, name, type.get(), space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  if (variable_length) {
    const char* p = value.c_str();
    H5Awrite(attr.get(), type.get(), &p);
  } else {
    H5Awrite(attr.get(), type.get(), value.data());
  }
}

void add_number_attr(hid_t obj, const char* name, hid_t file_type, const std::vector<double>& values, int rank = 1) {
  const hsize_t dims[2] = {rank == 2 ? values.size() / 2 : values.size(), 2};
  h5::Handle space(values.size() == 1 && rank == 1 ? H5Screate(H5S_SCALAR) : H5Screate_simple(rank, dims, nullptr),
                   H5Sclose);
  h5::Handle attr(H5Acreate2(obj, name, file_type, space.get(), H5P_DEFAULT, H5P_DEFAULT), H5Aclose);
  H5Awrite(attr.get(), H5T_NATIVE_DOUBLE, values.data());
}

h5::Handle make_dataset(hid_t loc, const char* name, hid_t file_type, const std::vector<hsize_t>& dims,
                        hid_t dcpl = H5P_DEFAULT) {
  h5::Handle space(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), H5Sclose);
  return h5::Handle(H5Dcreate2(loc, name, file_type, space.get(), H5P_DEFAULT, dcpl, H5P_DEFAULT), H5Dclose);
}

h5::Handle make_scale(hid_t loc, const char* name, const std::vector<double>& values, const char* scale_name) {
  h5::Handle ds = make_dataset(loc, name, H5T_IEEE_F64LE, {values.size()});
  H5Dwrite(ds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data());
  H5DSset_scale(ds.get(), scale_name);
  return ds;
}

// /grid/tas(time, lat, lon) for time indices [t0, t0 + nt), chunked 2 x lat x lon with
// shuffle + deflate(4), with scales /grid/time (+ bounds), /grid/lat and /grid/lon (no NAME).
void write_grid(const std::string& path, std::size_t t0, std::size_t nt, std::size_t nlat = 3,
                hid_t file_type = H5T_IEEE_F32LE) {
  const std::size_t nlon = 5;
  h5::Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  add_text_attr(file.get(), "title", "Tessera HDF5 test", true);
  add_number_attr(file.get(), "version", H5T_STD_I32LE, {3});
  h5::Handle grid(H5Gcreate2(file.get(), "grid", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);

  h5::Handle dcpl(H5Pcreate(H5P_DATASET_CREATE), H5Pclose);
  const hsize_t chunk[3] = {2, nlat, nlon};
  H5Pset_chunk(dcpl.get(), 3, chunk);
  H5Pset_shuffle(dcpl.get());
  H5Pset_deflate(dcpl.get(), 4);
  h5::Handle tas = make_dataset(grid.get(), "tas", file_type, {nt, nlat, nlon}, dcpl.get());
  std::vector<float> data;
  for (std::size_t t = 0; t < nt; ++t)
    for (std::size_t y = 0; y < nlat; ++y)
      for (std::size_t x = 0; x < nlon; ++x) data.push_back(tas_value(t0 + t, y, x));
  H5Dwrite(tas.get(), H5T_NATIVE_FLOAT, H5S_ALL, H5S_ALL, H5P_DEFAULT, data.data());
  add_text_attr(tas.get(), "units", "K", false);
  add_text_attr(tas.get(), "long_name", "near-surface air temperature", true);
  add_number_attr(tas.get(), "scale_factor", H5T_IEEE_F64LE, {1.0});
  add_number_attr(tas.get(), "valid_range", H5T_IEEE_F32LE, {100.0, 400.0});
  add_number_attr(tas.get(), "matrix", H5T_STD_I32LE, {1, 2, 3, 4}, 2);  // 2-d: skipped

  std::vector<double> time, bounds, lat, lon;
  for (std::size_t t = t0; t < t0 + nt; ++t) {
    time.push_back(t + 0.5);
    bounds.push_back(t);
    bounds.push_back(t + 1.0);
  }
  for (std::size_t y = 0; y < nlat; ++y) lat.push_back(-30.0 + 30.0 * y);
  for (std::size_t x = 0; x < nlon; ++x) lon.push_back(72.0 * x);
  h5::Handle time_ds = make_scale(grid.get(), "time", time, "time");
  add_text_attr(time_ds.get(), "units", "days since 2000-01-01", false);
  add_text_attr(time_ds.get(), "bounds", "time_bnds", false);
  h5::Handle bnds = make_dataset(grid.get(), "time_bnds", H5T_IEEE_F64LE, {nt, 2});
  H5Dwrite(bnds.get(), H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, bounds.data());
  h5::Handle lat_ds = make_scale(grid.get(), "lat", lat, "lat");
  h5::Handle lon_ds = make_scale(grid.get(), "lon", lon, nullptr);
  H5DSattach_scale(tas.get(), time_ds.get(), 0);
  H5DSattach_scale(tas.get(), lat_ds.get(), 1);
  H5DSattach_scale(tas.get(), lon_ds.get(), 2);
}

// /counts(6, 4) int16, contiguous, no scales; /obs a compound dataset; /group an empty group.
void write_plain(const std::string& path) {
  h5::Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  h5::Handle counts = make_dataset(file.get(), "counts", H5T_STD_I16BE, {6, 4});  // big-endian on disk
  std::vector<short> v(24);
  for (std::size_t i = 0; i < v.size(); ++i) v[i] = static_cast<short>(i * 7 - 50);
  H5Dwrite(counts.get(), H5T_NATIVE_SHORT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data());

  struct Obs {
    int id;
    double value;
  };
  h5::Handle obs_type(H5Tcreate(H5T_COMPOUND, sizeof(Obs)), H5Tclose);
  H5Tinsert(obs_type.get(), "id", HOFFSET(Obs, id), H5T_NATIVE_INT);
  H5Tinsert(obs_type.get(), "value", HOFFSET(Obs, value), H5T_NATIVE_DOUBLE);
  h5::Handle obs = make_dataset(file.get(), "obs", obs_type.get(), {2});
  h5::Handle group(H5Gcreate2(file.get(), "group", H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT), H5Gclose);
}

// /v(2, 3) whose second dimension carries netCDF-4's placeholder scale (a dimension without a
// coordinate variable), as netCDF-4 files read by path have.
void write_netcdf_like(const std::string& path) {
  h5::Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  h5::Handle v = make_dataset(file.get(), "v", H5T_IEEE_F32LE, {2, 3});
  h5::Handle extra = make_dataset(file.get(), "extra", H5T_IEEE_F32LE, {3});
  H5DSset_scale(extra.get(), "This is a netCDF dimension but not a netCDF variable.         3");
  H5DSattach_scale(v.get(), extra.get(), 1);
}

// /x(1, 2) int32 holding {i, -i}: one record per file, for many-file reads.
void write_record(const std::string& path, int i) {
  h5::Handle file(H5Fcreate(path.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
  h5::Handle x = make_dataset(file.get(), "x", H5T_STD_I32LE, {1, 2});
  const int v[2] = {i, -i};
  H5Dwrite(x.get(), H5T_NATIVE_INT, H5S_ALL, H5S_ALL, H5P_DEFAULT, v);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const InputError& e) {
    EXPECT_EQ(e.code(), ExitCode::input);
    return e.what();
  }
  return "(no InputError)";
}

class Hdf5SourceTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
    dir_ = fs::temp_directory_path() / ("tessera_hdf5_test_" + std::to_string(getpid()) + "_" + std::to_string(stamp));
    fs::create_directories(dir_);
    write_grid(path("a.h5"), 0, 4);
    write_grid(path("b.h5"), 4, 3);
    write_grid(path("narrow.h5"), 7, 2, 2);
    write_grid(path("double.h5"), 7, 2, 3, H5T_IEEE_F64LE);
    write_plain(path("plain.h5"));
    h5::Handle empty(H5Fcreate(path("empty.h5").c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), H5Fclose);
    std::ofstream(path("notes.txt")) << "this is not an HDF5 file\n";
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }
  static std::string path(const std::string& name) { return (dir_ / name).string(); }

  static fs::path dir_;
};

fs::path Hdf5SourceTest::dir_;

TEST(Hdf5Path, AbsolutePathsSelectTheHdf5Reader) {
  EXPECT_TRUE(looks_like_hdf5_path("/grid/tas"));
  EXPECT_TRUE(looks_like_hdf5_path("/tas"));
  EXPECT_FALSE(looks_like_hdf5_path("tas"));
  EXPECT_FALSE(looks_like_hdf5_path(""));
}

TEST(Hdf5Handle, IsMoveOnlyAndClosesOnce) {
  h5::Handle a(H5Screate(H5S_SCALAR), H5Sclose);
  ASSERT_TRUE(a);
  const hid_t id = a.get();
  h5::Handle b(std::move(a));
  EXPECT_FALSE(a);
  EXPECT_EQ(b.get(), id);
  h5::Handle c;
  c = std::move(b);
  EXPECT_EQ(c.get(), id);
  EXPECT_GT(H5Iis_valid(id), 0);
  c.reset();
  EXPECT_FALSE(c);
  EXPECT_LE(H5Iis_valid(id), 0);
}

TEST_F(Hdf5SourceTest, ScanDescribesTheAggregate) {
  const InputMeta m = scan_hdf5({path("a.h5"), path("b.h5")}, "/grid/tas", "t");
  EXPECT_EQ(m.alias, "t");
  EXPECT_EQ(m.kind, "hdf5");
  EXPECT_EQ(m.var.name, "/grid/tas");
  EXPECT_EQ(m.var.dims, (std::vector<std::string>{"time", "lat", "lon"}));
  EXPECT_EQ(m.var.shape, (std::vector<std::size_t>{7, 3, 5}));
  EXPECT_EQ(m.var.type, DType::f32);
  EXPECT_EQ(m.var.chunks, (std::vector<std::size_t>{2, 3, 5}));
  EXPECT_EQ(m.var.compression, "deflate(4) shuffle");

  ASSERT_EQ(m.parts.size(), 2u);
  EXPECT_EQ(m.parts[0].path, path("a.h5"));
  EXPECT_EQ(m.parts[0].format, "HDF5");
  EXPECT_EQ(m.parts[0].offset, 0u);
  EXPECT_EQ(m.parts[0].length, 4u);
  EXPECT_EQ(m.parts[1].path, path("b.h5"));
  EXPECT_EQ(m.parts[1].offset, 4u);
  EXPECT_EQ(m.parts[1].length, 3u);
}

// What `tessera inspect` lists for a plain HDF5 file (the path of HDF5 URLs): datasets in groups
// by absolute path, dimensions named by scales, compound datasets left out, root attributes.
TEST_F(Hdf5SourceTest, SummaryListsEveryNumericDataset) {
  const FileSummary g = summarize_hdf5(path("a.h5"));
  EXPECT_EQ(g.format, "HDF5");
  std::vector<std::string> names;
  for (const auto& v : g.vars) names.push_back(v.name);
  // No creation order tracked in this file: by name.
  EXPECT_EQ(names, (std::vector<std::string>{"/grid/lat", "/grid/lon", "/grid/tas", "/grid/time", "/grid/time_bnds"}));
  const VariableInfo& tas = g.vars[2];
  EXPECT_EQ(tas.dims, (std::vector<std::string>{"time", "lat", "lon"}));
  EXPECT_EQ(tas.shape, (std::vector<std::size_t>{4, 3, 5}));
  EXPECT_EQ(tas.compression, "deflate(4) shuffle");
  ASSERT_NE(tas.attr("units"), nullptr);
  EXPECT_EQ(g.vars[3].dims, (std::vector<std::string>{"time"}));
  EXPECT_EQ(g.vars[3].attr("CLASS"), nullptr);
  EXPECT_EQ(g.vars[1].dims, (std::vector<std::string>{"lon"}));
  ASSERT_GE(g.dims.size(), 3u);
  EXPECT_EQ(g.dims[0], (std::pair<std::string, std::size_t>{"lat", 3}));
  EXPECT_EQ(g.unlimited, -1);
  ASSERT_EQ(g.global_attrs.size(), 2u);
  EXPECT_EQ(g.global_attrs[0].name, "title");

  const FileSummary p = summarize_hdf5(path("plain.h5"));
  ASSERT_EQ(p.vars.size(), 1u);  // the compound /obs is left out
  EXPECT_EQ(p.vars[0].name, "counts");
  EXPECT_EQ(p.vars[0].dims, (std::vector<std::string>{"dim0", "dim1"}));

  write_netcdf_like(path("nc_like_summary.h5"));
  const FileSummary n = summarize_hdf5(path("nc_like_summary.h5"));
  ASSERT_EQ(n.vars.size(), 1u);  // the placeholder scale /extra is a dimension, not a variable
  EXPECT_EQ(n.vars[0].dims, (std::vector<std::string>{"dim0", "extra"}));
}

TEST_F(Hdf5SourceTest, ScanReadsAttributes) {
  const InputMeta m = scan_hdf5({path("a.h5"), path("b.h5")}, "/grid/tas", "t");
  const Attribute* units = m.var.attr("units");
  ASSERT_NE(units, nullptr);
  EXPECT_TRUE(units->is_text);
  EXPECT_EQ(units->text, "K");
  const Attribute* long_name = m.var.attr("long_name");
  ASSERT_NE(long_name, nullptr);
  EXPECT_EQ(long_name->text, "near-surface air temperature");
  const Attribute* scale = m.var.attr("scale_factor");
  ASSERT_NE(scale, nullptr);
  EXPECT_FALSE(scale->is_text);
  EXPECT_EQ(scale->type, DType::f64);
  EXPECT_EQ(scale->values, std::vector<double>{1.0});
  const Attribute* range = m.var.attr("valid_range");
  ASSERT_NE(range, nullptr);
  EXPECT_EQ(range->type, DType::f32);
  EXPECT_EQ(range->values, (std::vector<double>{100.0, 400.0}));
  // 2-d attributes and the dimension-scale bookkeeping are left out.
  EXPECT_EQ(m.var.attr("matrix"), nullptr);
  EXPECT_EQ(m.var.attr("DIMENSION_LIST"), nullptr);
  EXPECT_EQ(m.var.attrs.size(), 4u);

  const Attribute* title = find_attribute(m.global_attrs, "title");
  ASSERT_NE(title, nullptr);
  EXPECT_EQ(title->text, "Tessera HDF5 test");
  const Attribute* version = find_attribute(m.global_attrs, "version");
  ASSERT_NE(version, nullptr);
  EXPECT_EQ(version->type, DType::i32);
  EXPECT_EQ(version->values, std::vector<double>{3});
}

TEST_F(Hdf5SourceTest, ScanConcatenatesTheRecordCoordinate) {
  const InputMeta m = scan_hdf5({path("a.h5"), path("b.h5")}, "/grid/tas", "t");
  ASSERT_EQ(m.coords.size(), 3u);
  const CoordinateInfo& time = m.coords[0];
  EXPECT_EQ(time.var.name, "time");
  EXPECT_EQ(time.var.dims, std::vector<std::string>{"time"});
  EXPECT_EQ(time.var.shape, std::vector<std::size_t>{7});
  EXPECT_EQ(time.var.type, DType::f64);
  EXPECT_EQ(time.values, (std::vector<double>{0.5, 1.5, 2.5, 3.5, 4.5, 5.5, 6.5}));
  EXPECT_EQ(time.bounds_name, "time_bnds");
  ASSERT_EQ(time.bounds.size(), 14u);
  EXPECT_EQ(time.bounds[0], 0.0);
  EXPECT_EQ(time.bounds[13], 7.0);
  ASSERT_NE(time.var.attr("units"), nullptr);
  EXPECT_EQ(time.var.attr("units")->text, "days since 2000-01-01");
  EXPECT_EQ(time.var.attr("CLASS"), nullptr);
  EXPECT_EQ(time.var.attr("NAME"), nullptr);

  const CoordinateInfo& lat = m.coords[1];
  EXPECT_EQ(lat.var.name, "lat");
  EXPECT_EQ(lat.values, (std::vector<double>{-30, 0, 30}));
  EXPECT_TRUE(lat.bounds.empty());
  // A scale without a NAME is named after its dataset.
  const CoordinateInfo& lon = m.coords[2];
  EXPECT_EQ(lon.var.name, "lon");
  EXPECT_EQ(lon.var.dims, std::vector<std::string>{"lon"});
  EXPECT_EQ(lon.values, (std::vector<double>{0, 72, 144, 216, 288}));
}

TEST_F(Hdf5SourceTest, ReadsABoxThatSpansFiles) {
  const InputMeta m = scan_hdf5({path("a.h5"), path("b.h5")}, "/grid/tas", "t");
  std::unique_ptr<Source> src = open_hdf5_source(m);
  EXPECT_EQ(src->meta().var.shape, m.var.shape);

  const Box box({2, 1, 1}, {4, 2, 3});  // time 2..5: two rows from each file
  std::vector<float> got(volume(box), -1.0f);
  src->read(box, got.data());
  std::size_t i = 0;
  for (std::size_t t = 2; t < 6; ++t)
    for (std::size_t y = 1; y < 3; ++y)
      for (std::size_t x = 1; x < 4; ++x, ++i) EXPECT_EQ(got[i], tas_value(t, y, x)) << t << "," << y << "," << x;

  // Again, whole, with the files already open.
  const Box whole = Box::whole(m.var.shape);
  std::vector<float> all(volume(whole));
  src->read(whole, all.data());
  i = 0;
  for (std::size_t t = 0; t < 7; ++t)
    for (std::size_t y = 0; y < 3; ++y)
      for (std::size_t x = 0; x < 5; ++x, ++i) ASSERT_EQ(all[i], tas_value(t, y, x));

  // A box inside the second file only.
  const Box tail({5, 0, 4}, {2, 3, 1});
  std::vector<float> last(volume(tail));
  src->read(tail, last.data());
  EXPECT_EQ(last.front(), tas_value(5, 0, 4));
  EXPECT_EQ(last.back(), tas_value(6, 2, 4));
}

TEST_F(Hdf5SourceTest, EmptyBoxReadsNothing) {
  std::unique_ptr<Source> src = open_hdf5_source(scan_hdf5({path("a.h5"), path("b.h5")}, "/grid/tas", "t"));
  float sentinel = -7.0f;
  src->read(Box({3, 0, 0}, {2, 0, 5}), &sentinel);
  src->read(Box({7, 0, 0}, {0, 3, 5}), &sentinel);
  EXPECT_EQ(sentinel, -7.0f);
}

TEST_F(Hdf5SourceTest, BoxOutsideTheVariableIsAnInputError) {
  std::unique_ptr<Source> src = open_hdf5_source(scan_hdf5({path("a.h5")}, "/grid/tas", "t"));
  std::vector<float> buf(100);
  const std::string msg = error_of([&] { src->read(Box({3, 0, 0}, {2, 3, 5}), buf.data()); });
  EXPECT_NE(msg.find("[3:5, 0:3, 0:5)"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/grid/tas"), std::string::npos) << msg;
}

TEST_F(Hdf5SourceTest, DatasetWithoutScalesGetsNumberedDimensions) {
  const InputMeta m = scan_hdf5({path("plain.h5")}, "/counts", "c");
  EXPECT_EQ(m.var.dims, (std::vector<std::string>{"dim0", "dim1"}));
  EXPECT_EQ(m.var.shape, (std::vector<std::size_t>{6, 4}));
  EXPECT_EQ(m.var.type, DType::i16);
  EXPECT_TRUE(m.var.chunks.empty());
  EXPECT_EQ(m.var.compression, "");
  EXPECT_TRUE(m.var.attrs.empty());
  EXPECT_TRUE(m.coords.empty());
  EXPECT_TRUE(m.global_attrs.empty());

  std::unique_ptr<Source> src = open_hdf5_source(m);
  std::vector<short> got(6);
  src->read(Box({1, 1}, {2, 3}), got.data());
  EXPECT_EQ(got, (std::vector<short>{-15, -8, -1, 13, 20, 27}));  // i * 7 - 50, i = 4*r + c
}

TEST_F(Hdf5SourceTest, MissingDatasetListsThoseThatExist) {
  const std::string msg = error_of([&] { scan_hdf5({path("a.h5")}, "/grid/nope", "t"); });
  EXPECT_NE(msg.find("variable '/grid/nope' not found in '" + path("a.h5") + "'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/grid/tas"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/grid/time_bnds"), std::string::npos) << msg;

  // Missing intermediate groups, groups and empty files are "not found" too.
  EXPECT_NE(error_of([&] { scan_hdf5({path("a.h5")}, "/nogroup/tas", "t"); }).find("not found"), std::string::npos);
  EXPECT_NE(error_of([&] { scan_hdf5({path("plain.h5")}, "/group", "t"); }).find("not found"), std::string::npos);
  EXPECT_NE(error_of([&] { scan_hdf5({path("empty.h5")}, "/x", "t"); }).find("the file has no datasets"),
            std::string::npos);
}

TEST_F(Hdf5SourceTest, FilesThatDisagreeAreRejected) {
  const std::string msg = error_of([&] { scan_hdf5({path("a.h5"), path("narrow.h5")}, "/grid/tas", "t"); });
  EXPECT_EQ(msg, "file '" + path("narrow.h5") + "': /grid/tas has dimension 1 of length 2, but '" + path("a.h5") +
                     "' has 3");
  const std::string type_msg = error_of([&] { scan_hdf5({path("a.h5"), path("double.h5")}, "/grid/tas", "t"); });
  EXPECT_EQ(type_msg, "file '" + path("double.h5") + "': /grid/tas has type double, but '" + path("a.h5") +
                          "' has float");
}

TEST_F(Hdf5SourceTest, UnsupportedTypesAreNamed) {
  const std::string msg = error_of([&] { scan_hdf5({path("plain.h5")}, "/obs", "o"); });
  EXPECT_NE(msg.find("'/obs'"), std::string::npos) << msg;
  EXPECT_NE(msg.find("compound"), std::string::npos) << msg;
  EXPECT_NE(msg.find("floating point"), std::string::npos) << msg;
}

TEST_F(Hdf5SourceTest, NonHdf5FilesAreInputErrors) {
  EXPECT_EQ(error_of([&] { scan_hdf5({path("notes.txt")}, "/grid/tas", "t"); }),
            "cannot open HDF5 file '" + path("notes.txt") + "': not an HDF5 file or unreadable");
  EXPECT_EQ(error_of([&] { scan_hdf5({path("missing.h5")}, "/grid/tas", "t"); }),
            "cannot open HDF5 file '" + path("missing.h5") + "': no such file");
  // A bad file later in the list is named too.
  EXPECT_NE(error_of([&] { scan_hdf5({path("a.h5"), path("notes.txt")}, "/grid/tas", "t"); }).find("notes.txt"),
            std::string::npos);
}

TEST_F(Hdf5SourceTest, ReadFailureNamesFileDatasetAndBox) {
  const std::string copy = path("vanishing.h5");
  fs::copy_file(path("a.h5"), copy, fs::copy_options::overwrite_existing);
  std::unique_ptr<Source> src = open_hdf5_source(scan_hdf5({copy}, "/grid/tas", "t"));
  fs::remove(copy);  // opened lazily: the first read finds it gone
  std::vector<float> buf(15);
  const std::string msg = error_of([&] { src->read(Box({0, 0, 0}, {1, 3, 5}), buf.data()); });
  EXPECT_NE(msg.find("vanishing.h5"), std::string::npos) << msg;
  EXPECT_NE(msg.find("/grid/tas"), std::string::npos) << msg;
  EXPECT_NE(msg.find("[0:1, 0:3, 0:5)"), std::string::npos) << msg;
}

TEST_F(Hdf5SourceTest, CorruptChunkIsAnInputError) {
  const std::string bad = path("corrupt.h5");
  write_grid(bad, 0, 4);
  haddr_t chunk_addr = HADDR_UNDEF;
  hsize_t chunk_size = 0;
  {
    h5::Handle file(H5Fopen(bad.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), H5Fclose);
    h5::Handle tas(H5Dopen2(file.get(), "/grid/tas", H5P_DEFAULT), H5Dclose);
    h5::Handle space(H5Dget_space(tas.get()), H5Sclose);
    hsize_t offset[3];
    unsigned mask = 0;
    ASSERT_GE(H5Dget_chunk_info(tas.get(), space.get(), 1, offset, &mask, &chunk_addr, &chunk_size), 0);
  }
  {  // overwrite the second chunk (time 2..3) with bytes deflate cannot decode
    std::fstream f(bad, std::ios::in | std::ios::out | std::ios::binary);
    f.seekp(static_cast<std::streamoff>(chunk_addr));
    const std::string junk(chunk_size, '\x5a');
    f.write(junk.data(), static_cast<std::streamsize>(junk.size()));
  }
  std::unique_ptr<Source> src = open_hdf5_source(scan_hdf5({bad}, "/grid/tas", "t"));
  std::vector<float> buf(2 * 3 * 5);
  src->read(Box({0, 0, 0}, {2, 3, 5}), buf.data());  // the first chunk is intact
  EXPECT_EQ(buf[0], tas_value(0, 0, 0));
  const std::string msg = error_of([&] { src->read(Box({1, 0, 0}, {2, 3, 5}), buf.data()); });
  EXPECT_NE(msg.find("cannot read [1:3, 0:3, 0:5) of dataset '/grid/tas' from '" + bad + "'"), std::string::npos)
      << msg;
  EXPECT_NE(msg.find("(HDF5: "), std::string::npos) << msg;
}

TEST_F(Hdf5SourceTest, NetcdfPlaceholderScalesNameDimensionsButAreNotCoordinates) {
  write_netcdf_like(path("nc_like.h5"));
  const InputMeta m = scan_hdf5({path("nc_like.h5")}, "/v", "v");
  EXPECT_EQ(m.var.dims, (std::vector<std::string>{"dim0", "extra"}));
  EXPECT_TRUE(m.coords.empty());
}

TEST_F(Hdf5SourceTest, ReadsAcrossMoreFilesThanItKeepsOpen) {
  std::vector<std::string> files;
  for (int i = 0; i < 70; ++i) {
    files.push_back(path("rec" + std::to_string(100 + i) + ".h5"));
    write_record(files.back(), i);
  }
  const InputMeta m = scan_hdf5(files, "/x", "x");
  EXPECT_EQ(m.var.shape, (std::vector<std::size_t>{70, 2}));
  std::unique_ptr<Source> src = open_hdf5_source(m);
  for (int pass = 0; pass < 2; ++pass) {
    std::vector<int> got(140);
    src->read(Box::whole(m.var.shape), got.data());
    for (int i = 0; i < 70; ++i) {
      ASSERT_EQ(got[2 * i], i);
      ASSERT_EQ(got[2 * i + 1], -i);
    }
  }
  std::vector<int> one(1);
  src->read(Box({3, 1}, {1, 1}), one.data());  // reopens a file closed to stay under the limit
  EXPECT_EQ(one[0], -3);
}

}  // namespace
}  // namespace tessera
