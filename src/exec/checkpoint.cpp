#include "exec/checkpoint.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "core/error.hpp"
#include "core/sha256.hpp"
#include "core/version.hpp"
#include "net/object_store.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

json box_json(const Box& b) { return json{{"start", b.start}, {"count", b.count}}; }
Box box_from(const json& j) { return Box(j.at("start").get<std::vector<std::size_t>>(), j.at("count").get<std::vector<std::size_t>>()); }

bool is_remote(const std::string& p) {
  return p.rfind("s3://", 0) == 0 || p.rfind("http://", 0) == 0 || p.rfind("https://", 0) == 0;
}

void write_fully(int fd, const char* p, std::size_t n, const std::string& path) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, n);
    if (w < 0) {
      if (errno == EINTR) continue;
      throw RuntimeError("cannot write checkpoint file '" + path + "': " + std::strerror(errno));
    }
    p += w, n -= static_cast<std::size_t>(w);
  }
}

// Writes `bytes` to `path` and flushes it to disk: a published checkpoint must survive a crash.
void write_durable(const std::string& path, const std::string& bytes) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) throw RuntimeError("cannot create checkpoint file '" + path + "': " + std::strerror(errno));
  try {
    write_fully(fd, bytes.data(), bytes.size(), path);
    if (::fsync(fd) != 0) throw RuntimeError("cannot flush checkpoint file '" + path + "': " + std::strerror(errno));
  } catch (...) {
    ::close(fd);
    throw;
  }
  if (::close(fd) != 0) throw RuntimeError("cannot write checkpoint file '" + path + "': " + std::strerror(errno));
}

void sync_dir(const std::string& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd >= 0) ::fsync(fd), ::close(fd);
}

template <class T>
void put(std::string& s, const T& v) {
  s.append(reinterpret_cast<const char*>(&v), sizeof(T));
}
template <class T>
T take(const std::string& s, std::size_t& at, const std::string& path) {
  if (at + sizeof(T) > s.size()) throw RuntimeError("checkpoint file '" + path + "' is truncated; remove the checkpoint");
  T v;
  std::memcpy(&v, s.data() + at, sizeof(T));
  at += sizeof(T);
  return v;
}

constexpr std::uint64_t file_magic = 0x315450434b534554ull;  // "TESKCPT1"

std::string manifest_path(const std::string& dir) { return (fs::path(dir) / "manifest.json").string(); }

// "what differs" between two fingerprints, for the refusal message.
std::string difference(const json& want, const json& have) {
  if (want.value("tessera_version", "") != have.value("tessera_version", ""))
    return "it was written by Tessera " + have.value("tessera_version", "?") + ", this is " +
           want.value("tessera_version", "?");
  if (want.value("job_sha256", "") != have.value("job_sha256", ""))
    return "it was written for a different job file (SHA-256 " + have.value("job_sha256", "?").substr(0, 12) +
           "..., this job file is " + want.value("job_sha256", "?").substr(0, 12) + "...)";
  const json& wi = want.at("inputs");
  const json& hi = have.at("inputs");
  for (std::size_t i = 0; i < wi.size(); ++i) {
    if (i >= hi.size() || wi[i] != hi[i]) {
      std::string which = wi[i].value("alias", "?");
      if (i < hi.size() && wi[i].contains("files") && hi[i].contains("files")) {
        const json& wf = wi[i]["files"];
        const json& hf = hi[i]["files"];
        for (std::size_t k = 0; k < wf.size(); ++k)
          if (k >= hf.size() || wf[k] != hf[k]) return "input '" + which + "' changed since: " + wf[k].value("path", "?") +
                                                        " (size, modification time or ETag differ)";
      }
      return "input '" + which + "' changed since (its files differ)";
    }
  }
  return "its fingerprint differs";
}

}  // namespace

std::string to_json(const CheckpointManifest& m) {
  json j;
  j["generation"] = m.generation;
  j["ranks"] = m.ranks;
  j["pass"] = m.pass;
  j["seconds"] = m.seconds;
  json done = json::array();
  for (const auto& boxes : m.done) {
    json list = json::array();
    for (const Box& b : boxes) list.push_back(box_json(b));
    done.push_back(list);
  }
  j["done"] = done;
  return j.dump();
}

