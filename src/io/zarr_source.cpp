#include "io/zarr_source.hpp"

#include <algorithm>
#include <cstring>
#include <map>
#include <nlohmann/json.hpp>

#include "core/dtype_visit.hpp"
#include "core/error.hpp"
#include "decomp/box.hpp"
#include "io/chunk_copy.hpp"
#include "io/remote_options_json.hpp"
#include "io/zarr_array.hpp"
#include "io/zarr_codec.hpp"
#include "io/zarr_store.hpp"

namespace tessera {
namespace {

using nlohmann::json;

// Metadata documents of a store: from .zmetadata when consolidated, else fetched per key.
class ZarrMetadata {
 public:
  explicit ZarrMetadata(ZarrStore& store) : store_(store) {
    if (auto z = store_.get(".zmetadata")) {
      try {
        const json j = json::parse(*z);
        for (const auto& [k, v] : j.at("metadata").items()) docs_[k] = v.dump();
        consolidated_ = true;
      } catch (const json::exception& e) {
        throw InputError("'" + store_.root() + "/.zmetadata' is not valid consolidated metadata: " + e.what());
      }
    }
  }
  bool consolidated() const { return consolidated_; }
  // The keys in .zmetadata (when consolidated).
  std::vector<std::string> consolidated_keys() const {
    std::vector<std::string> out;
    for (const auto& kv : docs_) out.push_back(kv.first);
    return out;
  }
  // Texts of `keys` ("" for absent ones), in one concurrent batch when not consolidated.
  std::vector<std::string> texts(const std::vector<std::string>& keys) {
    std::vector<std::string> out(keys.size());
    std::vector<std::string> missing;
    for (const auto& k : keys)
      if (!consolidated_ && !docs_.count(k)) missing.push_back(k);
    if (!missing.empty()) {
      const auto got = store_.get(missing);
      for (std::size_t i = 0; i < missing.size(); ++i) docs_[missing[i]] = got[i].value_or("");
    }
    for (std::size_t i = 0; i < keys.size(); ++i) {
      auto it = docs_.find(keys[i]);
      if (it != docs_.end()) out[i] = it->second;
    }
    return out;
  }

