#include "io/hdf5_remote.hpp"

#include <hdf5.h>

#include <cstring>

#include "core/error.hpp"
#include "io/hdf5.hpp"
#include "io/hdf5_source.hpp"

namespace tessera {
namespace h5 {
// Set while a ROS3 scan runs on this thread: open_file (hdf5.cpp) then opens http(s) URLs
// through ROS3 with these settings.
thread_local const Ros3Access* g_ros3 = nullptr;

Handle open_file_ros3(const std::string& url) {
  silence_errors();
  const std::string context = "cannot open '" + url + "' over HTTP (HDF5 ROS3 driver)";
  if (!g_ros3) throw InputError(context + ": no remote access configured");
  Handle fapl(check(H5Pcreate(H5P_FILE_ACCESS), context), H5Pclose);
  H5FD_ros3_fapl_t fa{};
  fa.version = H5FD_CURR_ROS3_FAPL_T_VERSION;
  fa.authenticate = g_ros3->authenticate;
  if (g_ros3->authenticate) {
    if (g_ros3->region.size() > H5FD_ROS3_MAX_REGION_LEN || g_ros3->access_key.size() > H5FD_ROS3_MAX_SECRET_ID_LEN ||
        g_ros3->secret_key.size() > H5FD_ROS3_MAX_SECRET_KEY_LEN)
      throw InputError(context + ": region or credentials too long for the ROS3 driver");
    std::strcpy(fa.aws_region, g_ros3->region.c_str());
    std::strcpy(fa.secret_id, g_ros3->access_key.c_str());
    std::strcpy(fa.secret_key, g_ros3->secret_key.c_str());
  }
  check(H5Pset_fapl_ros3(fapl.get(), &fa), context);
  // Every metadata cache miss is a GET through ROS3: start the cache large (the default 2 MiB
  // evicts B-tree nodes of a 20,000-chunk index between lookups) and let it grow.
  H5AC_cache_config_t mdc{};
  mdc.version = H5AC__CURR_CACHE_CONFIG_VERSION;
  check(H5Pget_mdc_config(fapl.get(), &mdc), context);
  mdc.set_initial_size = true;
  mdc.initial_size = 32 << 20;
  mdc.max_size = 128 << 20;  // HDF5 refuses more
  mdc.min_size = 32 << 20;
  check(H5Pset_mdc_config(fapl.get(), &mdc), context);
  std::memset(&fa, 0, sizeof fa);  // do not leave the secret on the stack
  return Handle(check(H5Fopen(url.c_str(), H5F_ACC_RDONLY, fapl.get()), context), H5Fclose);
}
}  // namespace h5

Ros3Scope::Ros3Scope(const Ros3Access& a) { h5::g_ros3 = &a; }
Ros3Scope::~Ros3Scope() { h5::g_ros3 = nullptr; }

namespace {

void build_index(hid_t dset, DType type, const std::string& what, ChunkIndex& ix) {
  const std::string context = "cannot build the chunk index of " + what;
  ix.shape = h5::dataset_shape(dset, what);
  h5::Handle dcpl(h5::check(H5Dget_create_plist(dset), context), H5Pclose);
  h5::Handle ftype(h5::check(H5Dget_type(dset), context), H5Tclose);
  ix.big_endian = H5Tget_order(ftype.get()) == H5T_ORDER_BE;
  ix.fill.assign(dtype_size(type), 0);
  H5D_fill_value_t defined{};
  if (H5Pfill_value_defined(dcpl.get(), &defined) >= 0 && defined != H5D_FILL_VALUE_UNDEFINED)
    h5::check(H5Pget_fill_value(dcpl.get(), h5::native_type(type), ix.fill.data()), context);
  const H5D_layout_t layout = H5Pget_layout(dcpl.get());
  if (layout == H5D_CONTIGUOUS) {
    // Rows of the last axis stand in for chunks: merged range GETs coalesce them again.
    ix.chunk.assign(ix.shape.size(), 1);
    if (!ix.chunk.empty()) ix.chunk.back() = ix.shape.back();
    const haddr_t base = H5Dget_offset(dset);
    if (base == HADDR_UNDEF) return;  // never written: all fill
    std::uint64_t rows = 1;
    for (std::size_t i = 0; i + 1 < ix.shape.size(); ++i) rows *= ix.shape[i];
    const std::uint64_t row_bytes = (ix.shape.empty() ? 1 : ix.shape.back()) * dtype_size(type);
    if (ix.shape.empty()) ix.chunk.clear();
    ix.entries.reserve(rows);
    for (std::uint64_t r = 0; r < rows; ++r) ix.entries.push_back({r, base + r * row_bytes, row_bytes, 0});
    return;
  }
  if (layout != H5D_CHUNKED) throw InputError(what + " has compact storage; read it from a local copy");
  ix.chunk = h5::dataset_chunks(dset, what);
  const int n = H5Pget_nfilters(dcpl.get());
  for (int i = 0; i < n; ++i) {
    unsigned flags = 0, config = 0, cd[16] = {};
    std::size_t cd_n = 16;
    char name[64] = {};
    const H5Z_filter_t id = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &flags, &cd_n, cd, sizeof name, name, &config);
    if (id == H5Z_FILTER_DEFLATE) ix.filters.push_back("deflate");
    else if (id == H5Z_FILTER_SHUFFLE) ix.filters.push_back("shuffle");
    else if (id == H5Z_FILTER_FLETCHER32) ix.filters.push_back("fletcher32");
    else {
      const std::string filter = std::string(name[0] ? name : "unnamed") + " (id " + std::to_string(id) + ")";
      if (H5Zfilter_avail(id) <= 0)
        throw InputError(what + " uses the HDF5 filter " + filter + ", which neither Tessera's own reader (deflate, "
                         "shuffle, fletcher32) nor this HDF5 library can decode: rewrite the file with deflate "
                         "(nccopy -d1 -s IN OUT) or as a Zarr store (e.g. xarray's to_zarr), then read that copy");
      ix.ros3_only = filter;  // HDF5 decodes it: the data is read through ROS3 instead
      return;
    }
  }
  h5::Handle space(h5::check(H5Dget_space(dset), context), H5Sclose);
  hsize_t count = 0;
  h5::check(H5Dget_num_chunks(dset, space.get(), &count), context);
  const std::size_t rank = ix.shape.size();
  std::vector<std::uint64_t> grid(rank);
  for (std::size_t i = 0; i < rank; ++i) grid[i] = (ix.shape[i] + ix.chunk[i] - 1) / ix.chunk[i];
  ix.entries.reserve(count);
  std::vector<hsize_t> offset(rank);
  for (hsize_t c = 0; c < count; ++c) {
    unsigned mask = 0;
    haddr_t addr = 0;
    hsize_t size = 0;
    h5::check(H5Dget_chunk_info(dset, space.get(), c, offset.data(), &mask, &addr, &size), context);
    std::uint64_t linear = 0;
    for (std::size_t i = 0; i < rank; ++i) linear = linear * grid[i] + offset[i] / ix.chunk[i];
    ix.entries.push_back({linear, addr, size, mask});
  }
}

}  // namespace

InputMeta scan_hdf5_over_ros3(const std::string& http_url, const std::string& label, const std::string& variable,
                              const std::string& alias, const Ros3Access& access, ChunkIndex& index) {
  Ros3Scope scope(access);
  InputMeta m;
  try {
    m = scan_hdf5({http_url}, variable, alias);
    h5::Handle file = h5::open_file(http_url);
    h5::Handle dset = h5::open_dataset(file.get(), variable, label);
    build_index(dset.get(), m.var.type, "'" + variable + "' in '" + label + "'", index);
  } catch (const InputError& e) {
    // Messages name the user's URL, not the endpoint URL.
    std::string msg = e.what();
    for (std::size_t at = msg.find(http_url); at != std::string::npos; at = msg.find(http_url, at + label.size()))
      msg.replace(at, http_url.size(), label);
    throw InputError(msg);
  }
  m.parts[0].path = label;
  return m;
}

}  // namespace tessera
