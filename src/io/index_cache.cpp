#include "io/index_cache.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/sha256.hpp"

namespace tessera {

std::string index_cache_dir() {
  if (const char* d = std::getenv("TESSERA_CACHE_DIR"); d && *d) return d;
  if (const char* x = std::getenv("XDG_CACHE_HOME"); x && *x) return std::string(x) + "/tessera";
  if (const char* h = std::getenv("HOME"); h && *h) return std::string(h) + "/.cache/tessera";
  return "";
}

std::string index_cache_key(const std::string& url, const std::string& etag, unsigned long long size,
                            const std::string& variable) {
  return sha256_hex("tessera-index-v1\n" + url + "\n" + etag + "\n" + std::to_string(size) + "\n" + variable);
}

std::optional<std::string> index_cache_load(const std::string& key) {
  const std::string dir = index_cache_dir();
  if (dir.empty()) return std::nullopt;
  std::ifstream in(dir + "/index-" + key + ".json", std::ios::binary);
  if (!in) return std::nullopt;
  std::ostringstream s;
  s << in.rdbuf();
  if (in.bad()) return std::nullopt;
  return s.str();
}

void index_cache_store(const std::string& key, const std::string& text) {
  const std::string dir = index_cache_dir();
  if (dir.empty()) return;
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  const std::string final_path = dir + "/index-" + key + ".json";
  const std::string tmp = final_path + ".tmp" + std::to_string(::getpid());
  {
    std::ofstream out(tmp, std::ios::binary);
    out << text;
    if (!out) {
      std::filesystem::remove(tmp, ec);
      return;
    }
  }
  std::filesystem::rename(tmp, final_path, ec);  // atomic: readers see all or nothing
  if (ec) std::filesystem::remove(tmp, ec);
}

}  // namespace tessera
