#include "io/hdf5_source.hpp"

#include <algorithm>
#include <cstdint>
#include <optional>

#include "core/error.hpp"
#include "decomp/box.hpp"
#include "io/hdf5.hpp"

namespace tessera {

namespace {

// Attributes that encode HDF5 dimension-scale links or netCDF-4 internals: the structure they
// describe is already in dims/coords, and their values (references, compounds) mean nothing
// outside the file. CLASS and NAME are only reserved on scales.
const std::vector<std::string> kLinkAttributes = {"DIMENSION_LIST", "REFERENCE_LIST", "_Netcdf4Dimid",
                                                  "_Netcdf4Coordinates"};
const std::vector<std::string> kScaleAttributes = {"DIMENSION_LIST", "REFERENCE_LIST", "_Netcdf4Dimid",
                                                   "_Netcdf4Coordinates", "CLASS", "NAME"};
const std::vector<std::string> kRootAttributes = {"_NCProperties"};

// Files kept open at once by one Source: enough for any realistic tile, far below fd limits.
constexpr std::size_t kMaxOpenFiles = 64;

std::string join(const std::vector<std::string>& parts, const std::string& sep) {
  std::string out;
  for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? sep : "") + parts[i];
  return out;
}

std::string parent_group(const std::string& path) {
  const std::size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

const std::vector<std::string>& skipped_attributes(hid_t dset) {
  return h5::is_dimension_scale(dset) ? kScaleAttributes : kLinkAttributes;
}

h5::Handle open_variable(hid_t file, const std::string& variable, const std::string& path) {
  if (!h5::is_dataset(file, variable)) {
    bool more = false;
    const std::vector<std::string> names = h5::list_datasets(file, 10, more);
    std::string msg = "variable '" + variable + "' not found in '" + path + "'";
    if (names.empty())
      msg += "; the file has no datasets";
    else
      msg += "; datasets in the file: " + join(names, ", ") + (more ? ", ..." : "");
    throw InputError(msg);
  }
  return h5::open_dataset(file, variable, path);
}

// The coordinate a numeric 1-d scale of the right length provides; nullopt for other scales.
std::optional<CoordinateInfo> read_coordinate(hid_t file, const h5::Scale& scale, std::size_t length,
                                              const std::string& file_name) {
  if (!scale.has_values) return std::nullopt;
  const hid_t ds = scale.dataset.get();
  const std::string path = h5::object_path(ds);
  const std::string what = "dimension scale '" + path + "' in '" + file_name + "'";
  const std::vector<std::size_t> shape = h5::dataset_shape(ds, what);
  const std::optional<DType> type = h5::dataset_numeric_type(ds, what);
  if (shape.size() != 1 || shape[0] != length || !type) return std::nullopt;

  CoordinateInfo c;
  c.var.name = scale.name;
  c.var.dims = {scale.name};
  c.var.shape = shape;
  c.var.type = *type;
  c.var.chunks = h5::dataset_chunks(ds, what);
  c.var.compression = h5::dataset_compression(ds, what);
  c.var.attrs = h5::read_attributes(ds, kScaleAttributes, what);
  c.values = h5::read_all_as_double(ds, what);

  // CF cell bounds: a (length, 2) dataset named by `bounds`, relative to the scale's group.
  const Attribute* b = c.var.attr("bounds");
  if (b && b->is_text && !b->text.empty()) {
    const std::string bpath = b->text[0] == '/' ? b->text : parent_group(path) + "/" + b->text;
    if (h5::is_dataset(file, bpath)) {
      h5::Handle bds = h5::open_dataset(file, bpath, file_name);
      const std::string bwhat = "bounds '" + bpath + "' in '" + file_name + "'";
      if (h5::dataset_shape(bds.get(), bwhat) == std::vector<std::size_t>{length, 2} &&
          h5::dataset_numeric_type(bds.get(), bwhat)) {
        c.bounds = h5::read_all_as_double(bds.get(), bwhat);
        c.bounds_name = b->text;
      }
    }
  }
  return c;
}

}  // namespace

bool looks_like_hdf5_path(const std::string& variable) { return !variable.empty() && variable[0] == '/'; }

InputMeta scan_hdf5(const std::vector<std::string>& files, const std::string& variable, const std::string& alias) {
  if (!looks_like_hdf5_path(variable))
    throw InputError("input '" + alias + "': HDF5 variable '" + variable +
                     "' must be an absolute dataset path such as /group/name");
  if (files.empty()) throw InputError("input '" + alias + "': no files to read '" + variable + "' from");

  InputMeta m;
  m.alias = alias;
  m.kind = "hdf5";
  m.var.name = variable;
  std::optional<std::size_t> axis0_coord;  // index into m.coords of axis 0's coordinate
  std::size_t offset = 0;

  for (std::size_t f = 0; f < files.size(); ++f) {
    const std::string& path = files[f];
    h5::Handle file = h5::open_file(path);
    h5::Handle dset = open_variable(file.get(), variable, path);
    const std::string what = "dataset '" + variable + "' in '" + path + "'";
    const std::vector<std::size_t> shape = h5::dataset_shape(dset.get(), what);
    const DType type = h5::dataset_dtype(dset.get(), what);

    if (f == 0) {
      m.var.shape = shape;
      m.var.type = type;
      m.var.chunks = h5::dataset_chunks(dset.get(), what);
      m.var.compression = h5::dataset_compression(dset.get(), what);
      m.var.attrs = h5::read_attributes(dset.get(), skipped_attributes(dset.get()), what);
      for (unsigned d = 0; d < shape.size(); ++d) {
        std::optional<h5::Scale> scale = h5::attached_scale(dset.get(), d);
        m.var.dims.push_back(scale ? scale->name : "dim" + std::to_string(d));
        if (!scale) continue;
        if (std::optional<CoordinateInfo> c = read_coordinate(file.get(), *scale, shape[d], path)) {
          if (d == 0) axis0_coord = m.coords.size();
          m.coords.push_back(std::move(*c));
        }
      }
      h5::Handle root = h5::open_group(file.get(), "/", path);
      m.global_attrs = h5::read_attributes(root.get(), kRootAttributes, "the root group of '" + path + "'");
    } else {
      const std::string& first = files[0];
      const std::string prefix = "file '" + path + "': " + variable;
      if (shape.size() != m.var.shape.size())
        throw InputError(prefix + " has " + std::to_string(shape.size()) + " dimensions, but '" + first + "' has " +
                         std::to_string(m.var.shape.size()));
      if (shape.empty())
        throw InputError(prefix + " is a scalar and cannot be aggregated across files");
      for (std::size_t d = 1; d < shape.size(); ++d)
        if (shape[d] != m.var.shape[d])
          throw InputError(prefix + " has dimension " + std::to_string(d) + " of length " + std::to_string(shape[d]) +
                           ", but '" + first + "' has " + std::to_string(m.var.shape[d]));
      if (type != m.var.type)
        throw InputError(prefix + " has type " + dtype_name(type) + ", but '" + first + "' has " +
                         dtype_name(m.var.type));
      m.var.shape[0] += shape[0];
      if (axis0_coord) {
        CoordinateInfo& c = m.coords[*axis0_coord];
        std::optional<h5::Scale> scale = h5::attached_scale(dset.get(), 0);
        std::optional<CoordinateInfo> part =
            scale ? read_coordinate(file.get(), *scale, shape[0], path) : std::nullopt;
        if (!part)
          throw InputError(prefix + " has no numeric dimension scale of length " + std::to_string(shape[0]) +
                           " on dimension 0, but '" + first + "' has one ('" + c.var.name + "')");
        if (!c.bounds.empty() && part->bounds.empty())
          throw InputError(prefix + ": coordinate '" + c.var.name + "' has no bounds, but in '" + first +
                           "' it has '" + c.bounds_name + "'");
        c.values.insert(c.values.end(), part->values.begin(), part->values.end());
        c.bounds.insert(c.bounds.end(), part->bounds.begin(), part->bounds.end());
        c.var.shape[0] += shape[0];
      }
    }
    // A scalar (single file only) is one "row".
    const std::size_t length = shape.empty() ? 1 : shape[0];
    m.parts.push_back(FilePart{path, "HDF5", offset, length, ""});
    offset += length;
  }
  return m;
}

FileSummary summarize_hdf5(const std::string& path) {
  h5::Handle file = h5::open_file(path);
  FileSummary s;
  s.path = path;
  h5::Handle root = h5::open_group(file.get(), "/", path);
  const std::vector<Attribute> root_attrs = h5::read_attributes(root.get(), {}, "the root group of '" + path + "'");
  s.format = find_attribute(root_attrs, "_NCProperties") ? "netCDF-4" : "HDF5";
  for (const auto& a : root_attrs)
    if (std::find(kRootAttributes.begin(), kRootAttributes.end(), a.name) == kRootAttributes.end())
      s.global_attrs.push_back(a);
  struct Dim {
    std::string name;
    std::size_t length = 0;
    double dimid = 1e300;  // netCDF's order; files without it keep the order of first use
    bool unlimited = false;
  };
  std::vector<Dim> dims;
  auto add_dim = [&](const std::string& name, std::size_t length, const Attribute* dimid, bool unlimited) {
    auto it = std::find_if(dims.begin(), dims.end(), [&](const Dim& d) { return d.name == name; });
    if (it == dims.end()) it = dims.insert(dims.end(), Dim{name, length});
    if (dimid && !dimid->is_text && !dimid->values.empty()) it->dimid = dimid->values[0];
    it->unlimited = it->unlimited || unlimited;
  };
  for (const auto& p : h5::list_all_datasets(file.get())) {
    h5::Handle dset = h5::open_dataset(file.get(), p, path);
    const std::string what = "dataset '" + p + "' in '" + path + "'";
    const std::optional<DType> type = h5::dataset_numeric_type(dset.get(), what);
    const std::vector<std::size_t> shape = h5::dataset_shape(dset.get(), what);
    const bool scale = h5::is_dimension_scale(dset.get());
    std::vector<Attribute> attrs = h5::read_attributes(dset.get(), {}, what);
    const Attribute* dimid = find_attribute(attrs, "_Netcdf4Dimid");
    bool has_values = true;
    const std::string scale_name = scale ? h5::own_scale_name(dset.get(), has_values) : "";
    if (scale && shape.size() == 1) add_dim(scale_name, shape[0], dimid, h5::unlimited_axis(dset.get(), 0));
    if (!has_values || !type) continue;
    VariableInfo v;
    v.name = std::count(p.begin(), p.end(), '/') == 1 ? p.substr(1) : p;
    v.type = *type;
    v.shape = shape;
    v.chunks = h5::dataset_chunks(dset.get(), what);
    v.compression = h5::dataset_compression(dset.get(), what);
    const std::vector<std::string>& skip = skipped_attributes(dset.get());
    for (auto& a : attrs)
      if (std::find(skip.begin(), skip.end(), a.name) == skip.end()) v.attrs.push_back(std::move(a));
    for (unsigned d = 0; d < shape.size(); ++d) {
      std::optional<h5::Scale> sc = h5::attached_scale(dset.get(), d);
      std::string name = sc ? sc->name : (scale && d == 0 ? scale_name : "dim" + std::to_string(d));
      if (!sc && !(scale && d == 0)) add_dim(name, shape[d], nullptr, h5::unlimited_axis(dset.get(), d));
      v.dims.push_back(std::move(name));
    }
    s.vars.push_back(std::move(v));
  }
  std::stable_sort(dims.begin(), dims.end(), [](const Dim& a, const Dim& b) { return a.dimid < b.dimid; });
  for (std::size_t i = 0; i < dims.size(); ++i) {
    s.dims.emplace_back(dims[i].name, dims[i].length);
    if (dims[i].unlimited && s.unlimited < 0) s.unlimited = static_cast<int>(i);
  }
  return s;
}

namespace {

class Hdf5Source final : public Source {
 public:
  explicit Hdf5Source(InputMeta meta) : Source(std::move(meta)), open_(meta_.parts.size()) {}

