#include "io/cdf_header.hpp"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <optional>

#include "core/error.hpp"

namespace tessera {
namespace {

constexpr std::uint32_t tag_dimension = 0x0A, tag_variable = 0x0B, tag_attribute = 0x0C;

std::uint64_t type_size(std::uint32_t nc_type) {
  switch (nc_type) {
    case 1: case 2: case 7: return 1;   // byte, char, ubyte
    case 3: case 8: return 2;           // short, ushort
    case 4: case 5: case 9: return 4;   // int, float, uint
    case 6: case 10: case 11: return 8; // double, int64, uint64
    default: return 0;
  }
}

std::uint64_t pad4(std::uint64_t n) { return (n + 3) / 4 * 4; }

constexpr std::uint64_t u64_max = std::numeric_limits<std::uint64_t>::max();

// a + b and a * b, or nullopt when the result does not fit: corrupt headers hold any value.
std::optional<std::uint64_t> add(std::uint64_t a, std::uint64_t b) {
  if (a > u64_max - b) return std::nullopt;
  return a + b;
}
std::optional<std::uint64_t> mul(std::uint64_t a, std::uint64_t b) {
  if (b != 0 && a > u64_max / b) return std::nullopt;
  return a * b;
}

// Big-endian cursor over the header bytes; running off the end is a truncated header.
class Cursor {
 public:
  Cursor(std::string path, std::vector<unsigned char> bytes) : path_(std::move(path)), b_(std::move(bytes)) {}
  std::uint64_t u(int width) {
    need(width);
    std::uint64_t v = 0;
    for (int i = 0; i < width; ++i) v = (v << 8) | b_[pos_++];
    return v;
  }
  void skip(std::uint64_t n) {
    need(n);
    pos_ += n;
  }
  // n bytes in place (valid until the cursor goes away), padding skipped.
  const unsigned char* bytes(std::uint64_t n) {
    need(n);
    need(pad4(n));
    const unsigned char* p = b_.data() + pos_;
    pos_ += pad4(n);
    return p;
  }
  std::string text(std::uint64_t n) {
    need(n);
    need(pad4(n));  // the padding is part of the header too
    std::string s(reinterpret_cast<const char*>(b_.data() + pos_), n);
    pos_ += pad4(n);
    return s;
  }
  [[noreturn]] void fail(const std::string& what) const {
    if (cut_) throw CdfHeaderCut("'" + path_ + "' has a malformed NetCDF-3 header (" + what + "): the file is truncated or corrupt");
    throw InputError("'" + path_ + "' has a malformed NetCDF-3 header (" + what + "): the file is truncated or corrupt");
  }

