#pragma once
// Zarr v2 inputs: a local `store.zarr` directory or an s3:// / http(s):// store, consolidated
// (.zmetadata) or not. Each read fetches only the chunks that intersect the box, concurrently
// for remote stores, and decodes them here (zlib, gzip, zstd, blosc; C or F order; any endianness).
#include <memory>
#include <string>

#include "io/metadata.hpp"
#include "io/source.hpp"
#include "net/object_store.hpp"

namespace tessera {

// The variable `variable` of the store at `root`, with its CF attributes, dimensions from
// _ARRAY_DIMENSIONS and coordinate arrays (plus CF bounds) read like the NetCDF scanner does.
InputMeta scan_zarr(const std::string& root, const std::string& variable, const std::string& alias,
                    const net::RemoteOptions& opt);

// Every array of the store (from .zmetadata, else from listing the store: local directories and
// s3:// prefixes), dimensions from _ARRAY_DIMENSIONS in order of first use (arrays sorted by
// name), the group's .zattrs as global attributes: what `tessera inspect STORE` prints.
FileSummary summarize_zarr(const std::string& root, const net::RemoteOptions& opt);

std::unique_ptr<Source> open_zarr_source(const InputMeta& meta);

}  // namespace tessera
