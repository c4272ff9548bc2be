#pragma once
// Objects behind s3:// and http(s):// URLs: size and ETag, whole objects, byte ranges (merged
// and fetched concurrently), and S3 prefix listings for globs. S3 requests are signed with
// SigV4 unless the input is anonymous or no credentials are found.
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "net/credentials.hpp"
#include "net/http_client.hpp"
#include "net/url.hpp"

namespace tessera::net {

// Per input, from the job file; empty fields fall back to the AWS environment variables.
struct RemoteOptions {
  std::string endpoint;   // e.g. http://127.0.0.1:9000; else AWS_ENDPOINT_URL_S3 / AWS_ENDPOINT_URL / AWS
  std::string region;     // else AWS_REGION / AWS_DEFAULT_REGION / us-east-1
  bool anonymous = false; // never sign (public buckets)
};

struct ObjectInfo {
  std::uint64_t size = 0;
  std::string etag;       // "" when the server sends none
};

struct RangeRead {
  std::string url;
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  char* dst = nullptr;    // receives exactly `length` bytes
};

class ObjectStore {
 public:
  explicit ObjectStore(RemoteOptions opt, const EnvLookup& env = process_env);

  ObjectInfo stat(const std::string& url);
  // Whole objects, concurrently; with `missing_ok` a 404 gives nullopt instead of an InputError.
  std::vector<std::optional<std::string>> get(const std::vector<std::string>& urls, bool missing_ok);
  // Byte ranges, concurrently. Ranges of one object that lie within `max_gap` of each other are
  // fetched as one GET of up to `max_request` bytes and split here.
  void read(const std::vector<RangeRead>& reads, std::uint64_t max_gap = 1u << 20,
            std::uint64_t max_request = 8u << 20);
  // s3://bucket/prefix/*.nc -> matching object URLs, sorted ('*' and '?' do not cross '/').
  std::vector<std::string> glob(const std::string& pattern);
  // Every object URL under an s3:// prefix.
  std::vector<std::string> list(const std::string& prefix_url);

  std::uint64_t requests_sent() const { return http_.requests_sent(); }
  bool signing() const { return creds_.has_value(); }
  const std::optional<Credentials>& credentials() const { return creds_; }  // for HDF5's ROS3 driver only
  const std::string& region() const { return region_; }
  // The http(s) URL a request for `url` goes to (path- or virtual-host-style for s3://).
  std::string http_url(const std::string& url) const;

 private:
  struct Target {
    std::string url;        // full http(s) URL
    std::string host;       // Host header value
    std::string path;       // encoded canonical URI
    Pairs query;
    bool s3 = false;        // signed when credentials exist
  };
  Target target(const Url& u, const Pairs& query = {}) const;
  Preparer signer(const std::vector<Target>& targets) const;

  std::string endpoint_;    // "" = AWS
  std::string region_;
  bool virtual_host_ = false;
  std::optional<Credentials> creds_;
  HttpClient http_;
  std::vector<char> scratch_;  // merged ranges land here before they are split
};

// True when `key` matches the glob `pattern` ('*', '?', '[...]'; wildcards stop at '/').
bool glob_match(const std::string& pattern, const std::string& key);

}  // namespace tessera::net
