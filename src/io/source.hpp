#pragma once
// Reads hyperslabs of one input variable. Everything above this interface works on boxes in the
// aggregated index space and never assumes a local file (object storage and Zarr come next).
#include <memory>

#include "decomp/box.hpp"
#include "io/metadata.hpp"

namespace tessera {

class Source {
 public:
  virtual ~Source() = default;
  const InputMeta& meta() const { return meta_; }
  // Reads `box` (aggregated index space) into `dst` in the variable's native type, C order.
  virtual void read(const Box& box, void* dst) = 0;

 protected:
  explicit Source(InputMeta meta) : meta_(std::move(meta)) {}
  InputMeta meta_;
};

// Opens the reader for an input described by `meta` (files are opened on first use).
std::unique_ptr<Source> open_source(const InputMeta& meta);

}  // namespace tessera
