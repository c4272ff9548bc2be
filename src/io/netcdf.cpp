#include "io/netcdf.hpp"

#include <netcdf.h>
#include <netcdf_par.h>
#include <netcdf_filter.h>

#include <algorithm>

#include "core/error.hpp"

namespace tessera::nc {
namespace {

nc_type to_nc(DType t) {
  switch (t) {
    case DType::i8: return NC_BYTE;
    case DType::u8: return NC_UBYTE;
    case DType::i16: return NC_SHORT;
    case DType::u16: return NC_USHORT;
    case DType::i32: return NC_INT;
    case DType::u32: return NC_UINT;
    case DType::i64: return NC_INT64;
    case DType::u64: return NC_UINT64;
    case DType::f32: return NC_FLOAT;
    case DType::f64: return NC_DOUBLE;
  }
  return NC_NAT;
}

bool from_nc(nc_type t, DType& out) {
  switch (t) {
    case NC_BYTE: out = DType::i8; return true;
    case NC_UBYTE: out = DType::u8; return true;
    case NC_SHORT: out = DType::i16; return true;
    case NC_USHORT: out = DType::u16; return true;
    case NC_INT: out = DType::i32; return true;
    case NC_UINT: out = DType::u32; return true;
    case NC_INT64: out = DType::i64; return true;
    case NC_UINT64: out = DType::u64; return true;
    case NC_FLOAT: out = DType::f32; return true;
    case NC_DOUBLE: out = DType::f64; return true;
    default: return false;
  }
}

std::vector<Attribute> read_attributes(int ncid, int varid, const std::string& where) {
  int natts = 0;
  check(varid == NC_GLOBAL ? nc_inq_natts(ncid, &natts) : nc_inq_varnatts(ncid, varid, &natts), where, true);
  std::vector<Attribute> out;
  for (int i = 0; i < natts; ++i) {
    char name[NC_MAX_NAME + 1] = {0};
    check(nc_inq_attname(ncid, varid, i, name), where, true);
    nc_type t;
    size_t len = 0;
    check(nc_inq_att(ncid, varid, name, &t, &len), where + " attribute " + name, true);
    if (t == NC_CHAR) {
      std::string s(len, '\0');
      if (len) check(nc_get_att_text(ncid, varid, name, s.data()), where + " attribute " + name, true);
      while (!s.empty() && s.back() == '\0') s.pop_back();
      out.push_back(Attribute::make_text(name, s));
    } else if (t == NC_STRING) {
      std::vector<char*> strs(len);
      check(nc_get_att_string(ncid, varid, name, strs.data()), where + " attribute " + name, true);
      std::string s = len ? (strs[0] ? strs[0] : "") : "";
      nc_free_string(len, strs.data());
      out.push_back(Attribute::make_text(name, s));
    } else {
      DType dt;
      if (!from_nc(t, dt)) continue;  // user-defined types: not needed for CF decoding
      std::vector<double> v(len);
      if (len) check(nc_get_att_double(ncid, varid, name, v.data()), where + " attribute " + name, true);
      out.push_back(Attribute::make_number(name, dt, v));
    }
  }
  return out;
}

}  // namespace

void check(int status, const std::string& context, bool input_side) {
  if (status == NC_NOERR) return;
  std::string msg = context + ": " + nc_strerror(status);
  if (input_side) throw InputError(msg);
  throw RuntimeError(msg);
}

File File::open(const std::string& path) {
  int id = -1;
  int st = nc_open(path.c_str(), NC_NOWRITE, &id);
  if (st != NC_NOERR) {
    std::string hint = st == NC_ENOTNC || st == NC_EHDFERR || st == NC_ENOTBUILT
                           ? " (not a NetCDF/HDF5 file, or truncated/corrupt)"
                           : "";
    check(st, "cannot open '" + path + "'" + hint, true);
  }
  return File(id, path);
}

File File::open_parallel(const std::string& path, const mpi::Comm& comm) {
  int id = -1;
  check(nc_open_par(path.c_str(), NC_NOWRITE, comm.native(), MPI_INFO_NULL, &id),
        "cannot open '" + path + "' for parallel reading", true);
  File f(id, path);
  f.collective_ = true;
  return f;
}

File File::create(const std::string& path, const std::string& format) {
  int mode = NC_NOCLOBBER;
  if (format == "netcdf4") mode |= NC_NETCDF4;
  else if (format == "64bit-offset") mode |= NC_64BIT_OFFSET;
  else if (format == "cdf5") mode |= NC_64BIT_DATA;
  else if (format != "classic") throw JobError("unknown NetCDF format '" + format + "'");
  int id = -1;
  check(nc_create(path.c_str(), mode, &id), "cannot create '" + path + "'", false);
  int old = 0;
  nc_set_fill(id, NC_NOFILL, &old);  // every value is written; skip the prefill pass
  return File(id, path);
}

File File::create_parallel(const std::string& path, const mpi::Comm& comm) {
  int id = -1;
  check(nc_create_par(path.c_str(), NC_NETCDF4 | NC_NOCLOBBER, comm.native(), MPI_INFO_NULL, &id),
        "cannot create '" + path + "'", false);
  return File(id, path);
}

File& File::operator=(File&& o) noexcept {
  if (this != &o) {
    if (id_ >= 0) nc_close(id_);
    id_ = o.id_;
    path_ = std::move(o.path_);
    collective_ = o.collective_;
    o.id_ = -1;
  }
  return *this;
}

File::~File() noexcept {
  if (id_ >= 0) nc_close(id_);
}

void File::abandon() noexcept {
  if (id_ < 0) return;
  nc_abort(id_);
  id_ = -1;
}

void File::close() {
  if (id_ < 0) return;
  int id = id_;
  id_ = -1;
  check(nc_close(id), "closing '" + path_ + "'", false);
}

std::string File::format_name() const {
  int f = 0;
  check(nc_inq_format(id_, &f), path_, true);
  switch (f) {
    case NC_FORMAT_CLASSIC: return "classic";
    case NC_FORMAT_64BIT_OFFSET: return "64-bit offset";
    case NC_FORMAT_CDF5: return "CDF5";
    case NC_FORMAT_NETCDF4: return "netCDF-4";
    case NC_FORMAT_NETCDF4_CLASSIC: return "netCDF-4 classic model";
    default: return "unknown";
  }
}

int File::varid(const std::string& name) const {
  int v = -1;
  check(nc_inq_varid(id_, name.c_str(), &v), "variable '" + name + "' in '" + path_ + "'", true);
  return v;
}

bool File::has_variable(const std::string& name) const {
  int v = -1;
  return nc_inq_varid(id_, name.c_str(), &v) == NC_NOERR;
}

std::vector<std::string> File::variable_names() const {
  int n = 0;
  check(nc_inq_nvars(id_, &n), path_, true);
  std::vector<std::string> out;
  for (int i = 0; i < n; ++i) {
    char name[NC_MAX_NAME + 1] = {0};
    check(nc_inq_varname(id_, i, name), path_, true);
    out.emplace_back(name);
  }
  return out;
}

std::vector<std::pair<std::string, std::size_t>> File::dimensions() const {
  int n = 0;
  check(nc_inq_ndims(id_, &n), path_, true);
  std::vector<std::pair<std::string, std::size_t>> out;
  for (int i = 0; i < n; ++i) {
    char name[NC_MAX_NAME + 1] = {0};
    size_t len = 0;
    check(nc_inq_dim(id_, i, name, &len), path_, true);
    out.emplace_back(name, len);
  }
  return out;
}

int File::unlimited_dimension() const {
  int u = -1;
  check(nc_inq_unlimdim(id_, &u), path_, true);
  return u;
}

VariableInfo File::variable(const std::string& name) const {
  const int v = varid(name);
  const std::string where = "variable '" + name + "' in '" + path_ + "'";
  VariableInfo info;
  info.name = name;
  nc_type t;
  int ndims = 0;
  check(nc_inq_var(id_, v, nullptr, &t, &ndims, nullptr, nullptr), where, true);
  if (!from_nc(t, info.type))
    throw InputError(where + " has a type Tessera cannot reduce (it reads byte, short, int, int64, float, double and their unsigned forms)");
  std::vector<int> dimids(ndims);
  if (ndims) check(nc_inq_vardimid(id_, v, dimids.data()), where, true);
  for (int d : dimids) {
    char dname[NC_MAX_NAME + 1] = {0};
    size_t len = 0;
    check(nc_inq_dim(id_, d, dname, &len), where, true);
    info.dims.emplace_back(dname);
    info.shape.push_back(len);
  }
  int fmt = 0;
  check(nc_inq_format(id_, &fmt), path_, true);
  if (fmt == NC_FORMAT_NETCDF4 || fmt == NC_FORMAT_NETCDF4_CLASSIC) {
    int storage = 0;
    std::vector<size_t> chunks(ndims);
    check(nc_inq_var_chunking(id_, v, &storage, ndims ? chunks.data() : nullptr), where, true);
    if (storage == NC_CHUNKED) info.chunks.assign(chunks.begin(), chunks.end());
    int shuffle = 0, deflate = 0, level = 0;
    check(nc_inq_var_deflate(id_, v, &shuffle, &deflate, &level), where, true);
    if (deflate) info.compression = "deflate(" + std::to_string(level) + ")";
    if (shuffle) info.compression += std::string(info.compression.empty() ? "" : " ") + "shuffle";
    std::size_t nfilters = 0;  // others (szip, fletcher32, plugins): still not a plain copy
    if (info.compression.empty() && nc_inq_var_filter_ids(id_, v, &nfilters, nullptr) == NC_NOERR && nfilters > 0)
      info.compression = "filtered";
  }
  info.attrs = read_attributes(id_, v, where);
  return info;
}

std::vector<Attribute> File::global_attributes() const { return read_attributes(id_, NC_GLOBAL, path_); }

void File::read(const std::string& var, const Box& box, DType type, void* dst) const {
  if (empty(box) && !collective_) return;
  const int v = varid(var);
  const std::string where = "reading " + var + to_string(box) + " from '" + path_ + "'";
  // A collective read needs every rank, those with nothing to read too (zero counts).
  std::vector<size_t> start(box.start), count(box.count);
  if (empty(box)) std::fill(start.begin(), start.end(), 0), std::fill(count.begin(), count.end(), 0);
  if (collective_) check(nc_var_par_access(id_, v, NC_COLLECTIVE), where, true);
  const size_t* s = start.data();
  const size_t* c = count.data();
  int st = NC_NOERR;
  switch (type) {
    case DType::i8: st = nc_get_vara_schar(id_, v, s, c, static_cast<signed char*>(dst)); break;
    case DType::u8: st = nc_get_vara_uchar(id_, v, s, c, static_cast<unsigned char*>(dst)); break;
    case DType::i16: st = nc_get_vara_short(id_, v, s, c, static_cast<short*>(dst)); break;
    case DType::u16: st = nc_get_vara_ushort(id_, v, s, c, static_cast<unsigned short*>(dst)); break;
    case DType::i32: st = nc_get_vara_int(id_, v, s, c, static_cast<int*>(dst)); break;
    case DType::u32: st = nc_get_vara_uint(id_, v, s, c, static_cast<unsigned int*>(dst)); break;
    case DType::i64: st = nc_get_vara_longlong(id_, v, s, c, static_cast<long long*>(dst)); break;
    case DType::u64: st = nc_get_vara_ulonglong(id_, v, s, c, static_cast<unsigned long long*>(dst)); break;
    case DType::f32: st = nc_get_vara_float(id_, v, s, c, static_cast<float*>(dst)); break;
    case DType::f64: st = nc_get_vara_double(id_, v, s, c, static_cast<double*>(dst)); break;
  }
  check(st, where + (st == NC_EHDFERR || st == NC_EINVALCOORDS ? " (file truncated or corrupt?)" : ""), true);
}

void File::read_around_chunk_cache(const std::string& var) const {
  int fmt = 0;
  if (nc_inq_format(id_, &fmt) != NC_NOERR || (fmt != NC_FORMAT_NETCDF4 && fmt != NC_FORMAT_NETCDF4_CLASSIC)) return;
  const int v = varid(var);
  int storage = 0;
  std::size_t nfilters = 0;
  if (nc_inq_var_chunking(id_, v, &storage, nullptr) != NC_NOERR || storage != NC_CHUNKED) return;
  if (nc_inq_var_filter_ids(id_, v, &nfilters, nullptr) != NC_NOERR || nfilters != 0) return;
  // HDF5 caches a chunk only if it fits the cache: a cache of 0 bytes sends every chunk direct.
  check(nc_set_var_chunk_cache(id_, v, 0, 1, 0.75f), "setting the chunk cache of '" + var + "' in '" + path_ + "'", true);
}

std::vector<double> File::read_all_as_double(const std::string& var) const {
  const int v = varid(var);
  VariableInfo info = variable(var);
  std::size_t n = 1;
  for (auto s : info.shape) n *= s;
  std::vector<double> out(n);
  if (!n) return out;
  // In slabs along axis 0: HDF5 builds a few KB of bookkeeping per chunk a read touches, and a
  // record axis stored in small chunks (time: one chunk per ~1 record) made one whole read cost
  // ~20 MB of peak memory per 2920 records, growing with the dataset.
  const std::size_t slab = 256, row = info.shape.empty() ? n : n / info.shape[0];
  std::vector<size_t> start(info.shape.size(), 0), count(info.shape.begin(), info.shape.end());
  for (std::size_t s = 0; s < (info.shape.empty() ? 1 : info.shape[0]); s += slab) {
    if (!info.shape.empty()) start[0] = s, count[0] = std::min(slab, info.shape[0] - s);
    check(nc_get_vara_double(id_, v, start.data(), count.data(), out.data() + s * row),
          "reading '" + var + "' from '" + path_ + "'", true);
  }
  return out;
}

int File::define_dimension(const std::string& name, std::size_t len) {
  int d = -1;
  check(nc_def_dim(id_, name.c_str(), len, &d), "defining dimension '" + name + "' in '" + path_ + "'", false);
  return d;
}

int File::define_variable(const std::string& name, DType type, const std::vector<int>& dimids) {
  int v = -1;
  check(nc_def_var(id_, name.c_str(), to_nc(type), static_cast<int>(dimids.size()), dimids.data(), &v),
        "defining variable '" + name + "' in '" + path_ + "'", false);
  return v;
}

void File::put_attribute(int varid, const Attribute& a) {
  const std::string where = "writing attribute '" + a.name + "' in '" + path_ + "'";
  if (a.is_text) {
    check(nc_put_att_text(id_, varid, a.name.c_str(), a.text.size(), a.text.c_str()), where, false);
  } else {
    check(nc_put_att_double(id_, varid, a.name.c_str(), to_nc(a.type), a.values.size(), a.values.data()), where,
          false);
  }
}

void File::define_chunking(int varid, const std::vector<std::size_t>& chunks) {
  check(nc_def_var_chunking(id_, varid, NC_CHUNKED, chunks.data()), "setting chunking in '" + path_ + "'", false);
}

void File::define_deflate(int varid, bool shuffle, int level) {
  check(nc_def_var_deflate(id_, varid, shuffle ? 1 : 0, 1, level), "setting deflate in '" + path_ + "'", false);
}

void File::end_define() { check(nc_enddef(id_), "leaving define mode in '" + path_ + "'", false); }

void File::collective(int varid) {
  check(nc_var_par_access(id_, varid, NC_COLLECTIVE), "setting collective access in '" + path_ + "'", false);
}

void File::independent(int varid) {
  check(nc_var_par_access(id_, varid, NC_INDEPENDENT), "setting independent access in '" + path_ + "'", false);
}

void File::write(int varid, const Box& box, DType type, const void* src) {
  const std::string where = "writing " + to_string(box) + " to '" + path_ + "'";
  // Ranks with nothing to write still take part in the collective call, with zero counts.
  std::vector<size_t> start(box.start), count(box.count);
  if (empty(box)) std::fill(start.begin(), start.end(), 0), std::fill(count.begin(), count.end(), 0);
  int st = NC_NOERR;
  switch (type) {
    case DType::f32: st = nc_put_vara_float(id_, varid, start.data(), count.data(), static_cast<const float*>(src)); break;
    case DType::f64: st = nc_put_vara_double(id_, varid, start.data(), count.data(), static_cast<const double*>(src)); break;
    case DType::i32: st = nc_put_vara_int(id_, varid, start.data(), count.data(), static_cast<const int*>(src)); break;
    case DType::i16: st = nc_put_vara_short(id_, varid, start.data(), count.data(), static_cast<const short*>(src)); break;
    case DType::i64: st = nc_put_vara_longlong(id_, varid, start.data(), count.data(), static_cast<const long long*>(src)); break;
    default: throw RuntimeError(where + ": unsupported output type " + dtype_name(type));
  }
  check(st, where, false);
}

}  // namespace tessera::nc