CheckpointManifest manifest_from_json(const std::string& text) {
  const json j = json::parse(text);
  CheckpointManifest m;
  m.generation = j.at("generation").get<std::uint64_t>();
  m.ranks = j.at("ranks").get<int>();
  m.pass = j.at("pass").get<std::size_t>();
  m.seconds = j.value("seconds", 0.0);
  for (const auto& list : j.at("done")) {
    m.done.emplace_back();
    for (const auto& b : list) m.done.back().push_back(box_from(b));
  }
  return m;
}

std::string checkpoint_fingerprint(const JobSpec& job, const std::vector<InputMeta>& metas) {
  json j;
  j["tessera_version"] = version_string;
  j["job_sha256"] = job.hash;
  json inputs = json::array();
  for (std::size_t i = 0; i < metas.size(); ++i) {
    const InputSpec& spec = job.inputs[i];
    json files = json::array();
    for (const FilePart& part : metas[i].parts) {
      json f{{"path", part.path}};
      // Remote and Zarr readers' state (codecs, chunk index) changes with the data it indexes.
      if (!part.reader.empty()) f["reader_sha256"] = sha256_hex(part.reader);
      if (is_remote(part.path)) {
        // A Zarr store's URL is a prefix, not an object: its reader state stands for it then.
        try {
          net::ObjectStore store(net::RemoteOptions{spec.endpoint, spec.region, spec.anonymous});
          const net::ObjectInfo info = store.stat(part.path);
          f["size"] = info.size;
          f["etag"] = info.etag;
        } catch (const InputError&) {
          if (part.reader.empty()) throw;
        }
      } else {
        struct stat st {};
        if (::stat(part.path.c_str(), &st) == 0) {
          f["size"] = static_cast<std::int64_t>(st.st_size);
          f["mtime_ns"] = static_cast<std::int64_t>(st.st_mtim.tv_sec) * 1000000000 + st.st_mtim.tv_nsec;
        }
      }
      files.push_back(f);
    }
    inputs.push_back(json{{"alias", metas[i].alias}, {"files", files}});
  }
  j["inputs"] = inputs;
  return j.dump();
}

std::string CheckpointStore::gen_dir(std::uint64_t gen) const {
  return (fs::path(dir_) / ("gen-" + std::to_string(gen))).string();
}

std::optional<CheckpointManifest> CheckpointStore::load(const std::string& fingerprint) const {
  std::error_code ec;
  if (!fs::exists(dir_, ec)) return std::nullopt;
  if (!fs::is_directory(dir_, ec))
    throw JobError("checkpoint dir '" + dir_ + "' exists and is not a directory; use another --checkpoint-dir");
  const std::string mp = manifest_path(dir_);
  if (!fs::exists(mp, ec)) {
    for (const auto& e : fs::directory_iterator(dir_, ec))
      if (e.path().filename().string().rfind("gen-", 0) == 0) {
        std::cerr << "tessera: warning: checkpoint dir '" << dir_
                  << "' holds an unpublished (incomplete) checkpoint; it is ignored and the run starts from the "
                     "beginning\n";
        break;
      }
    return std::nullopt;
  }
  std::ifstream f(mp);
  std::stringstream ss;
  ss << f.rdbuf();
  json j;
  try {
    j = json::parse(ss.str());
  } catch (const std::exception&) {
    throw RuntimeError("checkpoint manifest '" + mp + "' is unreadable; remove the checkpoint dir '" + dir_ +
                       "' to start from the beginning");
  }
  const json want = json::parse(fingerprint);
  const json have = j.value("fingerprint", json::object());
  if (have != want) {
    const std::string why = difference(want, have);
    const std::string msg = "checkpoint in '" + dir_ + "' cannot be used: " + why +
                            ". Remove it (rm -r " + dir_ + ") to start from the beginning, or use another checkpoint dir";
    if (want.value("tessera_version", "") == have.value("tessera_version", "") &&
        want.value("job_sha256", "") == have.value("job_sha256", ""))
      throw InputError(msg);
    throw JobError(msg);
  }
  return manifest_from_json(j.at("manifest").dump());
}