 private:
  void need(std::uint64_t n) const {
    // Compared as a remainder: a corrupt 64-bit length must not wrap pos_ + n around.
    if (n > b_.size() - pos_) {
      cut_ = true;
      fail("it ends inside the header");
    }
  }
  std::string path_;
  std::vector<unsigned char> b_;
  std::size_t pos_ = 0;
  mutable bool cut_ = false;
};

// One attribute value as double, from big-endian bytes.
double attribute_value(const unsigned char* p, std::uint32_t nc_type) {
  std::uint64_t u = 0;
  const std::uint64_t size = type_size(nc_type);
  for (std::uint64_t i = 0; i < size; ++i) u = (u << 8) | p[i];
  switch (nc_type) {
    case 1: return static_cast<std::int8_t>(u);
    case 3: return static_cast<std::int16_t>(u);
    case 4: return static_cast<std::int32_t>(u);
    case 5: { std::uint32_t w = static_cast<std::uint32_t>(u); float f; std::memcpy(&f, &w, 4); return f; }
    case 6: { double d; std::memcpy(&d, &u, 8); return d; }
    case 10: return static_cast<double>(static_cast<std::int64_t>(u));
    default: return static_cast<double>(u);  // ubyte, ushort, uint, uint64
  }
}

// The attribute list; values as netCDF-C's nc_get_att_text/_double give them.
std::vector<Attribute> read_attributes(Cursor& c, int count_width) {
  std::vector<Attribute> out;
  const std::uint32_t tag = static_cast<std::uint32_t>(c.u(4));
  const std::uint64_t n = c.u(count_width);
  if (tag == 0 && n == 0) return out;
  if (tag != tag_attribute) c.fail("expected an attribute list");
  for (std::uint64_t i = 0; i < n; ++i) {
    std::string name = c.text(c.u(count_width));
    const std::uint32_t nc_type = static_cast<std::uint32_t>(c.u(4));
    const std::uint64_t size = type_size(nc_type);
    if (size == 0) c.fail("unknown attribute type");
    const std::uint64_t nelems = c.u(count_width);
    if (nelems > (std::numeric_limits<std::uint64_t>::max() - 3) / size) c.fail("attribute too large");
    const unsigned char* p = c.bytes(size * nelems);  // checked before anything is allocated
    if (nc_type == 2) {
      std::string s(reinterpret_cast<const char*>(p), nelems);
      while (!s.empty() && s.back() == '\0') s.pop_back();
      out.push_back(Attribute::make_text(std::move(name), std::move(s)));
      continue;
    }
    DType type = DType::f64;
    cdf_dtype(nc_type, type);  // every code but char (handled above) has a type: type_size checked it
    std::vector<double> values(nelems);
    for (std::uint64_t e = 0; e < nelems; ++e) values[e] = attribute_value(p + e * size, nc_type);
    out.push_back(Attribute::make_number(std::move(name), type, std::move(values)));
  }
  return out;
}

}  // namespace

bool cdf_dtype(std::uint32_t nc_type, DType& out) {
  switch (nc_type) {
    case 1: out = DType::i8; return true;
    case 3: out = DType::i16; return true;
    case 4: out = DType::i32; return true;
    case 5: out = DType::f32; return true;
    case 6: out = DType::f64; return true;
    case 7: out = DType::u8; return true;
    case 8: out = DType::u16; return true;
    case 9: out = DType::u32; return true;
    case 10: out = DType::i64; return true;
    case 11: out = DType::u64; return true;
    default: return false;
  }
}

const CdfVariable* CdfHeader::variable(const std::string& name) const {
  for (const auto& v : vars)
    if (v.name == name) return &v;
  return nullptr;
}

std::string CdfHeader::format_name() const {
  return version == 1 ? "classic" : version == 2 ? "64-bit offset" : "CDF5";
}

std::uint64_t CdfHeader::data_end() const {
  std::uint64_t end = 0;
  for (const auto& v : vars) {
    if (!v.is_record) end = std::max(end, v.begin + v.bytes);
    else if (numrecs > 0) end = std::max(end, v.begin + (numrecs - 1) * record_size + v.bytes);
  }
  return end;
}

CdfHeader read_cdf_header(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  if (!f) throw InputError("cannot open '" + path + "'");
  // Headers are small; 16 MiB covers thousands of variables and attributes.
  std::vector<unsigned char> bytes(16u << 20);
  f.read(reinterpret_cast<char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
  bytes.resize(static_cast<std::size_t>(f.gcount()));
  return parse_cdf_header(path, std::move(bytes));
}

CdfHeader parse_cdf_header(const std::string& path, std::vector<unsigned char> bytes) {
  Cursor c(path, std::move(bytes));
  CdfHeader h;
  if (c.u(3) != 0x434446) c.fail("no CDF magic number");
  h.version = static_cast<int>(c.u(1));
  if (h.version != 1 && h.version != 2 && h.version != 5) c.fail("unknown version " + std::to_string(h.version));
  const int count_width = h.version == 5 ? 8 : 4;    // NON_NEG and nelems
  const int offset_width = h.version == 1 ? 4 : 8;   // OFFSET
  h.numrecs = c.u(count_width);
  if (h.numrecs == (count_width == 4 ? 0xFFFFFFFFull : std::numeric_limits<std::uint64_t>::max()))
    c.fail("streaming record count");
  std::uint32_t tag = static_cast<std::uint32_t>(c.u(4));
  std::uint64_t n = c.u(count_width);
  if (!(tag == 0 && n == 0)) {
    if (tag != tag_dimension) c.fail("expected a dimension list");
    for (std::uint64_t i = 0; i < n; ++i) {
      CdfDimension d;
      d.name = c.text(c.u(count_width));
      d.length = c.u(count_width);
      h.dims.push_back(std::move(d));
    }
  }
  h.global_attrs = read_attributes(c, count_width);
  tag = static_cast<std::uint32_t>(c.u(4));
  n = c.u(count_width);
  if (!(tag == 0 && n == 0)) {
    if (tag != tag_variable) c.fail("expected a variable list");
    for (std::uint64_t i = 0; i < n; ++i) {
      CdfVariable v;
      v.name = c.text(c.u(count_width));
      const std::uint64_t ndims = c.u(count_width);
      std::uint64_t elems = 1;
      for (std::uint64_t d = 0; d < ndims; ++d) {
        const std::uint64_t id = c.u(count_width);
        if (id >= h.dims.size()) c.fail("variable '" + v.name + "' names a dimension that does not exist");
        v.dimids.push_back(id);
        const std::uint64_t len = h.dims[id].length;
        if (len == 0) {
          if (d != 0) c.fail("record dimension not first in '" + v.name + "'");
          v.is_record = true;
          v.shape.push_back(h.numrecs);
        } else {
          v.shape.push_back(len);
          if (elems > std::numeric_limits<std::uint64_t>::max() / len) c.fail("variable '" + v.name + "' too large");
          elems *= len;
        }
      }
      v.attrs = read_attributes(c, count_width);
      v.nc_type = static_cast<std::uint32_t>(c.u(4));
      const std::uint64_t size = type_size(v.nc_type);
      if (size == 0) c.fail("unknown type of variable '" + v.name + "'");
      c.u(count_width);  // vsize: saturates for huge variables, so recompute from the shape
      v.begin = c.u(offset_width);
      const auto bytes = mul(elems, size);
      if (!bytes || !add(v.begin, *bytes)) c.fail("variable '" + v.name + "' too large");
      v.bytes = *bytes;
      h.vars.push_back(v);
    }
  }
  // Records interleave the record variables, each padded to 4 bytes, unless there is just one.
  std::size_t record_vars = 0;
  for (const auto& v : h.vars) record_vars += v.is_record;
  for (const auto& v : h.vars) {
    if (!v.is_record) continue;
    if (v.bytes > u64_max - 3) c.fail("records too large");
    const auto size = add(h.record_size, record_vars == 1 ? v.bytes : pad4(v.bytes));
    if (!size) c.fail("records too large");
    h.record_size = *size;
  }
  // data_end() must not wrap: the last record of every record variable has to be addressable.
  for (const auto& v : h.vars) {
    if (!v.is_record || h.numrecs == 0) continue;
    const auto last = mul(h.numrecs - 1, h.record_size);
    if (!last || !add(*last, v.begin) || !add(*last + v.begin, v.bytes)) c.fail("records too large");
  }
  return h;
}

void check_cdf_complete(const std::string& path) {
  const CdfHeader h = read_cdf_header(path);
  std::error_code ec;
  const std::uint64_t size = std::filesystem::file_size(path, ec);
  if (ec) throw InputError("cannot read the size of '" + path + "': " + ec.message());
  if (size < h.data_end())
    throw InputError("'" + path + "' is truncated: its header describes " + std::to_string(h.data_end()) +
                     " bytes of data but the file has " + std::to_string(size) + "; re-copy or regenerate it");
}

}  // namespace tessera
