#include "job/job_parser.hpp"

#include <gtest/gtest.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "core/error.hpp"
#include "core/sha256.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

// A minimal valid job; tests append to it or spell out their own text when positions matter.
const std::string k_minimal = R"(name: tas-stats
inputs:
  tas:
    path: data/tas_*.nc
    variable: tas
reductions:
  - name: tas_mean
    op: mean
    over: [time]
output:
  path: out/tas-stats.nc
)";

JobSpec parse(const std::string& text) { return parse_job_text(text, "job.yaml", "/base/dir"); }

// The JobError message for `text`, or a marker when it parses.
std::string error_of(const std::string& text) {
  try {
    parse(text);
  } catch (const JobError& e) {
    return e.what();
  }
  return "(parsed without error)";
}

::testing::AssertionResult has(const std::string& text, const std::string& part) {
  if (text.find(part) != std::string::npos) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << part << "' not in: " << text;
}

::testing::AssertionResult starts_with(const std::string& text, const std::string& prefix) {
  if (text.rfind(prefix, 0) == 0) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << "'" << text << "' does not start with '" << prefix << "'";
}

// ---- Valid jobs

TEST(JobParser, FullJobRoundTrips) {
  const std::string text = R"(version: 1
name: climate-2
inputs:
  tas:
    paths: [a/tas_1.nc, /abs/tas_2.nc]
    variable: tas
  pr:
    path: s3://bucket/pr_*.nc
    variable: /grp/pr
reductions:
  - name: tas_var
    input: tas
    op: var
    over: [time, lat]
    ddof: 1
  - name: pr_max
    input: pr
    op: max
    over: time
output:
  path: out/result.nc
  overwrite: true
  dtype: double
run:
  memory_per_rank: 2GiB
)";
  const JobSpec spec = parse(text);
  EXPECT_EQ(spec.file, "job.yaml");
  EXPECT_EQ(spec.dir, "/base/dir");
  EXPECT_EQ(spec.hash, sha256_hex(text));
  EXPECT_EQ(spec.name, "climate-2");

  ASSERT_EQ(spec.inputs.size(), 2u);
  EXPECT_EQ(spec.inputs[0].alias, "tas");
  EXPECT_EQ(spec.inputs[0].paths, (std::vector<std::string>{"/base/dir/a/tas_1.nc", "/abs/tas_2.nc"}));
  EXPECT_EQ(spec.inputs[0].variable, "tas");
  EXPECT_EQ(spec.inputs[0].pos.line, 4);
  EXPECT_EQ(spec.inputs[0].pos.column, 3);
  EXPECT_EQ(spec.inputs[1].alias, "pr");
  EXPECT_EQ(spec.inputs[1].paths, (std::vector<std::string>{"s3://bucket/pr_*.nc"}));
  EXPECT_EQ(spec.inputs[1].variable, "/grp/pr");
  EXPECT_EQ(spec.inputs[1].pos.line, 7);

  ASSERT_EQ(spec.reductions.size(), 2u);
  const ReductionSpec& v = spec.reductions[0];
  EXPECT_EQ(v.name, "tas_var");
  EXPECT_EQ(v.input, "tas");
  EXPECT_EQ(v.op, Op::var);
  EXPECT_EQ(v.over, (std::vector<std::string>{"time", "lat"}));
  EXPECT_EQ(v.ddof, 1);
  EXPECT_EQ(v.pos.line, 11);
  EXPECT_EQ(v.pos.column, 5);
  const ReductionSpec& m = spec.reductions[1];
  EXPECT_EQ(m.name, "pr_max");
  EXPECT_EQ(m.input, "pr");
  EXPECT_EQ(m.op, Op::max);
  EXPECT_EQ(m.over, (std::vector<std::string>{"time"}));  // a single string is a one-entry list
  EXPECT_EQ(m.ddof, 0);
  EXPECT_EQ(m.pos.line, 16);

  EXPECT_EQ(spec.output.path, "/base/dir/out/result.nc");
  EXPECT_TRUE(spec.output.overwrite);
  ASSERT_TRUE(spec.output.dtype.has_value());
  EXPECT_EQ(*spec.output.dtype, DType::f64);
  EXPECT_EQ(spec.run.memory_per_rank, 2ull << 30);

  ASSERT_NE(spec.find_input("pr"), nullptr);
  EXPECT_EQ(spec.find_input("pr")->variable, "/grp/pr");
  EXPECT_EQ(spec.find_input("nope"), nullptr);
}

