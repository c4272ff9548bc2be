#include "io/chunk_mapper.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.hpp"
#include "io/hdf5.hpp"

namespace tessera {

std::unique_ptr<ChunkMapper> ChunkMapper::open(const std::string& path, const std::string& var, DType type,
                                               const std::vector<std::size_t>& shape) {
  if (shape.empty()) return nullptr;
  std::vector<std::int64_t> offsets;
  std::size_t slab = 0;
  try {
    offsets = h5::slab_chunk_offsets(path, var, type, slab);
  } catch (const InputError&) {
    return nullptr;  // e.g. the file already open in HDF5 with other settings: read() still works
  }
  if (offsets.empty()) return nullptr;
  std::size_t row = dtype_size(type);
  for (std::size_t i = 1; i < shape.size(); ++i) row *= shape[i];
  if (slab == 0 || (shape[0] + slab - 1) / slab != offsets.size()) return nullptr;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  auto m = std::unique_ptr<ChunkMapper>(new ChunkMapper());
  m->fd_ = fd;
  m->offsets_ = std::move(offsets);
  m->shape_ = shape;
  m->slab_ = slab;
  m->row_bytes_ = row;
  return m;
}

ChunkMapper::~ChunkMapper() {
  release();
  if (fd_ >= 0) ::close(fd_);
}

const void* ChunkMapper::map(const Box& box, Box& layout) {
  release();
  if (box.rank() != shape_.size() || empty(box)) return nullptr;
  for (std::size_t i = 1; i < box.rank(); ++i)
    if (box.start[i] + box.count[i] > shape_[i]) return nullptr;
  const std::size_t t0 = box.start[0], t1 = t0 + box.count[0];
  if (t1 > shape_[0]) return nullptr;
  // The chunks the box touches, one after the other in the file.
  const std::size_t c0 = t0 / slab_, c1 = (t1 - 1) / slab_;
  for (std::size_t c = c0; c <= c1; ++c) {
    if (offsets_[c] < 0) return nullptr;  // never written: read() gives the fill value
    if (c > c0 && offsets_[c] != offsets_[c - 1] + static_cast<std::int64_t>(slab_ * row_bytes_)) return nullptr;
  }
  const std::uint64_t begin = static_cast<std::uint64_t>(offsets_[c0]) + (t0 - c0 * slab_) * row_bytes_;
  const std::size_t bytes = (t1 - t0) * row_bytes_;
  // HDF5 places chunks at any byte address: the kernels load stored values through memcpy
  // (reduce/stored_ptr.hpp), so a misaligned slab is read in place like any other.
  // A truncated file (also since it was opened): pages past its end would fault (SIGBUS), so
  // such boxes go to read(), which reports the error.
  struct stat st;
  if (fstat(fd_, &st) != 0 || begin + bytes > static_cast<std::uint64_t>(st.st_size)) return nullptr;
  const std::uint64_t page = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  const std::uint64_t aligned = begin / page * page;
  const std::size_t length = bytes + (begin - aligned);
  void* p = mmap(nullptr, length, PROT_READ, MAP_PRIVATE, fd_, static_cast<off_t>(aligned));
  if (p == MAP_FAILED) return nullptr;
  base_ = p;
  length_ = length;
  layout = box;
  for (std::size_t i = 1; i < box.rank(); ++i) layout.start[i] = 0, layout.count[i] = shape_[i];
  return static_cast<const char*>(p) + (begin - aligned);
}

void ChunkMapper::release() {
  if (base_) munmap(base_, length_);
  base_ = nullptr;
  length_ = 0;
}

}  // namespace tessera
