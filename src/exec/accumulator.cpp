#include "exec/accumulator.hpp"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "core/dtype_visit.hpp"
#include "core/error.hpp"
#include "decomp/box_iteration.hpp"
#include "reduce/reduction_state.hpp"
#include "reduce/stored_ptr.hpp"

namespace tessera {
namespace {

constexpr double nan_value = std::numeric_limits<double>::quiet_NaN();


// Physical values of `sub` (C order), NaN where missing: what derived reductions work on.
void decode_region(const RawTile& tile, const Box& sub, const Decoding& dec, std::vector<double>& out) {
  out.resize(static_cast<std::size_t>(volume(sub)));
  if (out.empty()) return;
  const std::size_t nd = sub.rank();
  const auto ls = row_major_strides(tile.layout.count);
  const std::size_t row = sub.count[nd - 1];
  visit_dtype(tile.type, [&](auto t) {
    using T = decltype(t);
    const detail::StoredPtr<T> raw(tile.data);
    std::size_t k = 0;
    Box rows = sub;
    rows.count[nd - 1] = 1;
    for_each_index(rows, [&](const std::vector<std::size_t>& idx) {
      std::size_t off = 0;
      for (std::size_t a = 0; a < nd; ++a) off += (idx[a] - tile.layout.start[a]) * ls[a];
      for (std::size_t i = 0; i < row; ++i) {
        const double x = static_cast<double>(raw[off + i]);
        bool ok = (x - x) == 0.0;
        for (int m = 0; m < dec.n_missing; ++m) ok = ok && x != dec.missing[m];
        out[k++] = ok ? dec.unpack(x) : nan_value;
      }
    });
  });
}

// Maps input indices to the offset of their cell in an output box of a reduction plan.
class CellMapper {
 public:
  CellMapper(const ReductionPlan& p, const Box& box) : p_(p), box_(box), strides_(row_major_strides(box.count)) {}

  bool map(const std::vector<std::size_t>& idx, std::size_t& off, std::size_t extra = 0) const {
    off = 0;
    const AxisMap& ax = p_.axes;
    for (std::size_t j = 0; j < ax.kept.size(); ++j) {
      const std::size_t in = idx[ax.kept[j]], o = ax.kept_origin(j), slot = ax.kept_slot(j);
      if (in < o + box_.start[slot] || in - o - box_.start[slot] >= box_.count[slot]) return false;
      off += (in - o - box_.start[slot]) * strides_[slot];
    }
    if (ax.group_axis != AxisMap::none) {
      const std::uint32_t g = p_.groups.of[idx[ax.group_axis]];
      const std::size_t s = ax.group_slot;
      if (g == GroupPlan::none || g < box_.start[s] || g - box_.start[s] >= box_.count[s]) return false;
      off += (g - box_.start[s]) * strides_[s];
    }
    if (p_.extra_dims) {
      const std::size_t s = p_.kind == ReductionKind::series ? 0 : box_.rank() - 1;
      off += (extra - box_.start[s]) * strides_[s];
    }
    return true;
  }
  std::size_t stride(std::size_t slot) const { return strides_[slot]; }

 private:
  const ReductionPlan& p_;
  Box box_;
  std::vector<std::size_t> strides_;
};

// Subtracts the anomaly base's value from each element (NaN where the base has none).
void subtract_base(const AnomalyBase& base, const Box& sub, std::vector<double>& d) {
  const CellMapper m(*base.plan, base.box);
  std::size_t k = 0;
  for_each_index(sub, [&](const std::vector<std::size_t>& idx) {
    std::size_t off;
    d[k] = m.map(idx, off) ? d[k] - base.values[off] : nan_value;
    ++k;
  });
}

double weight_at(const WeightField& w, const std::vector<std::size_t>& idx) {
  std::size_t off = 0;
  for (std::size_t j = 0; j < w.axes.size(); ++j) off = off * w.shape[j] + idx[w.axes[j]];
  return w.values[off];
}

bool passes(const ReductionSpec& s, double x) {
  if (s.where_op == "gt") return x > s.where_a;
  if (s.where_op == "ge") return x >= s.where_a;
  if (s.where_op == "lt") return x < s.where_a;
  if (s.where_op == "le") return x <= s.where_a;
  if (s.where_op == "between") return x >= s.where_a && x <= s.where_b;
  return true;
}

Decoding doubles_decoding() {
  Decoding d;
  d.mantissa_bits = dtype_mantissa_bits(DType::f64);
  d.unpacked = DType::f64;
  return d;
}

template <class T>
void put(std::vector<char>& buf, const T& v) {
  const char* p = reinterpret_cast<const char*>(&v);
  buf.insert(buf.end(), p, p + sizeof(T));
}


// ---- direct: stored values straight into the kernels ----
class DirectAccumulator final : public Accumulator {
 public:
  DirectAccumulator(const ReductionContext& ctx, const Box& box)
      : Accumulator(ctx, box),
        st_(box, StateNeeds::for_op(ctx.spec->op), ctx.dec->mantissa_bits, expected_terms(*ctx.plan)) {}

