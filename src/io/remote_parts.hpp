#pragma once
// What every reader of objects behind URLs starts from: each part's reader state (the JSON its
// scan wrote: URL, remote options, layout or chunk index) and one object store for the input,
// made from the first part's remote options (endpoint, region, anonymous; never secrets).
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "io/metadata.hpp"
#include "net/object_store.hpp"

namespace tessera {

struct RemoteParts {
  std::vector<nlohmann::json> readers;  // one per part, in part order
  std::vector<std::string> urls;        // the object of each part (the user's URL)
  std::unique_ptr<net::ObjectStore> store;
};

// InputError naming the part's path when its reader state is missing or malformed.
RemoteParts open_remote_parts(const InputMeta& meta);

}  // namespace tessera
