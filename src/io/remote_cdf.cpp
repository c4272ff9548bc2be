#include "io/remote_cdf.hpp"

#include <algorithm>
#include <cstring>
#include <nlohmann/json.hpp>

#include "core/dtype_visit.hpp"
#include "core/error.hpp"
#include "io/cdf_header.hpp"
#include "io/chunk_copy.hpp"
#include "io/remote_options_json.hpp"

namespace tessera {
namespace {

using nlohmann::json;

// netCDF-C reads headers of any length; 16 MiB is what the local check reads too.
constexpr std::uint64_t max_header_bytes = 16u << 20;

bool host_little_endian() {
  const std::uint16_t one = 1;
  unsigned char b = 0;
  std::memcpy(&b, &one, 1);
  return b == 1;
}

// The header, fetching more of the object while it ends inside the bytes at hand.
CdfHeader fetch_header(net::ObjectStore& store, const std::string& url, std::uint64_t size,
                       std::vector<unsigned char> bytes) {
  for (;;) {
    try {
      return parse_cdf_header(url, bytes);
    } catch (const CdfHeaderCut&) {
      if (bytes.size() >= size || bytes.size() >= max_header_bytes) throw;
    }
    const std::uint64_t have = bytes.size();
    const std::uint64_t want = std::min({size, max_header_bytes, std::max<std::uint64_t>(have * 8, 1u << 20)});
    bytes.resize(want);
    store.read({{url, have, want - have, reinterpret_cast<char*>(bytes.data()) + have}});
  }
}

VariableInfo variable_info(const CdfHeader& h, const CdfVariable& v, const std::string& url) {
  VariableInfo info;
  info.name = v.name;
  if (!cdf_dtype(v.nc_type, info.type))
    throw InputError("variable '" + v.name + "' in '" + url +
                     "' has a type Tessera cannot reduce (it reads byte, short, int, int64, float, double and their "
                     "unsigned forms)");
  for (std::size_t i = 0; i < v.dimids.size(); ++i) {
    info.dims.push_back(h.dims[v.dimids[i]].name);
    info.shape.push_back(static_cast<std::size_t>(v.shape[i]));
  }
  info.attrs = v.attrs;
  return info;
}

CdfLayout layout_of(const CdfHeader& h, const CdfVariable& v, DType type) {
  CdfLayout l;
  l.shape.assign(v.shape.begin(), v.shape.end());
  l.is_record = v.is_record;
  l.begin = v.begin;
  l.record_size = h.record_size;
  l.type = type;
  return l;
}

// Whole variables as doubles, all in one batch of range GETs.
std::vector<std::vector<double>> read_as_double(net::ObjectStore& store, const std::string& url,
                                                const std::vector<CdfLayout>& layouts) {
  std::vector<std::vector<char>> raw(layouts.size());
  std::vector<net::RangeRead> reads;
  for (std::size_t i = 0; i < layouts.size(); ++i) {
    const Box all = Box::whole(layouts[i].shape);
    raw[i].resize(volume(all) * dtype_size(layouts[i].type));
    add_cdf_reads(url, layouts[i], all, raw[i].data(), reads);
  }
  store.read(reads);
  std::vector<std::vector<double>> out(layouts.size());
  for (std::size_t i = 0; i < layouts.size(); ++i) {
    const std::size_t esize = dtype_size(layouts[i].type);
    if (host_little_endian() && esize > 1) byteswap(raw[i].data(), raw[i].size(), esize);
    out[i].resize(raw[i].size() / esize);
    visit_dtype(layouts[i].type, [&](auto zero) {
      using T = decltype(zero);
      for (std::size_t e = 0; e < out[i].size(); ++e) {
        T x;
        std::memcpy(&x, raw[i].data() + e * esize, sizeof x);
        out[i][e] = static_cast<double>(x);
      }
    });
  }
  return out;
}

}  // namespace

void add_cdf_reads(const std::string& url, const CdfLayout& layout, const Box& box, char* dst,
                   std::vector<net::RangeRead>& reads) {
  if (empty(box)) return;
  const std::size_t rank = box.rank(), esize = dtype_size(layout.type);
  const std::size_t first = layout.is_record ? 1 : 0;  // axes stored in C order within a record
  // The run: axis k and the whole axes after it; k == rank means one element per run.
  std::size_t k = rank;
  if (first < rank) {
    k = rank - 1;
    while (k > first && box.start[k] == 0 && box.count[k] == layout.shape[k]) --k;
  }
  std::vector<std::uint64_t> stride(rank + 1, 1);  // elements, within a record for record variables
  for (std::size_t i = rank; i-- > first;) stride[i] = stride[i + 1] * layout.shape[i];
  const std::uint64_t run_bytes = (k < rank ? box.count[k] * stride[k + 1] : 1) * esize;
  const std::uint64_t run_start = k < rank ? box.start[k] * stride[k + 1] * esize : 0;
  std::vector<std::size_t> idx(k, 0);
  std::uint64_t runs = 1;
  for (std::size_t i = 0; i < k; ++i) runs *= box.count[i];
  for (std::uint64_t r = 0; r < runs; ++r) {
    std::uint64_t off = layout.begin + run_start;
    for (std::size_t i = 0; i < k; ++i) {
      const std::uint64_t at = box.start[i] + idx[i];
      off += i < first ? at * layout.record_size : at * stride[i + 1] * esize;
    }
    reads.push_back({url, off, run_bytes, dst + r * run_bytes});
    for (std::size_t i = k; i-- > 0;) {
      if (++idx[i] < box.count[i]) break;
      idx[i] = 0;
    }
  }
}

InputMeta scan_cdf_remote(net::ObjectStore& store, const std::string& url, std::uint64_t size,
                          std::vector<unsigned char> head, const std::string& variable, const std::string& alias,
                          const net::RemoteOptions& opt) {
  const CdfHeader h = fetch_header(store, url, size, std::move(head));
  // As for local files (check_cdf_complete): a cut-off object must not read as zeros.
  if (size < h.data_end())
    throw InputError("'" + url + "' is truncated: its header describes " + std::to_string(h.data_end()) +
                     " bytes of data but the object has " + std::to_string(size) + "; re-upload or regenerate it");
  const std::string name = variable.rfind('/', 0) == 0 ? variable.substr(1) : variable;
  const CdfVariable* v = h.variable(name);
  if (!v) {
    std::string names;
    for (std::size_t i = 0; i < h.vars.size() && i < 12; ++i) names += (i ? ", " : "") + h.vars[i].name;
    if (h.vars.size() > 12) names += ", ...";
    throw InputError("variable '" + name + "' not found in '" + url + "'; it has: " + names);
  }
  InputMeta m;
  m.alias = alias;
  m.kind = "netcdf3-remote";
  m.var = variable_info(h, *v, url);
  if (m.var.dims.empty()) throw InputError("variable '" + name + "' in '" + url + "' is a scalar: nothing to reduce");
  m.global_attrs = h.global_attrs;
  // Coordinates named like the variable's dimensions, and their bounds (as read_coordinate).
  std::vector<CdfLayout> layouts;
  std::vector<std::pair<std::size_t, bool>> targets;  // coordinate index, is bounds
  for (const auto& d : m.var.dims) {
    const CdfVariable* c = h.variable(d);
    if (!c || c->dimids.size() != 1 || h.dims[c->dimids[0]].name != d) continue;
    CoordinateInfo ci;
    ci.var = variable_info(h, *c, url);
    layouts.push_back(layout_of(h, *c, ci.var.type));
    targets.emplace_back(m.coords.size(), false);
    if (const Attribute* b = ci.var.attr("bounds"); b && b->is_text)
      if (const CdfVariable* bv = h.variable(b->text);
          bv && bv->shape.size() == 2 && bv->shape[0] == c->shape[0] && bv->shape[1] == 2) {
        const VariableInfo bi = variable_info(h, *bv, url);
        layouts.push_back(layout_of(h, *bv, bi.type));
        targets.emplace_back(m.coords.size(), true);
        ci.bounds_name = b->text;
      }
    m.coords.push_back(std::move(ci));
  }
  auto values = read_as_double(store, url, layouts);
  for (std::size_t i = 0; i < targets.size(); ++i) {
    CoordinateInfo& c = m.coords[targets[i].first];
    (targets[i].second ? c.bounds : c.values) = std::move(values[i]);
  }
  FilePart part;
  part.path = url;
  part.format = h.format_name();
  part.length = m.var.shape[0];
  part.reader = json{{"url", url},
                     {"remote", remote_options_to_json(opt)},
                     {"begin", v->begin},
                     {"record", v->is_record},
                     {"record_size", h.record_size}}
                    .dump();
  m.parts.push_back(std::move(part));
  return m;
}

FileSummary summarize_cdf_remote(net::ObjectStore& store, const std::string& url, std::uint64_t size,
                                 std::vector<unsigned char> head) {
  const CdfHeader h = fetch_header(store, url, size, std::move(head));
  FileSummary s;
  s.path = url;
  s.format = h.format_name();
  for (std::size_t i = 0; i < h.dims.size(); ++i) {
    const bool record = h.dims[i].length == 0;
    s.dims.emplace_back(h.dims[i].name, static_cast<std::size_t>(record ? h.numrecs : h.dims[i].length));
    if (record && s.unlimited < 0) s.unlimited = static_cast<int>(i);
  }
  for (const auto& v : h.vars) {
    try {
      s.vars.push_back(variable_info(h, v, url));
    } catch (const InputError&) {
      // char variables, as summarize_file leaves them out
    }
  }
  s.global_attrs = h.global_attrs;
  return s;
}

}  // namespace tessera
