#include "sched/mpijob.hpp"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <random>
#include <string>
#include <vector>

#include "core/error.hpp"
#include "job/job_parser.hpp"

namespace tessera {
namespace {

using namespace mpijob;

// The repository's layout: jobs/ next to data/ and out/.
const std::string k_job = R"(# a comment that must survive
name: tas-stats
inputs:
  tas:
    path: ../data/tas_*.nc
    variable: tas
reductions:
  - {name: tas_mean, op: mean, over: [time]}
output:
  path: ../out/tas-stats.nc
run:
  memory_per_rank: 256MiB
)";

JobSpec parse(const std::string& text) { return parse_job_text(text, "jobs/tas-stats.yaml", "/home/me/project/jobs"); }

MpiJobOptions options(int workers = 2, int slots = 2) {
  MpiJobOptions o;
  o.workers = workers;
  o.slots = slots;
  o.image = "registry.example.org/tessera:0.1.0";
  return o;
}

std::vector<YAML::Node> render_docs(const std::string& text, const MpiJobOptions& o) {
  return YAML::LoadAll(render_mpijob(parse(text), text, o));
}

YAML::Node container(const YAML::Node& mpijob, const std::string& role) {
  return mpijob["spec"]["mpiReplicaSpecs"][role]["template"]["spec"]["containers"][0];
}

std::vector<std::string> strings(const YAML::Node& seq) {
  std::vector<std::string> v;
  for (const auto& s : seq) v.push_back(s.as<std::string>());
  return v;
}

TEST(MpiJobNames, SanitisedToDns1123) {
  EXPECT_EQ(dns_label("Tas_Stats 2024"), "tas-stats-2024");
  EXPECT_EQ(dns_label("--a..b--"), "a-b");
  EXPECT_EQ(dns_label("2024-run"), "t-2024-run");  // Services must start with a letter
  EXPECT_EQ(dns_label(""), "tessera");
  EXPECT_EQ(dns_label("\xc3\xa4\xc3\xb6"), "tessera");  // non-ASCII only
  EXPECT_EQ(dns_label(std::string(80, 'a') + "-b", 63), std::string(63, 'a'));
  EXPECT_EQ(dns_label("abc-defg", 4), "abc");  // no trailing '-' after the cut
}

TEST(MpiJobNames, RandomInputsGiveValidLabels) {
  std::mt19937 rng(7);
  const std::string alphabet = "abcXYZ019-_. /\xc3\xa4";
  for (int i = 0; i < 2000; ++i) {
    std::string s(rng() % 90, ' ');
    for (auto& c : s) c = alphabet[rng() % alphabet.size()];
    const std::size_t max_len = 3 + rng() % 61;
    const std::string l = dns_label(s, max_len);
    ASSERT_TRUE(is_dns1123_label(l)) << "'" << s << "' -> '" << l << "'";
    ASSERT_LE(l.size(), max_len);
    ASSERT_TRUE(l[0] >= 'a' && l[0] <= 'z') << l;
  }
}

TEST(MpiJobNames, LongestPodHostnameFits) {
  const std::string raw(70, 'x');
  for (int workers : {1, 9, 10, 100, 12345}) {
    const std::string name = job_name(raw, workers);
    EXPECT_TRUE(is_dns1123_label(name + "-worker-" + std::to_string(workers - 1))) << name;
  }
}

TEST(MpiJobNames, Validators) {
  EXPECT_TRUE(is_dns1123_label("a-1"));
  EXPECT_FALSE(is_dns1123_label("a-"));
  EXPECT_FALSE(is_dns1123_label("A"));
  EXPECT_FALSE(is_dns1123_label(std::string(64, 'a')));
  EXPECT_TRUE(is_dns1123_subdomain("s3-creds.team-a"));
  EXPECT_FALSE(is_dns1123_subdomain("s3_creds"));
  EXPECT_FALSE(is_dns1123_subdomain("a..b"));
}

TEST(MpiJobQuantities, ParseLikeKubernetes) {
  double v = 0;
  ASSERT_TRUE(quantity_value("2Gi", v));
  EXPECT_EQ(v, 2.0 * (1 << 30));
  ASSERT_TRUE(quantity_value("1500m", v));
  EXPECT_DOUBLE_EQ(v, 1.5);
  ASSERT_TRUE(quantity_value("1e3", v));
  EXPECT_DOUBLE_EQ(v, 1000);
  ASSERT_TRUE(quantity_value("4", v));
  EXPECT_DOUBLE_EQ(v, 4);
  EXPECT_FALSE(is_quantity("2GB"));
  EXPECT_FALSE(is_quantity("lots"));
  EXPECT_FALSE(is_quantity(""));
}

TEST(MpiJobRender, ParsesAsConfigMapThenMpiJob) {
  const auto docs = render_docs(k_job, options());
  ASSERT_EQ(docs.size(), 2u);
  EXPECT_EQ(docs[0]["apiVersion"].as<std::string>(), "v1");
  EXPECT_EQ(docs[0]["kind"].as<std::string>(), "ConfigMap");
  EXPECT_EQ(docs[1]["apiVersion"].as<std::string>(), "kubeflow.org/v2beta1");
  EXPECT_EQ(docs[1]["kind"].as<std::string>(), "MPIJob");
  EXPECT_EQ(docs[1]["metadata"]["name"].as<std::string>(), "tas-stats");
  EXPECT_EQ(docs[0]["metadata"]["name"].as<std::string>(), "tas-stats-job");
  const YAML::Node spec = docs[1]["spec"];
  EXPECT_EQ(spec["slotsPerWorker"].as<int>(), 2);
  EXPECT_EQ(spec["launcherCreationPolicy"].as<std::string>(), "WaitForWorkersReady");
  EXPECT_EQ(spec["runPolicy"]["cleanPodPolicy"].as<std::string>(), "Running");
  EXPECT_TRUE(spec["runPolicy"]["backoffLimit"].IsScalar());
  EXPECT_TRUE(spec["runPolicy"]["ttlSecondsAfterFinished"].IsScalar());
  EXPECT_EQ(spec["mpiReplicaSpecs"]["Launcher"]["replicas"].as<int>(), 1);
  EXPECT_EQ(spec["mpiReplicaSpecs"]["Worker"]["replicas"].as<int>(), 2);
}

TEST(MpiJobRender, ConfigMapHoldsTheJobTextExactly) {
  const auto docs = render_docs(k_job, options());
  EXPECT_EQ(docs[0]["data"]["job.yaml"].as<std::string>(), k_job);
  EXPECT_EQ(docs[0]["metadata"]["annotations"]["tessera/job-sha256"].as<std::string>(), parse(k_job).hash);
  // Texts a literal block cannot carry (no final newline, extra blank lines, leading blanks).
  for (const std::string& text : {k_job.substr(0, k_job.size() - 1), k_job + "\n\n", "  " + k_job,
                                  std::string("name: x\r\n") + k_job.substr(k_job.find("inputs"))}) {
    MpiJobOptions o = options();
    const auto d = YAML::LoadAll(render_mpijob(parse(text), text, o));
    EXPECT_EQ(d[0]["data"]["job.yaml"].as<std::string>(), text);
  }
}

TEST(MpiJobRender, RanksAreWorkersTimesSlotsAndTheCommandRunsTheMountedJob) {
  const auto docs = render_docs(k_job, options(3, 4));
  const auto cmd = strings(container(docs[1], "Launcher")["command"]);
  ASSERT_GE(cmd.size(), 7u);
  EXPECT_EQ(cmd[0], launcher_entry);  // turns SIGTERM into SIGUSR1 for mpirun
  EXPECT_EQ(cmd[1], "mpirun");
  EXPECT_EQ(cmd[2], "-n");
  EXPECT_EQ(cmd[3], "12");
  const std::vector<std::string> tail(cmd.end() - 5, cmd.end());
  EXPECT_EQ(tail, (std::vector<std::string>{"tessera", "run", job_path, "--expect-ranks", "12"}));
  // Numbers in argv must stay strings for the API server.
  EXPECT_EQ(container(docs[1], "Launcher")["command"][3].Tag(), "!");
  // The job file is mounted where the command reads it, on every worker.
  bool mounted = false;
  for (const auto& m : container(docs[1], "Worker")["volumeMounts"])
    mounted |= m["name"].as<std::string>() == "job" && m["mountPath"].as<std::string>() == job_dir;
  EXPECT_TRUE(mounted);
}

TEST(MpiJobRender, RequestsEqualLimits) {
  MpiJobOptions o = options();
  o.cpu = "3";
  o.memory = "6Gi";
  const auto docs = render_docs(k_job, o);
  for (const char* role : {"Launcher", "Worker"}) {
    const YAML::Node r = container(docs[1], role)["resources"];
    for (const char* k : {"cpu", "memory"}) {
      ASSERT_TRUE(r["requests"][k]) << role << " " << k;
      EXPECT_EQ(r["requests"][k].as<std::string>(), r["limits"][k].as<std::string>()) << role << " " << k;
    }
  }
  EXPECT_EQ(container(docs[1], "Worker")["resources"]["limits"]["cpu"].as<std::string>(), "3");
  EXPECT_EQ(container(docs[1], "Worker")["resources"]["limits"]["memory"].as<std::string>(), "6Gi");
}

TEST(MpiJobRender, CredentialsOnlyBySecretReference) {
  MpiJobOptions o = options();
  o.credentials_secret = "object-store";
  const std::string text = render_mpijob(parse(k_job), k_job, o);
  const auto docs = YAML::LoadAll(text);
  int refs = 0;
  for (const char* role : {"Launcher", "Worker"})
    for (const auto& env : container(docs[1], role)["env"]) {
      const std::string name = env["name"].as<std::string>();
      if (name.rfind("AWS_", 0) != 0) continue;
      EXPECT_FALSE(env["value"]) << name << " has an inline value";
      ASSERT_TRUE(env["valueFrom"]["secretKeyRef"]) << name;
      EXPECT_EQ(env["valueFrom"]["secretKeyRef"]["name"].as<std::string>(), "object-store");
      ++refs;
    }
  EXPECT_EQ(refs, 3);
  // Ranks start through sshd: mpirun must forward what they need.
  const auto cmd = strings(container(docs[1], "Launcher")["command"]);
  EXPECT_NE(std::find(cmd.begin(), cmd.end(), "AWS_SECRET_ACCESS_KEY"), cmd.end());
  // Without the option nothing about credentials appears.
  EXPECT_EQ(render_mpijob(parse(k_job), k_job, options()).find("AWS_"), std::string::npos);
}

TEST(MpiJobRender, NonRootAndReadOnlyRoot) {
  const auto docs = render_docs(k_job, options());
  EXPECT_EQ(docs[1]["spec"]["sshAuthMountPath"].as<std::string>(), ssh_dir);
  for (const char* role : {"Launcher", "Worker"}) {
    const YAML::Node pod = docs[1]["spec"]["mpiReplicaSpecs"][role]["template"]["spec"];
    EXPECT_EQ(pod["securityContext"]["runAsUser"].as<int>(), uid);
    EXPECT_TRUE(pod["securityContext"]["runAsNonRoot"].as<bool>());
    EXPECT_TRUE(container(docs[1], role)["securityContext"]["readOnlyRootFilesystem"].as<bool>());
    EXPECT_FALSE(container(docs[1], role)["securityContext"]["allowPrivilegeEscalation"].as<bool>());
  }
}

TEST(MpiJobRender, PlacementFromNodeSelectorAndRegion) {
  MpiJobOptions o = options();
  o.node_selector = {"node.kubernetes.io/instance-type=c6i.4xlarge", "pool=hpc"};
  o.region = "eu-west-1";
  const auto docs = render_docs(k_job, o);
  const YAML::Node sel = docs[1]["spec"]["mpiReplicaSpecs"]["Worker"]["template"]["spec"]["nodeSelector"];
  EXPECT_EQ(sel["topology.kubernetes.io/region"].as<std::string>(), "eu-west-1");
  EXPECT_EQ(sel["pool"].as<std::string>(), "hpc");
  EXPECT_EQ(sel["node.kubernetes.io/instance-type"].as<std::string>(), "c6i.4xlarge");
}

TEST(MpiJobRender, SanitisesTheName) {
  std::string text = k_job;
  text.replace(text.find("name: tas-stats"), 15, "name: t-");  // valid job name, invalid DNS label
  const auto docs = render_docs(text, options());
  EXPECT_EQ(docs[1]["metadata"]["name"].as<std::string>(), "t");
  EXPECT_EQ(docs[0]["metadata"]["name"].as<std::string>(), "t-job");
}

TEST(MpiJobRender, RejectsBadOptions) {
  auto fails = [](auto change, int workers = 2, int slots = 2) {
    MpiJobOptions o = options(workers, slots);
    change(o);
    EXPECT_THROW(render_mpijob(parse(k_job), k_job, o), UsageError);
  };
  fails([](MpiJobOptions& o) { o.workers = 0; });
  fails([](MpiJobOptions& o) { o.slots = 0; });
  fails([](MpiJobOptions& o) { o.image = ""; });
  fails([](MpiJobOptions& o) { o.image = "a b"; });
  fails([](MpiJobOptions& o) { o.ns = "Team_A"; });
  fails([](MpiJobOptions& o) { o.cpu = "two"; });
  fails([](MpiJobOptions& o) { o.memory = "0"; });
  fails([](MpiJobOptions& o) { o.memory = "1Gi"; }, 4, 8);  // 8 ranks x 256 MiB do not fit
  fails([](MpiJobOptions& o) { o.node_selector = {"novalue"}; });
  fails([](MpiJobOptions& o) { o.node_selector = {"bad key=x"}; });
  fails([](MpiJobOptions& o) { o.credentials_secret = "Not_A_Name"; });
}

std::string env_of(const YAML::Node& c, const std::string& name) {
  for (const auto& e : c["env"])
    if (e["name"].as<std::string>() == name) return e["value"].as<std::string>();
  return "(unset)";
}

YAML::Node pod_spec(const YAML::Node& mpijob, const std::string& role) {
  return mpijob["spec"]["mpiReplicaSpecs"][role]["template"]["spec"];
}

std::string flag(const std::vector<std::string>& argv, const std::string& name) {
  const auto it = std::find(argv.begin(), argv.end(), name);
  return it == argv.end() || it + 1 == argv.end() ? "(absent)" : *(it + 1);
}

TEST(MpiJobPreemption, WithoutCheckpointsTheStopIsACleanTerm) {
  const auto docs = render_docs(k_job, options());
  const auto cmd = strings(container(docs[1], "Launcher")["command"]);
  EXPECT_EQ(flag(cmd, "--checkpoint-dir"), "(absent)");
  for (const char* role : {"Launcher", "Worker"}) {
    // Tessera ignores SIGUSR1 without checkpoints: the entry points must send TERM, or an evicted
    // pod would wait for the SIGKILL at the end of the grace period.
    EXPECT_EQ(env_of(container(docs[1], role), "TESSERA_STOP_SIGNAL"), "TERM") << role;
    EXPECT_EQ(pod_spec(docs[1], role)["terminationGracePeriodSeconds"].as<int>(), 120) << role;
  }
  EXPECT_EQ(strings(container(docs[1], "Worker")["command"]), std::vector<std::string>{worker_entry});
  EXPECT_EQ(render_mpijob(parse(k_job), k_job, options()).find("checkpoint"), std::string::npos);
}

TEST(MpiJobPreemption, CheckpointClaimIsMountedAndGivesTheDefaultDir) {
  MpiJobOptions o = options();
  o.checkpoint_claim = "tessera-checkpoints";
  o.grace_seconds = 300;
  const std::string text = render_mpijob(parse(k_job), k_job, o);
  const auto docs = YAML::LoadAll(text);
  const auto cmd = strings(container(docs[1], "Launcher")["command"]);
  // Per MPIJob, so two jobs sharing the claim do not take each other's checkpoint.
  EXPECT_EQ(flag(cmd, "--checkpoint-dir"), std::string(checkpoint_mount) + "/tas-stats");
  EXPECT_EQ(cmd[cmd.size() - 2], "--checkpoint-dir");  // an option of `tessera run`, after its job file
  EXPECT_EQ(flag(cmd, "--expect-ranks"), "4");
  bool mounted = false;
  for (const auto& m : container(docs[1], "Worker")["volumeMounts"])
    if (m["mountPath"].as<std::string>() == checkpoint_mount) {
      mounted = true;
      EXPECT_EQ(m["name"].as<std::string>(), "checkpoint");
      EXPECT_FALSE(m["readOnly"] && m["readOnly"].as<bool>());
    }
  EXPECT_TRUE(mounted);
  bool claimed = false;
  for (const auto& v : pod_spec(docs[1], "Worker")["volumes"])
    claimed |= v["name"].as<std::string>() == "checkpoint" &&
               v["persistentVolumeClaim"]["claimName"].as<std::string>() == "tessera-checkpoints";
  EXPECT_TRUE(claimed);
  for (const char* role : {"Launcher", "Worker"}) {
    EXPECT_EQ(env_of(container(docs[1], role), "TESSERA_STOP_SIGNAL"), "USR1") << role;
    EXPECT_EQ(pod_spec(docs[1], role)["terminationGracePeriodSeconds"].as<int>(), 300) << role;
  }
  EXPECT_NE(text.find("# Evicted or deleted pods get 300 s to save a checkpoint"), std::string::npos);
  EXPECT_NE(text.find("PersistentVolumeClaim 'tessera-checkpoints'"), std::string::npos);
}

TEST(MpiJobPreemption, CheckpointDirOnTheWorkspaceNeedsNoClaim) {
  MpiJobOptions o = options();
  o.checkpoint_dir = "/tessera/out/.checkpoint/run-7";
  const auto docs = render_docs(k_job, o);
  EXPECT_EQ(flag(strings(container(docs[1], "Launcher")["command"]), "--checkpoint-dir"), o.checkpoint_dir);
  EXPECT_EQ(env_of(container(docs[1], "Worker"), "TESSERA_STOP_SIGNAL"), "USR1");
  for (const auto& v : pod_spec(docs[1], "Worker")["volumes"]) EXPECT_NE(v["name"].as<std::string>(), "checkpoint");
}

TEST(MpiJobPreemption, TheJobsOwnCheckpointCounts) {
  // run.checkpoint in the job file: no flag to render, but SIGTERM must still become USR1.
  const std::string text = k_job + "  checkpoint: {dir: ../out/ckpt, every: 10min}\n";
  const auto docs = render_docs(text, options());
  EXPECT_EQ(flag(strings(container(docs[1], "Launcher")["command"]), "--checkpoint-dir"), "(absent)");
  EXPECT_EQ(env_of(container(docs[1], "Launcher"), "TESSERA_STOP_SIGNAL"), "USR1");
  EXPECT_EQ(env_of(container(docs[1], "Worker"), "TESSERA_STOP_SIGNAL"), "USR1");
  // Resolved in the pod to /tessera/ckpt: on no volume, so rank files would be lost or refused.
  const std::string outside = k_job + "  checkpoint: {dir: ../ckpt}\n";
  EXPECT_THROW(render_mpijob(parse(outside), outside, options()), JobError);
  // The flag overrides it, as `tessera run --checkpoint-dir` does.
  MpiJobOptions o = options();
  o.checkpoint_dir = "/tessera/out/ck";
  EXPECT_NO_THROW(render_mpijob(parse(outside), outside, o));
}

TEST(MpiJobPreemption, RejectsBadCheckpointOptions) {
  auto fails = [](auto change) {
    MpiJobOptions o = options();
    change(o);
    EXPECT_THROW(render_mpijob(parse(k_job), k_job, o), UsageError);
  };
  fails([](MpiJobOptions& o) { o.grace_seconds = 0; });
  fails([](MpiJobOptions& o) { o.grace_seconds = 86401; });
  fails([](MpiJobOptions& o) { o.checkpoint_claim = "Not_A_Name"; });
  fails([](MpiJobOptions& o) { o.checkpoint_dir = "relative/ck"; });
  fails([](MpiJobOptions& o) { o.checkpoint_dir = "/tessera/out/../ck"; });
  fails([](MpiJobOptions& o) { o.checkpoint_dir = "/tessera/out/."; });
  fails([](MpiJobOptions& o) { o.checkpoint_dir = "/tessera/out"; });  // the volume itself
  fails([](MpiJobOptions& o) {
    o.checkpoint_claim = "ck";
    o.checkpoint_dir = std::string(checkpoint_mount) + "/";
  });
  fails([](MpiJobOptions& o) {  // the claim's root: the run removes its folder when it succeeds
    o.checkpoint_claim = "ck";
    o.checkpoint_dir = checkpoint_mount;
  });
  fails([](MpiJobOptions& o) { o.checkpoint_dir = "/tessera/data/ck"; });      // read-only
  fails([](MpiJobOptions& o) { o.checkpoint_dir = "/tmp/ck"; });               // per pod
  fails([](MpiJobOptions& o) { o.checkpoint_dir = "/tessera/checkpoint/x"; });  // no claim mounted
}

TEST(MpiJobRender, LocalPathsMustLandOnTheWorkspace) {
  auto job_error = [](const std::string& from, const std::string& to) {
    std::string text = k_job;
    text.replace(text.find(from), from.size(), to);
    EXPECT_THROW(render_mpijob(parse(text), text, options()), JobError) << to;
  };
  job_error("../out/tas-stats.nc", "/scratch/tas-stats.nc");
  job_error("../out/tas-stats.nc", "../data/tas-stats.nc");  // data/ is mounted read-only
  job_error("../data/tas_*.nc", "/home/me/data/tas_*.nc");
  job_error("../data/tas_*.nc", "tas_*.nc");  // would be inside the ConfigMap mount
  // Object-store inputs need no volume.
  std::string text = k_job;
  text.replace(text.find("../data/tas_*.nc"), 16, "s3://bucket/tas.nc");
  EXPECT_NO_THROW(render_mpijob(parse(text), text, options()));
}

}  // namespace
}  // namespace tessera
