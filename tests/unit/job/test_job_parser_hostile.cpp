// Job files found by tests/fuzz/fuzz_job_parser to hang or exhaust memory: each must be a
// located JobError, quickly. (Replayed from tests/fuzz/corpus/job_parser/ as well.)
#include <gtest/gtest.h>

#include "../thrown.hpp"

#include <chrono>
#include <string>

#include "core/error.hpp"
#include "job/job_parser.hpp"

namespace tessera {
namespace {

std::string error_of(const std::string& text) {
  return testing::message_of<JobError>([&] { parse_job_text(text, "job.yaml", "/jobs"); });
}

// yaml-cpp 0.7's LoadAll looped forever, allocating ~100 MB/s, on a ',' outside a flow collection.
TEST(JobParserHostile, LeadingCommaIsAnErrorNotAHang) {
  const auto t0 = std::chrono::steady_clock::now();
  for (const char* text : {",", ",9\n  - a\n", ", --\n - b\n", ",,", ",a: 1", "\n,\n"}) {
    const std::string msg = error_of(text);
    EXPECT_EQ(msg.rfind("job.yaml:", 0), 0u) << msg;
    EXPECT_NE(msg.find("invalid YAML"), std::string::npos) << msg;
  }
  EXPECT_LT(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), 5.0);
}

TEST(JobParserHostile, TrailingEmptyDocumentsAndSeveralDocumentsStillBehave) {
  const std::string job =
      "name: a\ninputs: {t: {path: x.nc, variable: t}}\nreductions: [{name: m, op: mean, over: time}]\n"
      "output: {path: o.nc}\n";
  EXPECT_EQ(parse_job_text(job + "---\n", "job.yaml", "/jobs").name, "a");
  EXPECT_EQ(parse_job_text("---\n" + job + "...\n", "job.yaml", "/jobs").name, "a");
  const std::string msg = error_of(job + "---\nname: b\n---\nname: c\n");
  EXPECT_EQ(msg.rfind("job.yaml:6:1: the job file holds 3 YAML documents", 0), 0u) << msg;
  EXPECT_NE(error_of("").find("the job file is empty"), std::string::npos);
  EXPECT_NE(error_of("---\n...\n").find("the job file is empty"), std::string::npos);
}

// Deep nesting: yaml-cpp's depth guard (not a stack overflow), reported as invalid YAML.
TEST(JobParserHostile, DeepNestingIsAnError) {
  EXPECT_NE(error_of(std::string(100000, '[')).find("job.yaml:"), std::string::npos);
  EXPECT_NE(error_of("a: " + std::string(50000, '{')).find("job.yaml:"), std::string::npos);
}

}  // namespace
}  // namespace tessera