TEST(JobParser, Defaults) {
  const JobSpec spec = parse(k_minimal);
  EXPECT_EQ(spec.run.memory_per_rank, 512ull << 20);
  EXPECT_FALSE(spec.output.overwrite);
  EXPECT_FALSE(spec.output.dtype.has_value());
  ASSERT_EQ(spec.reductions.size(), 1u);
  EXPECT_EQ(spec.reductions[0].input, "tas");  // the only input
  EXPECT_EQ(spec.reductions[0].ddof, 0);
  EXPECT_EQ(spec.inputs[0].paths, (std::vector<std::string>{"/base/dir/data/tas_*.nc"}));  // glob kept
}

TEST(JobParser, EveryOpParses) {
  for (const std::string& op : op_names()) {
    std::string ddof = op == "var" || op == "std" ? "    ddof: 1\n" : "";
    if (op == "frequency") ddof = "    where: {gt: 300}\n";
    if (op == "quantile") ddof = "    q: [0.5, 0.9]\n";
    if (op == "histogram") ddof = "    bins: [250, 300, 350]\n";
    std::string text = k_minimal;
    text.replace(text.find("op: mean"), 8, "op: " + op + "\n" + ddof);
    const JobSpec spec = parse(text);
    EXPECT_EQ(op_name(spec.reductions[0].op), op);
  }
  Op op{};
  EXPECT_FALSE(parse_op("percentile", op));
}

TEST(JobParser, FloatDtypes) {
  EXPECT_EQ(*parse(k_minimal + "  dtype: float\n").output.dtype, DType::f32);
  EXPECT_EQ(*parse(k_minimal + "  dtype: float64\n").output.dtype, DType::f64);
}

TEST(JobParser, RelativePathsResolveAgainstBaseDir) {
  std::string text = k_minimal;
  text.replace(text.find("data/tas_*.nc"), 13, "../data/./tas_*.nc");
  text.replace(text.find("out/tas-stats.nc"), 16, "/abs//x/../out.nc");
  const JobSpec spec = parse_job_text(text, "job.yaml", "/base/dir/");  // trailing '/' is dropped
  EXPECT_EQ(spec.dir, "/base/dir");
  EXPECT_EQ(spec.inputs[0].paths[0], "/base/data/tas_*.nc");
  EXPECT_EQ(spec.output.path, "/abs/out.nc");
}

TEST(JobParser, RelativeBaseDirIsMadeAbsolute) {
  const JobSpec spec = parse_job_text(k_minimal, "job.yaml", "sub");
  EXPECT_EQ(spec.dir, (fs::current_path() / "sub").string());
  EXPECT_EQ(spec.output.path, (fs::current_path() / "sub/out/tas-stats.nc").string());
}

TEST(JobParser, UrlsAreKeptAsWritten) {
  std::string text = k_minimal;
  text.replace(text.find("data/tas_*.nc"), 13, "s3://bucket/a/../tas_*.nc");
  text.replace(text.find("out/tas-stats.nc"), 16, "https://host/out.nc");
  const JobSpec spec = parse(text);
  EXPECT_EQ(spec.inputs[0].paths[0], "s3://bucket/a/../tas_*.nc");
  EXPECT_EQ(spec.output.path, "https://host/out.nc");
}

TEST(JobParser, TrailingDocumentSeparatorIsFine) {
  EXPECT_EQ(parse(k_minimal + "---\n").name, "tas-stats");
}

// ---- Files

