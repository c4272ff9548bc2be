#include "job/job_parser.hpp"

#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

#include "core/error.hpp"
#include "core/sha256.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

// ---- Message helpers

[[noreturn]] void fail_at(const std::string& label, const YAML::Mark& mark, const std::string& msg) {
  // yaml-cpp marks are 0-based (-1 when unknown); editors and compilers count from 1.
  throw JobError(label + ":" + std::to_string(std::max(mark.line, 0) + 1) + ":" +
                 std::to_string(std::max(mark.column, 0) + 1) + ": " + msg);
}

std::string join(const std::vector<std::string>& items) {
  std::string out;
  for (const auto& s : items) out += (out.empty() ? "" : ", ") + s;
  return out;
}

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> row(b.size() + 1);  // Levenshtein, one row at a time
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diag = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t up = row[j];
      row[j] = std::min({up + 1, row[j - 1] + 1, diag + (a[i - 1] != b[j - 1] ? 1 : 0)});
      diag = up;
    }
  }
  return row[b.size()];
}

// "; did you mean 'x'?" when the closest candidate is a plausible typo of `word`, else "".
std::string did_you_mean(const std::string& word, const std::vector<std::string>& candidates) {
  const std::string* best = nullptr;
  std::size_t best_distance = 0;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(word, c);
    if (!best || d < best_distance) best = &c, best_distance = d;
  }
  const bool close = best && best_distance < word.size() &&
                     (best_distance <= 2 || best_distance <= word.size() / 3);
  return close ? "; did you mean '" + *best + "'?" : "";
}

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Map: return node.size() ? "a map" : "an empty map";
    case YAML::NodeType::Sequence: return node.size() ? "a list" : "an empty list";
    case YAML::NodeType::Scalar: return "'" + node.Scalar() + "'";
    default: return "nothing";
  }
}

// ---- Field: a node plus what is needed to report errors about it

// A node of the job file with the file label, how messages name it ("'ddof' in reduction
// 'x'") and its position. The readers check node types first, so yaml-cpp never throws.
// A missing value is placed at `fallback` (its key, or the enclosing node): yaml-cpp marks
// an empty value at the token after it, often on the next line.
class Field {
 public:
  Field(const YAML::Node& node, const std::string& label, std::string name, std::string scope,
        const YAML::Mark& fallback)
      : node_(node), label_(&label), name_(std::move(name)), scope_(std::move(scope)),
        mark_(node.IsDefined() && !node.IsNull() ? node.Mark() : fallback) {}

  const YAML::Node& node() const { return node_; }
  const std::string& name() const { return name_; }
  SourcePos pos() const { return {std::max(mark_.line, 0) + 1, std::max(mark_.column, 0) + 1}; }
  bool present() const { return node_.IsDefined(); }

  [[noreturn]] void fail(const std::string& msg) const { fail_at(*label_, mark_, msg); }
  void expect(bool ok, const std::string& what) const {
    if (ok) return;
    if (node_.IsNull()) fail(name_ + " has no value; give " + what);
    fail(name_ + " must be " + what + ", not " + describe(node_));
  }

  // A node nested in this one (map key or value, list entry), named `name` in messages.
  Field sub(const YAML::Node& node, const std::string& name) const { return sub(node, name, mark_); }
  Field sub(const YAML::Node& node, const std::string& name, const YAML::Mark& fallback) const {
    return Field(node, *label_, name, " in " + name, fallback);
  }

