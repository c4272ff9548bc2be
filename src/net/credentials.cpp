#include "net/credentials.hpp"

#include <cstdlib>
#include <fstream>
#include <sstream>

namespace tessera::net {
namespace {

std::string trim(const std::string& s) {
  const std::size_t a = s.find_first_not_of(" \t\r");
  if (a == std::string::npos) return "";
  return s.substr(a, s.find_last_not_of(" \t\r") - a + 1);
}

}  // namespace

std::optional<std::string> process_env(const std::string& name) {
  const char* v = std::getenv(name.c_str());
  if (!v || !*v) return std::nullopt;
  return std::string(v);
}

std::optional<Credentials> parse_credentials_file(const std::string& text, const std::string& profile) {
  std::istringstream in(text);
  std::string line, section;
  Credentials c;
  while (std::getline(in, line)) {
    line = trim(line);
    if (line.empty() || line[0] == '#' || line[0] == ';') continue;
    if (line.front() == '[' && line.back() == ']') {
      section = trim(line.substr(1, line.size() - 2));
      continue;
    }
    if (section != profile) continue;
    const std::size_t eq = line.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = trim(line.substr(0, eq)), value = trim(line.substr(eq + 1));
    if (key == "aws_access_key_id") c.access_key = value;
    else if (key == "aws_secret_access_key") c.secret_key = value;
    else if (key == "aws_session_token") c.session_token = value;
  }
  if (c.access_key.empty() || c.secret_key.empty()) return std::nullopt;
  return c;
}

std::optional<Credentials> find_credentials(const EnvLookup& env) {
  const auto id = env("AWS_ACCESS_KEY_ID"), secret = env("AWS_SECRET_ACCESS_KEY");
  if (id && secret) return Credentials{*id, *secret, env("AWS_SESSION_TOKEN").value_or("")};
  std::string file;
  if (auto f = env("AWS_SHARED_CREDENTIALS_FILE")) file = *f;
  else if (auto home = env("HOME")) file = *home + "/.aws/credentials";
  else return std::nullopt;
  std::ifstream in(file);
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return parse_credentials_file(text.str(), env("AWS_PROFILE").value_or("default"));
}

}  // namespace tessera::net