class JobFile : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() / ("tessera_job_test_" + std::to_string(::getpid()));
    fs::create_directories(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST_F(JobFile, ResolvesAgainstTheFilesFolder) {
  const fs::path file = dir_ / "job.yaml";
  std::ofstream(file) << k_minimal;
  const JobSpec spec = parse_job_file(file.string());
  EXPECT_EQ(spec.file, file.string());
  EXPECT_EQ(spec.dir, dir_.string());
  EXPECT_EQ(spec.inputs[0].paths[0], (dir_ / "data/tas_*.nc").string());
  EXPECT_EQ(spec.hash, sha256_hex(k_minimal));
}

TEST_F(JobFile, ErrorsNameTheFileAsGiven) {
  const fs::path file = dir_ / "bad.yaml";
  std::ofstream(file) << "name: x\nbogus: 1\n";
  try {
    parse_job_file(file.string());
    FAIL() << "expected a JobError";
  } catch (const JobError& e) {
    EXPECT_TRUE(starts_with(e.what(), file.string() + ":2:1: unknown key 'bogus' in the top level"));
  }
}

TEST_F(JobFile, MissingFile) {
  const std::string path = (dir_ / "missing.yaml").string();
  try {
    parse_job_file(path);
    FAIL() << "expected a JobError";
  } catch (const JobError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot read job file '" + path + "': No such file or directory");
    EXPECT_EQ(e.code(), ExitCode::usage);
  }
}

TEST_F(JobFile, DirectoryIsNotAJobFile) {
  try {
    parse_job_file(dir_.string());
    FAIL() << "expected a JobError";
  } catch (const JobError& e) {
    EXPECT_TRUE(has(e.what(), "cannot read job file '" + dir_.string() + "': Is a directory"));
  }
}

TEST_F(JobFile, EmptyFile) {
  const fs::path file = dir_ / "empty.yaml";
  std::ofstream{file};
  EXPECT_THROW(parse_job_file(file.string()), JobError);
}

// ---- Document-level errors

TEST(JobParserErrors, EmptyText) {
  EXPECT_TRUE(starts_with(error_of(""), "job.yaml:1:1: the job file is empty"));
  EXPECT_TRUE(starts_with(error_of("# only a comment\n"), "job.yaml:1:1: the job file is empty"));
}

TEST(JobParserErrors, TopLevelMustBeAMap) {
  const std::string msg = error_of("- a\n- b\n");
  EXPECT_TRUE(starts_with(msg, "job.yaml:1:1: the top level must be a map"));
  EXPECT_TRUE(has(msg, "not a list"));
}

TEST(JobParserErrors, YamlSyntaxError) {
  const std::string msg = error_of("name: x\ninputs: [a, b\n");
  EXPECT_TRUE(starts_with(msg, "job.yaml:"));
  EXPECT_TRUE(has(msg, "invalid YAML"));
  EXPECT_TRUE(starts_with(error_of("name: x\n  bad: indent\n"), "job.yaml:2:6: invalid YAML"));
}

TEST(JobParserErrors, SeveralDocuments) {
  EXPECT_TRUE(has(error_of(k_minimal + "---\nname: other\n"), "2 YAML documents"));
}

TEST(JobParserErrors, DuplicateKey) {
  EXPECT_TRUE(starts_with(error_of(k_minimal + "name: again\n"),
                          "job.yaml:12:1: key 'name' appears twice in the top level"));
}

TEST(JobParserErrors, UnsupportedVersion) {
  const std::string msg = error_of("version: 2\n" + k_minimal);
  EXPECT_TRUE(starts_with(msg, "job.yaml:1:10: 'version' must be 1"));
  EXPECT_TRUE(has(msg, "not '2'"));
}

// ---- Unknown keys and values

TEST(JobParserErrors, UnknownTopLevelKeySuggests) {
  const std::string text = R"(name: tas-stats
inputs:
  tas:
    path: a.nc
    variable: tas
output:
  path: out.nc
reductons:
  - name: m
)";
  EXPECT_EQ(error_of(text), "job.yaml:8:1: unknown key 'reductons' in the top level; did you mean 'reductions'?");
}

TEST(JobParserErrors, UnknownKeyWithoutCloseMatchListsValidKeys) {
  const std::string msg = error_of(k_minimal + "colour: blue\n");
  EXPECT_TRUE(starts_with(msg, "job.yaml:12:1: unknown key 'colour' in the top level; valid keys are name, inputs"));
  EXPECT_FALSE(has(msg, "did you mean"));
}