  void read(const Box& box, void* dst) override {
    const VariableInfo& var = meta_.var;
    bool inside = box.start.size() == var.shape.size() && box.count.size() == var.shape.size();
    for (std::size_t i = 0; inside && i < box.rank(); ++i)
      inside = box.start[i] <= var.shape[i] && box.count[i] <= var.shape[i] - box.start[i];
    if (!inside)
      throw InputError("cannot read " + to_string(box) + " of '" + var.name + "': outside its index space " +
                       to_string(Box::whole(var.shape)));
    if (box.rank() == 0) {  // scalar: one file, one value
      h5::read_hyperslab(open_dataset(box, 0), var.type, {}, {}, dst, read_context(box, 0));
      return;
    }
    if (empty(box)) return;

    std::size_t row_bytes = dtype_size(var.type);
    for (std::size_t i = 1; i < box.rank(); ++i) row_bytes *= box.count[i];
    const std::size_t lo = box.start[0], hi = lo + box.count[0];
    for (std::size_t p = 0; p < meta_.parts.size(); ++p) {
      const FilePart& part = meta_.parts[p];
      const std::size_t a = std::max(lo, part.offset), b = std::min(hi, part.offset + part.length);
      if (a >= b) continue;
      std::vector<std::size_t> start = box.start, count = box.count;
      start[0] = a - part.offset;
      count[0] = b - a;
      // dst is C order over the whole box: this file's rows start (a - lo) rows in.
      void* out = static_cast<char*>(dst) + (a - lo) * row_bytes;
      h5::read_hyperslab(open_dataset(box, p), var.type, start, count, out, read_context(box, p));
    }
  }

