#include "io/remote_hdf5_source.hpp"

#include <zlib.h>

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "core/error.hpp"
#include "io/chunk_copy.hpp"
#include "io/file_parts.hpp"
#include "io/remote_parts.hpp"
#include "net/object_store.hpp"

namespace tessera {

using nlohmann::json;

std::string chunk_index_to_json(const ChunkIndex& ix) {
  std::vector<std::uint64_t> flat;
  flat.reserve(ix.entries.size() * 4);
  for (const auto& e : ix.entries) flat.insert(flat.end(), {e.linear, e.address, e.size, e.filter_mask});
  std::vector<int> fill(ix.fill.begin(), ix.fill.end());
  return json{{"shape", ix.shape}, {"chunk", ix.chunk}, {"filters", ix.filters}, {"big_endian", ix.big_endian},
              {"fill", fill}, {"entries", flat}}.dump();
}

ChunkIndex chunk_index_from_json(const std::string& text) {
  const json j = json::parse(text);
  ChunkIndex ix;
  ix.shape = j.at("shape").get<std::vector<std::size_t>>();
  ix.chunk = j.at("chunk").get<std::vector<std::size_t>>();
  ix.filters = j.at("filters").get<std::vector<std::string>>();
  ix.big_endian = j.at("big_endian").get<bool>();
  for (int b : j.at("fill").get<std::vector<int>>()) ix.fill.push_back(static_cast<char>(b));
  const auto flat = j.at("entries").get<std::vector<std::uint64_t>>();
  for (std::size_t i = 0; i + 3 < flat.size(); i += 4)
    ix.entries.push_back({flat[i], flat[i + 1], flat[i + 2], static_cast<unsigned>(flat[i + 3])});
  return ix;
}

namespace {

void inflate_chunk(const char* in, std::size_t n, std::vector<char>& out, std::size_t expect, const std::string& what) {
  out.resize(expect);
  z_stream s{};
  if (inflateInit(&s) != Z_OK) throw RuntimeError("zlib: inflateInit failed");
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in));
  s.avail_in = static_cast<uInt>(n);
  s.next_out = reinterpret_cast<Bytef*>(out.data());
  s.avail_out = static_cast<uInt>(expect);
  const int rc = inflate(&s, Z_FINISH);
  const std::size_t got = expect - s.avail_out;
  inflateEnd(&s);
  if (rc != Z_STREAM_END || got != expect)
    throw InputError("cannot decode " + what + ": deflate stream is corrupt or not one chunk long");
}

void unshuffle(const char* in, char* out, std::size_t bytes, std::size_t esize) {
  const std::size_t n = bytes / esize;
  for (std::size_t b = 0; b < esize; ++b)
    for (std::size_t e = 0; e < n; ++e) out[e * esize + b] = in[b * n + e];
  std::memcpy(out + n * esize, in + n * esize, bytes - n * esize);
}

// HDF5's Fletcher-32 (H5_checksum_fletcher32): 16-bit big-endian words, an odd last byte as the
// high half of a word, sums folded every 360 words.
std::uint32_t fletcher32(const unsigned char* p, std::size_t n) {
  std::uint32_t a = 0, b = 0;
  for (std::size_t words = n / 2; words > 0;) {
    std::size_t t = std::min<std::size_t>(words, 360);
    words -= t;
    for (; t > 0; --t, p += 2) {
      a += static_cast<std::uint32_t>(p[0]) << 8 | p[1];
      b += a;
    }
    a = (a & 0xffff) + (a >> 16);
    b = (b & 0xffff) + (b >> 16);
  }
  if (n % 2) {
    a += static_cast<std::uint32_t>(*p) << 8;
    b += a;
    a = (a & 0xffff) + (a >> 16);
    b = (b & 0xffff) + (b >> 16);
  }
  a = (a & 0xffff) + (a >> 16);
  b = (b & 0xffff) + (b >> 16);
  return b << 16 | a;
}

// The chunk without its trailing checksum; a mismatch is corrupt data, never reduced.
std::size_t strip_fletcher32(const char* data, std::size_t size, const std::string& what) {
  if (size < 4) throw InputError("cannot decode " + what + ": shorter than its Fletcher-32 checksum");
  const auto* u = reinterpret_cast<const unsigned char*>(data);
  const std::size_t n = size - 4;
  const std::uint32_t stored = u[n] | u[n + 1] << 8 | u[n + 2] << 16 | static_cast<std::uint32_t>(u[n + 3]) << 24;
  const std::uint32_t sum = fletcher32(u, n);
  // HDF5 also accepts the byte-swapped halves that 1.6-era little-endian writers stored.
  const std::uint32_t reversed = (sum & 0x00ff00ffu) << 8 | (sum & 0xff00ff00u) >> 8;
  if (stored != sum && stored != reversed)
    throw InputError("cannot decode " + what + ": Fletcher-32 checksum mismatch (the object is corrupt)");
  return n;
}

