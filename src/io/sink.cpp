#include "io/sink.hpp"

#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <hdf5.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <stdio.h>
#include <unistd.h>

#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "core/error.hpp"
#include "core/cleanup.hpp"
#include "io/netcdf.hpp"

namespace tessera {
namespace fs = std::filesystem;

namespace {

// Next to the target (same filesystem, so the rename is atomic), hidden, recognisable, and
// short enough for any legal target name (NAME_MAX is 255).
std::string temp_path_for(const std::string& path, long token) {
  fs::path p(path);
  return (p.parent_path() / ("." + p.filename().string().substr(0, 160) + ".tessera-" + std::to_string(token) + ".tmp"))
      .string();
}

template <class T>
std::vector<T> convert(const OutputVariable& v) {
  std::vector<T> out(v.values.size());
  for (std::size_t i = 0; i < out.size(); ++i) {
    const double x = v.values[i];
    out[i] = static_cast<T>(std::isnan(x) && v.has_fill ? v.fill : x);
  }
  return out;
}

void write_file_to(nc::File& f, const OutputDataset& ds);

void write_file(const std::string& tmp, const OutputDataset& ds, const mpi::Comm& comm) {
  nc::File f = nc::File::create_parallel(tmp, comm);
  try {
    write_file_to(f, ds);
  } catch (...) {
    f.abandon();
    // A file HDF5 could not close stays in its tables, and closing it again at shutdown crashes.
    if (H5Fget_obj_count(H5F_OBJ_ALL, H5F_OBJ_FILE) > 0) skip_library_shutdown();
    throw;
  }
}

void write_file_to(nc::File& f, const OutputDataset& ds) {
  std::vector<int> dimids;
  for (const auto& d : ds.dims) dimids.push_back(f.define_dimension(d.name, d.length));
  auto dim_id = [&](const std::string& name) {
    for (std::size_t i = 0; i < ds.dims.size(); ++i)
      if (ds.dims[i].name == name) return dimids[i];
    throw RuntimeError("internal error: output dimension '" + name + "' was not defined");
  };
  std::vector<int> varids;
  for (const auto& v : ds.vars) {
    std::vector<int> ids;
    for (const auto& d : v.dims) ids.push_back(dim_id(d));
    const int id = f.define_variable(v.name, v.type, ids);
    if (v.has_fill) f.put_attribute(id, Attribute::make_number("_FillValue", v.type, {v.fill}));
    for (const auto& a : v.attrs)
      if (a.name != "_FillValue") f.put_attribute(id, a);
    varids.push_back(id);
  }
  for (const auto& a : ds.global_attrs) f.put_attribute(-1 /* NC_GLOBAL */, a);
  f.end_define();
  for (std::size_t i = 0; i < ds.vars.size(); ++i) {
    const OutputVariable& v = ds.vars[i];
    if (v.dims.empty()) {
      // Scalars: the rank holding the value writes it alone.
      f.independent(varids[i]);
      if (!v.values.empty()) f.write(varids[i], Box(), v.type == DType::f32 ? DType::f32 : DType::f64,
                                     v.type == DType::f32 ? static_cast<const void*>(convert<float>(v).data())
                                                          : static_cast<const void*>(convert<double>(v).data()));
      continue;
    }
    f.collective(varids[i]);
    switch (v.type) {
      case DType::f32: f.write(varids[i], v.owned, v.type, convert<float>(v).data()); break;
      case DType::i32: f.write(varids[i], v.owned, v.type, convert<int>(v).data()); break;
      case DType::i64: f.write(varids[i], v.owned, v.type, convert<long long>(v).data()); break;
      default: f.write(varids[i], v.owned, DType::f64, convert<double>(v).data()); break;
    }
  }
  f.close();
}

}  // namespace

void check_output_path(const std::string& path, bool overwrite) {
  std::error_code ec;
  if (fs::exists(path, ec) && !overwrite)
    throw JobError("output '" + path + "' exists; pass --overwrite or set `output.overwrite: true` to replace it");
  if (fs::is_directory(path, ec)) throw JobError("output '" + path + "' is a directory; give a file name");
  const fs::path dir = fs::path(path).parent_path();
  if (!fs::is_directory(dir, ec))
    throw RuntimeError("output folder '" + dir.string() + "' does not exist; create it first");
  if (::access(dir.c_str(), W_OK) != 0)
    throw RuntimeError("output folder '" + dir.string() + "' is not writable: " + std::strerror(errno));
}

std::string OutputLock::path_for(const std::string& output_path) {
  fs::path p(output_path);
  return (p.parent_path() / ("." + p.filename().string().substr(0, 160) + ".tessera.lock")).string();
}

OutputLock::OutputLock(const std::string& output_path) : path_(path_for(output_path)) {
  // Stop signals wait until the file is ours and registered for removal (or left to its owner):
  // a SIGTERM between creating and registering it would leave it behind.
  struct BlockStopSignals {
    sigset_t old;
    BlockStopSignals() {
      sigset_t block;
      sigemptyset(&block);
      for (int sig : {SIGTERM, SIGINT, SIGHUP}) sigaddset(&block, sig);
      ::pthread_sigmask(SIG_BLOCK, &block, &old);
    }
    ~BlockStopSignals() { ::pthread_sigmask(SIG_SETMASK, &old, nullptr); }
  } blocked;
  // Another run may remove the lock file between our open and flock; then we hold a lock on
  // an unlinked file, so check that the path still names what we locked, and retry if not.
  for (int attempt = 0; attempt < 100; ++attempt) {
    fd_ = ::open(path_.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd_ < 0)
      throw RuntimeError("cannot create the lock file '" + path_ + "' next to the output: " + std::strerror(errno));
    if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
      const int err = errno;
      char owner[128] = {};
      const ssize_t n = ::pread(fd_, owner, sizeof owner - 1, 0);
      ::close(fd_);
      fd_ = -1;
      if (err != EWOULDBLOCK)
        throw RuntimeError("cannot lock '" + path_ + "': " + std::strerror(err));
      std::string who = n > 0 ? std::string(owner, static_cast<std::size_t>(n)) : std::string();
      while (!who.empty() && (who.back() == '\n' || who.back() == ' ')) who.pop_back();
      throw RuntimeError("output '" + output_path + "' is being written by another Tessera run" +
                         (who.empty() ? "" : " (" + who + ")") + "; wait for it to finish or choose another output path");
    }
    struct stat held {}, named {};
    if (::fstat(fd_, &held) == 0 && ::stat(path_.c_str(), &named) == 0 && held.st_ino == named.st_ino &&
        held.st_dev == named.st_dev) {
      char host[64] = {};
      ::gethostname(host, sizeof host - 1);
      const std::string owner = "pid " + std::to_string(::getpid()) + " on " + host + "\n";
      if (::ftruncate(fd_, 0) != 0 || ::pwrite(fd_, owner.data(), owner.size(), 0) < 0) {
        // The owner line only makes the other run's message clearer; the lock holds without it.
      }
      cleanup_slot_ = remove_on_signal(path_);
      return;
    }
    ::close(fd_);
    fd_ = -1;
  }
  throw RuntimeError("cannot lock '" + path_ + "': it keeps being replaced");
}

