#include <gtest/gtest.h>

#include <cstdio>
#include <fstream>
#include <map>

#include "core/error.hpp"
#include "net/credentials.hpp"
#include "net/object_store.hpp"
#include "net/url.hpp"

using namespace tessera::net;

TEST(Url, ParsesS3AndHttp) {
  Url s = parse_url("s3://my-bucket/a/b c.nc");
  EXPECT_EQ(s.scheme, "s3");
  EXPECT_EQ(s.host, "my-bucket");
  EXPECT_EQ(s.key(), "a/b c.nc");
  Url h = parse_url("HTTP://127.0.0.1:8080/data/x.nc?sig=SECRET");
  EXPECT_EQ(h.scheme, "http");
  EXPECT_EQ(h.port, 8080);
  EXPECT_EQ(h.path, "/data/x.nc");
  EXPECT_EQ(h.redacted(), "http://127.0.0.1:8080/data/x.nc?...");
  EXPECT_EQ(parse_url("https://example.org").path, "/");
  EXPECT_THROW(parse_url("ftp://x/y"), tessera::InputError);
  EXPECT_THROW(parse_url("http://host:99999/"), tessera::InputError);
  EXPECT_THROW(parse_url("s3:///key"), tessera::InputError);
  try {
    parse_url("http://user:pw@host/x?token=abc");
    FAIL();
  } catch (const tessera::InputError& e) {
    EXPECT_EQ(std::string(e.what()).find("token=abc"), std::string::npos);
  }
  EXPECT_TRUE(is_remote("s3://b/k"));
  EXPECT_FALSE(is_remote("/data/s3://x"));
}

TEST(Url, Encoding) {
  EXPECT_EQ(uri_encode("a b/é+~", false), "a%20b/%C3%A9%2B~");
  EXPECT_EQ(uri_encode("a/b", true), "a%2Fb");
}

namespace {
EnvLookup env_of(std::map<std::string, std::string> m) {
  return [m](const std::string& k) -> std::optional<std::string> {
    auto it = m.find(k);
    if (it == m.end()) return std::nullopt;
    return it->second;
  };
}
}  // namespace

TEST(Credentials, EnvironmentFirstThenProfile) {
  const std::string file = ::testing::TempDir() + "/tessera-creds";
  std::ofstream(file) << "[default]\naws_access_key_id = DEF\naws_secret_access_key = defsecret\n\n"
                         "# comment\n[prod]\naws_access_key_id=PROD\naws_secret_access_key=prodsecret\n"
                         "aws_session_token = tok\n[partial]\naws_access_key_id=X\n";
  auto c = find_credentials(env_of({{"AWS_ACCESS_KEY_ID", "ENV"}, {"AWS_SECRET_ACCESS_KEY", "envsecret"},
                                    {"AWS_SHARED_CREDENTIALS_FILE", file}}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key, "ENV");
  EXPECT_EQ(c->session_token, "");
  c = find_credentials(env_of({{"AWS_SHARED_CREDENTIALS_FILE", file}}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->access_key, "DEF");
  c = find_credentials(env_of({{"AWS_SHARED_CREDENTIALS_FILE", file}, {"AWS_PROFILE", "prod"}}));
  ASSERT_TRUE(c);
  EXPECT_EQ(c->secret_key, "prodsecret");
  EXPECT_EQ(c->session_token, "tok");
  EXPECT_FALSE(find_credentials(env_of({{"AWS_SHARED_CREDENTIALS_FILE", file}, {"AWS_PROFILE", "partial"}})));
  EXPECT_FALSE(find_credentials(env_of({{"AWS_SHARED_CREDENTIALS_FILE", file + ".none"}})));
  std::remove(file.c_str());
}

TEST(ObjectStore, AddressingAndEndpoints) {
  ObjectStore aws(RemoteOptions{"", "eu-west-1", true}, env_of({}));
  EXPECT_EQ(aws.http_url("s3://bucket/dir/a b.nc"), "https://bucket.s3.eu-west-1.amazonaws.com/dir/a%20b.nc");
  EXPECT_EQ(aws.http_url("s3://my.bucket/k"), "https://s3.eu-west-1.amazonaws.com/my.bucket/k");
  ObjectStore local(RemoteOptions{"http://127.0.0.1:9000/", "", true}, env_of({}));
  EXPECT_EQ(local.http_url("s3://bucket/k.nc"), "http://127.0.0.1:9000/bucket/k.nc");
  ObjectStore from_env(RemoteOptions{}, env_of({{"AWS_ENDPOINT_URL", "http://h:1"}, {"AWS_ENDPOINT_URL_S3", "http://s3:2"},
                                                {"TESSERA_S3_ADDRESSING", "virtual"}}));
  EXPECT_EQ(from_env.http_url("s3://b/k"), "http://b.s3:2/k");
  EXPECT_EQ(from_env.http_url("https://example.org/x.nc"), "https://example.org/x.nc");
  // Anonymous inputs never sign, even when credentials exist.
  ObjectStore anon(RemoteOptions{"http://h:1", "", true}, env_of({{"AWS_ACCESS_KEY_ID", "a"}, {"AWS_SECRET_ACCESS_KEY", "b"}}));
  EXPECT_FALSE(anon.signing());
  ObjectStore signed_(RemoteOptions{"http://h:1", "", false}, env_of({{"AWS_ACCESS_KEY_ID", "a"}, {"AWS_SECRET_ACCESS_KEY", "b"}}));
  EXPECT_TRUE(signed_.signing());
}

TEST(ObjectStore, GlobMatch) {
  EXPECT_TRUE(glob_match("data/tas_*.nc", "data/tas_2001.nc"));
  EXPECT_FALSE(glob_match("data/*.nc", "data/sub/x.nc"));
  EXPECT_TRUE(glob_match("data/tas_200[0-4].nc", "data/tas_2003.nc"));
}
