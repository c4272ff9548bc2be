#pragma once
// Concurrent HTTP(S) GET/HEAD over libcurl's multi interface, with retries. The only file that
// calls curl_* (see curl_handles.hpp); callers see requests, results and typed errors.
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "net/sigv4.hpp"

namespace tessera::net {

struct HttpRequest {
  std::string url;            // full http(s) URL
  std::string label;          // what messages name (the user's URL, no secrets)
  Pairs headers;
  bool head = false;
  std::uint64_t offset = 0;   // a byte range when length > 0
  std::uint64_t length = 0;
  char* dst = nullptr;        // with a range: exactly `length` bytes land here; else in body
  bool missing_ok = false;    // 404 is a result (status 404), not an error
};

struct HttpResult {
  long status = 0;
  std::string body;
  Pairs headers;              // names lower case
  const std::string* header(const std::string& name) const;
};

struct RetryPolicy {
  int attempts = 8;             // per request, first try included
  double first_delay_s = 0.1;   // backoff doubles from here, with jitter
  double max_delay_s = 8.0;
  long connect_timeout_s = 10;
  long stall_timeout_s = 30;    // a transfer slower than 1 KiB/s for this long is retried
};

// Defaults, overridable by TESSERA_HTTP_CONNECTIONS and TESSERA_HTTP_RETRIES.
int default_connections();
RetryPolicy default_retry_policy();

// Called before every attempt with the request's index and a fresh copy of it (to sign it now).
using Preparer = std::function<void(std::size_t, HttpRequest&)>;

class HttpClient {
 public:
  explicit HttpClient(int connections = default_connections(), RetryPolicy policy = default_retry_policy());
  ~HttpClient();
  HttpClient(HttpClient&&) noexcept;
  HttpClient& operator=(HttpClient&&) noexcept;
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // Runs every request, up to `connections` at once on reused connections; results in order.
  // 5xx, 429, 408, resets, timeouts, short or long bodies are retried with exponential backoff
  // and jitter; other 4xx are InputErrors naming the label and the server's error code;
  // exhausted retries are RuntimeErrors.
  std::vector<HttpResult> run(std::vector<HttpRequest> requests, const Preparer& prepare = nullptr);

  std::uint64_t requests_sent() const;  // attempts, retries included

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The server's error code in an S3 XML error body ("SignatureDoesNotMatch"), or "".
std::string s3_error_code(const std::string& body);

}  // namespace tessera::net
