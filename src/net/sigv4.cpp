#include "net/sigv4.hpp"

#include <algorithm>
#include <cctype>
#include <ctime>

#include "core/sha256.hpp"
#include "net/hmac.hpp"
#include "net/url.hpp"

namespace tessera::net {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// Header values: trimmed, runs of spaces collapsed to one.
std::string squeeze(const std::string& v) {
  std::string out;
  bool space = false;
  for (char c : v) {
    if (c == ' ' || c == '\t') {
      space = !out.empty();
      continue;
    }
    if (space) out += ' ';
    space = false;
    out += c;
  }
  return out;
}

Pairs canonical_headers(const Pairs& headers) {
  Pairs h;
  for (const auto& [k, v] : headers) h.emplace_back(lower(k), squeeze(v));
  std::sort(h.begin(), h.end());
  // Repeated names become one comma-separated entry.
  Pairs merged;
  for (const auto& kv : h) {
    if (!merged.empty() && merged.back().first == kv.first) merged.back().second += "," + kv.second;
    else merged.push_back(kv);
  }
  return merged;
}

std::string signed_headers(const Pairs& canonical) {
  std::string s;
  for (const auto& kv : canonical) s += (s.empty() ? "" : ";") + kv.first;
  return s;
}

}  // namespace

std::string canonical_query(const Pairs& query) {
  std::vector<std::pair<std::string, std::string>> enc;
  for (const auto& [k, v] : query) enc.emplace_back(uri_encode(k, true), uri_encode(v, true));
  std::sort(enc.begin(), enc.end());
  std::string s;
  for (const auto& [k, v] : enc) s += (s.empty() ? "" : "&") + k + "=" + v;
  return s;
}

std::string canonical_request(const SigningInput& in) {
  const Pairs h = canonical_headers(in.headers);
  std::string s = in.method + "\n" + in.path + "\n" + canonical_query(in.query) + "\n";
  for (const auto& [k, v] : h) s += k + ":" + v + "\n";
  return s + "\n" + signed_headers(h) + "\n" + in.payload_hash;
}

std::string string_to_sign(const SigningInput& in, const std::string& amz_date, const std::string& scope) {
  return "AWS4-HMAC-SHA256\n" + amz_date + "\n" + scope + "\n" + sha256_hex(canonical_request(in));
}

std::string sigv4_authorization(const SigningInput& in, const Credentials& creds, const std::string& region,
                                const std::string& service, const std::string& amz_date) {
  const std::string day = amz_date.substr(0, 8);
  const std::string scope = day + "/" + region + "/" + service + "/aws4_request";
  std::string key = hmac_sha256("AWS4" + creds.secret_key, day);
  key = hmac_sha256(key, region);
  key = hmac_sha256(key, service);
  key = hmac_sha256(key, "aws4_request");
  const std::string signature = to_hex(hmac_sha256(key, string_to_sign(in, amz_date, scope)));
  return "AWS4-HMAC-SHA256 Credential=" + creds.access_key + "/" + scope +
         ", SignedHeaders=" + signed_headers(canonical_headers(in.headers)) + ", Signature=" + signature;
}

void sign_s3_request(SigningInput& in, const Credentials& creds, const std::string& region) {
  const std::string date = amz_date_now();
  in.payload_hash = "UNSIGNED-PAYLOAD";
  in.headers.emplace_back("x-amz-date", date);
  in.headers.emplace_back("x-amz-content-sha256", in.payload_hash);
  if (!creds.session_token.empty()) in.headers.emplace_back("x-amz-security-token", creds.session_token);
  const std::string auth = sigv4_authorization(in, creds, region, "s3", date);
  in.headers.emplace_back("Authorization", auth);
}

std::string amz_date_now() {
  const std::time_t t = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&t, &tm);
  char buf[20];
  std::strftime(buf, sizeof buf, "%Y%m%dT%H%M%SZ", &tm);
  return buf;
}

}  // namespace tessera::net
