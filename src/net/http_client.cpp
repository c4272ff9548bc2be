#include "net/http_client.hpp"

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <mutex>
#include <random>
#include <thread>

#include "core/error.hpp"
#include "net/curl_handles.hpp"

namespace tessera::net {
namespace {

using Clock = std::chrono::steady_clock;

void global_init() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

int env_int(const char* name, int fallback, int lo, int hi) {
  const char* v = std::getenv(name);
  if (!v || !*v) return fallback;
  char* end = nullptr;
  const long n = std::strtol(v, &end, 10);
  if (*end || n < lo || n > hi)
    throw UsageError(std::string(name) + "='" + v + "' is not a number from " + std::to_string(lo) + " to " +
                     std::to_string(hi));
  return static_cast<int>(n);
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// One request's life across attempts.
struct Transfer {
  std::size_t index = 0;
  int attempt = 0;
  Easy easy;
  Slist headers;
  HttpRequest req;        // the prepared copy for this attempt
  HttpResult result;
  std::uint64_t received = 0;
  bool overflow = false;  // more bytes than the range asked for
  char error[CURL_ERROR_SIZE] = {};
};

std::size_t on_body(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::size_t bytes = size * n;
  if (t->req.dst && t->req.length > 0) {
    if (t->received + bytes > t->req.length) {
      t->overflow = true;  // a server that ignored Range, or a changed object: never use it
      return 0;
    }
    std::memcpy(t->req.dst + t->received, data, bytes);
  } else {
    t->result.body.append(data, bytes);
  }
  t->received += bytes;
  return bytes;
}

std::size_t on_header(char* data, std::size_t size, std::size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const std::string line(data, size * n);
  if (line.rfind("HTTP/", 0) == 0) t->result.headers.clear();  // a new response (redirect, 100)
  const std::size_t colon = line.find(':');
  if (colon != std::string::npos) {
    std::string value = line.substr(colon + 1);
    const std::size_t a = value.find_first_not_of(" \t");
    const std::size_t b = value.find_last_not_of(" \t\r\n");
    value = a == std::string::npos ? "" : value.substr(a, b - a + 1);
    t->result.headers.emplace_back(lower(line.substr(0, colon)), value);
  }
  return size * n;
}

bool retryable_curl(CURLcode c) {
  switch (c) {
    case CURLE_COULDNT_CONNECT: case CURLE_COULDNT_RESOLVE_HOST: case CURLE_PARTIAL_FILE:
    case CURLE_RECV_ERROR: case CURLE_SEND_ERROR: case CURLE_OPERATION_TIMEDOUT: case CURLE_GOT_NOTHING:
    case CURLE_HTTP2: case CURLE_HTTP2_STREAM: case CURLE_SSL_CONNECT_ERROR: case CURLE_WRITE_ERROR:
    case CURLE_BAD_CONTENT_ENCODING:
      return true;
    default:
      return false;
  }
}

std::string status_text(long s) {
  switch (s) {
    case 400: return "400 Bad Request";
    case 401: return "401 Unauthorized";
    case 403: return "403 Forbidden";
    case 404: return "404 Not Found";
    case 416: return "416 Range Not Satisfiable";
    default: return std::to_string(s);
  }
}

}  // namespace

const std::string* HttpResult::header(const std::string& name) const {
  for (const auto& [k, v] : headers)
    if (k == name) return &v;
  return nullptr;
}

std::string s3_error_code(const std::string& body) {
  const std::size_t a = body.find("<Code>");
  if (a == std::string::npos) return "";
  const std::size_t b = body.find("</Code>", a);
  return b == std::string::npos ? "" : body.substr(a + 6, std::min<std::size_t>(b - a - 6, 64));
}

int default_connections() { return env_int("TESSERA_HTTP_CONNECTIONS", 8, 1, 256); }

RetryPolicy default_retry_policy() {
  RetryPolicy p;
  p.attempts = env_int("TESSERA_HTTP_RETRIES", 8, 1, 100);
  p.stall_timeout_s = env_int("TESSERA_HTTP_STALL_SECONDS", 30, 1, 3600);
  return p;
}

struct HttpClient::Impl {
  int connections;
  RetryPolicy policy;
  Multi multi;
  std::vector<Easy> idle;  // reused handles keep their connections and TLS sessions
  std::uint64_t sent = 0;
  std::mt19937_64 rng{std::random_device{}()};

