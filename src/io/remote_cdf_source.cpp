// Reader of NetCDF-3 variables over HTTP/S3 (remote_cdf.hpp): per read, one batch of range GETs
// for the box's contiguous runs, merged by the object store, then big-endian to host order.
#include <cstring>
#include <nlohmann/json.hpp>

#include "io/remote_options_json.hpp"
#include "io/chunk_copy.hpp"
#include "io/remote_cdf.hpp"

namespace tessera {
namespace {

using nlohmann::json;

class RemoteCdfSource final : public Source {
 public:
  explicit RemoteCdfSource(InputMeta m) : Source(std::move(m)) {
    for (const auto& part : meta_.parts) {
      const json r = json::parse(part.reader);
      Part p;
      p.url = r.at("url").get<std::string>();
      p.layout.shape = meta_.var.shape;
      p.layout.shape[0] = part.length;
      p.layout.is_record = r.at("record").get<bool>();
      p.layout.begin = r.at("begin").get<std::uint64_t>();
      p.layout.record_size = r.at("record_size").get<std::uint64_t>();
      p.layout.type = meta_.var.type;
      parts_.push_back(std::move(p));
      if (!store_) {
        store_ = std::make_unique<net::ObjectStore>(remote_options_from_json(r.at("remote")));
      }
    }
  }

  void read(const Box& box, void* dst) override {
    if (empty(box)) return;
    const std::size_t esize = dtype_size(meta_.var.type);
    std::size_t row_bytes = esize;
    for (std::size_t i = 1; i < box.rank(); ++i) row_bytes *= box.count[i];
    reads_.clear();
    for (std::size_t p = 0; p < parts_.size(); ++p) {
      const FilePart& fp = meta_.parts[p];
      const std::size_t a = std::max(box.start[0], fp.offset), b = std::min(box.start[0] + box.count[0], fp.offset + fp.length);
      if (a >= b) continue;
      Box piece = box;
      piece.start[0] = a - fp.offset;
      piece.count[0] = b - a;
      add_cdf_reads(parts_[p].url, parts_[p].layout, piece, static_cast<char*>(dst) + (a - box.start[0]) * row_bytes,
                    reads_);
    }
    store_->read(reads_);
    const std::uint16_t one = 1;
    unsigned char low = 0;
    std::memcpy(&low, &one, 1);
    if (low == 1 && esize > 1) byteswap(static_cast<char*>(dst), volume(box) * esize, esize);
  }

 private:
  struct Part {
    std::string url;
    CdfLayout layout;
  };
  std::vector<Part> parts_;
  std::unique_ptr<net::ObjectStore> store_;
  std::vector<net::RangeRead> reads_;  // reused across reads
};

}  // namespace

std::unique_ptr<Source> open_remote_cdf_source(const InputMeta& meta) {
  return std::make_unique<RemoteCdfSource>(meta);
}

}  // namespace tessera
