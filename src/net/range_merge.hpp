#pragma once
// Coalescing byte ranges into few large GETs: object stores charge per request and deliver
// best with several MiB per request, while chunks are often KiB to a few MiB.
#include <cstdint>
#include <vector>

namespace tessera::net {

struct ByteRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
};

struct MergedRange {
  std::uint64_t offset = 0;
  std::uint64_t length = 0;
  std::vector<std::size_t> members;  // indices into the input, by offset
};

// Sorts by offset and joins ranges whose gap is at most `max_gap` bytes (the gap is fetched and
// dropped) while the merged request stays within `max_size` (a single larger range stays whole).
// Overlapping and duplicate ranges are allowed. Empty ranges are left out.
std::vector<MergedRange> merge_ranges(const std::vector<ByteRange>& ranges, std::uint64_t max_gap,
                                      std::uint64_t max_size);

}  // namespace tessera::net