  // This node must be a map whose keys are all in `allowed`, each once.
  void as_map(const std::vector<std::string>& allowed) const {
    expect(node_.IsMap(), "a map (keys: " + join(allowed) + ")");
    std::vector<std::string> seen;
    for (const auto& kv : node_) {
      const Field key = sub(kv.first, "a key in " + name_);
      const std::string k = key.text();
      if (std::find(allowed.begin(), allowed.end(), k) == allowed.end()) {
        const std::string hint = did_you_mean(k, allowed);
        key.fail("unknown key '" + k + "' in " + name_ + (hint.empty() ? "; valid keys are " + join(allowed) : hint));
      }
      if (std::find(seen.begin(), seen.end(), k) != seen.end())
        key.fail("key '" + k + "' appears twice in " + name_ + "; keep one");
      seen.push_back(k);
    }
  }
  // Map lookups (call as_map first). An absent key gives a field with present() == false.
  Field get(const std::string& key) const {
    const std::string name = "'" + key + "'" + scope_;
    for (const auto& kv : node_)
      if (kv.first.Scalar() == key) return Field(kv.second, *label_, name, " in " + name, kv.first.Mark());
    return Field(node_[key], *label_, name, " in " + name, mark_);  // an undefined node
  }
  Field need(const std::string& key) const {
    Field field = get(key);
    if (!field.present()) fail("missing required key '" + key + "' in " + name_);
    return field;
  }

  // Typed readers.
  std::string text() const {
    expect(node_.IsScalar(), "a string");
    if (node_.Scalar().empty()) fail(name_ + " must not be empty");
    return node_.Scalar();
  }
  bool flag() const {
    bool value = false;
    expect(YAML::convert<bool>::decode(node_, value), "true or false");
    return value;
  }
  double real() const {
    double value = 0;
    expect(node_.IsScalar() && YAML::convert<double>::decode(node_, value) && std::isfinite(value), "a number");
    return value;
  }
  // A non-empty list of numbers; a single number stands for a one-entry list.
  std::vector<double> reals() const {
    if (node_.IsScalar()) return {real()};
    expect(node_.IsSequence() && node_.size() > 0, "a number or a non-empty list of numbers");
    std::vector<double> out;
    for (const auto& item : node_) out.push_back(sub(item, "each entry of " + name_).real());
    return out;
  }
  int count() const {
    int value = -1;
    expect(YAML::convert<int>::decode(node_, value) && value >= 0, "an integer >= 0");
    return value;
  }
  // A list of distinct non-empty strings; a single string stands for a one-entry list.
  std::vector<std::string> names() const {
    if (node_.IsScalar()) return {text()};
    expect(node_.IsSequence() && node_.size() > 0, "a string or a non-empty list of strings");
    std::vector<std::string> out;
    for (const auto& item : node_) {
      const Field entry = sub(item, "each entry of " + name_);
      std::string s = entry.text();
      if (std::find(out.begin(), out.end(), s) != out.end())
        entry.fail("'" + s + "' appears twice in " + name_ + "; list it once");
      out.push_back(std::move(s));
    }
    return out;
  }

 private:
  YAML::Node node_;
  const std::string* label_;
  std::string name_;   // how messages name this node
  std::string scope_;  // appended to the names of its keys: " in 'output'"
  YAML::Mark mark_;
};

// ---- Value rules

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool is_ident_start(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }
bool is_ident_char(char c) { return is_ident_start(c) || (c >= '0' && c <= '9'); }

