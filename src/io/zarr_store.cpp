#include "io/zarr_store.hpp"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "core/error.hpp"
#include "net/url.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

class LocalStore final : public ZarrStore {
 public:
  explicit LocalStore(std::string root) : ZarrStore(std::move(root)) {}
  std::vector<std::optional<std::string>> get(const std::vector<std::string>& keys) override {
    std::vector<std::optional<std::string>> out;
    out.reserve(keys.size());
    for (const auto& k : keys) {
      const std::string path = root_ + "/" + k;
      std::ifstream in(path, std::ios::binary);
      if (!in) {
        std::error_code ec;
        if (fs::exists(path, ec)) throw InputError("cannot read '" + path + "'");
        out.emplace_back(std::nullopt);
        continue;
      }
      std::ostringstream s;
      s << in.rdbuf();
      if (in.bad()) throw InputError("cannot read '" + path + "'");
      out.emplace_back(s.str());
    }
    return out;
  }
  std::optional<std::vector<std::string>> keys() override {
    std::vector<std::string> out;
    std::error_code ec;
    for (fs::recursive_directory_iterator it(root_, ec), end; !ec && it != end; it.increment(ec))
      if (it->is_regular_file(ec)) out.push_back(fs::relative(it->path(), root_, ec).generic_string());
    if (ec) throw InputError("cannot list the Zarr store '" + root_ + "': " + ec.message());
    std::sort(out.begin(), out.end());
    return out;
  }
};

class RemoteStore final : public ZarrStore {
 public:
  RemoteStore(std::string root, const net::RemoteOptions& opt) : ZarrStore(std::move(root)), store_(opt) {}
  std::vector<std::optional<std::string>> get(const std::vector<std::string>& keys) override {
    std::vector<std::string> urls;
    urls.reserve(keys.size());
    for (const auto& k : keys) urls.push_back(net::url_join(root_, k));
    return store_.get(urls, /*missing_ok=*/true);
  }
  std::optional<std::vector<std::string>> keys() override {
    if (net::parse_url(root_).scheme != "s3") return std::nullopt;
    const std::string prefix = root_ + "/";
    std::vector<std::string> out;
    for (const auto& url : store_.list(prefix))
      if (url.rfind(prefix, 0) == 0) out.push_back(url.substr(prefix.size()));
    return out;
  }

 private:
  net::ObjectStore store_;
};

std::string strip_slash(std::string s) {
  while (s.size() > 1 && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

std::unique_ptr<ZarrStore> ZarrStore::open(const std::string& root, const net::RemoteOptions& opt) {
  if (net::is_remote(root)) return std::make_unique<RemoteStore>(strip_slash(root), opt);
  return std::make_unique<LocalStore>(strip_slash(root));
}

bool looks_like_zarr(const std::string& path) {
  const std::string p = strip_slash(path);
  if (p.size() >= 5 && p.compare(p.size() - 5, 5, ".zarr") == 0) return true;
  if (net::is_remote(p)) return false;
  std::error_code ec;
  if (!fs::is_directory(p, ec)) return false;
  return fs::exists(p + "/.zmetadata", ec) || fs::exists(p + "/.zgroup", ec) || fs::exists(p + "/.zarray", ec);
}

}  // namespace tessera
