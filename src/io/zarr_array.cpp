#include "io/zarr_array.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>

#include "core/dtype_visit.hpp"
#include "core/error.hpp"

namespace tessera {
namespace {

using nlohmann::json;

json parse_json(const std::string& text, const std::string& what) {
  try {
    return json::parse(text);
  } catch (const json::exception& e) {
    throw InputError(what + " is not valid JSON: " + e.what());
  }
}

// "<f4" -> f32, little endian; "|u1" -> u8.
DType parse_zarr_dtype(const std::string& s, bool& big_endian, const std::string& what) {
  if (s.size() < 3 || (s[0] != '<' && s[0] != '>' && s[0] != '|'))
    throw InputError(what + " has dtype '" + s + "', which Tessera does not read (numeric dtypes such as <f4, <i2)");
  big_endian = s[0] == '>';
  const std::string k = s.substr(1);
  static const std::pair<const char*, DType> table[] = {
      {"i1", DType::i8},  {"u1", DType::u8},  {"i2", DType::i16}, {"u2", DType::u16}, {"i4", DType::i32},
      {"u4", DType::u32}, {"i8", DType::i64}, {"u8", DType::u64}, {"f4", DType::f32}, {"f8", DType::f64}};
  for (const auto& [name, t] : table)
    if (k == name) return t;
  throw InputError(what + " has dtype '" + s + "', which Tessera does not read (numeric dtypes such as <f4, <i2)");
}

double json_number(const json& v, const std::string& what) {
  if (v.is_number()) return v.get<double>();
  if (v.is_string()) {
    const std::string s = v.get<std::string>();
    if (s == "NaN") return std::numeric_limits<double>::quiet_NaN();
    if (s == "Infinity") return std::numeric_limits<double>::infinity();
    if (s == "-Infinity") return -std::numeric_limits<double>::infinity();
  }
  throw InputError(what + " has a fill_value Tessera cannot read: " + v.dump());
}

// JSON attribute values -> Attribute (numbers keep int/double; lists of numbers; strings).
std::optional<Attribute> to_attribute(const std::string& name, const json& v) {
  if (v.is_string()) return Attribute::make_text(name, v.get<std::string>());
  auto number_type = [](const json& x) { return x.is_number_float() ? DType::f64 : DType::i64; };
  if (v.is_number()) return Attribute::make_number(name, number_type(v), {v.get<double>()});
  if (v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_number(); })) {
    std::vector<double> vals;
    DType t = DType::i64;
    for (const auto& x : v) {
      vals.push_back(x.get<double>());
      if (x.is_number_float()) t = DType::f64;
    }
    return Attribute::make_number(name, t, vals);
  }
  if (v.is_array() && !v.empty() && std::all_of(v.begin(), v.end(), [](const json& x) { return x.is_string(); })) {
    std::string s;
    for (const auto& x : v) s += (s.empty() ? "" : ", ") + x.get<std::string>();
    return Attribute::make_text(name, s);
  }
  return std::nullopt;  // booleans, objects, nulls: nothing CF needs
}

}  // namespace

std::size_t ZarrArray::chunk_elements() const {
  std::size_t n = 1;
  for (std::size_t c : chunks) n *= c;
  return n;
}

std::string ZarrArray::chunk_key(const std::vector<std::size_t>& idx) const {
  if (idx.empty()) return "0";
  std::string k;
  for (std::size_t i = 0; i < idx.size(); ++i) k += (i ? separator : "") + std::to_string(idx[i]);
  return k;
}

VariableInfo ZarrArray::info() const {
  VariableInfo v;
  v.name = name;
  v.dims = dims;
  v.shape = shape;
  v.type = type;
  v.chunks = chunks;
  v.compression = compressor_text;
  v.attrs = attrs;
  return v;
}

std::vector<Attribute> parse_zarr_attributes(const std::string& zattrs, const std::string& what) {
  std::vector<Attribute> out;
  if (zattrs.empty()) return out;
  const json j = parse_json(zattrs, what);
  if (!j.is_object()) throw InputError(what + " is not a JSON object");
  for (const auto& [k, v] : j.items())
    if (k != "_ARRAY_DIMENSIONS")
      if (auto a = to_attribute(k, v)) out.push_back(std::move(*a));
  return out;
}

ZarrArray parse_zarr_array(const std::string& name, const std::string& zarray, const std::string& zattrs,
                           const std::string& what) {
  const json j = parse_json(zarray, what + "/.zarray");
  ZarrArray a;
  a.name = name;
  try {
    if (j.value("zarr_format", 0) != 2)
      throw InputError(what + " is not Zarr v2 metadata (zarr_format " + j.value("zarr_format", json()).dump() +
                       "); Tessera reads Zarr v2 stores");
    a.shape = j.at("shape").get<std::vector<std::size_t>>();
    a.chunks = j.at("chunks").get<std::vector<std::size_t>>();
    if (a.chunks.size() != a.shape.size())
      throw InputError(what + ": chunks and shape have different lengths");
    for (std::size_t& c : a.chunks)
      if (c == 0) throw InputError(what + ": a chunk length is 0");
    a.type = parse_zarr_dtype(j.at("dtype").get<std::string>(), a.big_endian, what);
    a.fortran_order = j.value("order", std::string("C")) == "F";
    a.separator = j.value("dimension_separator", std::string("."));
    if (j.contains("filters") && !j["filters"].is_null() && !j["filters"].empty())
      throw InputError(what + " has filters (" + j["filters"].dump() + "); Tessera reads arrays without filters");
    const json& comp = j.at("compressor");
    if (!comp.is_null()) {
      a.compressor = comp.at("id").get<std::string>();
      a.compressor_text = a.compressor;
      if (a.compressor == "blosc")
        a.compressor_text += "(" + comp.value("cname", std::string("?")) + ", clevel " +
                             std::to_string(comp.value("clevel", 0)) + ", shuffle " +
                             std::to_string(comp.value("shuffle", 0)) + ")";
      else if (comp.contains("level"))
        a.compressor_text += "(" + std::to_string(comp["level"].get<int>()) + ")";
    }
    if (j.contains("fill_value") && !j["fill_value"].is_null()) {
      a.has_fill = true;
      a.fill = json_number(j["fill_value"], what);
    }
  } catch (const json::exception& e) {
    throw InputError(what + "/.zarray is missing or has a malformed field: " + e.what());
  }
  a.attrs = parse_zarr_attributes(zattrs, what + "/.zattrs");
  if (!zattrs.empty()) {
    const json at = parse_json(zattrs, what + "/.zattrs");
    if (at.contains("_ARRAY_DIMENSIONS")) a.dims = at["_ARRAY_DIMENSIONS"].get<std::vector<std::string>>();
  }
  if (a.dims.size() != a.shape.size()) {
    a.dims.clear();
    for (std::size_t i = 0; i < a.shape.size(); ++i) a.dims.push_back("dim" + std::to_string(i));
  }
  // As xarray: the array's fill_value is the variable's _FillValue.
  if (a.has_fill && !find_attribute(a.attrs, "_FillValue"))
    a.attrs.push_back(Attribute::make_number("_FillValue", a.type, {a.fill}));
  return a;
}

std::vector<char> zarr_fill_bytes(const ZarrArray& a) {
  std::vector<char> out(dtype_size(a.type), 0);
  if (!a.has_fill) return out;
  visit_dtype(a.type, [&](auto zero) {
    using T = decltype(zero);
    const T v = static_cast<T>(a.fill);
    std::memcpy(out.data(), &v, sizeof v);
  });
  return out;
}

}  // namespace tessera
