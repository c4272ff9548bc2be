#pragma once
// Reader for NetCDF-4/HDF5 files behind s3:// or http(s):// URLs, driven by the chunk index built
// at scan time (hdf5_remote.hpp): each read fetches the chunks its box touches with merged,
// concurrent range GETs and decodes deflate + shuffle itself, bypassing HDF5.
#include <memory>
#include <string>

#include "io/hdf5_remote.hpp"
#include "io/source.hpp"

namespace tessera {

std::string chunk_index_to_json(const ChunkIndex& ix);
ChunkIndex chunk_index_from_json(const std::string& text);

std::unique_ptr<Source> open_remote_hdf5_source(const InputMeta& meta);

}  // namespace tessera
