#include "sched/slurm_script.hpp"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include "core/error.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

JobSpec job_at(const std::string& file) {
  JobSpec j;
  j.file = file;
  j.dir = fs::path(file).parent_path().string();
  j.name = "tas-stats";
  j.hash = std::string(64, 'a');
  return j;
}

bool contains(const std::string& text, const std::string& part) { return text.find(part) != std::string::npos; }

std::string read_text(const fs::path& p) {
  std::ifstream f(p);
  std::ostringstream os;
  os << f.rdbuf();
  return os.str();
}

// A private temporary folder, removed at the end of the test.
struct TempDir {
  fs::path path;
  TempDir() {
    std::string tmpl = (fs::temp_directory_path() / "tessera-slurm-XXXXXX").string();
    path = mkdtemp(tmpl.data());
  }
  ~TempDir() { fs::remove_all(path); }
  fs::path write(const std::string& name, const std::string& text) const {
    std::ofstream(path / name) << text;
    return path / name;
  }
};

// The JobError message of rendering with `opt`, or a marker when it renders.
std::string error_of(const SlurmOptions& opt, JobSpec job = job_at("/jobs/x.yaml")) {
  try {
    render_slurm(job, opt);
  } catch (const JobError& e) {
    return e.what();
  }
  return "<rendered>";
}

TEST(RenderSlurm, DirectivesCarryTheOptions) {
  SlurmOptions o;
  o.nodes = 4;
  o.ntasks_per_node = 128;
  o.time = "02:30:00";
  o.account = "m1234";
  o.partition = "regular";
  o.constraint = "cpu";
  o.qos = "regular";
  const std::string s = render_slurm(job_at("/jobs/x.yaml"), o);
  EXPECT_EQ(s.rfind("#!/usr/bin/env bash\n", 0), 0u);
  for (const char* d : {"#SBATCH --job-name=tas-stats\n", "#SBATCH --output=tas-stats-%j.out\n", "#SBATCH --nodes=4\n",
                        "#SBATCH --ntasks-per-node=128\n", "#SBATCH --time=02:30:00\n", "#SBATCH --account=m1234\n",
                        "#SBATCH --partition=regular\n", "#SBATCH --constraint=cpu\n", "#SBATCH --qos=regular\n"})
    EXPECT_TRUE(contains(s, d)) << d;
  EXPECT_TRUE(contains(s, "\nJOB='/jobs/x.yaml'\n"));
  EXPECT_TRUE(contains(s, "\nTESSERA='tessera'\n"));
  EXPECT_TRUE(contains(s, "HDF5_USE_FILE_LOCKING"));
  EXPECT_TRUE(contains(s, "--mpi="));
}

TEST(RenderSlurm, EveryDirectiveHasACommentAndPrecedesTheFirstCommand) {
  const std::string s = render_slurm(job_at("/jobs/x.yaml"), SlurmOptions{});
  std::istringstream in(s);
  std::string line, prev;
  bool in_commands = false;
  int directives = 0;
  while (std::getline(in, line)) {
    const bool directive = line.rfind("#SBATCH", 0) == 0 || line.rfind("##SBATCH", 0) == 0;
    if (directive) {
      ++directives;
      EXPECT_FALSE(in_commands) << "sbatch ignores directives after the first command: " << line;
      EXPECT_TRUE(prev.rfind("# ", 0) == 0) << "no comment above " << line;
    } else if (!line.empty() && line[0] != '#') {
      in_commands = true;
    }
    prev = line;
  }
  EXPECT_GE(directives, 9);
}

TEST(RenderSlurm, UnsetOptionsAreDisabledExamples) {
  const std::string s = render_slurm(job_at("/jobs/x.yaml"), SlurmOptions{});
  EXPECT_TRUE(contains(s, "##SBATCH --ntasks-per-node="));
  EXPECT_TRUE(contains(s, "##SBATCH --account="));
  EXPECT_TRUE(contains(s, "##SBATCH --partition="));
  EXPECT_FALSE(contains(s, "\n#SBATCH --account"));
  EXPECT_TRUE(contains(s, "\n#SBATCH --time=01:00:00\n"));
}

TEST(RenderSlurm, RelativePathsBecomeAbsolute) {
  SlurmOptions o;
  o.tessera = "build/src/tessera";
  const std::string s = render_slurm(job_at("jobs/x.yaml"), o);
  const std::string cwd = fs::current_path().string();
  EXPECT_TRUE(contains(s, "\nJOB='" + cwd + "/jobs/x.yaml'\n")) << s;
  EXPECT_TRUE(contains(s, "\nTESSERA='" + cwd + "/build/src/tessera'\n"));
}