  static double expected_terms(const ReductionPlan& p) {
    double most = 1;
    for (std::size_t n : p.groups.size) most = std::max(most, double(n));
    return p.values_per_cell * most;
  }

  void add(const RawTile& tile, const Box& region, const TileStats& stats) override {
    for_each_group_run(region, [&](const Box& sub, std::size_t g) { st_.add(tile, sub, ctx_.plan->axes, stats, *ctx_.dec, g); });
  }
  // Regions inside the domain go to ReductionState's one-pass sum one group run at a time: a
  // climatology's region that crosses a month's end (about a quarter of 8-step chunks) is two
  // runs. A run it declines (another op, missing values, a wider tier) is measured and added as
  // add() would; the statistics of a run bound its values as the region's do, and the sums are
  // exact whatever tier they take, so results do not change.
  bool add_unmeasured(const RawTile& tile, const Box& region) override {
    if (!(intersect(region, ctx_.plan->domain) == region)) return false;
    const AxisMap& ax = ctx_.plan->axes;
    for_each_group_run(region, [&](const Box& sub, std::size_t g) {
      if (st_.add_in_one_pass(tile, sub, ax, *ctx_.dec, g)) return;
      st_.add(tile, sub, ax, region_stats(tile, sub, *ctx_.dec), *ctx_.dec, g);
    });
    return true;
  }
  void harmonize(const mpi::Comm& comm) override { st_.harmonize(comm); }
  std::unique_ptr<Accumulator> empty_like(const Box& box) const override {
    auto a = std::make_unique<DirectAccumulator>(ctx_, box);
    a->st_ = st_.empty_like(box);
    return a;
  }
  std::vector<char> pack(const Box& sub) override { return st_.pack(sub); }
  void merge_packed(const Box& sub, const char* data, std::size_t size) override { st_.merge_packed(sub, data, size); }
  void write_tier(std::vector<char>& buf) const override { st_.write_tier(buf); }
  void adopt_tier(const char*& p) override { st_ = st_.with_tier(box_, p); }
  std::vector<double> finalize() override {
    std::vector<double> out = st_.finalize(ctx_.spec->op, ctx_.spec->ddof, *ctx_.dec);
    if (ctx_.spec->min_valid > 0) apply_min_valid(out, st_.counts());
    return out;
  }

 private:
  ReductionState st_;
};

// ---- derived: decoded values, transformed (anomaly, condition, weights), then summed exactly ----
class DerivedAccumulator final : public Accumulator {
 public:
  DerivedAccumulator(const ReductionContext& ctx, const Box& box) : Accumulator(ctx, box) {
    const ReductionSpec& s = *ctx.spec;
    const double terms = DirectAccumulator::expected_terms(*ctx.plan);
    const int bits = dtype_mantissa_bits(DType::f64);
    weighted_ = !s.weights.empty();
    StateNeeds primary = StateNeeds::for_op(s.op);
    if (weighted_) primary = StateNeeds{false, true, false};
    states_.emplace_back(box, primary, bits, terms);
    if (weighted_) {
      states_.emplace_back(box, StateNeeds{false, true, false}, bits, terms);  // sum of weights
      if (s.op == Op::var || s.op == Op::std) states_.emplace_back(box, StateNeeds{false, true, false}, bits, terms);
    }
    if (s.op == Op::frequency || s.min_valid > 0) {
      valid_ = states_.size();
      states_.emplace_back(box, StateNeeds{}, bits, terms);
    }
    // Weighted sums and means of unpacked values go straight from the stored values through one
    // kernel (no decoded copy): the same products, summed exactly, so the same results.
    if (weighted_ && (s.op == Op::mean || s.op == Op::sum) && valid_ == npos && !ctx.base && s.where_op.empty() &&
        !ctx.dec->packed) {
      const WeightField& w = *ctx.weights;
      fast_.values = w.values.data();
      fast_.strides.assign(ctx.plan->domain.rank(), 0);
      std::size_t stride = 1;
      for (std::size_t j = w.axes.size(); j-- > 0;) fast_.strides[w.axes[j]] = stride, stride *= w.shape[j];
      bool finite = true;
      fast_.min_abs = HUGE_VAL;
      for (double v : w.values) {
        finite = finite && std::isfinite(v);
        fast_.max_abs = std::max(fast_.max_abs, std::fabs(v));
        if (v != 0) fast_.min_abs = std::min(fast_.min_abs, std::fabs(v));
      }
      use_fast_ = finite;
      if (fast_.min_abs == HUGE_VAL) fast_.min_abs = 0;
    }
  }

