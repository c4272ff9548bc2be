#include "io/hdf5.hpp"

#include <hdf5_hl.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <mutex>

#include "core/error.hpp"

namespace tessera::h5 {

namespace {

// The most specific entry of HDF5's error stack (walked upward, entry 0 is the innermost).
herr_t innermost_error(unsigned n, const H5E_error2_t* err, void* data) {
  if (n != 0) return 0;
  auto* out = static_cast<std::string*>(data);
  if (err->desc && *err->desc) {
    *out = err->desc;
  } else {
    char msg[256] = {};
    if (H5Eget_msg(err->min_num, nullptr, msg, sizeof msg) > 0) *out = msg;
  }
  return 1;
}

[[noreturn]] void fail(const std::string& context) {
  std::string detail;
  H5Ewalk2(H5E_DEFAULT, H5E_WALK_UPWARD, innermost_error, &detail);
  H5Eclear2(H5E_DEFAULT);
  throw InputError(detail.empty() ? context : context + " (HDF5: " + detail + ")");
}

std::vector<hsize_t> to_hsize(const std::vector<std::size_t>& v) { return {v.begin(), v.end()}; }

std::string class_name(H5T_class_t c) {
  switch (c) {
    case H5T_INTEGER: return "integer";
    case H5T_FLOAT: return "floating point";
    case H5T_TIME: return "time";
    case H5T_STRING: return "string";
    case H5T_BITFIELD: return "bitfield";
    case H5T_OPAQUE: return "opaque";
    case H5T_COMPOUND: return "compound";
    case H5T_REFERENCE: return "reference";
    case H5T_ENUM: return "enum";
    case H5T_VLEN: return "variable-length";
    case H5T_ARRAY: return "array";
    default: return "unknown";
  }
}

// Integers of 1-8 bytes and 4/8-byte floats, whatever their byte order (H5Dread converts).
std::optional<DType> numeric_type_of(hid_t type) {
  const H5T_class_t cls = H5Tget_class(type);
  const std::size_t size = H5Tget_size(type);
  if (cls == H5T_INTEGER) {
    const bool is_signed = H5Tget_sign(type) == H5T_SGN_2;
    switch (size) {
      case 1: return is_signed ? DType::i8 : DType::u8;
      case 2: return is_signed ? DType::i16 : DType::u16;
      case 4: return is_signed ? DType::i32 : DType::u32;
      case 8: return is_signed ? DType::i64 : DType::u64;
      default: return std::nullopt;
    }
  }
  if (cls == H5T_FLOAT) {
    if (size == 4) return DType::f32;
    if (size == 8) return DType::f64;
  }
  return std::nullopt;
}

std::string join(const std::vector<std::string>& parts, const char* sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::vector<std::string> read_strings(hid_t attr, hid_t type, hid_t space, std::size_t n,
                                      const std::string& context) {
  std::vector<std::string> out;
  if (n == 0) return out;
  if (check(H5Tis_variable_str(type), context) > 0) {
    Handle mem(check(H5Tcopy(H5T_C_S1), context), H5Tclose);
    check(H5Tset_size(mem.get(), H5T_VARIABLE), context);
    check(H5Tset_cset(mem.get(), H5Tget_cset(type)), context);
    std::vector<char*> ptrs(n, nullptr);
    const herr_t status = H5Aread(attr, mem.get(), ptrs.data());
    if (status >= 0)
      for (char* p : ptrs) out.emplace_back(p ? p : "");
    // Free what the library allocated before reporting any failure.
    H5Dvlen_reclaim(mem.get(), space, H5P_DEFAULT, ptrs.data());
    check(status, context);
    return out;
  }
  const std::size_t size = H5Tget_size(type);
  Handle mem(check(H5Tcopy(type), context), H5Tclose);
  std::vector<char> buf(n * size);
  check(H5Aread(attr, mem.get(), buf.data()), context);
  const bool space_padded = H5Tget_strpad(type) == H5T_STR_SPACEPAD;
  for (std::size_t i = 0; i < n; ++i) {
    const char* s = buf.data() + i * size;
    std::string v(s, strnlen(s, size));
    if (space_padded) v.erase(v.find_last_not_of(' ') + 1);
    out.push_back(std::move(v));
  }
  return out;
}

// Reads one attribute; nullopt for kinds Tessera does not carry (compound, 2-d, null, ...).
std::optional<Attribute> read_attribute(hid_t obj, const std::string& name, const std::string& what) {
  const std::string context = "cannot read attribute '" + name + "' of " + what;
  Handle attr(check(H5Aopen(obj, name.c_str(), H5P_DEFAULT), context), H5Aclose);
  Handle space(check(H5Aget_space(attr.get()), context), H5Sclose);
  std::size_t n = 1;
  switch (H5Sget_simple_extent_type(space.get())) {
    case H5S_SCALAR: break;
    case H5S_SIMPLE: {
      if (check(H5Sget_simple_extent_ndims(space.get()), context) != 1) return std::nullopt;
      hsize_t dim = 0;
      check(H5Sget_simple_extent_dims(space.get(), &dim, nullptr), context);
      n = static_cast<std::size_t>(dim);
      break;
    }
    default: return std::nullopt;
  }
  Handle type(check(H5Aget_type(attr.get()), context), H5Tclose);
  if (H5Tget_class(type.get()) == H5T_STRING)
    return Attribute::make_text(name, join(read_strings(attr.get(), type.get(), space.get(), n, context), ", "));
  const std::optional<DType> t = numeric_type_of(type.get());
  if (!t) return std::nullopt;
  std::vector<double> values(n);
  if (n > 0) check(H5Aread(attr.get(), H5T_NATIVE_DOUBLE, values.data()), context);
  return Attribute::make_number(name, *t, std::move(values));
}

herr_t collect_attribute_name(hid_t, const char* name, const H5A_info_t*, void* data) {
  try {
    static_cast<std::vector<std::string>*>(data)->emplace_back(name);
    return 0;
  } catch (...) {
    return -1;  // never let an exception cross the C library
  }
}

struct DatasetList {
  std::vector<std::string> names;
  std::size_t max = 0;
  bool more = false;
};

herr_t collect_dataset(hid_t, const char* name, const H5O_info_t* info, void* data) {
  if (info->type != H5O_TYPE_DATASET) return 0;
  auto* list = static_cast<DatasetList*>(data);
  if (list->names.size() == list->max) {
    list->more = true;
    return 1;  // stop: we only wanted to know that there are more
  }
  try {
    list->names.push_back("/" + std::string(name));
    return 0;
  } catch (...) {
    return -1;
  }
}

herr_t take_first_scale(hid_t, unsigned, hid_t scale, void* data) {
  // H5DSiterate_scales closes `scale` after this call: keep our own reference to it.
  if (H5Iinc_ref(scale) < 0) return -1;
  *static_cast<hid_t*>(data) = scale;
  return 1;
}

std::string basename_of(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

}  // namespace

void Handle::reset() noexcept {
  if (id_ >= 0 && close_) close_(id_);
  id_ = H5I_INVALID_HID;
}

void silence_errors() {
  static std::once_flag once;
  std::call_once(once, [] { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); });
}

herr_t check(herr_t status, const std::string& context) {
  if (status < 0) fail(context);
  return status;
}

hid_t check(hid_t id, const std::string& context) {
  if (id < 0) fail(context);
  return id;
}

Handle open_file_ros3(const std::string& url);  // hdf5_remote.cpp

Handle open_file(const std::string& path) {
  silence_errors();
  if (path.rfind("http://", 0) == 0 || path.rfind("https://", 0) == 0) return open_file_ros3(path);
  const std::string context = "cannot open HDF5 file '" + path + "'";
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) throw InputError(context + ": no such file");
  // H5Fis_hdf5 gives a clearer reason than H5Fopen's error stack for the common mistake.
  if (H5Fis_hdf5(path.c_str()) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    throw InputError(context + ": not an HDF5 file or unreadable");
  }
  return Handle(check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), context), H5Fclose);
}

