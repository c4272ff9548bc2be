#include "io/synthetic.hpp"

#include <cmath>
#include <cstdio>
#include <filesystem>

#include "cf/calendar.hpp"
#include "core/error.hpp"
#include "io/netcdf.hpp"
#include "mpi/phase.hpp"

namespace tessera {
namespace {

constexpr double pi = 3.14159265358979323846;
constexpr float float_fill = 1.0e20f;
constexpr short short_fill = -32767;
constexpr double pack_scale = 0.01, pack_offset = 273.15;

std::uint64_t splitmix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ull;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
  return x ^ (x >> 31);
}

double unit_random(const SyntheticSpec& s, std::size_t t, std::size_t y, std::size_t x, std::uint64_t salt) {
  std::uint64_t h = splitmix(s.seed * 0x100000001b3ull ^ salt);
  h = splitmix(h ^ t);
  h = splitmix(h ^ (y << 20) ^ x);
  return double(h >> 11) * 0x1.0p-53;
}

double lat_of(const SyntheticSpec& s, std::size_t y) { return -90.0 + (double(y) + 0.5) * 180.0 / double(s.ny); }
double lon_of(const SyntheticSpec& s, std::size_t x) { return (double(x) + 0.5) * 360.0 / double(s.nx); }

std::string file_name(const SyntheticSpec& s, std::size_t i) {
  if (s.files <= 1) return s.path;
  std::filesystem::path p(s.path);
  char idx[32];
  std::snprintf(idx, sizeof idx, "_%03zu", i);
  return (p.parent_path() / (p.stem().string() + idx + p.extension().string())).string();
}

// Days from 2000-01-01 to the spec's epoch in its calendar.
double epoch_shift(const SyntheticSpec& s) {
  cf::Calendar cal{};
  if (!cf::parse_calendar(s.calendar, cal))
    throw UsageError("tessera generate: unknown --calendar '" + s.calendar + "'");
  try {
    const cf::DateTime e = cf::parse_iso_date(s.epoch, cal);
    return double(cf::to_serial_day(e.year, e.month, e.day, cal) - cf::to_serial_day(2000, 1, 1, cal));
  } catch (const std::invalid_argument& err) {
    throw UsageError("tessera generate: --epoch: " + std::string(err.what()));
  }
}

void write_file(const SyntheticSpec& s, const std::string& path, std::size_t t0, std::size_t nt, const mpi::Comm* par) {
  const bool parallel = par != nullptr;
  if (s.overwrite && (!parallel || par->rank() == 0)) std::filesystem::remove(path);
  if (parallel) par->barrier();
  nc::File f = parallel ? nc::File::create_parallel(path, *par) : nc::File::create(path, s.format);
  const int dt = f.define_dimension("time", 0);  // unlimited, as in model output (NCO's ncra needs it)
  const int dy = f.define_dimension("lat", s.ny);
  const int dx = f.define_dimension("lon", s.nx);
  const int db = f.define_dimension("bnds", 2);
  const int vt = f.define_variable("time", DType::f64, {dt});
  const int vtb = f.define_variable("time_bnds", DType::f64, {dt, db});
  const int vy = f.define_variable("lat", DType::f64, {dy});
  const int vyb = f.define_variable("lat_bnds", DType::f64, {dy, db});
  const int vx = f.define_variable("lon", DType::f64, {dx});
  const int vxb = f.define_variable("lon_bnds", DType::f64, {dx, db});
  const DType vtype = s.dtype == "double" ? DType::f64 : s.dtype == "short" ? DType::i16 : DType::f32;
  const int vv = f.define_variable(s.variable, vtype, {dt, dy, dx});
  const int va = s.cell_area ? f.define_variable("areacella", DType::f64, {dy, dx}) : -1;
  auto text = [&](int v, const char* n, const std::string& val) { f.put_attribute(v, Attribute::make_text(n, val)); };
  text(vt, "standard_name", "time");
  text(vt, "long_name", "time");
  text(vt, "units", "days since " + s.epoch + " 00:00:00");
  text(vt, "calendar", s.calendar);
  text(vt, "axis", "T");
  text(vt, "bounds", "time_bnds");
  text(vy, "standard_name", "latitude");
  text(vy, "long_name", "latitude");
  text(vy, "units", "degrees_north");
  text(vy, "axis", "Y");
  text(vy, "bounds", "lat_bnds");
  text(vx, "standard_name", "longitude");
  text(vx, "long_name", "longitude");
  text(vx, "units", "degrees_east");
  text(vx, "axis", "X");
  text(vx, "bounds", "lon_bnds");
  text(vv, "standard_name", "air_temperature");
  text(vv, "long_name", "Near-Surface Air Temperature");
  text(vv, "units", "K");
  if (s.cell_area) {
    // cos(latitude) areas, on purpose not the exact areas between the bounds: a job weighting by
    // `cell_measures` can be told apart from one weighting by the bounds.
    text(va, "standard_name", "cell_area");
    text(va, "units", "m2");
    text(vv, "cell_measures", "area: areacella");
  }
  if (vtype == DType::i16) {
    f.put_attribute(vv, Attribute::make_number("_FillValue", DType::i16, {double(short_fill)}));
    f.put_attribute(vv, Attribute::make_number("scale_factor", DType::f32, {pack_scale}));
    f.put_attribute(vv, Attribute::make_number("add_offset", DType::f32, {pack_offset}));
  } else {
    f.put_attribute(vv, Attribute::make_number("_FillValue", vtype, {double(float_fill)}));
  }
  if (s.format == "netcdf4") {
    if (!s.chunks.empty()) {
      std::vector<std::size_t> c = {std::min(s.chunks[0], std::max<std::size_t>(nt, 1)), std::min(s.chunks[1], s.ny),
                                    std::min(s.chunks[2], s.nx)};
      f.define_chunking(vv, c);
    }
    if (s.deflate > 0 || s.shuffle) f.define_deflate(vv, s.shuffle, s.deflate);
  }
  f.put_attribute(-1, Attribute::make_text("Conventions", "CF-1.8"));
  f.put_attribute(-1, Attribute::make_text("title", "Tessera synthetic daily temperature"));
  f.put_attribute(-1, Attribute::make_text("source", "tessera generate (seed " + std::to_string(s.seed) + ")"));
  f.end_define();

  // Coordinates: one writer.
  const bool writer = !parallel || par->rank() == 0;
  auto put = [&](int v, const Box& b, const std::vector<double>& d) {
    if (parallel) f.collective(v);
    f.write(v, writer ? b : Box(std::vector<std::size_t>(b.rank(), 0), std::vector<std::size_t>(b.rank(), 0)),
            DType::f64, d.data());
  };
  std::vector<double> tv(nt), tb(2 * nt), yv(s.ny), yb(2 * s.ny), xv(s.nx), xb(2 * s.nx);
  // Time steps are days since 2000-01-01 whatever the units' reference date: shift the values.
  const double shift = epoch_shift(s);
  const double step = 1.0 / double(s.steps_per_day);
  for (std::size_t i = 0; i < nt; ++i)
    tv[i] = (double(t0 + i) + 0.5) * step - shift, tb[2 * i] = double(t0 + i) * step - shift,
    tb[2 * i + 1] = double(t0 + i + 1) * step - shift;
  for (std::size_t i = 0; i < s.ny; ++i)
    yv[i] = lat_of(s, i), yb[2 * i] = -90.0 + double(i) * 180.0 / double(s.ny), yb[2 * i + 1] = -90.0 + double(i + 1) * 180.0 / double(s.ny);
  for (std::size_t i = 0; i < s.nx; ++i)
    xv[i] = lon_of(s, i), xb[2 * i] = double(i) * 360.0 / double(s.nx), xb[2 * i + 1] = double(i + 1) * 360.0 / double(s.nx);
  put(vt, Box({0}, {nt}), tv);
  put(vtb, Box({0, 0}, {nt, 2}), tb);
  put(vy, Box({0}, {s.ny}), yv);
  put(vyb, Box({0, 0}, {s.ny, 2}), yb);
  put(vx, Box({0}, {s.nx}), xv);
  put(vxb, Box({0, 0}, {s.nx, 2}), xb);
  if (s.cell_area) {
    const double r2 = 6371000.0 * 6371000.0, d = (pi / double(s.ny)) * (2 * pi / double(s.nx));
    std::vector<double> area(s.ny * s.nx);
    for (std::size_t y = 0; y < s.ny; ++y)
      for (std::size_t x = 0; x < s.nx; ++x) area[y * s.nx + x] = r2 * d * std::cos(yv[y] * pi / 180.0);
    put(va, Box({0, 0}, {s.ny, s.nx}), area);
  }

  // Data: in parallel, each rank writes its share of time steps, in slabs of bounded size.
  std::vector<Box> mine{Box({0, 0, 0}, {nt, s.ny, s.nx})};
  if (parallel) {
    // Split on chunk boundaries along time so compressed chunks have one writer.
    std::size_t align = (!s.chunks.empty() && s.format == "netcdf4") ? std::max<std::size_t>(1, s.chunks[0]) : 1;
    mine = {split_along(mine[0], 0, static_cast<std::size_t>(par->size()), align)[par->rank()]};
  }
  const std::size_t slab_steps = std::max<std::size_t>(1, (16u << 20) / std::max<std::size_t>(1, s.ny * s.nx));
  std::size_t steps_mine = mine[0].count[0];
  std::size_t rounds = (steps_mine + slab_steps - 1) / slab_steps;
  if (parallel) rounds = static_cast<std::size_t>(par->allreduce_max(std::int64_t(rounds)));  // collective writes pair up
  if (parallel) f.collective(vv);
  std::vector<float> fbuf;
  std::vector<double> dbuf;
  std::vector<short> sbuf;
  for (std::size_t r = 0; r < rounds; ++r) {
    const std::size_t a = std::min(steps_mine, r * slab_steps), b = std::min(steps_mine, (r + 1) * slab_steps);
    Box slab({mine[0].start[0] + a, 0, 0}, {b - a, s.ny, s.nx});
    const std::size_t n = (b - a) * s.ny * s.nx;
    fbuf.resize(n), dbuf.resize(n), sbuf.resize(n);
    std::size_t k = 0;
    for (std::size_t t = slab.start[0]; t < slab.start[0] + slab.count[0]; ++t)
      for (std::size_t y = 0; y < s.ny; ++y)
        for (std::size_t x = 0; x < s.nx; ++x, ++k) {
          const double v = synthetic_value(s, t0 + t, y, x);
          if (vtype == DType::i16)
            sbuf[k] = std::isnan(v) ? short_fill : static_cast<short>(std::lround((v - pack_offset) / pack_scale));
          else if (vtype == DType::f64)
            dbuf[k] = std::isnan(v) ? double(float_fill) : v;
          else
            fbuf[k] = std::isnan(v) ? float_fill : static_cast<float>(v);
        }
    const void* src = vtype == DType::i16 ? static_cast<const void*>(sbuf.data())
                      : vtype == DType::f64 ? static_cast<const void*>(dbuf.data())
                                            : static_cast<const void*>(fbuf.data());
    if (n == 0) slab = Box({0, 0, 0}, {0, 0, 0});
    f.write(vv, slab, vtype, src);
  }
  f.close();
}

}  // namespace

