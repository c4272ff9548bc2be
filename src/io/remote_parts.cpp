#include "io/remote_parts.hpp"

#include "core/error.hpp"
#include "io/remote_options_json.hpp"

namespace tessera {

RemoteParts open_remote_parts(const InputMeta& meta) {
  RemoteParts out;
  for (const auto& part : meta.parts) {
    try {
      nlohmann::json r = nlohmann::json::parse(part.reader);
      out.urls.push_back(r.at("url").get<std::string>());
      if (!out.store) out.store = std::make_unique<net::ObjectStore>(remote_options_from_json(r.at("remote")));
      out.readers.push_back(std::move(r));
    } catch (const nlohmann::json::exception& e) {
      throw InputError("reader state of '" + part.path + "' (input '" + meta.alias + "') is malformed: " + e.what() +
                       "; delete the index cache (TESSERA_CACHE_DIR) and run again");
    }
  }
  return out;
}

}  // namespace tessera
