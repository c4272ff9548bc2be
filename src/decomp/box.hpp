#pragma once
// An N-d hyperslab (start, count) in index space, as a value type with free functions.
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace tessera {

struct Box {
  std::vector<std::size_t> start;
  std::vector<std::size_t> count;

  Box() = default;
  Box(std::vector<std::size_t> s, std::vector<std::size_t> c) : start(std::move(s)), count(std::move(c)) {}
  static Box whole(const std::vector<std::size_t>& shape) { return Box(std::vector<std::size_t>(shape.size(), 0), shape); }

  std::size_t rank() const { return count.size(); }
  bool operator==(const Box& o) const { return start == o.start && count == o.count; }
  bool operator!=(const Box& o) const { return !(*this == o); }
};

std::uint64_t volume(const Box& b);          // product of counts (0 if any is 0); throws on overflow
bool empty(const Box& b);
Box intersect(const Box& a, const Box& b);    // empty (all counts 0) when disjoint
bool contains(const Box& outer, const Box& inner);

// Split `b` along `axis` into `parts` contiguous pieces whose boundaries fall on multiples of
// `align` (relative to index 0, i.e. chunk boundaries) and balance the number of aligned
// blocks; later pieces may be empty when there are fewer blocks than parts.
std::vector<Box> split_along(const Box& b, std::size_t axis, std::size_t parts, std::size_t align = 1);

// Tile `b` into boxes of at most `max_elems` elements, splitting outer axes first and keeping
// each tile a single hyperslab; boundaries on axis i fall on multiples of align[i] when possible.
std::vector<Box> tile(const Box& b, std::uint64_t max_elems, const std::vector<std::size_t>& align);

// Split `b` into pieces of at most `max_elems` elements, cutting axes in the given order (first
// listed is cut first); unlisted axes are cut last, outermost first. For cache-sized work
// regions inside a tile, where memory contiguity does not matter but the shape does.
std::vector<Box> split_to_budget(const Box& b, std::uint64_t max_elems, const std::vector<std::size_t>& order);

// The part of `a` outside `b` as disjoint boxes (none when b covers a; {a} when disjoint): cut
// axis by axis, the slabs below and above b first. For checkpoints: what of a tile is left to read.
std::vector<Box> subtract(const Box& a, const Box& b);
// The part of `a` outside every box of `done`.
std::vector<Box> subtract(const Box& a, const std::vector<Box>& done);

// Drop (project out) the listed axes: the box in the space of the remaining ones.
Box project_out(const Box& b, const std::vector<std::size_t>& removed_axes);

// Row-major strides of a box of the given counts.
std::vector<std::size_t> row_major_strides(const std::vector<std::size_t>& count);

std::string to_string(const Box& b);         // "[0:10, 5:8)" style: start:end per axis

}  // namespace tessera
