#include "io/cdf_reader.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <limits>

#include "core/error.hpp"

namespace tessera {
namespace {

// Big-endian to host order in place; memcpy keeps unaligned elements defined, and GCC turns the
// loop into vector shuffles.
template <class U>
void swap_in_place(char* p, std::size_t n) {
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
  (void)p, (void)n;
#else
  for (std::size_t i = 0; i < n; ++i) {
    U u;
    std::memcpy(&u, p + i * sizeof(U), sizeof(U));
    if constexpr (sizeof(U) == 2) u = __builtin_bswap16(u);
    else if constexpr (sizeof(U) == 4) u = __builtin_bswap32(u);
    else u = __builtin_bswap64(u);
    std::memcpy(p + i * sizeof(U), &u, sizeof(U));
  }
#endif
}

void swap_bytes(char* p, std::size_t bytes, std::size_t esize) {
  switch (esize) {
    case 2: swap_in_place<std::uint16_t>(p, bytes / 2); break;
    case 4: swap_in_place<std::uint32_t>(p, bytes / 4); break;
    case 8: swap_in_place<std::uint64_t>(p, bytes / 8); break;
    default: break;  // bytes: nothing to swap
  }
}

// The header from the first bytes of the file, read in growing steps (64 KiB is plenty for the
// usual header; read_cdf_header's fixed 16 MiB buffer would add as much to every rank's peak RSS).
CdfHeader read_header(int fd, const std::string& path) {
  std::size_t want = std::size_t(64) << 10;
  const std::size_t most = std::size_t(16) << 20;
  while (true) {
    std::vector<unsigned char> bytes(want);
    std::size_t got = 0;
    while (got < want) {
      const ssize_t n = ::pread(fd, bytes.data() + got, want - got, static_cast<off_t>(got));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      got += static_cast<std::size_t>(n);
    }
    const bool whole_file = got < want;
    bytes.resize(got);
    try {
      return parse_cdf_header(path, std::move(bytes));
    } catch (const InputError&) {
      if (whole_file || want >= most) throw;
      want *= 4;  // perhaps a header longer than what was read
    }
  }
}

// Pieces of a long run are swapped right after they land, while still in cache.
constexpr std::size_t piece_bytes = std::size_t(1) << 20;

}  // namespace

std::unique_ptr<CdfReader> CdfReader::open(const std::string& path, const std::string& var, DType type,
                                           const std::vector<std::size_t>& shape) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return nullptr;
  CdfHeader h;
  try {
    h = read_header(fd, path);
  } catch (const InputError&) {
    ::close(fd);
    return nullptr;  // netcdf-c reports what is wrong in its own words
  }
  const std::size_t esize = dtype_size(type);
  for (std::size_t i = 0; i < h.vars.size(); ++i) {
    const CdfVariable& v = h.vars[i];
    if (v.name != var) continue;
    if (v.shape.empty() || v.shape.size() != shape.size()) break;
    std::uint64_t elems = 1;  // per record for record variables
    for (std::size_t a = 0; a < v.shape.size(); ++a) {
      if (a > 0 && v.shape[a] != shape[a]) elems = 0;
      if (a > 0 || !v.is_record) elems *= v.shape[a];  // no overflow: the header checked bytes
    }
    if (elems == 0 || v.bytes != elems * esize) break;
    return std::unique_ptr<CdfReader>(new CdfReader(path, fd, std::move(h), i, esize));
  }
  ::close(fd);
  return nullptr;
}

CdfReader::CdfReader(std::string path, int fd, CdfHeader header, std::size_t var, std::size_t esize)
    : path_(std::move(path)), fd_(fd), header_(std::move(header)), var_(var), esize_(esize) {}

CdfReader::~CdfReader() {
  if (fd_ >= 0) ::close(fd_);
}

void CdfReader::read_run(std::uint64_t offset, std::size_t bytes, char* dst, const Box& box) const {
  while (bytes > 0) {
    const std::size_t want = bytes < piece_bytes ? bytes : piece_bytes;
    std::size_t got = 0;
    while (got < want) {
      if (offset + got > static_cast<std::uint64_t>(std::numeric_limits<off_t>::max()))
        throw InputError("reading " + header_.vars[var_].name + to_string(box) + " from '" + path_ +
                         "': offset beyond what this system can address");
      const ssize_t n = ::pread(fd_, dst + got, want - got, static_cast<off_t>(offset + got));
      if (n < 0 && errno == EINTR) continue;
      if (n < 0)
        throw InputError("reading " + header_.vars[var_].name + to_string(box) + " from '" + path_ +
                         "': " + std::strerror(errno));
      if (n == 0)
        throw InputError("reading " + header_.vars[var_].name + to_string(box) + " from '" + path_ +
                         "': the file is truncated (it ends at byte " + std::to_string(offset + got) + ")");
      got += static_cast<std::size_t>(n);
    }
    swap_bytes(dst, want, esize_);
    dst += want, offset += want, bytes -= want;
  }
}

void CdfReader::read(const Box& box, void* dst) const {
  const CdfVariable& v = header_.vars[var_];
  const std::size_t rank = v.shape.size();
  if (box.rank() != rank)
    throw InputError("reading " + v.name + to_string(box) + " from '" + path_ + "': the variable has " +
                     std::to_string(rank) + " dimensions");
  for (std::size_t a = 0; a < rank; ++a)
    if (box.start[a] > v.shape[a] || box.count[a] > v.shape[a] - box.start[a])
      throw InputError("reading " + v.name + to_string(box) + " from '" + path_ + "': index out of range");
  if (empty(box)) return;
  // Element strides in the file; a record variable's axis 0 steps by whole records instead.
  std::vector<std::uint64_t> stride(rank, 1);
  for (std::size_t a = rank - 1; a > 0; --a) stride[a - 1] = stride[a] * v.shape[a];
  // The run: the trailing axes the box spans whole, plus the one before them (not the record
  // axis: records interleave with other record variables).
  std::size_t k = rank - 1;
  while (k > 0 && box.count[k] == v.shape[k]) --k;
  if (v.is_record && k == 0 && rank > 1) k = 1;
  const std::size_t run_elems = static_cast<std::size_t>(box.count[k] * stride[k]);
  const std::size_t run_bytes = run_elems * esize_;
  // Odometer over axes [0, k): each step is one run.
  std::vector<std::size_t> idx(box.start.begin(), box.start.begin() + static_cast<std::ptrdiff_t>(k));
  char* out = static_cast<char*>(dst);
  const bool record = v.is_record;
  if (record && k == 0) {  // a 1-d record variable: one value per record
    for (std::size_t r = 0; r < box.count[0]; ++r, out += esize_)
      read_run(v.begin + (box.start[0] + r) * header_.record_size, esize_, out, box);
    return;
  }
  while (true) {
    std::uint64_t elem = box.start[k] * stride[k];
    std::uint64_t offset = v.begin;
    for (std::size_t a = 0; a < k; ++a) {
      if (a == 0 && record) offset += idx[0] * header_.record_size;
      else elem += idx[a] * stride[a];
    }
    offset += elem * esize_;  // within the variable's bounds, which the header checked
    read_run(offset, run_bytes, out, box);
    out += run_bytes;
    std::size_t a = k;
    while (a > 0) {
      --a;
      if (++idx[a] < box.start[a] + box.count[a]) break;
      idx[a] = box.start[a];
      if (a == 0) return;
    }
    if (k == 0) return;
  }
}

}  // namespace tessera
