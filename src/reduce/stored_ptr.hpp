#pragma once
// Stored values of a raw tile, loaded through memcpy. A tile read in place from a file
// (ChunkMapper) starts wherever HDF5 put its chunk, so its values may sit at any byte address;
// dereferencing a misaligned T* is undefined behaviour (UBSan stops on it), whereas memcpy is
// defined at any alignment and compiles to the same plain (unaligned) loads, vectorised alike.
#include <Kokkos_Core.hpp>

#include <cstddef>
#include <cstring>

namespace tessera::detail {

template <class T>
class StoredPtr {
 public:
  KOKKOS_INLINE_FUNCTION explicit StoredPtr(const void* p) : bytes_(static_cast<const unsigned char*>(p)) {}
  KOKKOS_INLINE_FUNCTION T operator[](std::size_t i) const {
    T v;
    memcpy(&v, bytes_ + i * sizeof(T), sizeof(T));
    return v;
  }
  KOKKOS_INLINE_FUNCTION StoredPtr operator+(std::size_t i) const { return StoredPtr(bytes_ + i * sizeof(T)); }

 private:
  const unsigned char* bytes_;
};

}  // namespace tessera::detail