 private:
  ZarrStore& store_;
  bool consolidated_ = false;
  std::map<std::string, std::string> docs_;
};

std::string array_what(const ZarrStore& store, const std::string& name) { return "Zarr array '" + store.root() + "/" + name + "'"; }

// Column-major chunk -> row-major, element by element (F order is rare; clarity over speed).
void fortran_to_c(const char* src, char* dst, const std::vector<std::size_t>& shape, std::size_t esize) {
  const std::size_t rank = shape.size();
  std::size_t n = 1;
  for (std::size_t s : shape) n *= s;
  std::vector<std::size_t> idx(rank, 0);
  for (std::size_t c = 0; c < n; ++c) {  // c walks the C-order destination
    std::size_t f = 0, stride = 1;
    for (std::size_t i = 0; i < rank; ++i) {
      f += idx[i] * stride;
      stride *= shape[i];
    }
    std::memcpy(dst + c * esize, src + f * esize, esize);
    for (std::size_t i = rank; i-- > 0;) {
      if (++idx[i] < shape[i]) break;
      idx[i] = 0;
    }
  }
}

// Reads `box` of array `a` into dst (native type, C order), fetching only the chunks it touches.
void read_zarr_box(ZarrStore& store, const ZarrArray& a, const Box& box, char* dst, std::vector<char>& chunk,
                   std::vector<char>& reordered) {
  const std::size_t rank = a.shape.size();
  for (std::size_t i = 0; i < rank; ++i)
    if (box.count[i] == 0) return;
  const std::vector<std::vector<std::size_t>> indices =
      rank == 0 ? std::vector<std::vector<std::size_t>>{{}} : chunks_touching(box, a.chunks);
  std::vector<std::string> keys;
  for (const auto& idx : indices) keys.push_back(a.name + "/" + a.chunk_key(idx));
  const auto stored = store.get(keys);
  const std::vector<char> fill = zarr_fill_bytes(a);
  const std::size_t bytes = a.chunk_bytes(), esize = dtype_size(a.type);
  if (chunk.size() < bytes) chunk.resize(bytes);
  if (a.fortran_order && reordered.size() < bytes) reordered.resize(bytes);
  for (std::size_t c = 0; c < keys.size(); ++c) {
    std::vector<std::size_t> origin(rank);
    for (std::size_t i = 0; i < rank; ++i) origin[i] = indices[c][i] * a.chunks[i];
    if (!stored[c]) {
      place_chunk(nullptr, fill.data(), a.chunks, esize, origin, box, dst);
      continue;
    }
    const std::string what = "chunk '" + store.root() + "/" + keys[c] + "'";
    decode_zarr_chunk(a.compressor, *stored[c], chunk.data(), bytes, what);
    if (a.big_endian) byteswap(chunk.data(), bytes, esize);
    const char* src = chunk.data();
    if (a.fortran_order) {
      fortran_to_c(chunk.data(), reordered.data(), a.chunks, esize);
      src = reordered.data();
    }
    place_chunk(src, fill.data(), a.chunks, esize, origin, box, dst);
  }
}

std::vector<double> read_all_as_double(ZarrStore& store, const ZarrArray& a) {
  std::size_t n = 1;
  for (std::size_t s : a.shape) n *= s;
  std::vector<char> raw(n * dtype_size(a.type)), chunk, reordered;
  read_zarr_box(store, a, Box::whole(a.shape), raw.data(), chunk, reordered);
  std::vector<double> out(n);
  visit_dtype(a.type, [&](auto zero) {
    using T = decltype(zero);
    for (std::size_t i = 0; i < n; ++i) {
      T v;
      std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
      out[i] = static_cast<double>(v);
    }
  });
  return out;
}

class ZarrSource final : public Source {
 public:
  explicit ZarrSource(InputMeta m) : Source(std::move(m)) {
    const FilePart& part = meta_.parts.at(0);
    const json r = json::parse(part.reader);
    array_ = parse_zarr_array(r.at("array").get<std::string>(), r.at("zarray").get<std::string>(),
                              r.value("zattrs", std::string()), array_what_from(part.path, r));
    store_ = ZarrStore::open(part.path, remote_options_from_json(r.at("remote")));
  }

  void read(const Box& box, void* dst) override {
    if (empty(box) && box.rank() > 0) return;
    read_zarr_box(*store_, array_, box, static_cast<char*>(dst), chunk_, reordered_);
  }

