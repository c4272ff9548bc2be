#include "io/metadata.hpp"

#include <nlohmann/json.hpp>

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

std::vector<std::size_t> InputMeta::chunk_alignment() const {
  std::vector<std::size_t> a(var.shape.size(), 1);
  // Local NetCDF chunks stored without filters are read straight into the tile buffer (the chunk
  // cache is bypassed), so any part of one costs only its bytes: no alignment needed, and the
  // plan may split a kept axis instead of exchanging partial states.
  if (kind == "netcdf" && var.compression.empty()) return a;
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

std::vector<Attribute> attrs_from_json(const json& j) {
  std::vector<Attribute> out;
  for (const auto& e : j) {
    if (e.contains("text"))
      out.push_back(Attribute::make_text(e["name"], e["text"]));
    else
      out.push_back(Attribute::make_number(e["name"], static_cast<DType>(e["type"].get<int>()),
                                           e["values"].get<std::vector<double>>()));
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
  v.name = j["name"];
  v.dims = j["dims"].get<std::vector<std::string>>();
  v.shape = j["shape"].get<std::vector<std::size_t>>();
  v.type = static_cast<DType>(j["type"].get<int>());
  v.chunks = j["chunks"].get<std::vector<std::size_t>>();
  v.compression = j["compression"];
  v.attrs = attrs_from_json(j["attrs"]);
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

InputMeta input_meta_from_json(const std::string& data) {
  json j = json::from_ubjson(std::vector<std::uint8_t>(data.begin(), data.end()));
  InputMeta m;
  m.alias = j["alias"];
  m.kind = j["kind"];
  m.var = var_from_json(j["var"]);
  for (const auto& p : j["parts"])
    m.parts.push_back({p["path"], p["format"], p["offset"], p["length"], p.value("reader", std::string())});
  for (const auto& c : j["coords"]) {
    CoordinateInfo ci;
    ci.var = var_from_json(c["var"]);
    ci.values = c["values"].get<std::vector<double>>();
    ci.bounds = c["bounds"].get<std::vector<double>>();
    ci.bounds_name = c["bounds_name"];
    m.coords.push_back(std::move(ci));
  }
  m.global_attrs = attrs_from_json(j["global_attrs"]);
  return m;
}

}  // namespace tessera
