#include "io/remote_input.hpp"

#include "core/error.hpp"
#include "io/zarr_source.hpp"
#include "io/zarr_store.hpp"
#include "net/object_store.hpp"
#include "net/url.hpp"

namespace tessera {
namespace {

std::string where(const InputSpec& in, const std::string& job_file) {
  return "input '" + in.alias + "' (" + job_file + ":" + std::to_string(in.pos.line) + ")";
}

}  // namespace

bool is_remote_or_zarr(const InputSpec& in) {
  for (const auto& p : in.paths)
    if (net::is_remote(p) || looks_like_zarr(p)) return true;
  return false;
}

InputMeta scan_remote_or_zarr(const InputSpec& in, const std::string& job_file) {
  const net::RemoteOptions opt{in.endpoint, in.region, in.anonymous};
  bool zarr = false;
  for (const auto& p : in.paths) zarr = zarr || looks_like_zarr(p);
  if (zarr) {
    if (in.paths.size() != 1 || in.paths[0].find_first_of("*?[") != std::string::npos)
      throw InputError(where(in, job_file) + ": a Zarr input is one store; several stores or globs are not supported");
    return scan_zarr(in.paths[0], in.variable, in.alias, opt);
  }
  throw InputError(where(in, job_file) + ": remote NetCDF/HDF5 files are not supported yet");
}

}  // namespace tessera
