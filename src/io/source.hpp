#pragma once
// Reads hyperslabs of one input variable. Everything above this interface works on boxes in the
// aggregated index space and never assumes a local file (object storage and Zarr come next).
#include <memory>

#include "decomp/box.hpp"
#include "io/metadata.hpp"
#include "mpi/comm.hpp"

namespace tessera {

class Source {
 public:
  virtual ~Source() = default;
  const InputMeta& meta() const { return meta_; }
  // Reads `box` (aggregated index space) into `dst` in the variable's native type, C order.
  virtual void read(const Box& box, void* dst) = 0;
  // Collective sources need every rank to call read() equally often (an empty box when a rank
  // has nothing left), so MPI-IO can combine the ranks' requests.
  virtual bool collective() const { return false; }
  // `box` in place instead of read(), where the source can: values in the native type, C order
  // over `layout` (a box around `box`), valid until unmap() or the next map(); nullptr to read()
  // it instead.
  virtual const void* map(const Box&, Box&) { return nullptr; }
  virtual void unmap() {}

 protected:
  explicit Source(InputMeta meta) : meta_(std::move(meta)) {}
  InputMeta meta_;
};

// Opens the reader for an input described by `meta`. With a communicator of several ranks,
// NetCDF-4 inputs of up to 16 files are opened collectively by all of them (collective reads);
// otherwise each rank opens the files its hyperslabs touch, on first use, and reads alone.
std::unique_ptr<Source> open_source(const InputMeta& meta, const mpi::Comm* comm = nullptr);

}  // namespace tessera
