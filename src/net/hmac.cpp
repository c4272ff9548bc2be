#include "net/hmac.hpp"

#include "core/sha256.hpp"

namespace tessera::net {

std::string sha256_raw(const std::string& data) {
  const std::string hex = sha256_hex(data);
  std::string raw(32, '\0');
  auto nibble = [](char c) { return c <= '9' ? c - '0' : c - 'a' + 10; };
  for (std::size_t i = 0; i < 32; ++i) raw[i] = static_cast<char>(nibble(hex[2 * i]) << 4 | nibble(hex[2 * i + 1]));
  return raw;
}

std::string hmac_sha256(const std::string& key, const std::string& message) {
  constexpr std::size_t block = 64;
  std::string k = key.size() > block ? sha256_raw(key) : key;
  k.resize(block, '\0');
  std::string inner(block, '\0'), outer(block, '\0');
  for (std::size_t i = 0; i < block; ++i) {
    inner[i] = static_cast<char>(k[i] ^ 0x36);
    outer[i] = static_cast<char>(k[i] ^ 0x5c);
  }
  return sha256_raw(outer + sha256_raw(inner + message));
}

std::string to_hex(const std::string& bytes) {
  static const char digits[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out += digits[c >> 4];
    out += digits[c & 15];
  }
  return out;
}

}  // namespace tessera::net