TEST(JobParserErrors, UnknownKeyInInput) {
  std::string text = k_minimal;
  text.replace(text.find("    path:"), 9, "    pth:");
  EXPECT_EQ(error_of(text), "job.yaml:4:5: unknown key 'pth' in input 'tas'; did you mean 'path'?");
}

TEST(JobParserErrors, UnknownKeyInReduction) {
  std::string text = k_minimal;
  text.replace(text.find("over:"), 5, "ovr:");
  EXPECT_EQ(error_of(text), "job.yaml:9:5: unknown key 'ovr' in reduction 'tas_mean'; did you mean 'over'?");
}

TEST(JobParserErrors, UnknownKeyInOutput) {
  EXPECT_EQ(error_of(k_minimal + "  overwite: true\n"),
            "job.yaml:12:3: unknown key 'overwite' in 'output'; did you mean 'overwrite'?");
}

TEST(JobParserErrors, UnknownKeyInRun) {
  EXPECT_EQ(error_of(k_minimal + "run:\n  memory_per_rnk: 1GiB\n"),
            "job.yaml:13:3: unknown key 'memory_per_rnk' in 'run'; did you mean 'memory_per_rank'?");
}

TEST(JobParserErrors, UnknownOpSuggestsAndListsOps) {
  std::string text = k_minimal;
  text.replace(text.find("op: mean"), 8, "op: maen");
  const std::string msg = error_of(text);
  EXPECT_TRUE(starts_with(msg, "job.yaml:8:9: unknown op 'maen' in reduction 'tas_mean'; did you mean 'mean'?"));
  EXPECT_TRUE(has(msg, "valid ops are sum, mean, min, max, count, var, std"));

  text.replace(text.find("op: maen"), 8, "op: average");
  EXPECT_FALSE(has(error_of(text), "did you mean"));
  EXPECT_TRUE(has(error_of(text), "valid ops are"));
}

// ---- Wrong types

TEST(JobParserErrors, MapWhereStringExpected) {
  std::string text = k_minimal;
  text.replace(0, 15, "name: {a: 1}");
  EXPECT_EQ(error_of(text), "job.yaml:1:7: 'name' must be a string, not a map");
}

TEST(JobParserErrors, MissingValue) {
  std::string text = k_minimal;
  text.replace(text.find("variable: tas"), 13, "variable:");
  // Points at the key: yaml-cpp places an empty value at the next token.
  EXPECT_EQ(error_of(text), "job.yaml:5:5: 'variable' in input 'tas' has no value; give a string");

  text = k_minimal;
  text.replace(text.find("  tas:\n    path: data/tas_*.nc\n    variable: tas\n"), 48, "  tas:\n");
  EXPECT_TRUE(starts_with(error_of(text), "job.yaml:3:3: input 'tas' has no value; give a map"));
}

TEST(JobParserErrors, DdofNotAnInteger) {
  std::string text = k_minimal;
  text.replace(text.find("op: mean"), 8, "op: std\n    ddof: abc");
  EXPECT_EQ(error_of(text),
            "job.yaml:9:11: 'ddof' in reduction 'tas_mean' must be an integer >= 0, not 'abc'");
  text.replace(text.find("ddof: abc"), 9, "ddof: -1");
  EXPECT_TRUE(starts_with(error_of(text), "job.yaml:9:11: 'ddof' in reduction 'tas_mean' must be an integer >= 0"));
}

TEST(JobParserErrors, DdofOnlyForVarAndStd) {
  std::string text = k_minimal;
  text.replace(text.find("op: mean"), 8, "op: mean\n    ddof: 1");
  EXPECT_TRUE(starts_with(error_of(text), "job.yaml:9:11: 'ddof' in reduction 'tas_mean' only applies to op var or std"));
}

TEST(JobParserErrors, OverwriteNotABool) {
  EXPECT_EQ(error_of(k_minimal + "  overwrite: maybe\n"),
            "job.yaml:12:14: 'overwrite' in 'output' must be true or false, not 'maybe'");
}

