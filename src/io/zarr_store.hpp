#pragma once
// Where a Zarr store's keys live: a local directory, or an s3:// / http(s):// prefix read through
// net::ObjectStore (many keys fetched concurrently).
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "net/object_store.hpp"

namespace tessera {

class ZarrStore {
 public:
  virtual ~ZarrStore() = default;
  // The value of each key (".zarray", "tas/0.0.0", ...); nullopt where the key does not exist
  // (Zarr leaves chunks that hold only the fill value unwritten).
  virtual std::vector<std::optional<std::string>> get(const std::vector<std::string>& keys) = 0;
  std::optional<std::string> get(const std::string& key) { return get(std::vector<std::string>{key})[0]; }
  const std::string& root() const { return root_; }
  // Every key of the store, relative to its root and sorted; nullopt where the store cannot be
  // listed (plain HTTP has no listing).
  virtual std::optional<std::vector<std::string>> keys() = 0;

  // A local directory or a remote prefix (`opt` is used for remote ones only).
  static std::unique_ptr<ZarrStore> open(const std::string& root, const net::RemoteOptions& opt);

 protected:
  explicit ZarrStore(std::string root) : root_(std::move(root)) {}
  std::string root_;
};

// True for a local directory that holds .zmetadata, .zgroup or .zarray, or a path (local or
// remote) whose last component ends in ".zarr".
bool looks_like_zarr(const std::string& path);

}  // namespace tessera
