#include "io/metadata.hpp"

#include <nlohmann/json.hpp>

#include "core/dtype.hpp"
#include "core/error.hpp"

namespace tessera {

using nlohmann::json;

Attribute Attribute::make_text(std::string n, std::string t) {
  Attribute a;
  a.name = std::move(n);
  a.is_text = true;
  a.text = std::move(t);
  return a;
}

Attribute Attribute::make_number(std::string n, DType type, std::vector<double> v) {
  Attribute a;
  a.name = std::move(n);
  a.type = type;
  a.values = std::move(v);
  return a;
}

const Attribute* find_attribute(const std::vector<Attribute>& attrs, const std::string& name) {
  for (const auto& a : attrs)
    if (a.name == name) return &a;
  return nullptr;
}

int VariableInfo::axis_of(const std::string& dim) const {
  for (std::size_t i = 0; i < dims.size(); ++i)
    if (dims[i] == dim) return static_cast<int>(i);
  return -1;
}

const CoordinateInfo* InputMeta::coordinate(const std::string& dim) const {
  for (const auto& c : coords)
    if (c.var.name == dim) return &c;
  return nullptr;
}

bool InputMeta::reads_whole_chunks() const {
  // Local NetCDF chunks stored without filters are read straight into the tile buffer (the chunk
  // cache is bypassed), so any part of one costs only its bytes. Filtered chunks are decoded
  // whole, and remote or Zarr chunks are fetched whole.
  return !var.chunks.empty() && !(kind == "netcdf" && var.compression.empty());
}

std::uint64_t InputMeta::chunk_bytes() const {
  if (var.chunks.empty()) return 0;
  std::uint64_t n = std::max<std::uint64_t>(dtype_size(var.type), 1);
  for (std::size_t c : var.chunks) n *= c;  // scan refused chunks above 1 GiB, so no overflow
  return n;
}

std::vector<std::size_t> InputMeta::chunk_alignment() const {
  std::vector<std::size_t> a(var.shape.size(), 1);
  // Partial chunks cost only their bytes: no alignment needed, and the plan may split a kept
  // axis instead of exchanging partial states.
  if (!reads_whole_chunks()) return a;
  if (var.chunks.size() == a.size())
    for (std::size_t i = 0; i < a.size(); ++i) a[i] = std::max<std::size_t>(1, var.chunks[i]);
  // Axis 0 also breaks at file boundaries; those are handled by the reader, not the alignment.
  return a;
}

// ---- JSON (rank 0 scans, everyone receives) ----
namespace {

json attrs_to_json(const std::vector<Attribute>& attrs) {
  json out = json::array();
  for (const auto& a : attrs) {
    if (a.is_text)
      out.push_back({{"name", a.name}, {"text", a.text}});
    else
      out.push_back({{"name", a.name}, {"type", static_cast<int>(a.type)}, {"values", a.values}});
  }
  return out;
}

// Enum values arrive as integers: anything outside DType is a corrupt message.
DType dtype_from_json(const json& j) {
  const int t = j.get<int>();
  if (t < static_cast<int>(DType::i8) || t > static_cast<int>(DType::f64))
    throw RuntimeError("input metadata message holds an unknown element type " + std::to_string(t));
  return static_cast<DType>(t);
}

std::vector<Attribute> attrs_from_json(const json& j) {
  std::vector<Attribute> out;
  for (const auto& e : j) {
    if (e.contains("text"))
      out.push_back(Attribute::make_text(e.at("name"), e.at("text")));
    else
      out.push_back(Attribute::make_number(e.at("name"), dtype_from_json(e.at("type")),
                                           e.at("values").get<std::vector<double>>()));
  }
  return out;
}

json var_to_json(const VariableInfo& v) {
  return {{"name", v.name},   {"dims", v.dims},
          {"shape", v.shape}, {"type", static_cast<int>(v.type)},
          {"chunks", v.chunks}, {"compression", v.compression},
          {"attrs", attrs_to_json(v.attrs)}};
}

VariableInfo var_from_json(const json& j) {
  VariableInfo v;
  v.name = j.at("name");
  v.dims = j.at("dims").get<std::vector<std::string>>();
  v.shape = j.at("shape").get<std::vector<std::size_t>>();
  v.type = dtype_from_json(j.at("type"));
  v.chunks = j.at("chunks").get<std::vector<std::size_t>>();
  v.compression = j.at("compression");
  v.attrs = attrs_from_json(j.at("attrs"));
  return v;
}

}  // namespace

std::string to_json(const InputMeta& m) {
  json j;
  j["alias"] = m.alias;
  j["kind"] = m.kind;
  j["var"] = var_to_json(m.var);
  j["parts"] = json::array();
  for (const auto& p : m.parts)
    j["parts"].push_back({{"path", p.path}, {"format", p.format}, {"offset", p.offset}, {"length", p.length},
                          {"reader", p.reader}});
  j["coords"] = json::array();
  for (const auto& c : m.coords)
    j["coords"].push_back({{"var", var_to_json(c.var)}, {"values", c.values},
                           {"bounds", c.bounds}, {"bounds_name", c.bounds_name}});
  j["global_attrs"] = attrs_to_json(m.global_attrs);
  // NaN is not JSON: use the ubjson binary form to keep values exact and NaN-safe.
  auto bin = json::to_ubjson(j);
  return std::string(bin.begin(), bin.end());
}

namespace {

InputMeta input_meta_from_ubjson(const std::string& data) {
  json j = json::from_ubjson(std::vector<std::uint8_t>(data.begin(), data.end()));
  InputMeta m;
  m.alias = j.at("alias");
  m.kind = j.at("kind");
  m.var = var_from_json(j.at("var"));
  for (const auto& p : j.at("parts"))
    m.parts.push_back({p.at("path"), p.at("format"), p.at("offset"), p.at("length"), p.value("reader", std::string())});
  for (const auto& c : j.at("coords")) {
    CoordinateInfo ci;
    ci.var = var_from_json(c.at("var"));
    ci.values = c.at("values").get<std::vector<double>>();
    ci.bounds = c.at("bounds").get<std::vector<double>>();
    ci.bounds_name = c.at("bounds_name");
    m.coords.push_back(std::move(ci));
  }
  m.global_attrs = attrs_from_json(j.at("global_attrs"));
  return m;
}

}  // namespace

InputMeta input_meta_from_json(const std::string& data) {
  // The message comes from rank 0's to_json, so a malformed one is an internal fault, reported
  // as a typed error rather than a library exception.
  try {
    return input_meta_from_ubjson(data);
  } catch (const json::exception& e) {
    throw RuntimeError(std::string("malformed input metadata message: ") + e.what());
  }
}

}  // namespace tessera