TEST(JobParserErrors, OverMustBeNamesWithoutDuplicates) {
  std::string text = k_minimal;
  text.replace(text.find("over: [time]"), 12, "over: {time: 1}");
  EXPECT_TRUE(starts_with(error_of(text), "job.yaml:9:11: 'over' in reduction 'tas_mean' must be a string or a non-empty list"));
  text.replace(text.find("over: {time: 1}"), 15, "over: []");
  EXPECT_TRUE(has(error_of(text), "not an empty list"));
  text.replace(text.find("over: []"), 8, "over: [time, lat, time]");
  EXPECT_EQ(error_of(text), "job.yaml:9:23: 'time' appears twice in 'over' in reduction 'tas_mean'; list it once");
}

TEST(JobParserErrors, SectionTypes) {
  std::string text = "name: j\ninputs: [tas]\nreductions: [{name: m, op: sum, over: t}]\noutput: {path: o.nc}\n";
  EXPECT_TRUE(starts_with(error_of(text), "job.yaml:2:9: 'inputs' must be a map of input aliases"));
  EXPECT_TRUE(has(error_of(k_minimal + "run: 5\n"), "'run' must be a map (keys: memory_per_rank, checkpoint), not '5'"));
  text = k_minimal;
  text.replace(text.find("  - name: tas_mean"), 18, "  - just-a-string\n  - name: tas_mean");
  EXPECT_TRUE(starts_with(error_of(text), "job.yaml:7:5: reduction 1 must be a map"));
}

TEST(JobParserErrors, EmptyReductions) {
  const std::string text = "name: x\ninputs:\n  a: {path: a.nc, variable: v}\nreductions: []\noutput: {path: o.nc}\n";
  EXPECT_EQ(error_of(text), "job.yaml:4:13: 'reductions' must be a non-empty list of reductions, not an empty list");
}

// ---- Missing fields

TEST(JobParserErrors, MissingTopLevelField) {
  std::string text = k_minimal;
  text.erase(text.find("output:"));
  EXPECT_EQ(error_of(text), "job.yaml:1:1: missing required key 'output' in the top level");
}

TEST(JobParserErrors, MissingFieldPointsAtEnclosingNode) {
  std::string text = k_minimal;
  text.erase(text.find("    variable: tas\n"), 18);
  EXPECT_EQ(error_of(text), "job.yaml:4:5: missing required key 'variable' in input 'tas'");

  text = k_minimal;
  text.erase(text.find("    over: [time]\n"), 17);
  EXPECT_EQ(error_of(text), "job.yaml:7:5: missing required key 'over' in reduction 'tas_mean'");
}

TEST(JobParserErrors, PathOrPaths) {
  std::string text = k_minimal;
  text.erase(text.find("    path: data/tas_*.nc\n"), 24);
  EXPECT_EQ(error_of(text), "job.yaml:4:5: missing required key 'path' (or 'paths') in input 'tas'");

  text = k_minimal;
  text.replace(text.find("    variable: tas"), 17, "    paths: [b.nc]\n    variable: tas");
  EXPECT_EQ(error_of(text), "job.yaml:5:12: input 'tas' has both 'path' and 'paths'; keep one");
}

// ---- Names and references

TEST(JobParserErrors, InvalidJobName) {
  for (const std::string& name : std::vector<std::string>{"Tas", "tas_stats", "-tas", std::string(64, 'a')}) {
    std::string text = k_minimal;
    text.replace(0, 15, "name: " + name);
    EXPECT_TRUE(starts_with(error_of(text), "job.yaml:1:7: job name '" + name + "' is not valid")) << name;
  }
  std::string text = k_minimal;
  text.replace(0, 15, "name: " + std::string(63, 'a'));
  EXPECT_EQ(parse(text).name.size(), 63u);
}

TEST(JobParserErrors, InvalidAliasAndReductionName) {
  std::string text = k_minimal;
  text.replace(text.find("  tas:"), 6, "  1tas:");
  EXPECT_TRUE(starts_with(error_of(text), "job.yaml:3:3: input alias '1tas' is not valid"));

  text = k_minimal;
  text.replace(text.find("name: tas_mean"), 14, "name: tas-mean");
  EXPECT_TRUE(starts_with(error_of(text), "job.yaml:7:11: reduction name 'tas-mean' is not a valid variable name"));
}