  Easy take_easy() {
    if (idle.empty()) return Easy(curl_easy_init());
    Easy e = std::move(idle.back());
    idle.pop_back();
    curl_easy_reset(e.get());
    return e;
  }

  void start(Transfer& t, const std::vector<HttpRequest>& originals, const Preparer& prepare) {
    t.req = originals[t.index];
    if (prepare) prepare(t.index, t.req);
    t.result = HttpResult{};
    t.received = 0;
    t.overflow = false;
    t.error[0] = '\0';
    if (!t.easy.get()) t.easy = take_easy();
    CURL* e = t.easy.get();
    if (!e) throw RuntimeError("libcurl could not create a handle");
    Slist list;
    for (const auto& [k, v] : t.req.headers) {
      curl_slist* next = curl_slist_append(list.get(), (k + ": " + v).c_str());
      if (!next) throw RuntimeError("out of memory building HTTP headers");
      if (!list.get()) list.reset(next);  // later appends return the same head
    }
    t.headers = std::move(list);
    curl_easy_setopt(e, CURLOPT_URL, t.req.url.c_str());
    curl_easy_setopt(e, CURLOPT_HTTPHEADER, t.headers.get());
    curl_easy_setopt(e, CURLOPT_NOBODY, t.req.head ? 1L : 0L);
    if (t.req.length > 0) {
      const std::string range = std::to_string(t.req.offset) + "-" + std::to_string(t.req.offset + t.req.length - 1);
      curl_easy_setopt(e, CURLOPT_RANGE, range.c_str());  // copied by libcurl
    }
    curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
    curl_easy_setopt(e, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(e, CURLOPT_HEADERDATA, &t);
    curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t.error);
    curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(e, CURLOPT_MAXREDIRS, 5L);
    curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT, policy.connect_timeout_s);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1024L);
    curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, policy.stall_timeout_s);
    curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
    curl_easy_setopt(e, CURLOPT_USERAGENT, "tessera");
    curl_multi_add_handle(multi.get(), e);
    ++sent;
  }

  double backoff(int attempt) {
    const double cap = std::min(policy.max_delay_s, policy.first_delay_s * double(1u << std::min(attempt, 20)));
    return std::uniform_real_distribution<double>(cap / 2, cap)(rng);  // jitter spreads retrying ranks
  }

  // Finishes one attempt: returns true when the transfer is done for good (result stored),
  // false when it should be retried; throws for errors retries cannot fix.
  bool finish(Transfer& t, CURLcode code, std::string& why) {
    long status = 0;
    curl_easy_getinfo(t.easy.get(), CURLINFO_RESPONSE_CODE, &status);
    t.result.status = status;
    const std::string& label = t.req.label.empty() ? t.req.url : t.req.label;
    if (t.overflow) {
      why = "the server sent more than the " + std::to_string(t.req.length) + " bytes asked for";
      return false;
    }
    if (code != CURLE_OK) {
      why = std::string(curl_easy_strerror(code)) + (t.error[0] ? std::string(" (") + t.error + ")" : "");
      if (retryable_curl(code)) return false;
      throw RuntimeError("cannot read '" + label + "': " + why);
    }
    if (status == 404 && t.req.missing_ok) return true;
    if (status >= 500 || status == 429 || status == 408) {
      const std::string s3 = s3_error_code(t.result.body);
      why = "HTTP " + std::to_string(status) + (s3.empty() ? "" : " " + s3);
      return false;
    }
    if (status >= 300 || status < 200) {
      const std::string s3 = s3_error_code(t.result.body);
      std::string hint;
      if (status == 403) hint = "; check the credentials (AWS_* variables or profile) or set `anonymous: true` for a public bucket";
      if (status == 404) hint = "; check the path, bucket and endpoint";
      throw InputError("cannot read '" + label + "': HTTP " + status_text(status) + (s3.empty() ? "" : " (" + s3 + ")") + hint);
    }
    if (t.req.length > 0 && !t.req.head) {
      if (t.received != t.req.length) {
        why = "short read: " + std::to_string(t.received) + " of " + std::to_string(t.req.length) + " bytes";
        return false;
      }
      if (status == 200 && t.req.offset != 0) {
        why = "the server ignored the byte range";
        return false;
      }
    }
    return true;
  }

  std::vector<HttpResult> run(const std::vector<HttpRequest>& reqs, const Preparer& prepare) {
    std::vector<HttpResult> results(reqs.size());
    if (reqs.empty()) return results;
    std::vector<std::unique_ptr<Transfer>> ts(reqs.size());
    std::deque<std::size_t> ready;
    std::vector<std::pair<Clock::time_point, std::size_t>> waiting;  // retries after backoff
    for (std::size_t i = 0; i < reqs.size(); ++i) {
      ts[i] = std::make_unique<Transfer>();
      ts[i]->index = i;
      ready.push_back(i);
    }
    std::size_t active = 0, done = 0;
    // Whatever happens, no handle stays attached to the multi handle.
    struct Detach {
      Impl& self;
      std::vector<std::unique_ptr<Transfer>>& ts;
      ~Detach() {
        for (auto& t : ts)
          if (t && t->easy.get()) {
            curl_multi_remove_handle(self.multi.get(), t->easy.get());
            self.idle.push_back(std::move(t->easy));
          }
      }
    } detach{*this, ts};

    while (done < reqs.size()) {
      const auto now = Clock::now();
      for (auto it = waiting.begin(); it != waiting.end();) {
        if (it->first <= now) {
          ready.push_back(it->second);
          it = waiting.erase(it);
        } else {
          ++it;
        }
      }
      while (active < static_cast<std::size_t>(connections) && !ready.empty()) {
        start(*ts[ready.front()], reqs, prepare);
        ready.pop_front();
        ++active;
      }
      int running = 0;
      curl_multi_perform(multi.get(), &running);
      bool finished_any = false;
      int left = 0;
      while (CURLMsg* msg = curl_multi_info_read(multi.get(), &left)) {
        if (msg->msg != CURLMSG_DONE) continue;
        Transfer* t = nullptr;
        for (auto& x : ts)
          if (x->easy.get() == msg->easy_handle) t = x.get();
        const CURLcode code = msg->data.result;
        curl_multi_remove_handle(multi.get(), msg->easy_handle);
        --active;
        finished_any = true;
        std::string why;
        if (finish(*t, code, why)) {
          results[t->index] = std::move(t->result);
          idle.push_back(std::move(t->easy));
          ++done;
          continue;
        }
        if (++t->attempt >= policy.attempts) {
          const std::string& label = t->req.label.empty() ? t->req.url : t->req.label;
          throw RuntimeError("cannot read '" + label + "' after " + std::to_string(policy.attempts) +
                             " attempts: " + why);
        }
        idle.push_back(std::move(t->easy));
        const auto delay = std::chrono::duration<double>(backoff(t->attempt));
        waiting.emplace_back(Clock::now() + std::chrono::duration_cast<Clock::duration>(delay), t->index);
      }
      if (done == reqs.size() || finished_any) continue;  // never poll after a completion: it would wait
      int timeout_ms = 100;
      if (!waiting.empty()) {
        auto next = std::min_element(waiting.begin(), waiting.end())->first;
        const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(next - Clock::now()).count();
        timeout_ms = static_cast<int>(std::clamp<long long>(ms, 0, 100));
      }
      if (active == 0) {
        std::this_thread::sleep_for(std::chrono::milliseconds(timeout_ms));
      } else {
        curl_multi_poll(multi.get(), nullptr, 0, timeout_ms, nullptr);
      }
    }
    return results;
  }
};

HttpClient::HttpClient(int connections, RetryPolicy policy) : impl_(std::make_unique<Impl>()) {
  global_init();
  impl_->connections = std::max(1, connections);
  impl_->policy = policy;
  impl_->multi.reset(curl_multi_init());
  if (!impl_->multi.get()) throw RuntimeError("libcurl could not create a multi handle");
  curl_multi_setopt(impl_->multi.get(), CURLMOPT_MAX_HOST_CONNECTIONS, static_cast<long>(impl_->connections));
  curl_multi_setopt(impl_->multi.get(), CURLMOPT_MAXCONNECTS, static_cast<long>(impl_->connections));
}

HttpClient::~HttpClient() = default;
HttpClient::HttpClient(HttpClient&&) noexcept = default;
HttpClient& HttpClient::operator=(HttpClient&&) noexcept = default;

std::vector<HttpResult> HttpClient::run(std::vector<HttpRequest> requests, const Preparer& prepare) {
  return impl_->run(requests, prepare);
}

std::uint64_t HttpClient::requests_sent() const { return impl_->sent; }

}  // namespace tessera::net
