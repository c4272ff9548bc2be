#include "sched/mpijob.hpp"

#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <cmath>
#include <map>
#include <regex>
#include <sstream>

#include "core/error.hpp"
#include "job/job_parser.hpp"

namespace tessera {
namespace mpijob {

namespace {
bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
}  // namespace

std::string dns_label(const std::string& raw, std::size_t max_len) {
  max_len = std::max<std::size_t>(max_len, 3);
  std::string s;
  for (char c : raw) {
    const char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    if (is_lower_alnum(l))
      s += l;
    else if (!s.empty() && s.back() != '-')
      s += '-';
  }
  if (!s.empty() && !(s[0] >= 'a' && s[0] <= 'z')) s = "t-" + s;  // DNS-1035: Services start with a letter
  if (s.size() > max_len) s.resize(max_len);
  while (!s.empty() && s.back() == '-') s.pop_back();
  return s.empty() ? std::string("tessera").substr(0, max_len) : s;
}

bool is_dns1123_label(const std::string& s) {
  return !s.empty() && s.size() <= 63 && is_lower_alnum(s.front()) && is_lower_alnum(s.back()) &&
         std::all_of(s.begin(), s.end(), [](char c) { return is_lower_alnum(c) || c == '-'; });
}

bool is_dns1123_subdomain(const std::string& s) {
  if (s.empty() || s.size() > 253) return false;
  std::size_t start = 0;
  while (true) {
    const std::size_t dot = s.find('.', start);
    if (!is_dns1123_label(s.substr(start, dot == std::string::npos ? std::string::npos : dot - start))) return false;
    if (dot == std::string::npos) return true;
    start = dot + 1;
  }
}

bool is_quantity(const std::string& s) {
  // The pattern of resource quantities in the Kubernetes OpenAPI schema.
  static const std::regex re(
      R"(^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$)");
  return std::regex_match(s, re);
}

bool quantity_value(const std::string& s, double& value) {
  if (!is_quantity(s)) return false;
  std::size_t end = 0;
  while (end < s.size() && (std::isdigit(static_cast<unsigned char>(s[end])) || s[end] == '.' || s[end] == '+' ||
                            s[end] == '-'))
    ++end;
  const std::string number = s.substr(0, end), suffix = s.substr(end);
  double v = std::stod(number);
  static const std::map<std::string, double> scale = {
      {"", 1},        {"n", 1e-9},          {"u", 1e-6},          {"m", 1e-3},          {"k", 1e3},
      {"M", 1e6},     {"G", 1e9},           {"T", 1e12},          {"P", 1e15},          {"E", 1e18},
      {"Ki", 1024.0}, {"Mi", 1048576.0},    {"Gi", 1073741824.0}, {"Ti", 1099511627776.0},
      {"Pi", 1125899906842624.0},           {"Ei", 1152921504606846976.0}};
  if (const auto it = scale.find(suffix); it != scale.end())
    v *= it->second;
  else
    v *= std::pow(10.0, std::stod(suffix.substr(1)));  // e/E exponent
  value = v;
  return std::isfinite(v);
}

std::string job_name(const std::string& raw, int workers) {
  // "-worker-" plus the largest index must still fit the 63-character pod hostname.
  const std::size_t suffix = std::string("-worker-").size() + std::to_string(std::max(workers - 1, 0)).size();
  return dns_label(raw, 63 - suffix);
}

}  // namespace mpijob

namespace {

using namespace mpijob;

// A label key: optional DNS subdomain prefix and '/', then a name of up to 63 characters.
bool is_label_name(const std::string& s) {
  static const std::regex re(R"(^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$)");
  return !s.empty() && s.size() <= 63 && std::regex_match(s, re);
}
bool is_label_key(const std::string& k) {
  const std::size_t slash = k.find('/');
  if (slash == std::string::npos) return is_label_name(k);
  return is_dns1123_subdomain(k.substr(0, slash)) && is_label_name(k.substr(slash + 1));
}
bool is_label_value(const std::string& v) { return v.empty() || is_label_name(v); }

std::string human_bytes(std::uint64_t b) {
  std::ostringstream os;
  if (b % (1ull << 30) == 0)
    os << (b >> 30) << " GiB";
  else if (b % (1ull << 20) == 0)
    os << (b >> 20) << " MiB";
  else
    os << b << " bytes";
  return os.str();
}

// Options a cluster would reject, or that would make the job fail in its pods.
std::map<std::string, std::string> check_options(const JobSpec& job, const MpiJobOptions& o) {
  auto bad = [](const std::string& what) { throw UsageError("tessera render mpijob: " + what); };
  if (o.workers < 1 || o.workers > 100000) bad("--workers must be between 1 and 100000");
  if (o.slots < 1 || o.slots > 4096) bad("--slots must be between 1 and 4096");
  if (static_cast<long long>(o.workers) * o.slots > 1000000) bad("--workers x --slots must not exceed 1000000 ranks");
  if (o.image.empty()) bad("--image is required (the Tessera image the pods run, see k8s/build-image.sh)");
  if (std::any_of(o.image.begin(), o.image.end(), [](unsigned char c) { return std::isspace(c) || std::iscntrl(c); }))
    bad("--image '" + o.image + "' contains spaces or control characters");
  if (!is_dns1123_label(o.ns))
    bad("--namespace '" + o.ns + "' is not a valid namespace (lower-case letters, digits and '-', at most 63)");
  double cpu = 0, memory = 0;
  if (!quantity_value(o.cpu, cpu) || cpu <= 0)
    bad("--cpu '" + o.cpu + "' is not a positive Kubernetes quantity (e.g. 2, 1500m)");
  if (!quantity_value(o.memory, memory) || memory <= 0)
    bad("--memory '" + o.memory + "' is not a positive Kubernetes quantity (e.g. 4Gi, 512Mi)");
  // Each rank holds up to memory_per_rank of data buffers: below that the kernel OOM-kills ranks.
  const double need = static_cast<double>(job.run.memory_per_rank) * o.slots;
  if (memory < need)
    bad("--memory " + o.memory + " per worker is less than slots x memory_per_rank of the job (" +
        std::to_string(o.slots) + " x " + human_bytes(job.run.memory_per_rank) +
        "): raise --memory or lower --slots or run.memory_per_rank");
  if (!o.credentials_secret.empty() && !is_dns1123_subdomain(o.credentials_secret))
    bad("--credentials-secret '" + o.credentials_secret + "' is not a valid Secret name");
  if (!o.checkpoint_claim.empty() && !is_dns1123_subdomain(o.checkpoint_claim))
    bad("--checkpoint-claim '" + o.checkpoint_claim + "' is not a valid PersistentVolumeClaim name");
  // At least a second: 0 would SIGKILL at once, so no checkpoint could be saved.
  if (o.grace_seconds < 1 || o.grace_seconds > 86400)
    bad("--grace-period must be between 1 and 86400 seconds (time an evicted pod has to save a checkpoint)");
  if (!o.checkpoint_dir.empty()) {
    const std::string& d = o.checkpoint_dir;
    if (d[0] != '/' || d.find("/../") != std::string::npos || d.find("/./") != std::string::npos ||
        d.find("//") != std::string::npos || (d.size() >= 3 && d.compare(d.size() - 3, 3, "/..") == 0) ||
        (d.size() >= 2 && d.compare(d.size() - 2, 2, "/.") == 0) || d.back() == '/' ||
        std::any_of(d.begin(), d.end(), [](unsigned char c) { return std::iscntrl(c); }))
      bad("--checkpoint-dir '" + d + "' must be a plain absolute path in the pods (e.g. " + checkpoint_mount +
          "/NAME with --checkpoint-claim, or " + out_dir + "/.checkpoint/NAME on the workspace)");
  }

  std::map<std::string, std::string> selector;
  auto add = [&](const std::string& k, const std::string& v, const std::string& from) {
    if (!is_label_key(k)) bad(from + ": '" + k + "' is not a valid label key");
    if (!is_label_value(v)) bad(from + ": '" + v + "' is not a valid label value");
    if (const auto it = selector.find(k); it != selector.end() && it->second != v)
      bad(from + ": node selector '" + k + "' given twice with different values ('" + it->second + "', '" + v + "')");
    selector[k] = v;
  };
  for (const auto& kv : o.node_selector) {
    const std::size_t eq = kv.find('=');
    if (eq == std::string::npos) bad("--node-selector '" + kv + "' must be KEY=VALUE");
    add(kv.substr(0, eq), kv.substr(eq + 1), "--node-selector");
  }
  if (!o.region.empty()) add("topology.kubernetes.io/region", o.region, "--region");
  return selector;
}

bool under(const std::string& path, const std::string& dir) {
  return path.size() > dir.size() + 1 && path.compare(0, dir.size(), dir) == 0 && path[dir.size()] == '/';
}

// The job as the pods will read it: its relative paths resolve against the ConfigMap mount.
JobSpec check_pod_paths(const JobSpec& job, const std::string& job_text) {
  const JobSpec pod = parse_job_text(job_text, job.file.empty() ? "job.yaml" : job.file, job_dir);
  const std::string hint = std::string(" (in the pod the job file is ") + job_path + ": write local paths as ../data/... for inputs and ../out/... for the output, which are the workspace volume '" + workspace_claim + "', or use object-store URLs)";
  for (const auto& in : pod.inputs)
    for (const auto& p : in.paths)
      if (!p.empty() && p[0] == '/' && !under(p, data_dir) && !under(p, out_dir))
        throw JobError(job.file + ": input '" + in.alias + "' path resolves to " + p + " in the pod, outside " +
                       data_dir + " and " + out_dir + hint);
  if (!under(pod.output.path, out_dir))
    throw JobError(job.file + ": the output resolves to " + pod.output.path + " in the pod, outside " + out_dir + hint);
  return pod;
}

// Where the ranks save checkpoints in the pods: the --checkpoint-dir to render (empty: none on
// the command line) and whether the job checkpoints at all (then a SIGTERM becomes a checkpoint
// request). The folder must be on a writable volume every worker mounts, or the save fails.
struct Checkpointing {
  std::string dir_flag;
  bool enabled = false;
};

Checkpointing checkpointing(const JobSpec& pod, const MpiJobOptions& o, const std::string& mpijob_name) {
  Checkpointing c;
  c.dir_flag = o.checkpoint_dir;
  if (c.dir_flag.empty() && !o.checkpoint_claim.empty()) c.dir_flag = std::string(checkpoint_mount) + "/" + mpijob_name;
  const std::string dir = !c.dir_flag.empty() ? c.dir_flag : pod.run.checkpoint.dir;
  c.enabled = !dir.empty();
  if (!c.enabled) return c;
  const std::string what = !c.dir_flag.empty() ? "--checkpoint-dir " + dir
                                               : pod.file + ": run.checkpoint.dir resolves to " + dir + " in the pod, which";
  // A folder below the mount, not the mount itself: a successful run removes its folder.
  if (under(dir, checkpoint_mount)) {
    if (o.checkpoint_claim.empty())
      throw UsageError("tessera render mpijob: " + what + " is under " + checkpoint_mount +
                       ", which is mounted only with --checkpoint-claim CLAIM");
  } else if (!under(dir, out_dir)) {
    const std::string msg = what + " is on no writable volume shared by the workers: use " + out_dir +
                            "/... (the workspace) or " + checkpoint_mount + "/... with --checkpoint-claim";
    if (!c.dir_flag.empty()) throw UsageError("tessera render mpijob: " + msg);
    throw JobError(msg);
  }
  return c;
}

// Strings that YAML would read as a number, boolean or null are quoted (argv and env values must
// stay strings for the API server); the rest is left to yaml-cpp.
bool looks_typed(const std::string& s) {
  if (s.empty()) return true;
  static const char* words[] = {"y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE",
                                "false", "False", "FALSE", "on", "On", "ON", "off", "Off", "OFF", "null", "Null",
                                "NULL", "~"};
  for (const char* w : words)
    if (s == w) return true;
  const char c0 = s[0];
  const char c1 = s.size() > 1 ? s[1] : '\0';
  return std::isdigit(static_cast<unsigned char>(c0)) || ((c0 == '-' || c0 == '+' || c0 == '.') &&
                                                          (std::isdigit(static_cast<unsigned char>(c1)) || c1 == '.'));
}

struct Out {
  YAML::Emitter e;
  Out() { e.SetIndent(2); }
  Out& key(const std::string& k) {
    e << YAML::Key << k << YAML::Value;
    return *this;
  }
  Out& str(const std::string& v) {
    if (looks_typed(v))
      e << YAML::DoubleQuoted << v;
    else
      e << v;
    return *this;
  }
  Out& kv(const std::string& k, const std::string& v) { return key(k).str(v); }
  Out& kv(const std::string& k, long long v) {
    key(k);
    e << v;
    return *this;
  }
  Out& kvb(const std::string& k, bool v) {
    key(k);
    e << v;
    return *this;
  }
  Out& map() {
    e << YAML::BeginMap;
    return *this;
  }
  Out& endmap() {
    e << YAML::EndMap;
    return *this;
  }
  Out& seq() {
    e << YAML::BeginSeq;
    return *this;
  }
  Out& endseq() {
    e << YAML::EndSeq;
    return *this;
  }
  Out& strings(const std::string& k, const std::vector<std::string>& v) {
    key(k).seq();
    for (const auto& s : v) str(s);
    return endseq();
  }
};

struct Names {
  std::string job, config;
};

void labels(Out& o, const Names& n, const std::string& component) {
  o.key("labels").map();
  o.kv("app.kubernetes.io/name", "tessera").kv("app.kubernetes.io/instance", n.job);
  if (!component.empty()) o.kv("app.kubernetes.io/component", component);
  o.kv("app.kubernetes.io/managed-by", "tessera-render");
  o.endmap();
}

void resources(Out& o, const std::string& cpu, const std::string& memory) {
  // requests = limits: Guaranteed QoS, so the kubelet neither throttles nor evicts first, and
  // integer CPUs get exclusive cores under the static CPU manager.
  o.key("resources").map();
  for (const char* k : {"requests", "limits"}) o.key(k).map().kv("cpu", cpu).kv("memory", memory).endmap();
  o.endmap();
}

void pod_security(Out& o) {
  o.key("securityContext").map();
  o.kv("runAsUser", uid).kv("runAsGroup", uid).kvb("runAsNonRoot", true).kv("fsGroup", uid);
  o.key("seccompProfile").map().kv("type", "RuntimeDefault").endmap();
  o.endmap();
}

void container_security(Out& o) {
  o.key("securityContext").map();
  o.kvb("allowPrivilegeEscalation", false).kvb("readOnlyRootFilesystem", true);
  o.key("capabilities").map().strings("drop", {"ALL"}).endmap();
  o.endmap();
}

void pod_common(Out& o, const std::map<std::string, std::string>& selector, int grace_seconds) {
  // Pods talk MPI and ssh only: no API token, no Service env variables.
  o.kvb("automountServiceAccountToken", false).kvb("enableServiceLinks", false);
  // Between the kubelet's SIGTERM (turned into a checkpoint request by the entry points) and its
  // SIGKILL: long enough to finish a tile and write the checkpoint.
  o.kv("terminationGracePeriodSeconds", grace_seconds);
  if (!selector.empty()) {
    o.key("nodeSelector").map();
    for (const auto& [k, v] : selector) o.kv(k, v);
    o.endmap();
  }
  pod_security(o);
}

void tmp_volume(Out& o) {
  // The only writable place besides the output: Open MPI session files, sshd host keys.
  o.map().kv("name", "tmp").key("emptyDir").map().kv("sizeLimit", "256Mi").endmap().endmap();
}

void mount(Out& o, const std::string& name, const std::string& path, bool read_only, const std::string& sub = "") {
  o.map().kv("name", name).kv("mountPath", path);
  if (!sub.empty()) o.kv("subPath", sub);
  if (read_only) o.kvb("readOnly", true);
  o.endmap();
}

std::vector<std::string> launcher_command(const MpiJobOptions& opt, bool creds, const std::string& checkpoint_dir) {
  const std::string ranks = std::to_string(opt.workers * opt.slots);
  // The entry point turns the kubelet's SIGTERM into SIGUSR1 for mpirun (on SIGTERM mpirun itself
  // exits 1 even when the ranks saved a checkpoint). Ranks get only what mpirun forwards (they
  // are started through sshd, not by the kubelet).
  std::vector<std::string> c = {launcher_entry, "mpirun", "-n", ranks, "--bind-to", "none",
                                "-x", "HDF5_USE_FILE_LOCKING"};
  if (creds)
    for (const char* v : {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"}) {
      c.push_back("-x");
      c.push_back(v);
    }
  for (const std::string& a : {std::string("tessera"), std::string("run"), std::string(job_path),
                               std::string("--expect-ranks"), ranks})
    c.push_back(a);
  if (!checkpoint_dir.empty()) {
    c.push_back("--checkpoint-dir");
    c.push_back(checkpoint_dir);
  }
  return c;
}

void env_value(Out& o, const std::string& name, const std::string& value) {
  o.map().kv("name", name).kv("value", value).endmap();
}

void env_secret(Out& o, const std::string& name, const std::string& secret, bool optional) {
  o.map().kv("name", name).key("valueFrom").map().key("secretKeyRef").map();
  o.kv("name", secret).kv("key", name);
  if (optional) o.kvb("optional", true);
  o.endmap().endmap().endmap();
}

std::string render_configmap(const Names& n, const JobSpec& job, const std::string& job_text, const MpiJobOptions& opt,
                             bool literal) {
  Out o;
  o.map().kv("apiVersion", "v1").kv("kind", "ConfigMap");
  o.key("metadata").map().kv("name", n.config).kv("namespace", opt.ns);
  labels(o, n, "job-file");
  o.key("annotations").map().kv("tessera/job-sha256", job.hash).endmap();
  o.endmap();
  o.key("data").map().key("job.yaml");
  if (literal)
    o.e << YAML::Literal << job_text;
  else
    o.e << YAML::DoubleQuoted << job_text;
  o.endmap().endmap();
  if (!o.e.good()) throw JobError("cannot render the job file into a ConfigMap: " + o.e.GetLastError());
  std::string text = o.e.c_str();
  while (!text.empty() && (text.back() == ' ' || text.back() == '\n')) text.pop_back();  // the block's last indent
  return text + "\n";
}

std::string render_mpijob_doc(const Names& n, const JobSpec& job, const MpiJobOptions& opt,
                              const std::map<std::string, std::string>& selector, const Checkpointing& ck) {
  // What the entry points send on SIGTERM: USR1 = save a checkpoint and exit 75; without
  // checkpoints Tessera ignores USR1, so TERM (a clean stop) instead of waiting for the SIGKILL.
  const std::string stop_signal = ck.enabled ? "USR1" : "TERM";
  const bool creds = !opt.credentials_secret.empty();
  Out o;
  o.map().kv("apiVersion", "kubeflow.org/v2beta1").kv("kind", "MPIJob");
  o.key("metadata").map().kv("name", n.job).kv("namespace", opt.ns);
  labels(o, n, "");
  o.key("annotations").map().kv("tessera/job-sha256", job.hash).kv("tessera/job-configmap", n.config).endmap();
  o.endmap();

  o.key("spec").map();
  o.kv("slotsPerWorker", opt.slots).kv("mpiImplementation", "OpenMPI");
  // mpirun starts only once every worker's sshd answers its readiness probe.
  o.kv("launcherCreationPolicy", "WaitForWorkersReady");
  o.kv("sshAuthMountPath", ssh_dir);
  // Running: workers are deleted when the launcher ends, the launcher pod stays for its logs
  // until the TTL. One retry covers a lost node; job errors fail again the same way.
  o.key("runPolicy").map().kv("cleanPodPolicy", "Running").kv("backoffLimit", 1).kv("ttlSecondsAfterFinished", 86400);
  o.endmap();

  o.key("mpiReplicaSpecs").map();
  // --- Launcher: runs mpirun only (ranks live on the workers).
  o.key("Launcher").map().kv("replicas", 1).kv("restartPolicy", "Never");
  o.key("template").map();
  o.key("metadata").map();
  labels(o, n, "launcher");
  o.endmap();
  o.key("spec").map();
  pod_common(o, selector, opt.grace_seconds);
  o.key("containers").seq().map();
  o.kv("name", "launcher").kv("image", opt.image).kv("imagePullPolicy", "IfNotPresent");
  o.strings("command", launcher_command(opt, creds, ck.dir_flag));
  o.key("env").seq();
  env_value(o, "TESSERA_STOP_SIGNAL", stop_signal);
  env_value(o, "HDF5_USE_FILE_LOCKING", "FALSE");  // shared file systems (NFS, Lustre) lack POSIX locks
  env_value(o, "OMPI_MCA_pml", "ob1");             // TCP between pods: skip UCX probing
  env_value(o, "OMPI_MCA_btl", "self,vader,tcp");
  env_value(o, "OMPI_MCA_btl_vader_single_copy_mechanism", "none");  // CMA needs ptrace, dropped here
  if (creds) {
    env_secret(o, "AWS_ACCESS_KEY_ID", opt.credentials_secret, false);
    env_secret(o, "AWS_SECRET_ACCESS_KEY", opt.credentials_secret, false);
    env_secret(o, "AWS_SESSION_TOKEN", opt.credentials_secret, true);
  }
  o.endseq();
  resources(o, "500m", "512Mi");
  container_security(o);
  o.key("volumeMounts").seq();
  mount(o, "tmp", "/tmp", false);
  o.endseq();
  o.endmap().endseq();  // containers
  o.key("volumes").seq();
  tmp_volume(o);
  o.endseq();
  o.endmap().endmap().endmap();  // spec, template, Launcher

  // --- Workers: sshd on an unprivileged port with host keys made at start; the ranks run here.
  o.key("Worker").map().kv("replicas", opt.workers).kv("restartPolicy", "OnFailure");
  o.key("template").map();
  o.key("metadata").map();
  labels(o, n, "worker");
  o.endmap();
  o.key("spec").map();
  pod_common(o, selector, opt.grace_seconds);
  o.key("containers").seq().map();
  o.kv("name", "worker").kv("image", opt.image).kv("imagePullPolicy", "IfNotPresent");
  // sshd, plus forwarding the kubelet's SIGTERM to the ranks (which run under sshd, not as PID 1).
  o.strings("command", {worker_entry});
  o.key("env").seq();
  env_value(o, "TESSERA_STOP_SIGNAL", stop_signal);
  o.endseq();
  o.key("ports").seq().map().kv("name", "ssh").kv("containerPort", ssh_port).kv("protocol", "TCP").endmap().endseq();
  o.key("readinessProbe").map().key("tcpSocket").map().kv("port", ssh_port).endmap();
  o.kv("initialDelaySeconds", 1).kv("periodSeconds", 2).endmap();
  resources(o, opt.cpu, opt.memory);
  container_security(o);
  o.key("volumeMounts").seq();
  mount(o, "job", job_dir, true);
  mount(o, "workspace", data_dir, true, "data");
  mount(o, "workspace", out_dir, false, "out");
  if (!opt.checkpoint_claim.empty()) mount(o, "checkpoint", checkpoint_mount, false);
  mount(o, "tmp", "/tmp", false);
  o.endseq();
  o.endmap().endseq();  // containers
  o.key("volumes").seq();
  o.map().kv("name", "job").key("configMap").map().kv("name", n.config);
  o.key("items").seq().map().kv("key", "job.yaml").kv("path", "job.yaml").endmap().endseq();
  o.endmap().endmap();
  o.map().kv("name", "workspace").key("persistentVolumeClaim").map().kv("claimName", workspace_claim).endmap().endmap();
  if (!opt.checkpoint_claim.empty())
    o.map().kv("name", "checkpoint").key("persistentVolumeClaim").map().kv("claimName", opt.checkpoint_claim).endmap().endmap();
  tmp_volume(o);
  o.endseq();
  o.endmap().endmap().endmap();  // spec, template, Worker

  o.endmap();  // mpiReplicaSpecs
  o.endmap();  // spec
  o.endmap();
  if (!o.e.good()) throw JobError("cannot render the MPIJob: " + o.e.GetLastError());
  return std::string(o.e.c_str()) + "\n";
}

std::string header(const Names& n, const JobSpec& job, const MpiJobOptions& opt, const Checkpointing& ck) {
  const int ranks = opt.workers * opt.slots;
  std::ostringstream h;
  const std::string base = job.file.substr(job.file.find_last_of('/') + 1);
  h << "# Tessera job '" << job.name << "' (" << base << ", sha256 " << job.hash.substr(0, 12) << ") as a Kubeflow MPIJob:\n"
    << "# " << opt.workers << " worker" << (opt.workers > 1 ? "s" : "") << " x " << opt.slots << " slot"
    << (opt.slots > 1 ? "s" : "") << " = " << ranks << " MPI rank" << (ranks > 1 ? "s" : "") << ", "
    << opt.cpu << " CPU and " << opt.memory << " per worker.\n"
    << "# Rendered by `tessera render mpijob`; apply with `kubectl apply -f FILE`. Needs in namespace '" << opt.ns
    << "':\n"
    << "#  - the MPI Operator (kubeflow.org/v2beta1) installed in the cluster;\n"
    << "#  - PersistentVolumeClaim '" << workspace_claim << "' (ReadWriteMany) holding data/ (inputs) and out/\n"
    << "#    (results, writable by uid/gid " << uid << "), mounted at " << data_dir << " and " << out_dir << ";\n";
  if (!opt.credentials_secret.empty())
    h << "#  - Secret '" << opt.credentials_secret
      << "' with AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY (and optionally AWS_SESSION_TOKEN).\n";
  if (!opt.checkpoint_claim.empty())
    h << "#  - PersistentVolumeClaim '" << opt.checkpoint_claim << "' (ReadWriteMany, writable by uid/gid " << uid
      << ")\n#    for checkpoints, mounted at " << checkpoint_mount << " on the workers.\n";
  h << "# The job file travels in ConfigMap '" << n.config << "', mounted at " << job_path << ".\n";
  if (ck.enabled)
    h << "# Evicted or deleted pods get " << opt.grace_seconds << " s to save a checkpoint"
      << (ck.dir_flag.empty() ? " (run.checkpoint of the job)" : " in " + ck.dir_flag)
      << ";\n# the launcher then exits 75: delete and apply this file again to resume.\n";
  return h.str();
}

// Parses the rendered text back and checks what kubectl and the pods rely on.
bool round_trips(const std::string& text, const Names& n, const std::string& job_text) {
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(text);
  } catch (const YAML::Exception&) {
    return false;
  }
  if (docs.size() != 2) return false;
  const YAML::Node cm = docs[0], mj = docs[1];
  return cm["kind"].as<std::string>("") == "ConfigMap" && cm["metadata"]["name"].as<std::string>("") == n.config &&
         cm["data"]["job.yaml"].IsScalar() && cm["data"]["job.yaml"].as<std::string>() == job_text &&
         mj["kind"].as<std::string>("") == "MPIJob" && mj["metadata"]["name"].as<std::string>("") == n.job;
}

}  // namespace

std::string render_mpijob(const JobSpec& job, const std::string& job_text, const MpiJobOptions& opt) {
  const auto selector = check_options(job, opt);
  const JobSpec pod = check_pod_paths(job, job_text);
  // A ConfigMap holds at most 1 MiB; job files are a few hundred bytes.
  if (job_text.size() > 900 * 1024) throw JobError(job.file + ": the job file is too large for a ConfigMap (1 MiB)");

  Names n;
  n.job = job_name(job.name, opt.workers);
  n.config = n.job + "-job";  // the operator owns <name>-config and <name>-ssh

  const Checkpointing ck = checkpointing(pod, opt, n.job);
  const std::string head = header(n, job, opt, ck), mpijob_doc = render_mpijob_doc(n, job, opt, selector, ck);
  // Literal block style keeps the job file readable; texts it cannot carry exactly (no final
  // newline, leading blanks, ...) fall back to a double-quoted string.
  for (bool literal : {true, false}) {
    const std::string text = head + "---\n" + render_configmap(n, job, job_text, opt, literal) + "---\n" + mpijob_doc;
    if (round_trips(text, n, job_text)) return text;
  }
  throw JobError(job.file + ": the job file cannot be carried exactly in a YAML ConfigMap (is it UTF-8 text?)");
}

}  // namespace tessera