  // The weighted mean/sum straight from stored values measures while it adds (one pass).
  bool add_unmeasured(const RawTile& tile, const Box& region) override {
    if (!use_fast_ || !(intersect(region, ctx_.plan->domain) == region)) return false;
    for_each_group_run(region, [&](const Box& sub, std::size_t g) {
      if (ReductionState::add_weighted_in_one_pass(states_[0], states_[1], tile, sub, ctx_.plan->axes, *ctx_.dec, g,
                                                   fast_) == ReductionState::OnePass::added)
        return;
      add(tile, sub, region_stats(tile, sub, *ctx_.dec));
    });
    return true;
  }

  void add(const RawTile& tile, const Box& region, const TileStats& stats) override {
    const ReductionSpec& s = *ctx_.spec;
    // Regions whose products could overflow keep the decoded path (it drops them as missing).
    if (use_fast_ && std::isfinite(fast_.max_abs * stats.max_abs * 2)) {
      for_each_group_run(region, [&](const Box& sub, std::size_t g) {
        ReductionState::add_weighted(states_[0], states_[1], tile, sub, ctx_.plan->axes, stats, *ctx_.dec, g, fast_);
      });
      return;
    }
    const Decoding dd = doubles_decoding();
    for_each_group_run(region, [&](const Box& sub, std::size_t g) {
      decode_region(tile, sub, *ctx_.dec, d_);
      if (ctx_.base) subtract_base(*ctx_.base, sub, d_);
      const std::size_t n = d_.size();
      streams_.resize(states_.size());
      for (auto& v : streams_) v.resize(n);
      if (valid_ != npos) std::copy(d_.begin(), d_.end(), streams_[valid_].begin());
      if (!s.where_op.empty())
        for (double& x : d_)
          if (!passes(s, x)) x = nan_value;
      if (!weighted_) {
        std::copy(d_.begin(), d_.end(), streams_[0].begin());
      } else {
        std::size_t k = 0;
        const bool sq = s.op == Op::var || s.op == Op::std;  // states_[2] holds w x^2
        for_each_index(sub, [&](const std::vector<std::size_t>& idx) {
          const double w = weight_at(*ctx_.weights, idx), x = d_[k];
          const bool ok = (x - x) == 0.0;
          streams_[0][k] = ok ? w * x : nan_value;
          streams_[1][k] = ok ? w : nan_value;
          if (sq) streams_[2][k] = ok ? w * x * x : nan_value;
          ++k;
        });
      }
      for (std::size_t i = 0; i < states_.size(); ++i) {
        const RawTile t{DType::f64, streams_[i].data(), sub};
        states_[i].add(t, sub, ctx_.plan->axes, region_stats(t, sub, dd), dd, g);
      }
    });
  }
  void harmonize(const mpi::Comm& comm) override {
    for (auto& st : states_) st.harmonize(comm);
  }
  std::unique_ptr<Accumulator> empty_like(const Box& box) const override {
    auto a = std::make_unique<DerivedAccumulator>(ctx_, box);
    for (std::size_t i = 0; i < states_.size(); ++i) a->states_[i] = states_[i].empty_like(box);
    return a;
  }
  std::vector<char> pack(const Box& sub) override {
    std::vector<char> out;
    for (auto& st : states_) {
      const auto part = st.pack(sub);
      out.insert(out.end(), part.begin(), part.end());
    }
    return out;
  }
  void merge_packed(const Box& sub, const char* data, std::size_t size) override {
    const std::size_t cells = static_cast<std::size_t>(volume(sub));
    std::size_t used = 0;
    for (auto& st : states_) {
      const std::size_t n = cells * st.bytes_per_cell();
      if (used + n > size) throw RuntimeError("internal error: short partial state of a derived reduction");
      st.merge_packed(sub, data + used, n);
      used += n;
    }
  }
  void write_tier(std::vector<char>& buf) const override {
    for (const auto& st : states_) st.write_tier(buf);
  }
  void adopt_tier(const char*& p) override {
    for (auto& st : states_) st = st.with_tier(box_, p);
  }
  std::vector<double> finalize() override {
    const ReductionSpec& s = *ctx_.spec;
    std::vector<double> out;
    const std::vector<std::int64_t> valid = valid_ != npos ? states_[valid_].counts() : std::vector<std::int64_t>();
    if (s.op == Op::count || s.op == Op::frequency) {
      const auto k = states_[0].counts();
      out.resize(k.size());
      for (std::size_t c = 0; c < k.size(); ++c)
        out[c] = s.op == Op::count ? double(k[c]) : valid[c] > 0 ? double(k[c]) / double(valid[c]) : nan_value;
    } else if (!weighted_) {
      out = states_[0].finalize(s.op, s.ddof, Decoding{});
    } else {
      const auto sx = states_[0].sums(), sw = states_[1].sums();
      const auto sq = states_.size() > 2 && (s.op == Op::var || s.op == Op::std) ? states_[2].sums() : std::vector<double>();
      out.assign(sx.size(), nan_value);
      for (std::size_t c = 0; c < sx.size(); ++c) {
        if (!(sw[c] > 0)) continue;
        if (s.op == Op::sum) out[c] = sx[c];
        else if (s.op == Op::mean) out[c] = sx[c] / sw[c];
        else {
          const long double m = static_cast<long double>(sx[c]) / sw[c];
          long double v = static_cast<long double>(sq[c]) / sw[c] - m * m;
          if (v < 0) v = 0;
          out[c] = s.op == Op::var ? double(v) : std::sqrt(double(v));
        }
      }
    }
    if (s.min_valid > 0) apply_min_valid(out, valid);
    return out;
  }

