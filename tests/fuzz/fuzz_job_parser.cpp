// The job file parser and validator on arbitrary text: a JobError (file:line:col) or a spec
// that satisfies the documented rules; any other exception or a crash is a bug.
#include "core/error.hpp"
#include "fuzz.hpp"
#include "job/job_parser.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  tessera::JobSpec spec;
  try {
    spec = tessera::parse_job_text(text, "fuzz.yaml", "/fuzz");
  } catch (const tessera::JobError& e) {
    FUZZ_CHECK(std::string(e.what()).rfind("fuzz.yaml:", 0) == 0);  // always located
    return 0;
  }
  FUZZ_CHECK(!spec.name.empty() && spec.name.size() <= 63);
  FUZZ_CHECK(!spec.inputs.empty() && !spec.reductions.empty());
  for (const auto& in : spec.inputs) FUZZ_CHECK(!in.paths.empty() && !in.variable.empty());
  for (const auto& r : spec.reductions) {
    FUZZ_CHECK(spec.find_input(r.input) != nullptr);
    FUZZ_CHECK(!r.over.empty() && r.ddof >= 0);
  }
  FUZZ_CHECK(!spec.output.path.empty());
  FUZZ_CHECK(spec.run.memory_per_rank >= (1u << 20));
  std::uint64_t bytes = 0;
  tessera::parse_byte_size(text.substr(0, 64), bytes);  // the size syntax on its own
  return 0;
}
