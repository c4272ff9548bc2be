#pragma once
// AWS credentials, looked up the way the AWS CLI does (environment, then the shared credentials
// file's profile). They live in memory only: never logged, never written, never in messages.
#include <functional>
#include <optional>
#include <string>

namespace tessera::net {

struct Credentials {
  std::string access_key;
  std::string secret_key;
  std::string session_token;  // empty unless temporary credentials
};

// getenv by default; tests pass their own.
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;
std::optional<std::string> process_env(const std::string& name);

// AWS_ACCESS_KEY_ID + AWS_SECRET_ACCESS_KEY (+ AWS_SESSION_TOKEN), else the profile
// AWS_PROFILE (default "default") in AWS_SHARED_CREDENTIALS_FILE (default ~/.aws/credentials);
// nullopt when neither has a key pair.
std::optional<Credentials> find_credentials(const EnvLookup& env = process_env);

// The key pair of `profile` in the text of a credentials file (INI), if complete.
std::optional<Credentials> parse_credentials_file(const std::string& text, const std::string& profile);

}  // namespace tessera::net