// Job names end up in file names and reports, so they are kept to a safe, portable alphabet.
bool is_job_name(const std::string& s) {
  return !s.empty() && s.size() <= 63 && is_lower_alnum(s[0]) &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

// Aliases and output names are NetCDF variable names, restricted to C-identifier form.
bool is_identifier(const std::string& s) {
  return !s.empty() && is_ident_start(s[0]) && std::all_of(s.begin(), s.end(), is_ident_char);
}

// "s3://bucket/x", "https://host/x": remote objects are passed to the I/O layer as written.
bool is_url(const std::string& s) {
  const std::size_t colon = s.find("://");
  if (colon == std::string::npos || colon == 0 || !is_ident_start(s[0]) || s[0] == '_') return false;
  return std::all_of(s.begin(), s.begin() + colon,
                     [](char c) { return is_ident_char(c) || c == '+' || c == '-' || c == '.'; });
}

// Local paths (globs included) are made absolute so later stages need not know the job's folder.
std::string resolve_path(const std::string& path, const fs::path& base) {
  return is_url(path) ? path : (base / path).lexically_normal().string();
}

// ---- Sections

// `select: {dim: value | [lo, hi]}`: values stay text until the file's coordinates (and calendar) are known.
std::vector<SelectSpec> read_select(const Field& f) {
  f.expect(f.node().IsMap() && f.node().size() > 0, "a map from dimension names to a value or a [first, last] range");
  std::vector<SelectSpec> out;
  for (const auto& kv : f.node()) {
    const Field key = f.sub(kv.first, "a dimension in " + f.name());
    SelectSpec s;
    s.dim = key.text();
    for (const auto& other : out)
      if (other.dim == s.dim) key.fail("dimension '" + s.dim + "' appears twice in " + f.name() + "; keep one");
    s.pos = key.pos();
    const Field v = f.sub(kv.second, "'" + s.dim + "' in " + f.name(), kv.first.Mark());
    if (v.node().IsSequence()) {
      v.expect(v.node().size() == 2, "a single value or a [first, last] range of two values");
      for (const auto& item : v.node()) s.values.push_back(v.sub(item, "each bound of " + v.name()).text());
    } else {
      s.values.push_back(v.text());
    }
    out.push_back(std::move(s));
  }
  return out;
}

std::vector<InputSpec> read_inputs(const Field& f, const fs::path& base) {
  f.expect(f.node().IsMap() && f.node().size() > 0, "a map of input aliases, each with path and variable");
  std::vector<InputSpec> inputs;
  for (const auto& kv : f.node()) {
    const Field key = f.sub(kv.first, "an input alias");
    InputSpec in;
    in.alias = key.text();
    if (!is_identifier(in.alias))
      key.fail("input alias '" + in.alias + "' is not valid; use a letter or '_' followed by letters, digits or '_'");
    for (const auto& other : inputs)
      if (other.alias == in.alias) key.fail("input '" + in.alias + "' is defined twice; rename or remove one");
    in.pos = key.pos();

    const Field entry = f.sub(kv.second, "input '" + in.alias + "'", kv.first.Mark());
    entry.as_map({"path", "paths", "variable", "select", "endpoint", "region", "anonymous"});
    const Field path = entry.get("path"), paths = entry.get("paths");
    if (path.present() && paths.present())
      paths.fail(entry.name() + " has both 'path' and 'paths'; keep one");
    if (!path.present() && !paths.present())
      entry.fail("missing required key 'path' (or 'paths') in " + entry.name());
    for (const auto& p : path.present() ? std::vector<std::string>{path.text()} : paths.names())
      in.paths.push_back(resolve_path(p, base));
    in.variable = entry.need("variable").text();
    if (const Field select = entry.get("select"); select.present()) in.select = read_select(select);
    if (const Field e = entry.get("endpoint"); e.present()) {
      in.endpoint = e.text();
      if (in.endpoint.rfind("http://", 0) != 0 && in.endpoint.rfind("https://", 0) != 0)
        e.fail("endpoint '" + in.endpoint + "' of " + entry.name() + " must start with http:// or https://");
    }
    if (const Field r = entry.get("region"); r.present()) in.region = r.text();
    if (const Field a = entry.get("anonymous"); a.present()) in.anonymous = a.flag();
    inputs.push_back(std::move(in));
  }
  return inputs;
}

// The climate vocabulary: grouping, weights, conditions, anomalies and the extra ops' parameters.
void read_climate_keys(const Field& r, ReductionSpec& red, const std::string& op_text,
                       const std::vector<ReductionSpec>& earlier) {
  if (const Field f = r.get("select"); f.present()) red.select = read_select(f);
  const Field groupby = r.get("groupby"), resample = r.get("resample");
  if (groupby.present() && resample.present())
    resample.fail(r.name() + " has both 'groupby' and 'resample'; a reduction groups time one way, keep one");
  auto one_of = [](const Field& f, const std::vector<std::string>& allowed) {
    const std::string s = f.text();
    if (std::find(allowed.begin(), allowed.end(), s) == allowed.end())
      f.fail(f.name() + " must be one of " + join(allowed) + ", not '" + s + "'" + did_you_mean(s, allowed));
    return s;
  };
  if (groupby.present()) red.groupby = one_of(groupby, {"month", "season", "dayofyear", "year", "hour"});
  if (resample.present()) red.resample = one_of(resample, {"day", "month", "season", "year"});

  if (const Field f = r.get("weights"); f.present()) {
    red.weights = f.text();
    if (red.op != Op::sum && red.op != Op::mean && red.op != Op::var && red.op != Op::std)
      f.fail(f.name() + " applies to op sum, mean, var or std, not '" + op_text + "'; remove it");
    if (red.ddof != 0) f.fail(f.name() + " cannot be combined with ddof (weighted variances are population variances)");
  }
  if (const Field f = r.get("where"); f.present()) {
    f.as_map({"gt", "ge", "lt", "le", "between"});
    if (f.node().size() != 1) f.fail(f.name() + " must hold exactly one condition (gt, ge, lt, le or between)");
    red.where_op = f.node().begin()->first.Scalar();
    const Field v = f.get(red.where_op);
    if (red.where_op == "between") {
      const std::vector<double> ab = v.reals();
      if (ab.size() != 2 || !(ab[0] <= ab[1])) v.fail(v.name() + " must be [low, high] with low <= high (both inclusive)");
      red.where_a = ab[0], red.where_b = ab[1];
    } else {
      red.where_a = v.real();
    }
    if (red.op != Op::count && red.op != Op::sum && red.op != Op::mean && red.op != Op::frequency)
      f.fail(f.name() + " applies to op count, sum, mean or frequency, not '" + op_text + "'; remove it");
  } else if (red.op == Op::frequency) {
    r.fail("op frequency in " + r.name() + " needs a 'where' condition, e.g. where: {gt: 303.15}");
  }
  if (const Field f = r.get("min_valid"); f.present()) {
    red.min_valid = f.real();
    if (!(red.min_valid > 0 && red.min_valid <= 1)) f.fail(f.name() + " must be a fraction in (0, 1], e.g. 0.8");
  }
  if (const Field f = r.get("anomaly_of"); f.present()) {
    red.anomaly_of = f.text();
    const ReductionSpec* base = nullptr;
    for (const auto& e : earlier)
      if (e.name == red.anomaly_of) base = &e;
    if (!base) {
      std::vector<std::string> names;
      for (const auto& e : earlier) names.push_back(e.name);
      f.fail(f.name() + " names '" + red.anomaly_of + "', which is not a reduction listed before this one" +
             did_you_mean(red.anomaly_of, names));
    }
    if (base->input != red.input)
      f.fail(f.name() + ": '" + red.anomaly_of + "' reduces input '" + base->input + "', not '" + red.input +
             "'; an anomaly subtracts a result of the same input");
    if (!base->anomaly_of.empty() || base->op == Op::histogram || base->op == Op::count || base->op == Op::frequency ||
        base->op == Op::quantile)
      f.fail(f.name() + ": '" + red.anomaly_of + "' must be a plain statistic (mean, median, min, max, sum, var, std) "
             "without anomaly_of of its own");
  }
  if (const Field f = r.get("q"); f.present()) {
    if (red.op != Op::quantile) f.fail(f.name() + " only applies to op quantile, not '" + op_text + "'");
    red.q = f.reals();
    for (double q : red.q)
      if (!(q >= 0 && q <= 1)) f.fail(f.name() + " holds " + std::to_string(q) + "; quantile levels are in [0, 1] (0.9 for the 90th percentile)");
  } else if (red.op == Op::quantile) {
    r.fail("op quantile in " + r.name() + " needs 'q', e.g. q: [0.5, 0.9]");
  }
  if (const Field f = r.get("bins"); f.present()) {
    if (red.op != Op::histogram) f.fail(f.name() + " only applies to op histogram, not '" + op_text + "'");
    red.bins = f.reals();
    if (red.bins.size() < 2) f.fail(f.name() + " needs at least two edges (one bin)");
    for (std::size_t i = 1; i < red.bins.size(); ++i)
      if (!(red.bins[i] > red.bins[i - 1])) f.fail(f.name() + " must be strictly increasing edges");
  } else if (red.op == Op::histogram) {
    r.fail("op histogram in " + r.name() + " needs 'bins' (edges), e.g. bins: [250, 270, 290, 310]");
  }
}

ReductionSpec read_reduction(const Field& r, const std::vector<InputSpec>& inputs,
                             const std::vector<ReductionSpec>& earlier) {
  r.as_map({"name", "input", "op", "over", "ddof", "select", "groupby", "resample", "weights", "where", "min_valid",
            "anomaly_of", "q", "bins"});
  ReductionSpec red;
  red.pos = r.pos();

  const Field name = r.need("name");
  red.name = name.text();
  if (!is_identifier(red.name))
    name.fail("reduction name '" + red.name +
              "' is not a valid variable name; use a letter or '_' followed by letters, digits or '_'");
  for (const auto& other : earlier)
    if (other.name == red.name)
      name.fail("reduction name '" + red.name + "' is already used by the reduction at line " +
                std::to_string(other.pos.line) + "; output variable names must be unique");

  std::vector<std::string> aliases;
  for (const auto& in : inputs) aliases.push_back(in.alias);
  const Field input = r.get("input");
  if (input.present()) {
    red.input = input.text();
    if (std::find(aliases.begin(), aliases.end(), red.input) == aliases.end())
      input.fail("unknown input '" + red.input + "' in " + r.name() + did_you_mean(red.input, aliases) +
                 "; the inputs are " + join(aliases));
  } else if (inputs.size() == 1) {
    red.input = inputs.front().alias;  // unambiguous, so optional
  } else {
    r.fail("missing required key 'input' in " + r.name() + "; the job has " + std::to_string(inputs.size()) +
           " inputs (" + join(aliases) + "), so name one");
  }

  const Field op = r.need("op");
  const std::string op_text = op.text();
  if (!parse_op(op_text, red.op))
    op.fail("unknown op '" + op_text + "' in " + r.name() + did_you_mean(op_text, op_names()) +
            "; valid ops are " + join(op_names()));

  red.over = r.need("over").names();

  const Field ddof = r.get("ddof");
  if (ddof.present()) {
    if (red.op != Op::var && red.op != Op::std)
      ddof.fail(ddof.name() + " only applies to op var or std, not '" + op_text + "'; remove it");
    red.ddof = ddof.count();
  }
  read_climate_keys(r, red, op_text, earlier);
  return red;
}

std::vector<ReductionSpec> read_reductions(const Field& f, const std::vector<InputSpec>& inputs) {
  f.expect(f.node().IsSequence() && f.node().size() > 0, "a non-empty list of reductions");
  std::vector<ReductionSpec> reductions;
  for (const auto& item : f.node()) {
    // Name the entry by its `name:` when it has one, by its place in the list otherwise.
    const YAML::Node name = item.IsMap() ? item["name"] : YAML::Node();
    const std::string what = name.IsDefined() && name.IsScalar()
                                 ? "reduction '" + name.Scalar() + "'"
                                 : "reduction " + std::to_string(reductions.size() + 1);
    reductions.push_back(read_reduction(f.sub(item, what), inputs, reductions));
  }
  return reductions;
}

OutputSpec read_output(const Field& f, const fs::path& base) {
  f.as_map({"path", "overwrite", "dtype"});
  OutputSpec out;
  out.path = resolve_path(f.need("path").text(), base);
  if (const Field overwrite = f.get("overwrite"); overwrite.present()) out.overwrite = overwrite.flag();
  if (const Field dtype = f.get("dtype"); dtype.present()) {
    const std::string s = dtype.text();
    DType t{};
    if (!parse_dtype(s, t) || !dtype_is_float(t))
      dtype.fail(dtype.name() + " must be float or double, not '" + s + "'" + did_you_mean(s, {"float", "double"}));
    out.dtype = t;
  }
  return out;
}

CheckpointSpec read_checkpoint(const Field& f, const fs::path& base) {
  f.as_map({"dir", "every"});
  CheckpointSpec c;
  c.pos = f.pos();
  c.dir = resolve_path(f.need("dir").text(), base);
  if (const Field every = f.get("every"); every.present()) {
    const std::string s = every.text();
    if (!parse_duration(s, c.every_seconds))
      every.fail(every.name() + " must be a positive duration such as 30s, 5min, 1h or 2d (units s, min, h, d), "
                 "not '" + s + "'");
  }
  return c;
}

RunSpec read_run(const Field& f, const fs::path& base) {
  f.as_map({"memory_per_rank", "checkpoint"});
  RunSpec run;
  if (const Field ck = f.get("checkpoint"); ck.present()) run.checkpoint = read_checkpoint(ck, base);
  if (const Field memory = f.get("memory_per_rank"); memory.present()) {
    const std::string s = memory.text();
    if (!parse_byte_size(s, run.memory_per_rank))
      memory.fail(memory.name() + " must be a byte size such as 512MiB or 2GB (units B, KB, MB, GB, TB, "
                  "KiB, MiB, GiB, TiB), not '" + s + "'");
    if (run.memory_per_rank < (1ull << 20))
      memory.fail(memory.name() + " is " + std::to_string(run.memory_per_rank) +
                  " bytes, below the minimum of 1MiB (1048576 bytes); raise it");
  }
  return run;
}

JobSpec read_job(const YAML::Node& root, const std::string& label, const fs::path& base) {
  const Field top(root, label, "the top level", "", YAML::Mark());
  top.as_map({"name", "inputs", "reductions", "output", "run", "version"});
  JobSpec spec;
  if (const Field version = top.get("version"); version.present()) {
    int v = 0;
    version.expect(YAML::convert<int>::decode(version.node(), v) && v == 1,
                   "1 (the only job file version this Tessera reads)");
  }
  const Field name = top.need("name");
  spec.name = name.text();
  if (!is_job_name(spec.name))
    name.fail("job name '" + spec.name + "' is not valid; use 1 to 63 lowercase letters, digits and '-', "
              "starting with a letter or digit (e.g. 'tas-stats')");
  spec.inputs = read_inputs(top.need("inputs"), base);
  spec.reductions = read_reductions(top.need("reductions"), spec.inputs);
  spec.output = read_output(top.need("output"), base);
  if (const Field run = top.get("run"); run.present()) spec.run = read_run(run, base);
  return spec;
}

// yaml-cpp 0.7's LoadAll never returns on some malformed streams (a lone ','): its parser
// yields empty documents without consuming the bad token, and LoadAll collects them until memory
// runs out (yaml-cpp #1040, fixed upstream in 0.8.1). So documents are counted through events,
// stopping when one starts where the previous did, and only the first is built (YAML::Load).
struct DocumentShape {
  YAML::Mark mark;    // of its root node (of the document start when empty)
  bool null = true;   // no content besides nulls
};

class DocumentCounter : public YAML::EventHandler {
 public:
  std::vector<DocumentShape> docs;
  void OnDocumentStart(const YAML::Mark& mark) override { docs.push_back({mark, true}); }
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override { content(mark); }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t, const std::string&) override {
    content(mark);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    content(mark);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t, YAML::EmitterStyle::value) override {
    content(mark);
  }
  void OnMapEnd() override {}

 private:
  void content(const YAML::Mark& mark) {
    if (docs.back().null) docs.back() = {mark, false};
  }
};

