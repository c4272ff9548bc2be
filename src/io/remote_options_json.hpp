#pragma once
// Where a remote input's objects live, as its reader description carries it from rank 0's scan to
// every rank: endpoint, region and anonymity, never credentials (each rank takes those from its
// own environment).
#include <nlohmann/json.hpp>

#include "net/object_store.hpp"

namespace tessera {

nlohmann::json remote_options_to_json(const net::RemoteOptions& o);
net::RemoteOptions remote_options_from_json(const nlohmann::json& j);

}  // namespace tessera