 private:
  struct OpenPart {
    h5::Handle file;     // declared first: destroyed after the dataset
    h5::Handle dataset;
    std::uint64_t last_use = 0;
  };

  std::string read_context(const Box& box, std::size_t p) const {
    return "cannot read " + to_string(box) + " of dataset '" + meta_.var.name + "' from '" + meta_.parts[p].path +
           "'";
  }

  // dataset(p), with a failure to open reported as a failure to read `box`.
  hid_t open_dataset(const Box& box, std::size_t p) {
    try {
      return dataset(p);
    } catch (const InputError& e) {
      throw InputError(read_context(box, p) + ": " + e.what());
    }
  }

  // The open dataset of part p, opening it (and closing the least recently used) as needed.
  hid_t dataset(std::size_t p) {
    OpenPart& slot = open_[p];
    slot.last_use = ++clock_;
    if (slot.dataset) return slot.dataset.get();
    if (open_count_ >= kMaxOpenFiles) close_least_recent();
    const FilePart& part = meta_.parts[p];
    h5::Handle file = h5::open_file(part.path);
    h5::Handle dset = open_variable(file.get(), meta_.var.name, part.path);
    // Guard against files that changed since the scan: a clear message beats a hyperslab error.
    const std::string what = "dataset '" + meta_.var.name + "' in '" + part.path + "'";
    std::vector<std::size_t> expected = meta_.var.shape;
    if (!expected.empty()) expected[0] = part.length;
    if (h5::dataset_shape(dset.get(), what) != expected || h5::dataset_dtype(dset.get(), what) != meta_.var.type)
      throw InputError(what + " changed since the input was scanned (expected shape " +
                       to_string(Box::whole(expected)) + " of type " + dtype_name(meta_.var.type) + ")");
    slot.file = std::move(file);
    slot.dataset = std::move(dset);
    ++open_count_;
    return slot.dataset.get();
  }

  void close_least_recent() {
    OpenPart* victim = nullptr;
    for (OpenPart& o : open_)
      if (o.dataset && (!victim || o.last_use < victim->last_use)) victim = &o;
    if (!victim) return;
    victim->dataset.reset();
    victim->file.reset();
    --open_count_;
  }

  std::vector<OpenPart> open_;
  std::uint64_t clock_ = 0;
  std::size_t open_count_ = 0;
};

}  // namespace

std::unique_ptr<Source> open_hdf5_source(const InputMeta& meta) { return std::make_unique<Hdf5Source>(meta); }

}  // namespace tessera