TEST(JobParserErrors, DuplicateReductionNamePointsAtSecond) {
  const std::string text = R"(name: j
inputs:
  tas: {path: a.nc, variable: tas}
reductions:
  - {name: m, op: mean, over: time}
  - {name: m, op: max, over: time}
output: {path: o.nc}
)";
  EXPECT_EQ(error_of(text),
            "job.yaml:6:12: reduction name 'm' is already used by the reduction at line 5; "
            "output variable names must be unique");
}

TEST(JobParserErrors, ReductionNameMayEqualInputAlias) {
  std::string text = k_minimal;
  text.replace(text.find("name: tas_mean"), 14, "name: tas");
  EXPECT_EQ(parse(text).reductions[0].name, "tas");
}

TEST(JobParserErrors, InputRequiredWithSeveralInputs) {
  const std::string text = R"(name: j
inputs:
  tas: {path: a.nc, variable: tas}
  pr: {path: b.nc, variable: pr}
reductions:
  - name: m
    op: mean
    over: time
output: {path: o.nc}
)";
  EXPECT_EQ(error_of(text),
            "job.yaml:6:5: missing required key 'input' in reduction 'm'; the job has 2 inputs (tas, pr), so name one");
}

TEST(JobParserErrors, UnknownInputSuggests) {
  std::string text = k_minimal;
  text.replace(text.find("op: mean"), 8, "input: tsa\n    op: mean");
  EXPECT_EQ(error_of(text), "job.yaml:8:12: unknown input 'tsa' in reduction 'tas_mean'; did you mean 'tas'?; the inputs are tas");
}

TEST(JobParserErrors, DuplicateInputAlias) {
  const std::string text = "name: j\ninputs:\n  a: {path: a.nc, variable: v}\n  a: {path: b.nc, variable: v}\n";
  EXPECT_TRUE(starts_with(error_of(text), "job.yaml:4:3: input 'a' is defined twice"));
}

// ---- Output and run values

TEST(JobParserErrors, NonFloatDtype) {
  EXPECT_EQ(error_of(k_minimal + "  dtype: int\n"), "job.yaml:12:10: 'dtype' in 'output' must be float or double, not 'int'");
  EXPECT_TRUE(has(error_of(k_minimal + "  dtype: flaot\n"), "did you mean 'float'?"));
}

TEST(JobParserErrors, MemoryPerRank) {
  EXPECT_EQ(parse(k_minimal + "run:\n  memory_per_rank: 1 GiB\n").run.memory_per_rank, 1ull << 30);
  const std::string bad = error_of(k_minimal + "run:\n  memory_per_rank: 12XB\n");
  EXPECT_TRUE(starts_with(bad, "job.yaml:13:20: 'memory_per_rank' in 'run' must be a byte size"));
  EXPECT_TRUE(has(bad, "not '12XB'"));
  EXPECT_TRUE(has(error_of(k_minimal + "run:\n  memory_per_rank: 1000KB\n"), "below the minimum of 1MiB"));
  EXPECT_EQ(parse(k_minimal + "run:\n  memory_per_rank: 1MiB\n").run.memory_per_rank, 1ull << 20);
}

// ---- Byte sizes

TEST(ByteSize, Valid) {
  const struct { const char* text; std::uint64_t bytes; } cases[] = {
      {"512MiB", 536870912ull}, {"2GB", 2000000000ull}, {"1 GiB", 1073741824ull}, {"1048576", 1048576ull},
      {"7B", 7ull},             {"3KB", 3000ull},       {"3KiB", 3072ull},       {"5MB", 5000000ull},
      {"1TB", 1000000000000ull}, {"1TiB", 1ull << 40},  {"0", 0ull}};
  for (const auto& c : cases) {
    std::uint64_t bytes = 0;
    EXPECT_TRUE(parse_byte_size(c.text, bytes)) << c.text;
    EXPECT_EQ(bytes, c.bytes) << c.text;
  }
}