std::vector<SavedState> CheckpointStore::read_states(const CheckpointManifest& m) const {
  std::vector<SavedState> out;
  for (int r = 0; r < m.ranks; ++r) {
    const std::string path = (fs::path(gen_dir(m.generation)) / ("rank-" + std::to_string(r) + ".state")).string();
    std::ifstream f(path, std::ios::binary);
    if (!f)
      throw RuntimeError("checkpoint file '" + path + "' is missing; remove the checkpoint dir '" + dir_ +
                         "' to start from the beginning");
    std::stringstream ss;
    ss << f.rdbuf();
    const std::string s = ss.str();
    std::size_t at = 0;
    if (take<std::uint64_t>(s, at, path) != file_magic) throw RuntimeError("checkpoint file '" + path + "' is not one");
    const auto n = take<std::uint64_t>(s, at, path);
    for (std::uint64_t k = 0; k < n; ++k) {
      SavedState st;
      st.reduction = take<std::uint64_t>(s, at, path);
      const auto nd = take<std::uint64_t>(s, at, path);
      if (nd > 64) throw RuntimeError("checkpoint file '" + path + "' is corrupt");
      st.box.start.resize(nd), st.box.count.resize(nd);
      for (auto& v : st.box.start) v = take<std::uint64_t>(s, at, path);
      for (auto& v : st.box.count) v = take<std::uint64_t>(s, at, path);
      const auto bytes = take<std::uint64_t>(s, at, path);
      if (bytes > s.size() - at) throw RuntimeError("checkpoint file '" + path + "' is truncated");
      st.data.assign(s.data() + at, s.data() + at + bytes);
      at += bytes;
      out.push_back(std::move(st));
    }
  }
  return out;
}

std::uint64_t CheckpointStore::next_generation() const {
  std::uint64_t next = 1;
  std::error_code ec;
  if (!fs::is_directory(dir_, ec)) return next;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("gen-", 0) != 0) continue;
    try {
      next = std::max<std::uint64_t>(next, std::stoull(name.substr(4)) + 1);
    } catch (const std::exception&) {
    }
  }
  return next;
}

void CheckpointStore::write_rank(std::uint64_t gen, int rank, const std::vector<SavedState>& states) const {
  const std::string gdir = gen_dir(gen);
  std::error_code ec;
  fs::create_directories(gdir, ec);
  if (ec) throw RuntimeError("cannot create checkpoint dir '" + gdir + "': " + ec.message());
  std::string s;
  put(s, file_magic);
  put(s, static_cast<std::uint64_t>(states.size()));
  for (const SavedState& st : states) {
    put(s, static_cast<std::uint64_t>(st.reduction));
    put(s, static_cast<std::uint64_t>(st.box.rank()));
    for (auto v : st.box.start) put(s, static_cast<std::uint64_t>(v));
    for (auto v : st.box.count) put(s, static_cast<std::uint64_t>(v));
    put(s, static_cast<std::uint64_t>(st.data.size()));
    s.append(st.data.data(), st.data.size());
  }
  write_durable((fs::path(gdir) / ("rank-" + std::to_string(rank) + ".state")).string(), s);
}

void CheckpointStore::publish(const CheckpointManifest& m, const std::string& fingerprint) const {
  sync_dir(gen_dir(m.generation));
  json j;
  j["format"] = 1;
  j["fingerprint"] = json::parse(fingerprint);
  j["manifest"] = json::parse(to_json(m));
  const std::string mp = manifest_path(dir_), tmp = mp + ".tmp";
  write_durable(tmp, j.dump(1) + "\n");
  if (::rename(tmp.c_str(), mp.c_str()) != 0)
    throw RuntimeError("cannot publish checkpoint '" + mp + "': " + std::strerror(errno));
  sync_dir(dir_);
  // Older generations are now unreachable.
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("gen-", 0) == 0 && name != "gen-" + std::to_string(m.generation)) fs::remove_all(e.path(), ec);
  }
}

void CheckpointStore::remove() const {
  std::error_code ec;
  fs::remove(manifest_path(dir_), ec);  // first: what is left is unpublished, never reused
  for (const auto& e : fs::directory_iterator(dir_, ec)) {
    const std::string name = e.path().filename().string();
    if (name.rfind("gen-", 0) == 0 || name == "manifest.json.tmp") fs::remove_all(e.path(), ec);
  }
  fs::remove(dir_, ec);  // only when empty: a dir the user keeps other files in stays
}

}  // namespace tessera
