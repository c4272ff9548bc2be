#include "net/url.hpp"

#include <cctype>

#include "core/error.hpp"

namespace tessera::net {

std::string Url::authority() const { return port ? host + ":" + std::to_string(port) : host; }

std::string Url::str() const { return scheme + "://" + authority() + path + (query.empty() ? "" : "?" + query); }

std::string Url::redacted() const { return scheme + "://" + authority() + path + (query.empty() ? "" : "?..."); }

bool is_remote(const std::string& p) {
  return p.rfind("s3://", 0) == 0 || p.rfind("http://", 0) == 0 || p.rfind("https://", 0) == 0;
}

Url parse_url(const std::string& text) {
  auto fail = [&](const std::string& why) -> Url {
    const std::size_t q = text.find('?');
    throw InputError("invalid URL '" + text.substr(0, q) + (q == std::string::npos ? "" : "?...") + "': " + why);
  };
  const std::size_t sep = text.find("://");
  if (sep == std::string::npos) return fail("no scheme");
  Url u;
  u.scheme = text.substr(0, sep);
  for (char& c : u.scheme) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (u.scheme != "http" && u.scheme != "https" && u.scheme != "s3")
    return fail("scheme '" + u.scheme + "' is not one of s3, http, https");
  std::string rest = text.substr(sep + 3);
  const std::size_t q = rest.find('?');
  if (q != std::string::npos) {
    u.query = rest.substr(q + 1);
    rest.resize(q);
  }
  const std::size_t slash = rest.find('/');
  std::string auth = rest.substr(0, slash);
  u.path = slash == std::string::npos ? "/" : rest.substr(slash);
  if (auth.find('@') != std::string::npos) return fail("credentials in URLs are not accepted; use the AWS variables");
  const std::size_t colon = auth.rfind(':');
  if (colon != std::string::npos && auth.find(']') == std::string::npos) {
    const std::string p = auth.substr(colon + 1);
    if (p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos) return fail("bad port");
    u.port = std::stoi(p);
    if (u.port <= 0 || u.port > 65535) return fail("bad port");
    auth.resize(colon);
  }
  if (auth.empty()) return fail(u.scheme == "s3" ? "no bucket" : "no host");
  u.host = auth;
  return u;
}

std::string uri_encode(const std::string& s, bool encode_slash) {
  static const char hex[] = "0123456789ABCDEF";
  std::string out;
  out.reserve(s.size());
  for (unsigned char c : s) {
    if (std::isalnum(c) || c == '-' || c == '_' || c == '.' || c == '~' || (c == '/' && !encode_slash)) {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += hex[c >> 4];
      out += hex[c & 15];
    }
  }
  return out;
}

std::string url_join(const std::string& base, const std::string& name) {
  if (base.empty()) return name;
  return base.back() == '/' ? base + name : base + "/" + name;
}

}  // namespace tessera::net