TEST(ByteSize, Invalid) {
  for (const char* text : {"", "12XB", "-5MiB", "MiB", "1.5GiB", "5 ", " 5", "5mib", "5 MiB extra",
                           "18446744073709551616", "17179869184GiB"}) {
    std::uint64_t bytes = 42;
    EXPECT_FALSE(parse_byte_size(text, bytes)) << text;
    EXPECT_EQ(bytes, 42u) << text;  // untouched on failure
  }
}

}  // namespace

// ---- The climate vocabulary

namespace {
std::string with_reduction_keys(const std::string& keys) {
  std::string text = k_minimal;
  text.replace(text.find("    over: [time]\n"), 17, "    over: [time]\n" + keys);
  return text;
}
}  // namespace

TEST(JobParserClimate, SelectGroupbyWeightsWhereAnomaly) {
  std::string text = k_minimal;
  text.replace(text.find("    variable: tas\n"), 18,
               "    variable: tas\n    select:\n      time: [\"1991-01-01\", \"2020-12-31\"]\n      lon: [350, 10]\n"
               "      plev: 85000\n");
  text += "";
  text.replace(text.find("output:"), 7,
               "  - {name: clim, op: mean, over: [time], groupby: month, select: {time: [\"1991\", \"2000\"]}}\n"
               "  - {name: anom, op: mean, over: [lat, lon], weights: area, anomaly_of: clim, resample: month,"
               " min_valid: 0.8}\n"
               "  - {name: hot, op: count, over: [time], where: {gt: 303.15}, resample: year}\n"
               "  - {name: wet, op: frequency, over: [time], where: {between: [1, 2]}}\n"
               "  - {name: p, op: quantile, over: [time], q: [0.5, 0.9]}\n"
               "  - {name: h, op: histogram, over: [time], bins: [250, 270, 290]}\n"
               "output:");
  const JobSpec spec = parse(text);
  ASSERT_EQ(spec.inputs[0].select.size(), 3u);
  EXPECT_EQ(spec.inputs[0].select[0].dim, "time");
  EXPECT_EQ(spec.inputs[0].select[0].values, (std::vector<std::string>{"1991-01-01", "2020-12-31"}));
  EXPECT_EQ(spec.inputs[0].select[2].values, (std::vector<std::string>{"85000"}));
  ASSERT_EQ(spec.reductions.size(), 7u);
  EXPECT_EQ(spec.reductions[1].groupby, "month");
  EXPECT_EQ(spec.reductions[1].select[0].values[1], "2000");
  EXPECT_EQ(spec.reductions[2].weights, "area");
  EXPECT_EQ(spec.reductions[2].anomaly_of, "clim");
  EXPECT_EQ(spec.reductions[2].resample, "month");
  EXPECT_DOUBLE_EQ(spec.reductions[2].min_valid, 0.8);
  EXPECT_EQ(spec.reductions[3].where_op, "gt");
  EXPECT_DOUBLE_EQ(spec.reductions[3].where_a, 303.15);
  EXPECT_EQ(spec.reductions[4].where_op, "between");
  EXPECT_DOUBLE_EQ(spec.reductions[4].where_b, 2);
  EXPECT_EQ(spec.reductions[5].q, (std::vector<double>{0.5, 0.9}));
  EXPECT_EQ(spec.reductions[6].bins.size(), 3u);
}

