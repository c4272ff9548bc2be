// Reader for NetCDF inputs (one file or many aggregated along axis 0). Each rank opens only the
// files its own hyperslabs touch and reads them independently: with chunk-aligned hyperslabs no
// two ranks read the same chunk, and a failing rank cannot leave the others in a collective.
#include <map>

#include "core/error.hpp"
#include "io/hdf5_source.hpp"
#include "io/netcdf.hpp"
#include "io/source.hpp"

namespace tessera {
namespace {

class NetcdfSource final : public Source {
 public:
  explicit NetcdfSource(InputMeta m) : Source(std::move(m)) {}

  void read(const Box& box, void* dst) override {
    if (empty(box)) return;
    const std::size_t esize = dtype_size(meta_.var.type);
    std::size_t row = esize;  // bytes per index step along axis 0
    for (std::size_t i = 1; i < box.rank(); ++i) row *= box.count[i];
    for (std::size_t p = 0; p < meta_.parts.size(); ++p) {
      const FilePart& part = meta_.parts[p];
      Box range = box;
      range.start[0] = part.offset;
      range.count[0] = part.length;
      Box piece = intersect(box, range);
      if (empty(piece)) continue;
      char* out = static_cast<char*>(dst) + (piece.start[0] - box.start[0]) * row;
      piece.start[0] -= part.offset;  // into the file's own index space
      file(p).read(meta_.var.name, piece, meta_.var.type, out);
    }
  }

 private:
  const nc::File& file(std::size_t p) {
    auto it = open_.find(p);
    if (it == open_.end()) it = open_.emplace(p, nc::File::open(meta_.parts[p].path)).first;
    return it->second;
  }
  std::map<std::size_t, nc::File> open_;
};

}  // namespace

std::unique_ptr<Source> open_source(const InputMeta& meta) {
  if (meta.kind == "hdf5") return open_hdf5_source(meta);
  return std::make_unique<NetcdfSource>(meta);
}

}  // namespace tessera
