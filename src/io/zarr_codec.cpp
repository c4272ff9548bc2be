#include "io/zarr_codec.hpp"

#include <blosc.h>
#include <zlib.h>
#include <zstd.h>

#include <cstring>

#include "core/error.hpp"

namespace tessera {
namespace {

[[noreturn]] void corrupt(const std::string& what, const std::string& why) {
  throw InputError("cannot decode " + what + ": " + why + "; the chunk is corrupt or truncated");
}

void inflate_all(const std::string& in, char* out, std::size_t n, bool gzip, const std::string& what) {
  z_stream s{};
  // 15 window bits; +32 accepts zlib or gzip headers alike.
  if (inflateInit2(&s, gzip ? 32 + 15 : 15) != Z_OK) throw RuntimeError("zlib: inflateInit failed");
  s.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(in.data()));
  s.avail_in = static_cast<uInt>(in.size());
  s.next_out = reinterpret_cast<Bytef*>(out);
  s.avail_out = static_cast<uInt>(n);
  const int rc = inflate(&s, Z_FINISH);
  const std::size_t got = n - s.avail_out;
  inflateEnd(&s);
  if (rc != Z_STREAM_END) corrupt(what, rc == Z_BUF_ERROR || rc == Z_OK ? "it decodes to more or fewer bytes than a chunk"
                                                                         : std::string("zlib error ") + std::to_string(rc));
  if (got != n) corrupt(what, "it decodes to " + std::to_string(got) + " bytes, not " + std::to_string(n));
}

}  // namespace

void check_zarr_compressor(const std::string& id, const std::string& what) {
  if (id.empty() || id == "zlib" || id == "gzip" || id == "zstd" || id == "blosc") return;
  throw InputError(what + " uses the compressor '" + id +
                   "', which Tessera does not decode; supported: none, zlib, gzip, zstd, blosc (blosclz, lz4, lz4hc, "
                   "zlib, zstd inner codecs, with or without shuffle)");
}

void decode_zarr_chunk(const std::string& id, const std::string& stored, char* out, std::size_t n,
                       const std::string& what) {
  if (id.empty()) {
    if (stored.size() != n) corrupt(what, std::to_string(stored.size()) + " bytes stored, " + std::to_string(n) + " expected");
    std::memcpy(out, stored.data(), n);
  } else if (id == "zlib" || id == "gzip") {
    inflate_all(stored, out, n, id == "gzip", what);
  } else if (id == "zstd") {
    const std::size_t got = ZSTD_decompress(out, n, stored.data(), stored.size());
    if (ZSTD_isError(got)) corrupt(what, std::string("zstd: ") + ZSTD_getErrorName(got));
    if (got != n) corrupt(what, "it decodes to " + std::to_string(got) + " bytes, not " + std::to_string(n));
  } else if (id == "blosc") {
    std::size_t nbytes = 0, cbytes = 0, blocksize = 0;
    if (stored.size() < BLOSC_MIN_HEADER_LENGTH) corrupt(what, "shorter than a blosc header");
    blosc_cbuffer_sizes(stored.data(), &nbytes, &cbytes, &blocksize);
    if (nbytes != n || cbytes != stored.size())
      corrupt(what, "blosc header says " + std::to_string(nbytes) + " bytes from " + std::to_string(cbytes));
    // The _ctx variant keeps no global state, so it is safe whatever else runs.
    const int got = blosc_decompress_ctx(stored.data(), out, n, 1);
    if (got < 0 || static_cast<std::size_t>(got) != n) {
      const char* codec = blosc_cbuffer_complib(stored.data());
      corrupt(what, std::string("blosc error (inner codec ") + (codec ? codec : "?") + ")");
    }
  } else {
    check_zarr_compressor(id, what);
  }
}

}  // namespace tessera
