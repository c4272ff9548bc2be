#pragma once
// HMAC-SHA256 (RFC 2104) on top of core/sha256, for AWS Signature Version 4.
#include <string>

namespace tessera::net {

// Raw 32-byte digest of `data` (binary-safe).
std::string sha256_raw(const std::string& data);
// Raw 32-byte HMAC-SHA256 of `message` under `key` (both binary-safe).
std::string hmac_sha256(const std::string& key, const std::string& message);
std::string to_hex(const std::string& bytes);

}  // namespace tessera::net