double synthetic_value(const SyntheticSpec& s, std::size_t t, std::size_t y, std::size_t x) {
  if (s.fill_fraction > 0 && unit_random(s, t, y, x, 1) < s.fill_fraction) return std::nan("");
  const double lat = lat_of(s, y) * pi / 180.0, lon = lon_of(s, x) * pi / 180.0;
  const double day = (double(t) + 0.5) / double(s.steps_per_day);
  const double season = std::cos(2 * pi * (day - 15.0) / 365.25);
  // Warm tropics, seasonal cycle opposite in the two hemispheres, a diurnal cycle by local time
  // when there are several steps a day, weather noise.
  const double diurnal = s.steps_per_day > 1 ? 4.0 * std::cos(lat) * std::sin(2 * pi * day + lon) : 0.0;
  return 258.0 + 42.0 * std::cos(lat) - 12.0 * std::sin(lat) * season + 3.0 * std::sin(3 * lon + 0.01 * double(t)) +
         diurnal + 6.0 * (unit_random(s, t, y, x, 2) - 0.5);
}

std::vector<std::string> check_synthetic(const SyntheticSpec& s) {
  if (s.nt == 0 || s.ny == 0 || s.nx == 0) throw JobError("generate: every dimension must be at least 1");
  if (s.files == 0 || s.files > s.nt) throw JobError("generate: --files must be between 1 and the number of time steps");
  (void)epoch_shift(s);  // a bad calendar or epoch is refused before anything is written
  if (s.steps_per_day == 0 || 24 % s.steps_per_day != 0)
    throw JobError("generate: --steps-per-day must divide 24 (1, 2, 3, 4, 6, 8, 12 or 24)");
  if (s.format != "netcdf4" && (!s.chunks.empty() || s.deflate || s.shuffle))
    throw JobError("generate: chunking and compression need --format netcdf4");
  if (!s.chunks.empty() && s.chunks.size() != 3) throw JobError("generate: --chunks takes three sizes t,y,x");
  std::vector<std::string> paths;
  for (std::size_t i = 0; i < s.files; ++i) paths.push_back(file_name(s, i));
  if (!s.overwrite)
    for (const auto& p : paths)
      if (std::filesystem::exists(p)) throw JobError("generate: '" + p + "' exists; pass --overwrite to replace it");
  return paths;
}

std::vector<std::string> generate_dataset(const SyntheticSpec& s, const mpi::Comm& comm) {
  // Every rank checks before any rank writes: a fast rank's new file must not trip a slow
  // rank's existence check.
  const std::vector<std::string> paths = mpi::run_phase(comm, [&] { return check_synthetic(s); });
  if (s.files == 1 && s.format == "netcdf4") {
    write_file(s, paths[0], s.start_day, s.nt, &comm);
    return paths;
  }
  // Several files (or NetCDF-3, which has no parallel writer here): whole files per rank.
  for (std::size_t i = 0; i < s.files; ++i) {
    if (static_cast<int>(i % static_cast<std::size_t>(comm.size())) != comm.rank()) continue;
    const std::size_t t0 = i * s.nt / s.files, t1 = (i + 1) * s.nt / s.files;
    write_file(s, paths[i], s.start_day + t0, t1 - t0, nullptr);
  }
  return paths;
}

}  // namespace tessera
