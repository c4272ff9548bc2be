#pragma once
// Thin layer over the HDF5 C API: the only place in Tessera that calls H5* functions.
// One error policy: every failing call becomes a tessera::InputError that names the file and
// object; HDF5's own error-stack printing is switched off so users never see a stack dump.
#include <hdf5.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "core/dtype.hpp"
#include "io/metadata.hpp"

namespace tessera::h5 {

// Owns one HDF5 identifier and the function that closes it (H5Fclose, H5Dclose, ...).
class Handle {
 public:
  using Closer = herr_t (*)(hid_t);

  Handle() noexcept = default;
  Handle(hid_t id, Closer close) noexcept : id_(id), close_(close) {}
  ~Handle() { reset(); }

  Handle(Handle&& o) noexcept : id_(o.id_), close_(o.close_) { o.id_ = H5I_INVALID_HID; }
  Handle& operator=(Handle&& o) noexcept {
    if (this != &o) {
      reset();
      id_ = o.id_;
      close_ = o.close_;
      o.id_ = H5I_INVALID_HID;
    }
    return *this;
  }
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;

  hid_t get() const noexcept { return id_; }
  explicit operator bool() const noexcept { return id_ >= 0; }
  void reset() noexcept;  // closes now; errors while closing are ignored (nothing to recover)

 private:
  hid_t id_ = H5I_INVALID_HID;
  Closer close_ = nullptr;
};

// Switches off HDF5's automatic error printing (idempotent; every entry point below calls it).
void silence_errors();

// Throws InputError(context + HDF5's innermost error description) when the call failed (< 0).
herr_t check(herr_t status, const std::string& context);
hid_t check(hid_t id, const std::string& context);

// --- Files and objects
// Opens read-only with the default (per-process) file access; `path` appears in messages.
Handle open_file(const std::string& path);
Handle open_group(hid_t loc, const std::string& path, const std::string& file);
// True when every link on the absolute path exists and the object is a dataset.
bool is_dataset(hid_t file, const std::string& path);
Handle open_dataset(hid_t file, const std::string& path, const std::string& file_name);
// Absolute paths of the first `max` datasets in the file (H5Ovisit order); `more` tells whether
// further datasets exist.
std::vector<std::string> list_datasets(hid_t file, std::size_t max, bool& more);
// Absolute paths of every dataset, in creation order where the file tracks it (netCDF-4 files
// do: the order of their variables), else by name.
std::vector<std::string> list_all_datasets(hid_t file);
std::string object_path(hid_t obj);  // e.g. "/grid/lat" ("" when anonymous)

// --- Datasets. `what` names the object in messages, e.g. "dataset '/grid/tas' in 'a.h5'".
std::vector<std::size_t> dataset_shape(hid_t dset, const std::string& what);
// The Tessera type of a dataset, or nullopt for compound, string, enum, vlen, ... types.
std::optional<DType> dataset_numeric_type(hid_t dset, const std::string& what);
// As above, but InputError (naming the supported types) when the type is not numeric.
DType dataset_dtype(hid_t dset, const std::string& what);
std::vector<std::size_t> dataset_chunks(hid_t dset, const std::string& what);  // {} if not chunked
std::string dataset_compression(hid_t dset, const std::string& what);        // "deflate(4) shuffle"
hid_t native_type(DType t);  // the library-owned memory type (never closed)
// Byte offsets in the file of the chunks of an unfiltered dataset stored in native byte order
// in chunks that span every axis but the first whole (time slabs): one per chunk along axis 0,
// -1 for a chunk never written; `slab` gets the chunk length along axis 0. Empty when the
// dataset is stored any other way. Opens and closes the file itself (`path` local), so call it
// before another library holds the file open.
std::vector<std::int64_t> slab_chunk_offsets(const std::string& path, const std::string& dataset, DType t,
                                             std::size_t& slab);

// Reads the hyperslab (start, count) of a dataset into C-ordered `dst` in `t`'s native type;
// failures throw InputError(context + HDF5's reason).
void read_hyperslab(hid_t dset, DType t, const std::vector<std::size_t>& start,
                    const std::vector<std::size_t>& count, void* dst, const std::string& context);
// Reads a whole numeric dataset converted to double.
std::vector<double> read_all_as_double(hid_t dset, const std::string& what);

// --- Attributes
// Numeric and string attributes (scalar or 1-d) of a dataset or group, in the file's native
// order; other kinds, and names in `skip`, are left out silently. Several strings in one
// attribute are joined with ", ".
std::vector<Attribute> read_attributes(hid_t obj, const std::vector<std::string>& skip,
                                       const std::string& what);

// --- Dimension scales (HDF5 high-level library)
bool is_dimension_scale(hid_t dset);
struct Scale {
  Handle dataset;
  std::string name;  // the scale's NAME, or the basename of its path when it has none
  bool has_values = true;  // false for netCDF-4's placeholder scales of dimensions without a variable
};
// The name of a dataset that is itself a dimension scale (its NAME, else its basename);
// has_values false for netCDF-4's placeholder scales (a dimension without a variable).
std::string own_scale_name(hid_t scale, bool& has_values);
// True when axis `axis` of the dataset can grow without limit (netCDF's unlimited dimension).
bool unlimited_axis(hid_t dset, unsigned axis);
// The first dimension scale attached to dimension `dim` of `dset`, if any.
std::optional<Scale> attached_scale(hid_t dset, unsigned dim);

}  // namespace tessera::h5
