#pragma once
// SHA-256 (FIPS 180-4), used to fingerprint job files so reports can name the exact job text.
#include <string>

namespace tessera {

// Lowercase hex digest (64 characters) of `data`.
std::string sha256_hex(const std::string& data);

}  // namespace tessera