 private:
  static constexpr std::size_t npos = std::size_t(-1);
  bool weighted_ = false, use_fast_ = false;
  ReductionState::Weights fast_;
  std::size_t valid_ = npos;
  std::vector<ReductionState> states_;
  std::vector<double> d_;
  std::vector<std::vector<double>> streams_;
};

// ---- histogram: counts per cell and bin (numpy's edges: the last bin includes its right edge) ----
class HistogramAccumulator final : public Accumulator {
 public:
  HistogramAccumulator(const ReductionContext& ctx, const Box& box)
      : Accumulator(ctx, box), counts_(empty(box) && box.rank() ? 0 : static_cast<std::size_t>(volume(box)), 0) {}

  void add(const RawTile& tile, const Box& region, const TileStats&) override {
    const std::vector<double>& edges = ctx_.spec->bins;
    const CellMapper m(*ctx_.plan, box_);
    for_each_group_run(region, [&](const Box& sub, std::size_t) {
      decode_region(tile, sub, *ctx_.dec, d_);
      if (ctx_.base) subtract_base(*ctx_.base, sub, d_);
      std::size_t k = 0;
      for_each_index(sub, [&](const std::vector<std::size_t>& idx) {
        const double x = d_[k++];
        if (!(x >= edges.front() && x <= edges.back())) return;  // also drops NaN
        std::size_t b = static_cast<std::size_t>(std::upper_bound(edges.begin(), edges.end(), x) - edges.begin()) - 1;
        if (b == edges.size() - 1) b = edges.size() - 2;
        std::size_t off;
        if (m.map(idx, off, b)) ++counts_[off];
      });
    });
  }
  std::unique_ptr<Accumulator> empty_like(const Box& box) const override {
    return std::make_unique<HistogramAccumulator>(ctx_, box);
  }
  std::vector<char> pack(const Box& sub) override {
    std::vector<char> buf;
    for_each_offset(box_, sub, [&](std::size_t c) { put(buf, counts_[c]); });
    return buf;
  }
  void merge_packed(const Box& sub, const char* data, std::size_t size) override {
    std::size_t used = 0;
    for_each_offset(box_, sub, [&](std::size_t c) {
      if (used + 8 > size) throw RuntimeError("internal error: short partial histogram");
      std::int64_t v;
      std::memcpy(&v, data + used, 8);
      counts_[c] += v;
      used += 8;
    });
  }
  std::vector<double> finalize() override { return std::vector<double>(counts_.begin(), counts_.end()); }

