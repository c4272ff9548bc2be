#pragma once
// On-disk cache of remote files' scans (metadata + chunk index), so a second run over the same
// object does not rebuild them. Entries are keyed by URL, ETag, size and variable: a changed
// object gets a new key. The folder is TESSERA_CACHE_DIR, else $XDG_CACHE_HOME/tessera, else
// ~/.cache/tessera. Nothing secret is stored (no credentials, no signed URLs).
#include <optional>
#include <string>

namespace tessera {

std::string index_cache_dir();  // "" when no folder can be determined (caching off)
std::string index_cache_key(const std::string& url, const std::string& etag, unsigned long long size,
                            const std::string& variable);
std::optional<std::string> index_cache_load(const std::string& key);
// Best effort: a cache that cannot be written only costs time on the next run.
void index_cache_store(const std::string& key, const std::string& text);

}  // namespace tessera
