#include "io/remote_options_json.hpp"

namespace tessera {

nlohmann::json remote_options_to_json(const net::RemoteOptions& o) {
  return {{"endpoint", o.endpoint}, {"region", o.region}, {"anonymous", o.anonymous}};
}

net::RemoteOptions remote_options_from_json(const nlohmann::json& j) {
  return net::RemoteOptions{j.value("endpoint", std::string()), j.value("region", std::string()),
                            j.value("anonymous", false)};
}

}  // namespace tessera