 private:
  std::vector<std::int64_t> counts_;
  std::vector<double> d_;
};

// ---- series: each tile holds whole series of its cells; sort and interpolate (numpy 'linear') ----
class SeriesAccumulator final : public Accumulator {
 public:
  SeriesAccumulator(const ReductionContext& ctx, const Box& box)
      : Accumulator(ctx, box),
        values_(empty(box) && box.rank() ? 0 : static_cast<std::size_t>(volume(box)), nan_value),
        valid_(values_.size(), 0) {
    if (ctx.spec->op == Op::median) q_ = {0.5};
    else q_ = ctx.spec->q;
  }

  void add(const RawTile& tile, const Box& region, const TileStats&) override {
    const Box sub = intersect(region, ctx_.plan->domain);
    if (empty(sub)) return;
    decode_region(tile, sub, *ctx_.dec, d_);
    if (ctx_.base) subtract_base(*ctx_.base, sub, d_);
    const CellMapper m(*ctx_.plan, box_);
    // Bucket the valid values by cell (counting sort, O(n)); each cell then needs only its two
    // order statistics around the virtual index, found by selection: the same values a full
    // sort gives, so the same results.
    // Per element of d_ its cell (32 bits: this scratch plus the sorted copy stay within the 16
    // bytes per value the plan allows), `none` where the value is missing or outside the box.
    constexpr std::uint32_t none = ~std::uint32_t(0);
    if (values_.size() >= none) throw RuntimeError("a quantile reduction has too many output cells on one rank; use more ranks");
    cells_.resize(d_.size());
    std::size_t k = 0, valid = 0, lo_cell = values_.size(), hi_cell = 0;
    for_each_index(sub, [&](const std::vector<std::size_t>& idx) {
      const double x = d_[k];
      std::size_t off;
      cells_[k++] = (x - x) == 0.0 && m.map(idx, off, 0) ? static_cast<std::uint32_t>(off) : none;
      if (cells_[k - 1] != none) ++valid, lo_cell = std::min(lo_cell, off), hi_cell = std::max(hi_cell, off);
    });
    if (valid == 0) return;
    const std::size_t span = hi_cell - lo_cell + 1;
    first_.assign(span + 1, 0);
    for (std::uint32_t c : cells_)
      if (c != none) ++first_[c - lo_cell + 1];
    for (std::size_t i = 0; i < span; ++i) first_[i + 1] += first_[i];
    sorted_.resize(valid);
    fill_ = first_;
    for (std::size_t i = 0; i < cells_.size(); ++i)
      if (cells_[i] != none) sorted_[fill_[cells_[i] - lo_cell]++] = d_[i];
    const std::size_t qstride = ctx_.plan->extra_dims ? m.stride(0) : 0;
    for (std::size_t c = 0; c < span; ++c) {
      const std::size_t n = first_[c + 1] - first_[c], cell = lo_cell + c;
      if (n == 0) continue;
      double* v = sorted_.data() + first_[c];
      valid_[cell] = static_cast<std::int64_t>(n);
      for (std::size_t qi = 0; qi < q_.size(); ++qi) {
        // numpy.quantile(method='linear'): virtual index (n-1)q, lerp as numpy writes it.
        const double h = double(n - 1) * q_[qi];
        const double lo_f = std::floor(h);
        const std::size_t lo = std::min(static_cast<std::size_t>(lo_f), n - 1), hi = std::min(lo + 1, n - 1);
        std::nth_element(v, v + lo, v + n);
        const double a = v[lo], b = hi == lo ? a : *std::min_element(v + lo + 1, v + n);
        const double t = h - lo_f, diff = b - a;
        values_[cell + qi * qstride] = t >= 0.5 ? b - diff * (1 - t) : a + diff * t;
      }
    }
  }
  std::unique_ptr<Accumulator> empty_like(const Box& box) const override {
    return std::make_unique<SeriesAccumulator>(ctx_, box);
  }
  // Only the rank that read a cell's series has its values: merging takes what is not NaN.
  std::vector<char> pack(const Box& sub) override {
    std::vector<char> buf;
    for_each_offset(box_, sub, [&](std::size_t c) { put(buf, values_[c]), put(buf, valid_[c]); });
    return buf;
  }
  void merge_packed(const Box& sub, const char* data, std::size_t size) override {
    std::size_t used = 0;
    for_each_offset(box_, sub, [&](std::size_t c) {
      if (used + 16 > size) throw RuntimeError("internal error: short partial quantiles");
      double v;
      std::int64_t n;
      std::memcpy(&v, data + used, 8);
      std::memcpy(&n, data + used + 8, 8);
      if (!std::isnan(v)) values_[c] = v;
      valid_[c] += n;
      used += 16;
    });
  }
  std::vector<double> finalize() override {
    if (ctx_.spec->min_valid > 0) {
      // valid_ is per cell of the first quantile slot; spread it over the quantile dimension.
      std::vector<std::int64_t> valid(values_.size(), 0);
      const std::size_t qstride = ctx_.plan->extra_dims && !values_.empty() ? values_.size() / box_.count[0] : 0;
      for (std::size_t c = 0; c < values_.size(); ++c) valid[c] = valid_[qstride ? c % qstride : c];
      apply_min_valid(values_, valid);
    }
    return values_;
  }

