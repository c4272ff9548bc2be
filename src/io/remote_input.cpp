#include "io/remote_input.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <thread>
#include <nlohmann/json.hpp>

#include "core/dtype_visit.hpp"
#include "core/error.hpp"
#include "io/aggregate.hpp"
#include "io/hdf5_remote.hpp"
#include "io/hdf5_source.hpp"
#include "io/index_cache.hpp"
#include "io/remote_cdf.hpp"
#include "io/remote_hdf5_source.hpp"
#include "io/remote_options_json.hpp"
#include "io/zarr_source.hpp"
#include "io/zarr_store.hpp"
#include "net/http_client.hpp"
#include "net/object_store.hpp"
#include "net/url.hpp"

namespace tessera {
namespace {

using nlohmann::json;

std::string where(const InputSpec& in, const std::string& job_file) {
  return "input '" + in.alias + "' (" + job_file + ":" + std::to_string(in.pos.line) + ")";
}

// TESSERA_REMOTE_READER=ros3 reads chunk-indexed inputs through ROS3 too (benchmarks, bisecting).
// Inputs that need ROS3 (a filter only HDF5 decodes) say so once: scans run on rank 0 only.
InputMeta apply_reader_choice(InputMeta m) {
  const char* r = std::getenv("TESSERA_REMOTE_READER");
  if (r && std::string(r) == "ros3" && m.kind == "hdf5-remote") m.kind = "hdf5-ros3";
  for (const auto& p : m.parts) {
    if (m.kind != "hdf5-ros3") break;
    const json j = json::parse(p.reader);
    if (j.contains("ros3_only"))
      std::fprintf(stderr, "tessera: warning: '%s' in '%s' uses the HDF5 filter %s, which Tessera does not decode "
                   "itself: reading it through HDF5's ROS3 driver (one request per chunk, in sequence: slow). "
                   "Rewrite it with deflate (nccopy -d1 -s) or as Zarr for fast reads\n",
                   m.var.name.c_str(), p.path.c_str(), j["ros3_only"].get<std::string>().c_str());
  }
  return m;
}

// HDF5's ROS3 driver does not retry: one 503 or cut connection fails the scan. The object has
// answered Tessera's own (retrying) requests by now, so a failure is taken as transient and the
// whole scan repeated with backoff, TESSERA_HTTP_RETRIES times at most; a variable that is not
// there or a filter nothing decodes is the file's own answer and fails at once.
template <class Scan>
auto with_ros3_retries(Scan scan) -> decltype(scan()) {
  const int attempts = net::default_retry_policy().attempts;
  for (int attempt = 1;; ++attempt) {
    try {
      return scan();
    } catch (const InputError& e) {
      const std::string msg = e.what();
      const bool definite = msg.find(" not found in ") != std::string::npos ||
                            msg.find("HDF5 filter") != std::string::npos ||
                            msg.find("compact storage") != std::string::npos;
      if (definite) throw;
      if (attempt >= attempts)
        throw InputError(msg + " (scanned through HDF5's ROS3 driver, which does not retry by itself; gave up after " +
                         std::to_string(attempts) + " attempts: set TESSERA_HTTP_RETRIES for more)");
      const double delay = std::min(8.0, 0.2 * double(1u << std::min(attempt - 1, 6)));
      std::this_thread::sleep_for(std::chrono::duration<double>(delay));
    }
  }
}

InputMeta scan_with_retries(const std::string& http_url, const std::string& url, const std::string& variable,
                            const std::string& alias, const Ros3Access& access, ChunkIndex& index) {
  return with_ros3_retries([&] {
    index = ChunkIndex{};
    return scan_hdf5_over_ros3(http_url, url, variable, alias, access, index);
  });
}

// ROS3 settings for an object of `store`: its credentials, unless they are temporary ones.
Ros3Access ros3_access(const net::ObjectStore& store, const std::string& url) {
  Ros3Access access;
  if (const auto& c = store.credentials()) {
    if (!c->session_token.empty())
      throw InputError("cannot scan '" + url + "' with temporary credentials (AWS_SESSION_TOKEN): HDF5's ROS3 driver "
                       "in this build has no session-token support; use long-term keys, a public bucket with "
                       "`anonymous: true`, or a Zarr copy");
    access = Ros3Access{true, store.region(), c->access_key, c->secret_key};
  }
  return access;
}

// The first 64 KiB of an object: the magic number, and for NetCDF-3 usually the whole header.
std::vector<unsigned char> read_head(net::ObjectStore& store, const std::string& url, const net::ObjectInfo& info) {
  std::vector<unsigned char> head(std::min<std::uint64_t>(64u << 10, info.size));
  store.read({{url, 0, head.size(), reinterpret_cast<char*>(head.data())}});
  return head;
}

bool is_cdf(const std::vector<unsigned char>& head) {
  return head.size() >= 3 && std::string(head.begin(), head.begin() + 3) == "CDF";
}

// One remote file. NetCDF-4/HDF5: from the cache when its URL, ETag and size match, else
// scanned through ROS3 (and cached). NetCDF-3: from its header, fetched with range GETs.
InputMeta scan_remote_file(net::ObjectStore& store, const std::string& url, const std::string& variable,
                           const std::string& alias, const net::RemoteOptions& opt) {
  const net::ObjectInfo info = store.stat(url);
  const std::string key = index_cache_key(url, info.etag, info.size, variable);
  if (!info.etag.empty())
    if (auto text = index_cache_load(key)) {
      try {
        InputMeta m = input_meta_from_json(*text);
        m.alias = alias;
        return m;
      } catch (const std::exception&) {
        // A damaged cache entry is rebuilt below.
      }
    }
  std::vector<unsigned char> head = read_head(store, url, info);
  if (is_cdf(head)) return scan_cdf_remote(store, url, info.size, std::move(head), variable, alias, opt);  // cheap: not cached
  const Ros3Access access = ros3_access(store, url);
  ChunkIndex index;
  InputMeta m = scan_with_retries(store.http_url(url), url, variable, alias, access, index);
  m.kind = index.ros3_only.empty() ? "hdf5-remote" : "hdf5-ros3";
  m.parts[0].format = "HDF5 (remote)";
  json reader{{"url", url}, {"remote", remote_options_to_json(opt)}};
  if (index.ros3_only.empty()) reader["index"] = chunk_index_to_json(index);
  else reader["ros3_only"] = index.ros3_only;
  m.parts[0].reader = reader.dump();
  if (!info.etag.empty()) index_cache_store(key, to_json(m));
  return m;
}

// The object URLs of a remote input: its URLs and the objects its globs match, sorted.
std::vector<std::string> expand_urls(net::ObjectStore& store, const InputSpec& in, const std::string& job_file) {
  std::vector<std::string> urls;
  for (const auto& p : in.paths) {
    if (!net::is_remote(p))
      throw InputError(where(in, job_file) + ": mixing local files and URLs in one input is not supported");
    if (p.find_first_of("*?[") != std::string::npos) {
      const auto found = store.glob(p);
      if (found.empty()) throw InputError("no objects match '" + p + "' for " + where(in, job_file));
      urls.insert(urls.end(), found.begin(), found.end());
    } else {
      urls.push_back(p);
    }
  }
  std::sort(urls.begin(), urls.end());
  urls.erase(std::unique(urls.begin(), urls.end()), urls.end());
  return urls;
}

bool zarr_input(const InputSpec& in, const std::string& job_file) {
  bool zarr = false;
  for (const auto& p : in.paths) zarr = zarr || looks_like_zarr(p);
  if (zarr && (in.paths.size() != 1 || in.paths[0].find_first_of("*?[") != std::string::npos))
    throw InputError(where(in, job_file) + ": a Zarr input is one store; several stores or globs are not supported");
  return zarr;
}

}  // namespace

bool is_remote_or_zarr(const InputSpec& in) {
  for (const auto& p : in.paths)
    if (net::is_remote(p) || looks_like_zarr(p)) return true;
  return false;
}

InputMeta scan_remote_or_zarr(const InputSpec& in, const std::string& job_file) {
  const net::RemoteOptions opt{in.endpoint, in.region, in.anonymous};
  if (zarr_input(in, job_file)) return scan_zarr(in.paths[0], in.variable, in.alias, opt);
  net::ObjectStore store(opt);
  const std::vector<std::string> urls = expand_urls(store, in, job_file);
  const std::string variable = in.variable.rfind('/', 0) == 0 ? in.variable : "/" + in.variable;
  std::vector<InputMeta> metas;
  for (const auto& url : urls) metas.push_back(apply_reader_choice(scan_remote_file(store, url, variable, in.alias, opt)));
  return aggregate_files(std::move(metas));
}

FileSummary summarize_remote_or_zarr(const InputSpec& in, const std::string& job_file,
                                     std::vector<std::string>& objects) {
  const net::RemoteOptions opt{in.endpoint, in.region, in.anonymous};
  if (zarr_input(in, job_file)) {
    FileSummary s = summarize_zarr(in.paths[0], opt);
    objects = {s.path};
    return s;
  }
  net::ObjectStore store(opt);
  objects = expand_urls(store, in, job_file);
  const std::string& url = objects.front();
  const net::ObjectInfo info = store.stat(url);  // 403/404: exit 3 naming the URL
  std::vector<unsigned char> head = read_head(store, url, info);
  if (is_cdf(head)) return summarize_cdf_remote(store, url, info.size, std::move(head));
  // NetCDF-4/HDF5: the metadata through ROS3, as the scan reads it (scan_hdf5_over_ros3).
  const Ros3Access access = ros3_access(store, url);
  const std::string http_url = store.http_url(url);
  FileSummary s = with_ros3_retries([&] {
    Ros3Scope scope(access);
    try {
      return summarize_hdf5(http_url);
    } catch (const InputError& e) {  // messages name the user's URL, not the endpoint's
      std::string msg = e.what();
      for (std::size_t at = msg.find(http_url); at != std::string::npos; at = msg.find(http_url, at + url.size()))
        msg.replace(at, http_url.size(), url);
      throw InputError(msg);
    }
  });
  s.path = url;
  return s;
}

std::optional<WholeVariable> read_remote_variable(const InputMeta& input, const std::string& name) {
  const FilePart& part = input.parts.at(0);
  InputSpec in;
  in.alias = input.alias;
  in.paths = {part.path};
  in.variable = name;
  const net::RemoteOptions opt = remote_options_from_json(json::parse(part.reader).at("remote"));
  in.endpoint = opt.endpoint;
  in.region = opt.region;
  in.anonymous = opt.anonymous;
  InputMeta m;
  try {
    m = scan_remote_or_zarr(in, "weights of input '" + input.alias + "'");
  } catch (const InputError& e) {
    if (std::string(e.what()).find(" not found in ") != std::string::npos) return std::nullopt;
    throw;
  }
  WholeVariable w;
  w.var = m.var;
  w.var.name = name;
  std::size_t n = 1;
  for (std::size_t s : m.var.shape) n *= s;
  std::vector<char> raw(n * dtype_size(m.var.type));
  open_source(m)->read(Box::whole(m.var.shape), raw.data());
  w.values.resize(n);
  visit_dtype(m.var.type, [&](auto t) {
    using T = decltype(t);
    for (std::size_t i = 0; i < n; ++i) {
      T v;
      std::memcpy(&v, raw.data() + i * sizeof(T), sizeof(T));
      w.values[i] = static_cast<double>(v);
    }
  });
  return w;
}

}  // namespace tessera