 private:
  static std::string array_what_from(const std::string& root, const json& r) {
    return "Zarr array '" + root + "/" + r.at("array").get<std::string>() + "'";
  }
  ZarrArray array_;
  std::unique_ptr<ZarrStore> store_;
  std::vector<char> chunk_, reordered_;  // reused across reads
};

}  // namespace

InputMeta scan_zarr(const std::string& root, const std::string& variable, const std::string& alias,
                    const net::RemoteOptions& opt) {
  std::unique_ptr<ZarrStore> store = ZarrStore::open(root, opt);
  ZarrMetadata md(*store);
  std::string name = variable;
  while (!name.empty() && name.front() == '/') name.erase(0, 1);
  const auto t = md.texts({name + "/.zarray", name + "/.zattrs", ".zattrs", ".zgroup"});
  if (t[0].empty()) {
    if (t[3].empty() && md.texts({".zarray"})[0].empty())
      throw InputError("'" + root + "' is not a Zarr v2 store (no .zmetadata, .zgroup or .zarray) for input '" + alias + "'");
    throw InputError("variable '" + name + "' not found in Zarr store '" + root + "' (no '" + name + "/.zarray')");
  }
  const std::string what = array_what(*store, name);
  ZarrArray a = parse_zarr_array(name, t[0], t[1], what);
  check_zarr_compressor(a.compressor, what);
  if (a.shape.empty()) throw InputError(what + " is a scalar: nothing to reduce");

  InputMeta m;
  m.alias = alias;
  m.kind = "zarr";
  m.var = a.info();
  m.global_attrs = parse_zarr_attributes(t[2], "'" + root + "/.zattrs'");
  // Coordinates: 1-d arrays named like a dimension, with CF bounds when the store has them.
  std::vector<std::string> keys;
  for (const auto& d : a.dims) keys.insert(keys.end(), {d + "/.zarray", d + "/.zattrs"});
  const auto ct = md.texts(keys);
  for (std::size_t i = 0; i < a.dims.size(); ++i) {
    if (ct[2 * i].empty()) continue;
    const std::string& d = a.dims[i];
    ZarrArray c = parse_zarr_array(d, ct[2 * i], ct[2 * i + 1], array_what(*store, d));
    if (c.shape.size() != 1 || c.dims[0] != d || c.shape[0] != a.shape[i]) continue;
    check_zarr_compressor(c.compressor, array_what(*store, d));
    CoordinateInfo info;
    info.var = c.info();
    info.values = read_all_as_double(*store, c);
    if (const Attribute* b = info.var.attr("bounds"); b && b->is_text) {
      const auto bt = md.texts({b->text + "/.zarray", b->text + "/.zattrs"});
      if (!bt[0].empty()) {
        ZarrArray ba = parse_zarr_array(b->text, bt[0], bt[1], array_what(*store, b->text));
        if (ba.shape == std::vector<std::size_t>{c.shape[0], 2}) {
          check_zarr_compressor(ba.compressor, array_what(*store, b->text));
          info.bounds = read_all_as_double(*store, ba);
          info.bounds_name = b->text;
        }
      }
    }
    m.coords.push_back(std::move(info));
  }
  FilePart part;
  part.path = store->root();
  part.format = "Zarr v2";
  part.offset = 0;
  part.length = a.shape[0];
  part.reader = json{{"array", name}, {"zarray", t[0]}, {"zattrs", t[1]}, {"remote", remote_options_to_json(opt)}}.dump();
  m.parts.push_back(std::move(part));
  return m;
}

FileSummary summarize_zarr(const std::string& root, const net::RemoteOptions& opt) {
  std::unique_ptr<ZarrStore> store = ZarrStore::open(root, opt);
  ZarrMetadata md(*store);
  std::vector<std::string> keys;
  if (md.consolidated()) {
    keys = md.consolidated_keys();
  } else if (auto listed = store->keys()) {
    keys = std::move(*listed);
  } else {
    throw InputError("cannot list the arrays of the Zarr store '" + root +
                     "': it has no consolidated metadata (.zmetadata) and plain HTTP cannot list keys; name one "
                     "with --variable, or consolidate the store (zarr.consolidate_metadata)");
  }
  const std::string suffix = "/.zarray";
  std::vector<std::string> names;
  for (const auto& k : keys)
    if (k.size() > suffix.size() && k.compare(k.size() - suffix.size(), suffix.size(), suffix) == 0)
      names.push_back(k.substr(0, k.size() - suffix.size()));
  std::sort(names.begin(), names.end());
  std::vector<std::string> wanted{".zattrs", ".zgroup"};
  for (const auto& n : names) wanted.insert(wanted.end(), {n + "/.zarray", n + "/.zattrs"});
  const auto t = md.texts(wanted);
  if (names.empty() && t[1].empty())
    throw InputError("'" + root + "' is not a Zarr v2 store with arrays (no .zmetadata, .zgroup or NAME/.zarray)");
  FileSummary s;
  s.path = store->root();
  s.format = "Zarr v2";
  s.global_attrs = parse_zarr_attributes(t[0], "'" + root + "/.zattrs'");
  for (std::size_t i = 0; i < names.size(); ++i) {
    VariableInfo v;
    try {
      v = parse_zarr_array(names[i], t[2 + 2 * i], t[3 + 2 * i], array_what(*store, names[i])).info();
    } catch (const InputError&) {
      continue;  // arrays Tessera does not read (strings, filters), as summarize_file skips them
    }
    for (std::size_t d = 0; d < v.dims.size(); ++d)
      if (std::none_of(s.dims.begin(), s.dims.end(), [&](const auto& x) { return x.first == v.dims[d]; }))
        s.dims.emplace_back(v.dims[d], v.shape[d]);
    s.vars.push_back(std::move(v));
  }
  return s;
}

std::unique_ptr<Source> open_zarr_source(const InputMeta& meta) { return std::make_unique<ZarrSource>(meta); }

}  // namespace tessera