Handle open_group(hid_t loc, const std::string& path, const std::string& file) {
  silence_errors();
  return Handle(check(H5Gopen2(loc, path.c_str(), H5P_DEFAULT),
                      "cannot open group '" + path + "' in '" + file + "'"),
                H5Gclose);
}

bool is_dataset(hid_t file, const std::string& path) {
  silence_errors();
  if (path.empty() || path[0] != '/') return false;
  // H5Lexists fails (rather than answering false) when an intermediate group is missing.
  std::string prefix;
  std::size_t pos = 1;
  while (pos <= path.size()) {
    std::size_t next = path.find('/', pos);
    if (next == std::string::npos) next = path.size();
    if (next > pos) {
      prefix += "/" + path.substr(pos, next - pos);
      if (H5Lexists(file, prefix.c_str(), H5P_DEFAULT) <= 0) {
        H5Eclear2(H5E_DEFAULT);
        return false;
      }
    }
    pos = next + 1;
  }
  if (prefix.empty() || H5Oexists_by_name(file, prefix.c_str(), H5P_DEFAULT) <= 0) {  // dangling soft link
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  H5O_info_t info;
  if (H5Oget_info_by_name2(file, prefix.c_str(), &info, H5O_INFO_BASIC, H5P_DEFAULT) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  return info.type == H5O_TYPE_DATASET;
}

Handle open_dataset(hid_t file, const std::string& path, const std::string& file_name) {
  silence_errors();
  return Handle(check(H5Dopen2(file, path.c_str(), H5P_DEFAULT),
                      "cannot open dataset '" + path + "' in '" + file_name + "'"),
                H5Dclose);
}

std::vector<std::string> list_datasets(hid_t file, std::size_t max, bool& more) {
  silence_errors();
  DatasetList list;
  list.max = max;
  // A failure part-way still leaves a useful partial list for an error message.
  if (H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &list, H5O_INFO_BASIC) < 0)
    H5Eclear2(H5E_DEFAULT);
  more = list.more;
  return list.names;
}

std::vector<std::string> list_all_datasets(hid_t file) {
  silence_errors();
  DatasetList list;
  list.max = static_cast<std::size_t>(-1);
  if (H5Ovisit2(file, H5_INDEX_CRT_ORDER, H5_ITER_INC, collect_dataset, &list, H5O_INFO_BASIC) >= 0)
    return list.names;
  H5Eclear2(H5E_DEFAULT);  // some group does not track creation order
  list.names.clear();
  check(H5Ovisit2(file, H5_INDEX_NAME, H5_ITER_INC, collect_dataset, &list, H5O_INFO_BASIC),
        "cannot list the datasets of the file");
  return list.names;
}

std::string object_path(hid_t obj) {
  const ssize_t len = H5Iget_name(obj, nullptr, 0);
  if (len <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return "";
  }
  std::string name(static_cast<std::size_t>(len) + 1, '\0');
  H5Iget_name(obj, name.data(), name.size());
  name.resize(static_cast<std::size_t>(len));
  return name;
}

std::vector<std::size_t> dataset_shape(hid_t dset, const std::string& what) {
  const std::string context = "cannot read the shape of " + what;
  Handle space(check(H5Dget_space(dset), context), H5Sclose);
  const int rank = check(H5Sget_simple_extent_ndims(space.get()), context);
  std::vector<hsize_t> dims(static_cast<std::size_t>(rank));
  if (rank > 0) check(H5Sget_simple_extent_dims(space.get(), dims.data(), nullptr), context);
  return {dims.begin(), dims.end()};
}

std::optional<DType> dataset_numeric_type(hid_t dset, const std::string& what) {
  Handle type(check(H5Dget_type(dset), "cannot read the type of " + what), H5Tclose);
  return numeric_type_of(type.get());
}

DType dataset_dtype(hid_t dset, const std::string& what) {
  Handle type(check(H5Dget_type(dset), "cannot read the type of " + what), H5Tclose);
  if (const std::optional<DType> t = numeric_type_of(type.get())) return *t;
  const H5T_class_t cls = H5Tget_class(type.get());
  std::string kind = class_name(cls);
  if (cls == H5T_INTEGER || cls == H5T_FLOAT) kind = std::to_string(8 * H5Tget_size(type.get())) + "-bit " + kind;
  throw InputError(what + " has an unsupported " + kind +
                   " type; Tessera reads 8/16/32/64-bit signed or unsigned integer and 32/64-bit "
                   "floating point datasets");
}

std::vector<std::size_t> dataset_chunks(hid_t dset, const std::string& what) {
  const std::string context = "cannot read the storage layout of " + what;
  Handle dcpl(check(H5Dget_create_plist(dset), context), H5Pclose);
  if (H5Pget_layout(dcpl.get()) != H5D_CHUNKED) return {};
  std::vector<hsize_t> dims(H5S_MAX_RANK);
  const int rank = check(H5Pget_chunk(dcpl.get(), H5S_MAX_RANK, dims.data()), context);
  return {dims.begin(), dims.begin() + rank};
}

std::string dataset_compression(hid_t dset, const std::string& what) {
  const std::string context = "cannot read the filters of " + what;
  Handle dcpl(check(H5Dget_create_plist(dset), context), H5Pclose);
  const int n = check(H5Pget_nfilters(dcpl.get()), context);
  // Codecs in pipeline order first, then the byte-level flags, as netCDF tools print them.
  std::vector<std::string> codecs, flags;
  for (int i = 0; i < n; ++i) {
    unsigned filter_flags = 0, config = 0;
    unsigned cd_values[16] = {};
    std::size_t cd_n = 16;
    char name[64] = {};
    const H5Z_filter_t id = H5Pget_filter2(dcpl.get(), static_cast<unsigned>(i), &filter_flags, &cd_n,
                                           cd_values, sizeof name, name, &config);
    if (id < 0) fail(context);
    switch (id) {
      case H5Z_FILTER_DEFLATE: codecs.push_back("deflate(" + std::to_string(cd_n ? cd_values[0] : 0) + ")"); break;
      case H5Z_FILTER_SHUFFLE: flags.push_back("shuffle"); break;
      case H5Z_FILTER_FLETCHER32: flags.push_back("fletcher32"); break;
      case H5Z_FILTER_SZIP: codecs.push_back("szip"); break;
      case H5Z_FILTER_NBIT: codecs.push_back("nbit"); break;
      case H5Z_FILTER_SCALEOFFSET: codecs.push_back("scaleoffset"); break;
      case 307: codecs.push_back("bzip2"); break;
      case 32001: codecs.push_back("blosc"); break;
      case 32004: codecs.push_back("lz4"); break;
      case 32015: codecs.push_back("zstd"); break;
      default: codecs.push_back("filter(" + std::to_string(id) + ")"); break;
    }
  }
  codecs.insert(codecs.end(), flags.begin(), flags.end());
  return join(codecs, " ");
}

std::vector<std::int64_t> slab_chunk_offsets(const std::string& path, const std::string& dataset, DType t,
                                             std::size_t& slab) {
  Handle file = open_file(path);
  const std::string name = dataset.empty() || dataset[0] == '/' ? dataset : "/" + dataset;
  if (!is_dataset(file.get(), name)) return {};
  Handle dset = open_dataset(file.get(), name, path);
  const std::string what = "dataset '" + name + "' in '" + path + "'";
  const std::vector<std::size_t> shape = dataset_shape(dset.get(), what), chunks = dataset_chunks(dset.get(), what);
  if (shape.empty() || chunks.size() != shape.size() || !dataset_compression(dset.get(), what).empty()) return {};
  for (std::size_t i = 1; i < shape.size(); ++i)
    if (chunks[i] != shape[i]) return {};
  Handle type(check(H5Dget_type(dset.get()), "cannot read the type of " + what), H5Tclose);
  if (H5Tequal(type.get(), native_type(t)) <= 0) return {};
  std::uint64_t chunk_bytes = H5Tget_size(type.get());
  for (std::size_t c : chunks) chunk_bytes *= c;
  std::vector<std::int64_t> out;
  slab = chunks[0];
  std::vector<hsize_t> at(shape.size(), 0);
  for (std::size_t c = 0; c * chunks[0] < shape[0]; ++c) {
    at[0] = c * chunks[0];
    unsigned mask = 0;
    haddr_t addr = HADDR_UNDEF;
    hsize_t size = 0;
    if (H5Dget_chunk_info_by_coord(dset.get(), at.data(), &mask, &addr, &size) < 0) {
      H5Eclear2(H5E_DEFAULT);
      return {};
    }
    if (addr == HADDR_UNDEF) {
      out.push_back(-1);
      continue;
    }
    if (mask != 0 || size != chunk_bytes) return {};
    out.push_back(static_cast<std::int64_t>(addr));
  }
  return out;
}

hid_t native_type(DType t) {
  switch (t) {
    case DType::i8: return H5T_NATIVE_INT8;
    case DType::u8: return H5T_NATIVE_UINT8;
    case DType::i16: return H5T_NATIVE_INT16;
    case DType::u16: return H5T_NATIVE_UINT16;
    case DType::i32: return H5T_NATIVE_INT32;
    case DType::u32: return H5T_NATIVE_UINT32;
    case DType::i64: return H5T_NATIVE_INT64;
    case DType::u64: return H5T_NATIVE_UINT64;
    case DType::f32: return H5T_NATIVE_FLOAT;
    case DType::f64: return H5T_NATIVE_DOUBLE;
  }
  return H5T_NATIVE_DOUBLE;
}

void read_hyperslab(hid_t dset, DType t, const std::vector<std::size_t>& start,
                    const std::vector<std::size_t>& count, void* dst, const std::string& context) {
  silence_errors();
  if (start.empty()) {  // scalar dataset
    check(H5Dread(dset, native_type(t), H5S_ALL, H5S_ALL, H5P_DEFAULT, dst), context);
    return;
  }
  if (std::find(count.begin(), count.end(), std::size_t{0}) != count.end()) return;
  const std::vector<hsize_t> h_start = to_hsize(start), h_count = to_hsize(count);
  Handle file_space(check(H5Dget_space(dset), context), H5Sclose);
  check(H5Sselect_hyperslab(file_space.get(), H5S_SELECT_SET, h_start.data(), nullptr, h_count.data(), nullptr),
        context);
  Handle mem_space(check(H5Screate_simple(static_cast<int>(h_count.size()), h_count.data(), nullptr), context),
                   H5Sclose);
  check(H5Dread(dset, native_type(t), mem_space.get(), file_space.get(), H5P_DEFAULT, dst), context);
}

std::vector<double> read_all_as_double(hid_t dset, const std::string& what) {
  const std::string context = "cannot read the values of " + what;
  Handle space(check(H5Dget_space(dset), context), H5Sclose);
  const hssize_t n = H5Sget_simple_extent_npoints(space.get());
  if (n < 0) fail(context);
  std::vector<double> values(static_cast<std::size_t>(n));
  if (n > 0) check(H5Dread(dset, H5T_NATIVE_DOUBLE, H5S_ALL, H5S_ALL, H5P_DEFAULT, values.data()), context);
  return values;
}

std::vector<Attribute> read_attributes(hid_t obj, const std::vector<std::string>& skip, const std::string& what) {
  silence_errors();
  // Collect names first: the per-attribute reads may throw, which must not happen inside a
  // C callback.
  // In creation order where the file tracks it (NetCDF-4 always does): the order netCDF-C lists
  // them in, so remote NetCDF-4 inputs read through HDF5 show attributes as local ones do.
  std::vector<std::string> names;
  hsize_t idx = 0;
  if (H5Aiterate2(obj, H5_INDEX_CRT_ORDER, H5_ITER_INC, &idx, collect_attribute_name, &names) < 0) {
    H5Eclear2(H5E_DEFAULT);
    names.clear();
    idx = 0;
    check(H5Aiterate2(obj, H5_INDEX_NAME, H5_ITER_NATIVE, &idx, collect_attribute_name, &names),
          "cannot list the attributes of " + what);
  }
  std::vector<Attribute> out;
  for (const std::string& name : names) {
    if (std::find(skip.begin(), skip.end(), name) != skip.end()) continue;
    if (std::optional<Attribute> a = read_attribute(obj, name, what)) out.push_back(std::move(*a));
  }
  return out;
}

bool is_dimension_scale(hid_t dset) {
  if (H5DSis_scale(dset) > 0) return true;
  H5Eclear2(H5E_DEFAULT);
  return false;
}

std::string own_scale_name(hid_t scale, bool& has_values) {
  silence_errors();
  std::string name;
  const ssize_t len = H5DSget_scale_name(scale, nullptr, 0);
  if (len > 0) {
    std::vector<char> buf(static_cast<std::size_t>(len) + 2, '\0');
    if (H5DSget_scale_name(scale, buf.data(), buf.size()) > 0) name = buf.data();
  }
  H5Eclear2(H5E_DEFAULT);
  // netCDF-4 marks dimensions without a coordinate variable with this placeholder NAME; their
  // scale datasets hold only fill values.
  has_values = true;
  if (name.rfind("This is a netCDF dimension but not a netCDF variable", 0) == 0) {
    has_values = false;
    name.clear();
  }
  if (name.empty()) name = basename_of(object_path(scale));
  return name;
}

bool unlimited_axis(hid_t dset, unsigned axis) {
  silence_errors();
  Handle space(H5Dget_space(dset), H5Sclose);
  if (!space) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  const int rank = H5Sget_simple_extent_ndims(space.get());
  if (rank <= 0 || axis >= static_cast<unsigned>(rank)) return false;
  std::vector<hsize_t> dims(rank), max(rank);
  if (H5Sget_simple_extent_dims(space.get(), dims.data(), max.data()) < 0) {
    H5Eclear2(H5E_DEFAULT);
    return false;
  }
  return max[axis] == H5S_UNLIMITED;
}

std::optional<Scale> attached_scale(hid_t dset, unsigned dim) {
  silence_errors();
  // A missing or unreadable DIMENSION_LIST only means "no scale": fall back to dimN names.
  if (H5DSget_num_scales(dset, dim) <= 0) {
    H5Eclear2(H5E_DEFAULT);
    return std::nullopt;
  }
  hid_t found = H5I_INVALID_HID;
  H5DSiterate_scales(dset, dim, nullptr, take_first_scale, &found);
  H5Eclear2(H5E_DEFAULT);
  if (found < 0) return std::nullopt;
  Scale scale{Handle(found, H5Dclose), ""};
  scale.name = own_scale_name(found, scale.has_values);
  return scale;
}

}  // namespace tessera::h5