OutputLock::~OutputLock() {
  if (fd_ < 0) return;
  forget_on_signal(cleanup_slot_);
  ::unlink(path_.c_str());  // while still holding the lock, so no one else can hold this inode
  ::close(fd_);
}

void write_output(const std::string& path, bool overwrite, const OutputDataset& ds, const mpi::Comm& comm) {
  // Rank 0 names the temporary file; everybody creates it together.
  const long token = static_cast<long>(comm.allreduce_max(std::int64_t(comm.rank() == 0 ? ::getpid() : 0)));
  const std::string tmp = temp_path_for(path, token);
  // Rank 0 removes the temporary file if the run is stopped by a signal (another rank died).
  struct Forget {
    int slot;
    ~Forget() { forget_on_signal(slot); }
  } forget{comm.rank() == 0 ? remove_on_signal(tmp) : -1};
  int code = 0;
  std::string msg;
  try {
    write_file(tmp, ds, comm);
  } catch (const Error& e) {
    code = static_cast<int>(e.code());
    msg = std::string(e.what()) + " (writing the output '" + path +
          "'; check free space, quota and file-size limit there)";
  }
  mpi::Agreement a = mpi::agree(comm, code, msg);
  if (comm.rank() == 0 && a.code == 0) {
    // Publish: the rename is atomic; without overwrite it must not replace a file that appeared meanwhile.
    int rc = overwrite ? ::rename(tmp.c_str(), path.c_str())
                       : ::renameat2(AT_FDCWD, tmp.c_str(), AT_FDCWD, path.c_str(), RENAME_NOREPLACE);
    if (rc != 0) {
      a.code = static_cast<int>(errno == EEXIST ? ExitCode::usage : ExitCode::runtime);
      a.message = errno == EEXIST ? "output '" + path + "' appeared while Tessera was running; not replaced"
                                  : "cannot rename '" + tmp + "' to '" + path + "': " + std::strerror(errno);
    }
  }
  if (comm.rank() == 0 && a.code != 0) ::unlink(tmp.c_str());
  // Rank 0's rename outcome decides for everyone; every rank knows, rank 0 prints.
  const int final_code = static_cast<int>(comm.allreduce_max(std::int64_t(comm.rank() == 0 ? a.code : 0)));
  if (final_code != 0) {
    const std::string m = comm.broadcast(a.message, 0);
    throw AgreedError(static_cast<ExitCode>(final_code), m, a.origin_rank < 0 ? 0 : a.origin_rank,
                      a.failed_ranks ? a.failed_ranks : comm.size());
  }
}

}  // namespace tessera
