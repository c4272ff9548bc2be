#include "net/range_merge.hpp"

#include <algorithm>
#include <numeric>

namespace tessera::net {

std::vector<MergedRange> merge_ranges(const std::vector<ByteRange>& ranges, std::uint64_t max_gap,
                                      std::uint64_t max_size) {
  std::vector<std::size_t> order(ranges.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](std::size_t a, std::size_t b) { return ranges[a].offset < ranges[b].offset; });
  std::vector<MergedRange> out;
  for (std::size_t i : order) {
    const ByteRange& r = ranges[i];
    if (r.length == 0) continue;
    if (!out.empty()) {
      MergedRange& m = out.back();
      const std::uint64_t end = m.offset + m.length;
      const std::uint64_t new_end = std::max(end, r.offset + r.length);
      if (r.offset <= end + max_gap && new_end - m.offset <= max_size) {
        m.length = new_end - m.offset;
        m.members.push_back(i);
        continue;
      }
    }
    out.push_back(MergedRange{r.offset, r.length, {i}});
  }
  return out;
}

}  // namespace tessera::net
