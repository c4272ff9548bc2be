#include "decomp/box.hpp"

#include <algorithm>
#include <limits>
#include <sstream>

#include "core/error.hpp"

namespace tessera {

std::uint64_t volume(const Box& b) {
  if (empty(b)) return 0;
  std::uint64_t v = 1;
  for (std::size_t c : b.count) {
    if (v > std::numeric_limits<std::uint64_t>::max() / c)
      throw InputError("hyperslab " + to_string(b) + " has more elements than 2^64");
    v *= c;
  }
  return v;
}

bool empty(const Box& b) {
  for (std::size_t c : b.count)
    if (c == 0) return true;
  return false;
}

Box intersect(const Box& a, const Box& b) {
  Box r(std::vector<std::size_t>(a.rank(), 0), std::vector<std::size_t>(a.rank(), 0));
  for (std::size_t i = 0; i < a.rank(); ++i) {
    std::size_t lo = std::max(a.start[i], b.start[i]);
    std::size_t hi = std::min(a.start[i] + a.count[i], b.start[i] + b.count[i]);
    if (hi <= lo) return Box(std::vector<std::size_t>(a.rank(), 0), std::vector<std::size_t>(a.rank(), 0));
    r.start[i] = lo;
    r.count[i] = hi - lo;
  }
  return r;
}

std::vector<Box> subtract(const Box& a, const Box& b) {
  if (empty(a)) return {};
  const Box common = intersect(a, b);
  if (empty(common)) return {a};
  std::vector<Box> out;
  Box rest = a;  // shrinks to `common` axis by axis
  for (std::size_t i = 0; i < a.rank(); ++i) {
    const std::size_t lo = common.start[i], hi = common.start[i] + common.count[i], end = rest.start[i] + rest.count[i];
    if (lo > rest.start[i]) {
      Box below = rest;
      below.count[i] = lo - rest.start[i];
      out.push_back(below);
    }
    if (hi < end) {
      Box above = rest;
      above.start[i] = hi;
      above.count[i] = end - hi;
      out.push_back(above);
    }
    rest.start[i] = lo;
    rest.count[i] = hi - lo;
  }
  return out;
}

std::vector<Box> subtract(const Box& a, const std::vector<Box>& done) {
  std::vector<Box> left = empty(a) ? std::vector<Box>() : std::vector<Box>{a};
  for (const Box& d : done) {
    std::vector<Box> next;
    for (const Box& piece : left)
      for (Box& p : subtract(piece, d)) next.push_back(std::move(p));
    left = std::move(next);
  }
  return left;
}

bool contains(const Box& outer, const Box& inner) {
  if (empty(inner)) return true;
  for (std::size_t i = 0; i < outer.rank(); ++i)
    if (inner.start[i] < outer.start[i] || inner.start[i] + inner.count[i] > outer.start[i] + outer.count[i])
      return false;
  return true;
}

std::vector<Box> split_along(const Box& b, std::size_t axis, std::size_t parts, std::size_t align) {
  align = std::max<std::size_t>(align, 1);
  const std::size_t lo = b.start[axis], hi = b.start[axis] + b.count[axis];
  // Aligned cut points inside (lo, hi) are the block boundaries, computed rather than listed:
  // an axis may have billions of chunks (a hostile file), and only `parts` pieces are made.
  const std::size_t first = (lo / align + 1) * align;
  const std::size_t inner = first < hi ? (hi - 1 - first) / align + 1 : 0;
  const std::size_t blocks = inner + 1;
  auto cut = [&](std::size_t k) { return k == 0 ? lo : k == blocks ? hi : (lo / align + k) * align; };
  std::vector<Box> out;
  out.reserve(parts);
  // Balanced: every piece gets blocks/parts blocks and the first blocks%parts one more, so
  // empty pieces (fewer blocks than parts) are the trailing ones.
  const std::size_t base = blocks / parts, extra = blocks % parts;
  for (std::size_t p = 0; p < parts; ++p) {
    const std::size_t b0 = p * base + std::min(p, extra), b1 = b0 + base + (p < extra ? 1 : 0);
    Box piece = b;
    piece.start[axis] = cut(b0);
    piece.count[axis] = cut(b1) - cut(b0);
    if (piece.count[axis] == 0) piece.start[axis] = hi;
    out.push_back(piece);
  }
  return out;
}

namespace {

// Tiles `b` whose axes before `axis0` are already fixed (one index each).
void tile_from(const Box& b, std::size_t axis0, std::uint64_t max_elems,
               const std::vector<std::size_t>& align, std::vector<Box>& out) {
  const std::size_t n = b.rank();
  // k: the outermost axis from which whole trailing slabs fit the budget.
  std::uint64_t inner = 1;
  std::size_t k = n;
  while (k > axis0 && inner * b.count[k - 1] <= max_elems) inner *= b.count[--k];
  if (k == axis0) { out.push_back(b); return; }
  const std::size_t axis = k - 1;
  if (axis > axis0) {
    // Axes between axis0 and `axis` cannot be whole: walk them one index at a time.
    for (std::size_t i = 0; i < b.count[axis0]; ++i) {
      Box sub = b;
      sub.start[axis0] = b.start[axis0] + i;
      sub.count[axis0] = 1;
      tile_from(sub, axis0 + 1, max_elems, align, out);
    }
    return;
  }
  std::size_t step = static_cast<std::size_t>(max_elems / inner);  // >= 1 by construction of k
  const std::size_t a = axis < align.size() ? std::max<std::size_t>(align[axis], 1) : 1;
  if (step >= a) step = step / a * a;
  const std::size_t lo = b.start[axis], hi = lo + b.count[axis];
  for (std::size_t s = lo; s < hi;) {
    // Cut on chunk boundaries so one chunk is never split between two tiles when step >= a.
    std::size_t e = step >= a ? (s + step) / a * a : s + step;
    if (e <= s) e = s + step;
    e = std::min(hi, e);
    Box slab = b;
    slab.start[axis] = s;
    slab.count[axis] = e - s;
    out.push_back(slab);
    s = e;
  }
}

}  // namespace

std::vector<Box> tile(const Box& b, std::uint64_t max_elems, const std::vector<std::size_t>& align) {
  std::vector<Box> out;
  if (!empty(b)) tile_from(b, 0, std::max<std::uint64_t>(max_elems, 1), align, out);
  return out;
}

namespace {

void split_rec(const Box& b, std::uint64_t max_elems, const std::vector<std::size_t>& order, std::size_t next,
               std::vector<Box>& out) {
  const std::uint64_t v = volume(b);
  if (v <= max_elems || next >= order.size()) {
    out.push_back(b);
    return;
  }
  const std::size_t axis = order[next];
  // Whole index steps along `axis` that fit the budget; pieces of at most that many.
  const std::uint64_t per_step = v / b.count[axis];
  const std::uint64_t steps = max_elems / per_step;
  if (steps >= 1) {
    const std::uint64_t parts = (b.count[axis] + steps - 1) / steps;
    for (const Box& piece : split_along(b, axis, static_cast<std::size_t>(parts))) out.push_back(piece);
    return;
  }
  // Not enough along this axis: one index at a time here, then cut the next axis.
  for (const Box& piece : split_along(b, axis, b.count[axis])) split_rec(piece, max_elems, order, next + 1, out);
}

}  // namespace

std::vector<Box> split_to_budget(const Box& b, std::uint64_t max_elems, const std::vector<std::size_t>& order) {
  std::vector<Box> out;
  if (empty(b)) return out;
  std::vector<std::size_t> full = order;
  for (std::size_t i = 0; i < b.rank(); ++i)
    if (std::find(full.begin(), full.end(), i) == full.end()) full.push_back(i);
  split_rec(b, std::max<std::uint64_t>(max_elems, 1), full, 0, out);
  return out;
}

Box project_out(const Box& b, const std::vector<std::size_t>& removed_axes) {
  Box r;
  for (std::size_t i = 0; i < b.rank(); ++i) {
    if (std::find(removed_axes.begin(), removed_axes.end(), i) != removed_axes.end()) continue;
    r.start.push_back(b.start[i]);
    r.count.push_back(b.count[i]);
  }
  return r;
}

std::vector<std::size_t> row_major_strides(const std::vector<std::size_t>& count) {
  std::vector<std::size_t> s(count.size(), 1);
  for (std::size_t i = count.size(); i-- > 1;) s[i - 1] = s[i] * count[i];
  return s;
}

std::string to_string(const Box& b) {
  std::ostringstream os;
  os << '[';
  for (std::size_t i = 0; i < b.rank(); ++i) {
    if (i) os << ", ";
    os << b.start[i] << ':' << b.start[i] + b.count[i];
  }
  os << ')';
  return os.str();
}

}  // namespace tessera
