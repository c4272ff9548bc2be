#include "net/object_store.hpp"

#include <fnmatch.h>

#include <algorithm>
#include <cstring>
#include <map>

#include "core/error.hpp"
#include "net/range_merge.hpp"
#include "net/sigv4.hpp"

namespace tessera::net {
namespace {

std::string xml_unescape(const std::string& s) {
  static const std::pair<const char*, char> entities[] = {
      {"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''}};
  std::string out;
  for (std::size_t i = 0; i < s.size();) {
    bool hit = false;
    if (s[i] == '&')
      for (const auto& [name, c] : entities)
        if (s.compare(i, std::strlen(name), name) == 0) {
          out += c;
          i += std::strlen(name);
          hit = true;
          break;
        }
    if (!hit) out += s[i++];
  }
  return out;
}

// Text of every <tag>...</tag> in `xml`, in order.
std::vector<std::string> xml_values(const std::string& xml, const std::string& tag) {
  std::vector<std::string> out;
  const std::string open = "<" + tag + ">", close = "</" + tag + ">";
  for (std::size_t at = xml.find(open); at != std::string::npos; at = xml.find(open, at)) {
    const std::size_t end = xml.find(close, at);
    if (end == std::string::npos) break;
    out.push_back(xml_unescape(xml.substr(at + open.size(), end - at - open.size())));
    at = end;
  }
  return out;
}

std::string trim_slashes(std::string s) {
  while (!s.empty() && s.back() == '/') s.pop_back();
  return s;
}

}  // namespace

bool glob_match(const std::string& pattern, const std::string& key) {
  return ::fnmatch(pattern.c_str(), key.c_str(), FNM_PATHNAME) == 0;
}

ObjectStore::ObjectStore(RemoteOptions opt, const EnvLookup& env) {
  endpoint_ = !opt.endpoint.empty() ? opt.endpoint
                                    : env("AWS_ENDPOINT_URL_S3").value_or(env("AWS_ENDPOINT_URL").value_or(""));
  endpoint_ = trim_slashes(endpoint_);
  if (!endpoint_.empty()) {
    const Url e = parse_url(endpoint_);
    if (e.scheme == "s3") throw InputError("endpoint '" + endpoint_ + "' must be an http:// or https:// URL");
  }
  region_ = !opt.region.empty() ? opt.region
                                : env("AWS_REGION").value_or(env("AWS_DEFAULT_REGION").value_or("us-east-1"));
  // AWS itself prefers virtual-host-style; S3-compatible servers (MinIO, Ceph, s3rver) path-style.
  const std::string style = env("TESSERA_S3_ADDRESSING").value_or(endpoint_.empty() ? "virtual" : "path");
  if (style != "virtual" && style != "path")
    throw UsageError("TESSERA_S3_ADDRESSING must be 'virtual' or 'path', not '" + style + "'");
  virtual_host_ = style == "virtual";
  if (!opt.anonymous) creds_ = find_credentials(env);
}

ObjectStore::Target ObjectStore::target(const Url& u, const Pairs& query) const {
  Target t;
  t.query = query;
  if (u.scheme != "s3") {
    t.host = u.authority();
    t.path = u.path;
    std::string q = u.query;
    const std::string extra = canonical_query(query);
    if (!extra.empty()) q += (q.empty() ? "" : "&") + extra;
    t.url = u.scheme + "://" + t.host + t.path + (q.empty() ? "" : "?" + q);
    return t;
  }
  t.s3 = true;
  const std::string bucket = u.host, key = uri_encode(u.key(), false);
  std::string scheme = "https", authority, base;
  if (endpoint_.empty()) {
    authority = "s3." + region_ + ".amazonaws.com";
  } else {
    const Url e = parse_url(endpoint_);
    scheme = e.scheme;
    authority = e.authority();
    base = trim_slashes(e.path);
  }
  // Buckets with dots break TLS wildcard certificates under virtual-host addressing.
  if (virtual_host_ && bucket.find('.') == std::string::npos) {
    t.host = bucket + "." + authority;
    t.path = base + "/" + key;
  } else {
    t.host = authority;
    t.path = base + "/" + bucket + (key.empty() ? "" : "/" + key);
  }
  const std::string q = canonical_query(query);
  t.url = scheme + "://" + t.host + t.path + (q.empty() ? "" : "?" + q);
  return t;
}

std::string ObjectStore::http_url(const std::string& url) const { return target(parse_url(url)).url; }

Preparer ObjectStore::signer(const std::vector<Target>& targets) const {
  if (!creds_) return nullptr;
  return [this, &targets](std::size_t i, HttpRequest& r) {
    if (!targets[i].s3) return;  // plain HTTP(S) URLs are public or presigned
    SigningInput in;
    in.method = r.head ? "HEAD" : "GET";
    in.path = targets[i].path;
    in.query = targets[i].query;
    in.headers = {{"host", targets[i].host}};
    sign_s3_request(in, *creds_, region_);
    r.headers.insert(r.headers.end(), in.headers.begin(), in.headers.end());
  };
}

ObjectInfo ObjectStore::stat(const std::string& url) {
  std::vector<Target> targets{target(parse_url(url))};
  HttpRequest r;
  r.url = targets[0].url;
  r.label = url;
  r.head = true;
  const std::vector<HttpResult> res = http_.run({r}, signer(targets));
  ObjectInfo info;
  const std::string* len = res[0].header("content-length");
  if (!len) throw InputError("cannot read '" + url + "': the server does not report its size (no Content-Length)");
  info.size = std::stoull(*len);
  if (const std::string* etag = res[0].header("etag")) info.etag = *etag;
  return info;
}

std::vector<std::optional<std::string>> ObjectStore::get(const std::vector<std::string>& urls, bool missing_ok) {
  std::vector<Target> targets;
  std::vector<HttpRequest> reqs;
  for (const auto& url : urls) {
    targets.push_back(target(parse_url(url)));
    HttpRequest r;
    r.url = targets.back().url;
    r.label = url;
    r.missing_ok = missing_ok;
    reqs.push_back(std::move(r));
  }
  std::vector<HttpResult> res = http_.run(std::move(reqs), signer(targets));
  std::vector<std::optional<std::string>> out(urls.size());
  for (std::size_t i = 0; i < res.size(); ++i)
    if (res[i].status != 404) out[i] = std::move(res[i].body);
  return out;
}

void ObjectStore::read(const std::vector<RangeRead>& reads, std::uint64_t max_gap, std::uint64_t max_request) {
  std::map<std::string, std::vector<std::size_t>> by_url;
  for (std::size_t i = 0; i < reads.size(); ++i)
    if (reads[i].length > 0) by_url[reads[i].url].push_back(i);
  struct Merged {
    std::vector<std::size_t> members;  // indices into `reads`
    std::uint64_t offset, length, scratch_at;
  };
  std::vector<Target> targets;
  std::vector<HttpRequest> reqs;
  std::vector<Merged> merged;
  std::uint64_t scratch_bytes = 0;
  for (const auto& [url, idx] : by_url) {
    std::vector<ByteRange> ranges;
    for (std::size_t i : idx) ranges.push_back({reads[i].offset, reads[i].length});
    const Target t = target(parse_url(url));
    for (const MergedRange& m : merge_ranges(ranges, max_gap, max_request)) {
      Merged g{{}, m.offset, m.length, 0};
      for (std::size_t k : m.members) g.members.push_back(idx[k]);
      const bool direct = g.members.size() == 1;  // lands in its destination, no copy
      if (!direct) {
        g.scratch_at = scratch_bytes;
        scratch_bytes += m.length;
      }
      HttpRequest r;
      r.url = t.url;
      r.label = url;
      r.offset = m.offset;
      r.length = m.length;
      r.dst = direct ? reads[g.members[0]].dst : nullptr;
      targets.push_back(t);
      reqs.push_back(std::move(r));
      merged.push_back(std::move(g));
    }
  }
  // One scratch buffer, kept and reused across calls: first-touch page faults cost more than
  // the network on fast links.
  if (scratch_.size() < scratch_bytes) scratch_.resize(scratch_bytes);
  for (std::size_t i = 0; i < reqs.size(); ++i)
    if (!reqs[i].dst) reqs[i].dst = scratch_.data() + merged[i].scratch_at;
  http_.run(std::move(reqs), signer(targets));
  for (const Merged& g : merged) {
    if (g.members.size() == 1) continue;
    for (std::size_t i : g.members)
      std::memcpy(reads[i].dst, scratch_.data() + g.scratch_at + (reads[i].offset - g.offset), reads[i].length);
  }
}

std::vector<std::string> ObjectStore::list(const std::string& prefix_url) {
  const Url u = parse_url(prefix_url);
  if (u.scheme != "s3") throw InputError("cannot list '" + prefix_url + "': listing needs an s3:// URL");
  std::vector<std::string> out;
  std::string token;
  Url bucket = u;
  bucket.path = "/";
  for (int page = 0; page < 100000; ++page) {
    Pairs q{{"list-type", "2"}, {"prefix", u.key()}};
    if (!token.empty()) q.emplace_back("continuation-token", token);
    std::vector<Target> targets{target(bucket, q)};
    HttpRequest r;
    r.url = targets[0].url;
    r.label = prefix_url;
    const std::vector<HttpResult> res = http_.run({r}, signer(targets));
    const std::string& xml = res[0].body;
    for (const auto& key : xml_values(xml, "Key")) out.push_back("s3://" + u.host + "/" + key);
    const auto truncated = xml_values(xml, "IsTruncated");
    const auto next = xml_values(xml, "NextContinuationToken");
    if (truncated.empty() || truncated[0] != "true" || next.empty()) break;
    token = next[0];
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::vector<std::string> ObjectStore::glob(const std::string& pattern) {
  const Url u = parse_url(pattern);
  if (u.scheme != "s3")
    throw InputError("cannot expand '" + u.redacted() + "': globs need an s3:// URL (HTTP servers cannot list)");
  const std::string key = u.key();
  const std::size_t wild = key.find_first_of("*?[");
  Url prefix = u;
  prefix.path = "/" + key.substr(0, wild);
  std::vector<std::string> out;
  for (const auto& url : list(prefix.str()))
    if (glob_match(key, parse_url(url).key())) out.push_back(url);
  return out;
}

}  // namespace tessera::net