class RemoteHdf5Source final : public Source {
 public:
  explicit RemoteHdf5Source(InputMeta m) : Source(std::move(m)) {
    RemoteParts remote = open_remote_parts(meta_);
    store_ = std::move(remote.store);
    for (std::size_t i = 0; i < remote.readers.size(); ++i) {
      Part p;
      p.url = remote.urls[i];
      p.index = chunk_index_from_json(remote.readers[i].at("index").get<std::string>());
      for (std::size_t e = 0; e < p.index.entries.size(); ++e) p.lookup.emplace(p.index.entries[e].linear, e);
      parts_.push_back(std::move(p));
    }
  }

  void read(const Box& box, void* dst) override {
    if (empty(box)) return;
    const std::size_t esize = dtype_size(meta_.var.type);
    std::size_t row_bytes = esize;
    for (std::size_t i = 1; i < box.rank(); ++i) row_bytes *= box.count[i];
    struct Need {
      std::size_t part;
      const ChunkEntry* entry;  // null: never written, fill value
      std::vector<std::size_t> origin;
      Box piece;                // in the file's index space
      char* out;
      std::size_t at = 0;       // offset of its stored bytes in stored_
    };
    std::vector<Need> needs;
    std::vector<net::RangeRead> reads;
    std::size_t total = 0;
    for_each_part(meta_.parts, box, [&](std::size_t p, const Box& piece, std::size_t row) {
      char* out = static_cast<char*>(dst) + row * row_bytes;
      const ChunkIndex& ix = parts_[p].index;
      std::vector<std::uint64_t> grid(ix.shape.size());
      for (std::size_t i = 0; i < grid.size(); ++i) grid[i] = (ix.shape[i] + ix.chunk[i] - 1) / ix.chunk[i];
      for (const auto& c : chunks_touching(piece, ix.chunk)) {
        std::uint64_t linear = 0;
        std::vector<std::size_t> origin(c.size());
        for (std::size_t i = 0; i < c.size(); ++i) {
          linear = linear * grid[i] + c[i];
          origin[i] = c[i] * ix.chunk[i];
        }
        auto it = parts_[p].lookup.find(linear);
        const ChunkEntry* e = it == parts_[p].lookup.end() ? nullptr : &ix.entries[it->second];
        needs.push_back({p, e, origin, piece, out, total});
        if (e) total += e->size;
      }
    });
    if (stored_.size() < total) stored_.resize(total);  // kept: pages stay touched across reads
    for (const Need& n : needs)
      if (n.entry) reads.push_back({parts_[n.part].url, n.entry->address, n.entry->size, stored_.data() + n.at});
    store_->read(reads);
    for (const Need& n : needs) {
      const ChunkIndex& ix = parts_[n.part].index;
      if (!n.entry) {
        place_chunk(nullptr, ix.fill.data(), ix.chunk, esize, n.origin, n.piece, n.out);
        continue;
      }
      std::size_t chunk_bytes = esize;
      for (std::size_t c : ix.chunk) chunk_bytes *= c;
      const char* data = stored_.data() + n.at;
      std::size_t size = n.entry->size;
      const std::string what = "a chunk of '" + meta_.var.name + "' in '" + parts_[n.part].url + "'";
      // Filters undone in reverse pipeline order; a set mask bit means the filter was skipped.
      for (std::size_t f = ix.filters.size(); f-- > 0;) {
        if (n.entry->filter_mask & (1u << f)) continue;
        if (ix.filters[f] == "fletcher32") {
          size = strip_fletcher32(data, size, what);
          continue;
        }
        if (ix.filters[f] == "deflate") {
          inflate_chunk(data, size, inflated_, chunk_bytes, what);
          data = inflated_.data();
        } else {
          shuffled_.resize(size);
          unshuffle(data, shuffled_.data(), size, esize);
          data = shuffled_.data();
        }
        size = chunk_bytes;
      }
      if (size != chunk_bytes) throw InputError("cannot decode " + what + ": " + std::to_string(size) + " bytes, expected " + std::to_string(chunk_bytes));
      if (ix.big_endian) {
        swapped_.assign(data, data + size);
        byteswap(swapped_.data(), size, esize);
        data = swapped_.data();
      }
      place_chunk(data, ix.fill.data(), ix.chunk, esize, n.origin, n.piece, n.out);
    }
  }

 private:
  struct Part {
    std::string url;
    ChunkIndex index;
    std::unordered_map<std::uint64_t, std::size_t> lookup;  // linear chunk index -> entry
  };
  std::vector<Part> parts_;
  std::unique_ptr<net::ObjectStore> store_;
  std::vector<char> stored_, inflated_, shuffled_, swapped_;  // reused across reads
};

}  // namespace

std::unique_ptr<Source> open_remote_hdf5_source(const InputMeta& meta) {
  return std::make_unique<RemoteHdf5Source>(meta);
}

}  // namespace tessera