std::vector<DocumentShape> count_documents(const std::string& text, const std::string& label) {
  std::istringstream in(text);
  YAML::Parser parser(in);
  DocumentCounter counter;
  while (parser.HandleNextDocument(counter)) {
    const auto& d = counter.docs;
    if (d.size() >= 2 && d.back().null && d[d.size() - 2].mark.pos == d.back().mark.pos)
      fail_at(label, d.back().mark, "invalid YAML: unexpected character; a ',' outside [...] or {...}?");
  }
  return counter.docs;
}

}  // namespace

bool parse_byte_size(const std::string& text, std::uint64_t& bytes) {
  constexpr std::uint64_t max = std::numeric_limits<std::uint64_t>::max();
  std::uint64_t n = 0;
  std::size_t i = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    const std::uint64_t digit = std::uint64_t(text[i] - '0');
    if (n > (max - digit) / 10) return false;
    n = n * 10 + digit;
  }
  if (i == 0) return false;
  const std::size_t digits_end = i;
  while (i < text.size() && text[i] == ' ') ++i;
  const std::string unit = text.substr(i);
  if (unit.empty() && i != digits_end) return false;  // trailing space with no unit

  static const struct { const char* unit; std::uint64_t scale; } units[] = {
      {"", 1},           {"B", 1},          {"KB", 1000ull},   {"MB", 1000000ull},
      {"GB", 1000000000ull}, {"TB", 1000000000000ull}, {"KiB", 1ull << 10}, {"MiB", 1ull << 20},
      {"GiB", 1ull << 30},   {"TiB", 1ull << 40}};
  for (const auto& u : units) {
    if (unit != u.unit) continue;
    if (n > max / u.scale) return false;
    bytes = n * u.scale;
    return true;
  }
  return false;
}

