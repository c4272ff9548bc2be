#include <iostream>
#include <sstream>

#include "cli/options.hpp"
#include "core/error.hpp"
#include "io/synthetic.hpp"
#include "mpi/phase.hpp"

namespace tessera::cli {
namespace {

std::vector<std::size_t> parse_sizes(const std::string& text, const char* what) {
  std::vector<std::size_t> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    try {
      std::size_t used = 0;
      long long v = std::stoll(item, &used);
      if (used != item.size() || v < 1) throw std::invalid_argument(item);
      out.push_back(static_cast<std::size_t>(v));
    } catch (const std::exception&) {
      throw UsageError(std::string("tessera generate: ") + what + " takes positive integers separated by commas, got '" +
                       text + "'");
    }
  }
  if (out.size() != 3) throw UsageError(std::string("tessera generate: ") + what + " takes three sizes T,Y,X");
  return out;
}

}  // namespace

int cmd_generate(const Args& args, const mpi::Comm& comm) {
  po::options_description opts("generate options");
  SyntheticSpec s;
  std::string shape = "365,90,180", chunks;
  opts.add_options()("path", po::value(&s.path)->required(), "output file (with --files N: base name, _000 ... added)")(
      "shape", po::value(&shape)->default_value(shape), "time,lat,lon sizes")(
      "variable", po::value(&s.variable)->default_value(s.variable), "variable name")(
      "format", po::value(&s.format)->default_value(s.format), "netcdf4 | classic | 64bit-offset | cdf5")(
      "dtype", po::value(&s.dtype)->default_value(s.dtype), "float | double | short (packed: scale_factor, add_offset)")(
      "chunks", po::value(&chunks), "chunk sizes T,Y,X (netcdf4)")(
      "deflate", po::value(&s.deflate)->default_value(0), "deflate level 1-9 (netcdf4)")(
      "shuffle", po::bool_switch(&s.shuffle), "shuffle filter (netcdf4)")(
      "fill-fraction", po::value(&s.fill_fraction)->default_value(0.0), "share of values written as _FillValue")(
      "files", po::value(&s.files)->default_value(1), "split along time into this many files")(
      "seed", po::value(&s.seed)->default_value(1), "random seed")(
      "start-day", po::value(&s.start_day)->default_value(0), "first time step, in days since 2000-01-01 (to make one series in pieces)")(
      "calendar", po::value(&s.calendar)->default_value(s.calendar), "CF calendar of the time axis (standard, noleap, 360_day, ...)")(
      "cell-area", po::bool_switch(&s.cell_area), "also write areacella(lat, lon) (cos-latitude areas) and cell_measures")(
      "steps-per-day", po::value(&s.steps_per_day)->default_value(1), "time steps per day (4: 6-hourly; --start-day then counts steps)")(
      "epoch", po::value(&s.epoch)->default_value(s.epoch), "reference date of the time units, YYYY-MM-DD (the instants stay the same)")(
      "overwrite", po::bool_switch(&s.overwrite), "replace existing files");
  po::positional_options_description pos;
  pos.add("path", 1);
  po::variables_map vm;
  if (!parse_options("generate", "PATH [--shape T,Y,X] [--format F] [--dtype D] [--chunks T,Y,X] [--deflate L] ...",
                     args, opts, pos, vm, comm))
    return 0;
  const auto dims = parse_sizes(shape, "--shape");
  s.nt = dims[0], s.ny = dims[1], s.nx = dims[2];
  if (!chunks.empty()) s.chunks = parse_sizes(chunks, "--chunks");
  if (s.format != "netcdf4" && s.format != "classic" && s.format != "64bit-offset" && s.format != "cdf5")
    throw UsageError("tessera generate: --format must be netcdf4, classic, 64bit-offset or cdf5");
  if (s.dtype != "float" && s.dtype != "double" && s.dtype != "short")
    throw UsageError("tessera generate: --dtype must be float, double or short");
  if (s.deflate < 0 || s.deflate > 9) throw UsageError("tessera generate: --deflate must be 0-9");
  if (!(s.fill_fraction >= 0 && s.fill_fraction < 1)) throw UsageError("tessera generate: --fill-fraction must be in [0, 1)");
  // The checks are agreed inside; a failure while writing is agreed at the end.
  std::vector<std::string> paths = mpi::run_phase(comm, [&] { return generate_dataset(s, comm); });
  if (comm.rank() == 0)
    std::cout << "wrote " << paths.size() << " file" << (paths.size() > 1 ? "s" : "") << ": " << paths.front()
              << (paths.size() > 1 ? " ... " + paths.back() : "") << " (" << s.variable << " " << s.nt << "x" << s.ny
              << "x" << s.nx << " " << s.dtype << ", " << s.format << ")\n";
  return 0;
}

}  // namespace tessera::cli
