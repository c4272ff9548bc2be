#pragma once
// URLs of remote inputs: s3://bucket/key and http(s)://host[:port]/path, parsed once and
// printed without anything secret (query strings may carry presigned signatures).
#include <string>

namespace tessera::net {

struct Url {
  std::string scheme;  // "http", "https" or "s3"
  std::string host;    // for s3: the bucket
  int port = 0;        // 0: the scheme's default
  std::string path;    // "/..." as written (for s3: "/" + key)
  std::string query;   // without '?'

  std::string authority() const;  // host[:port]
  std::string str() const;        // the whole URL
  std::string redacted() const;   // without the query string, for messages
  std::string key() const { return path.empty() ? path : path.substr(1); }  // s3 object key
};

// True for s3://, http:// and https:// paths.
bool is_remote(const std::string& path);

// InputError naming the URL when it is not scheme://host[:port][/path][?query].
Url parse_url(const std::string& text);

// RFC 3986 percent-encoding as SigV4 wants it: unreserved characters stay, '/' stays unless
// `encode_slash`, everything else becomes %XX (upper case).
std::string uri_encode(const std::string& s, bool encode_slash);

// The parent "folder" of a URL or path ("s3://b/x/y.nc" -> "s3://b/x") and a join that adds one '/'.
std::string url_join(const std::string& base, const std::string& name);

}  // namespace tessera::net