bool parse_duration(const std::string& text, double& seconds) {
  std::size_t i = 0;
  double n = 0;
  for (; i < text.size() && text[i] >= '0' && text[i] <= '9'; ++i) {
    n = n * 10 + (text[i] - '0');
    if (n > 1e12) return false;
  }
  if (i == 0) return false;
  while (i < text.size() && text[i] == ' ') ++i;
  const std::string unit = text.substr(i);
  static const struct { const char* unit; double scale; } units[] = {
      {"", 1}, {"s", 1}, {"sec", 1}, {"min", 60}, {"h", 3600}, {"d", 86400}};
  for (const auto& u : units)
    if (unit == u.unit) {
      seconds = n * u.scale;
      return seconds > 0;
    }
  return false;
}

JobSpec parse_job_text(const std::string& text, const std::string& label, const std::string& base_dir) {
  fs::path base = fs::absolute(base_dir.empty() ? fs::path(".") : fs::path(base_dir)).lexically_normal();
  if (!base.has_filename() && base.has_relative_path()) base = base.parent_path();  // drop a trailing '/'

  std::vector<DocumentShape> docs;
  YAML::Node root;
  try {
    docs = count_documents(text, label);
    while (!docs.empty() && docs.back().null) docs.pop_back();  // e.g. a trailing '---'
    if (docs.size() == 1) root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    fail_at(label, e.mark, "invalid YAML: " + e.msg);
  }
  if (docs.empty())
    fail_at(label, YAML::Mark(), "the job file is empty; it needs at least name, inputs, reductions and output");
  if (docs.size() > 1)
    fail_at(label, docs[1].mark, "the job file holds " + std::to_string(docs.size()) +
                                     " YAML documents; put the job in a single document");

  JobSpec spec;
  try {
    spec = read_job(root, label, base);
  } catch (const YAML::Exception& e) {  // safety net: the readers are meant to prevent these
    fail_at(label, e.mark, e.msg);
  }
  spec.file = label;
  spec.dir = base.string();
  spec.hash = sha256_hex(text);
  return spec;
}

std::string read_job_file(const std::string& path) {
  errno = 0;
  std::ifstream in(path, std::ios::binary);
  const int open_error = errno;
  std::error_code ec;
  if (!in || fs::is_directory(path, ec)) {
    const int err = !in ? (open_error ? open_error : ENOENT) : EISDIR;
    throw JobError("cannot read job file '" + path + "': " + std::strerror(err));
  }
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) throw JobError("cannot read job file '" + path + "': " + std::strerror(errno));
  return text.str();
}

JobSpec parse_job_file_text(const std::string& path, const std::string& text) {
  const fs::path dir = fs::path(path).parent_path();
  return parse_job_text(text, path, dir.empty() ? "." : dir.string());
}

JobSpec parse_job_file(const std::string& path) { return parse_job_file_text(path, read_job_file(path)); }

}  // namespace tessera