// The quoted assignments, run by bash, give back the exact paths (spaces, quotes, $, `...`).
TEST(RenderSlurm, PathsAreQuotedForBash) {
  TempDir t;
  const std::string job_path = "/data/my jobs/it's $(touch " + (t.path / "pwned").string() + ") `id`; x.yaml";
  const std::string exe = "/opt/tessera's build/bin/tessera";
  SlurmOptions o;
  o.tessera = exe;
  const std::string s = render_slurm(job_at(job_path), o);
  std::string assignments;
  std::istringstream in(s);
  for (std::string line; std::getline(in, line);)
    if (line.rfind("JOB=", 0) == 0 || line.rfind("TESSERA=", 0) == 0) assignments += line + "\n";
  const auto script = t.write("check.sh", assignments + "printf '%s\\n' \"$JOB\" \"$TESSERA\" > '" +
                                              (t.path / "out").string() + "'\n");
  ASSERT_EQ(std::system(("bash '" + script.string() + "'").c_str()), 0);
  EXPECT_EQ(read_text(t.path / "out"), job_path + "\n" + exe + "\n");
  EXPECT_FALSE(fs::exists(t.path / "pwned"));
}

TEST(RenderSlurm, RejectsShellInPlainValues) {
  SlurmOptions o;
  o.account = "x; rm -rf /";
  EXPECT_NE(error_of(o).find("--account 'x; rm -rf /'"), std::string::npos) << error_of(o);
  for (const char* bad : {"$(reboot)", "a`id`", "a b", "a\n#SBATCH --wrap=x", "a'b", "a\"b", "a|b", "a&b", "a>b"}) {
    SlurmOptions p;
    p.partition = bad;
    EXPECT_NE(error_of(p).find("--partition"), std::string::npos) << bad;
    SlurmOptions c;
    c.constraint = bad;
    EXPECT_NE(error_of(c).find("--constraint"), std::string::npos) << bad;
    SlurmOptions q;
    q.qos = bad;
    EXPECT_NE(error_of(q).find("--qos"), std::string::npos) << bad;
    SlurmOptions tm;
    tm.time = bad;
    EXPECT_NE(error_of(tm).find("--time"), std::string::npos) << bad;
  }
  SlurmOptions ok;
  ok.time = "1-00:00:00";
  ok.account = "m1234_g.x";
  ok.constraint = "cpu,knl";
  ok.qos = "a+b=c";
  EXPECT_EQ(error_of(ok), "<rendered>");
}

TEST(RenderSlurm, RejectsBadNamesAndCounts) {
  for (const char* bad : {"", "Tas", "tas stats", "tas;id", "-tas", "tas_stats", "t$x"}) {
    JobSpec j = job_at("/jobs/x.yaml");
    j.name = bad;
    EXPECT_NE(error_of(SlurmOptions{}, j).find("job name"), std::string::npos) << bad;
  }
  SlurmOptions n;
  n.nodes = 0;
  EXPECT_NE(error_of(n).find("--nodes"), std::string::npos);
  SlurmOptions t;
  t.ntasks_per_node = -1;
  EXPECT_NE(error_of(t).find("--ntasks-per-node"), std::string::npos);
}

TEST(RenderSlurm, IsValidBash) {
  TempDir t;
  SlurmOptions o;
  o.nodes = 2;
  o.ntasks_per_node = 4;
  o.account = "m1234";
  o.tessera = "/opt/it's here/tessera";
  const auto path = t.write("job.sbatch", render_slurm(job_at("/a b/it's.yaml"), o));
  EXPECT_EQ(std::system(("bash -n '" + path.string() + "'").c_str()), 0);
}

// Outside a Slurm job the script stops at once with the usage code, before launching anything.
TEST(RenderSlurm, RefusesToRunOutsideSlurm) {
  TempDir t;
  const auto path = t.write("job.sbatch", render_slurm(job_at("/jobs/x.yaml"), SlurmOptions{}));
  const int status = std::system(("env -u SLURM_JOB_ID bash '" + path.string() + "' 2>/dev/null").c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 2);
}

// The rendered script runs the same code as slurm/tessera.sbatch from the marker line on.
TEST(RenderSlurm, BodyMatchesTheShippedScript) {
  const fs::path shipped = fs::path(__FILE__).parent_path() / "../../../slurm/tessera.sbatch";
  ASSERT_TRUE(fs::exists(shipped)) << shipped;
  const std::string text = read_text(shipped);
  const std::string marker = "# ---- From here on the same in slurm/tessera.sbatch";
  const auto at = text.find(marker);
  ASSERT_NE(at, std::string::npos);
  const std::string s = render_slurm(job_at("/jobs/x.yaml"), SlurmOptions{});
  const auto rat = s.find(marker);
  ASSERT_NE(rat, std::string::npos);
  EXPECT_EQ(s.substr(rat), text.substr(at)) << "update the copy in src/sched/slurm_script.cpp";
}

}  // namespace
}  // namespace tessera