TEST(JobParserClimate, SpecificErrors) {
  EXPECT_TRUE(has(error_of(with_reduction_keys("    groupby: months\n")), "must be one of month, season, dayofyear, year, hour, not 'months'; did you mean 'month'?"));
  EXPECT_TRUE(has(error_of(with_reduction_keys("    groupby: month\n    resample: year\n")), "has both 'groupby' and 'resample'"));
  EXPECT_TRUE(has(error_of(with_reduction_keys("    where: {gt: 1, lt: 2}\n")), "exactly one condition"));
  EXPECT_TRUE(has(error_of(with_reduction_keys("    where: {between: [3, 1]}\n")), "low <= high"));
  EXPECT_TRUE(has(error_of(with_reduction_keys("    min_valid: 1.5\n")), "fraction in (0, 1]"));
  EXPECT_TRUE(has(error_of(with_reduction_keys("    anomaly_of: nope\n")), "not a reduction listed before this one"));
  EXPECT_TRUE(has(error_of(with_reduction_keys("    q: [0.5]\n")), "only applies to op quantile"));
  EXPECT_TRUE(has(error_of(with_reduction_keys("    bins: [1, 2]\n")), "only applies to op histogram"));
  std::string text = k_minimal;
  text.replace(text.find("op: mean"), 8, "op: quantile");
  EXPECT_TRUE(has(error_of(text), "needs 'q'"));
  text = k_minimal;
  text.replace(text.find("op: mean"), 8, "op: histogram\n    bins: [3, 2]");
  EXPECT_TRUE(has(error_of(text), "strictly increasing"));
  text = k_minimal;
  text.replace(text.find("op: mean"), 8, "op: max\n    weights: area");
  EXPECT_TRUE(has(error_of(text), "applies to op sum, mean, var or std, not 'max'"));
  text = k_minimal;
  text.replace(text.find("    variable: tas\n"), 18, "    variable: tas\n    select: {lat: [1, 2, 3]}\n");
  EXPECT_TRUE(has(error_of(text), "a [first, last] range of two values"));
}
}  // namespace tessera

namespace tessera {
namespace {

TEST(Duration, UnitsAndErrors) {
  double s = 0;
  EXPECT_TRUE(parse_duration("30s", s));
  EXPECT_EQ(s, 30);
  EXPECT_TRUE(parse_duration("5min", s));
  EXPECT_EQ(s, 300);
  EXPECT_TRUE(parse_duration("1h", s));
  EXPECT_EQ(s, 3600);
  EXPECT_TRUE(parse_duration("2d", s));
  EXPECT_EQ(s, 172800);
  EXPECT_TRUE(parse_duration("90", s));
  EXPECT_EQ(s, 90);
  EXPECT_TRUE(parse_duration("10 min", s));
  EXPECT_EQ(s, 600);
  for (const char* bad : {"", "0s", "0", "-5s", "5 minutes", "1.5h", "h", "5m", "9999999999999d", "5s "})
    EXPECT_FALSE(parse_duration(bad, s)) << bad;
}

TEST(JobParserCheckpoint, DirAndEvery) {
  const JobSpec spec = parse(k_minimal + "run:\n  checkpoint: {dir: ckpt, every: 5min}\n");
  EXPECT_EQ(spec.run.checkpoint.dir, "/base/dir/ckpt");
  EXPECT_EQ(spec.run.checkpoint.every_seconds, 300);
  const JobSpec only_dir = parse(k_minimal + "run:\n  checkpoint:\n    dir: /scratch/c\n");
  EXPECT_EQ(only_dir.run.checkpoint.dir, "/scratch/c");
  EXPECT_EQ(only_dir.run.checkpoint.every_seconds, 0);
  EXPECT_TRUE(parse(k_minimal).run.checkpoint.dir.empty());
}

TEST(JobParserCheckpoint, Errors) {
  EXPECT_EQ(error_of(k_minimal + "run:\n  checkpoint: {dir: c, every: soon}\n"),
            "job.yaml:13:31: 'every' in 'checkpoint' in 'run' must be a positive duration such as 30s, 5min, 1h or 2d "
            "(units s, min, h, d), not 'soon'");
  EXPECT_TRUE(has(error_of(k_minimal + "run:\n  checkpoint: {every: 5min}\n"), "missing required key 'dir'"));
  EXPECT_TRUE(has(error_of(k_minimal + "run:\n  checkpoint: {dir: c, evry: 5min}\n"), "did you mean 'every'?"));
  EXPECT_TRUE(has(error_of(k_minimal + "run:\n  checkpoint: {dir: c, every: 0s}\n"), "must be a positive duration"));
  EXPECT_TRUE(has(error_of(k_minimal + "run:\n  checkpoint: c\n"), "must be a map (keys: dir, every)"));
}

}  // namespace
}  // namespace tessera