 private:
  std::vector<double> q_, values_, d_;
  std::vector<std::int64_t> valid_;
  std::vector<std::uint32_t> cells_;  // scratch of add(), kept between tiles
  std::vector<std::size_t> first_, fill_;
  std::vector<double> sorted_;
};

}  // namespace

template <class F>
void Accumulator::for_each_group_run(const Box& region, F&& f) const {
  const Box sub = intersect(region, ctx_.plan->domain);
  if (empty(sub)) return;
  const AxisMap& ax = ctx_.plan->axes;
  if (ax.group_axis == AxisMap::none) return f(sub, std::size_t(0));
  const std::size_t t = ax.group_axis, end = sub.start[t] + sub.count[t];
  const auto& of = ctx_.plan->groups.of;
  for (std::size_t i = sub.start[t]; i < end;) {
    std::size_t j = i + 1;
    while (j < end && of[j] == of[i]) ++j;
    if (of[i] != GroupPlan::none) {
      Box run = sub;
      run.start[t] = i;
      run.count[t] = j - i;
      f(run, std::size_t(of[i]));
    }
    i = j;
  }
}

void Accumulator::apply_min_valid(std::vector<double>& out, const std::vector<std::int64_t>& valid) const {
  const ReductionPlan& p = *ctx_.plan;
  const auto strides = row_major_strides(box_.count);
  for (std::size_t c = 0; c < out.size() && c < valid.size(); ++c) {
    double total = p.values_per_cell;
    if (p.axes.group_axis != AxisMap::none) {
      const std::size_t s = p.axes.group_slot;
      const std::size_t g = box_.start[s] + (c / strides[s]) % box_.count[s];
      total *= double(p.groups.size[g]);
    }
    if (double(valid[c]) < ctx_.spec->min_valid * total) out[c] = nan_value;
  }
}

std::vector<char> Accumulator::save(const Box& sub) {
  std::vector<char> tier;
  write_tier(tier);
  std::vector<char> out;
  put(out, static_cast<std::uint64_t>(tier.size()));
  out.insert(out.end(), tier.begin(), tier.end());
  const std::vector<char> cells = pack(sub);
  out.insert(out.end(), cells.begin(), cells.end());
  return out;
}

void Accumulator::restore(const Box& saved_box, const Box& sub, const char* data, std::size_t size) {
  std::uint64_t tier_size = 0;
  if (size < 8) throw RuntimeError("checkpoint: a saved state is truncated");
  std::memcpy(&tier_size, data, 8);
  if (tier_size > size - 8) throw RuntimeError("checkpoint: a saved state is truncated");
  const char* tier = data + 8;
  // Every saved part of a reduction shares one tier (they were harmonised before saving).
  if (!restored_) {
    const char* p = tier;
    adopt_tier(p);
    restored_ = true;
  }
  // The saved cells as one accumulator over their own box, then the part this one needs.
  auto whole = empty_like(saved_box);
  const char* p = tier;
  whole->adopt_tier(p);
  whole->merge_packed(saved_box, data + 8 + tier_size, size - 8 - tier_size);
  const std::vector<char> part = whole->pack(sub);
  merge_packed(sub, part.data(), part.size());
}

std::unique_ptr<Accumulator> Accumulator::make(const ReductionContext& ctx, const Box& state_box) {
  switch (ctx.plan->kind) {
    case ReductionKind::direct: return std::make_unique<DirectAccumulator>(ctx, state_box);
    case ReductionKind::derived: return std::make_unique<DerivedAccumulator>(ctx, state_box);
    case ReductionKind::histogram: return std::make_unique<HistogramAccumulator>(ctx, state_box);
    case ReductionKind::series: return std::make_unique<SeriesAccumulator>(ctx, state_box);
  }
  throw RuntimeError("internal error: unknown reduction kind");
}

}  // namespace tessera
