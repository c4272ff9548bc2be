// SigV4 and HMAC against published vectors: RFC 4231 and AWS's signature test suite / S3 docs.
#include <gtest/gtest.h>

#include "core/sha256.hpp"
#include "net/hmac.hpp"
#include "net/sigv4.hpp"

using namespace tessera::net;

TEST(Hmac, Rfc4231Vectors) {
  EXPECT_EQ(to_hex(hmac_sha256("Jefe", "what do ya want for nothing?")),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
  // Case 6: a key longer than the block is hashed first.
  EXPECT_EQ(to_hex(hmac_sha256(std::string(131, '\xaa'), "Test Using Larger Than Block-Size Key - Hash Key First")),
            "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

namespace {
const Credentials kSuite{"AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", ""};
const Credentials kS3Docs{"AKIAIOSFODNN7EXAMPLE", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", ""};
const std::string kEmpty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
}  // namespace

TEST(SigV4, GetVanilla) {
  SigningInput in{"GET", "/", {}, {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}}, kEmpty};
  EXPECT_EQ(sigv4_authorization(in, kSuite, "us-east-1", "service", "20150830T123600Z"),
            "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, "
            "SignedHeaders=host;x-amz-date, Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31");
}

TEST(SigV4, QueryOrderKeyCase) {
  SigningInput in{"GET", "/", {{"Param2", "value2"}, {"Param1", "value1"}},
                  {{"Host", "example.amazonaws.com"}, {"X-Amz-Date", "20150830T123600Z"}}, kEmpty};
  const std::string auth = sigv4_authorization(in, kSuite, "us-east-1", "service", "20150830T123600Z");
  EXPECT_NE(auth.find("Signature=b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500"), std::string::npos)
      << auth;
}

TEST(SigV4, S3GetObjectWithRange) {
  SigningInput in{"GET", "/test.txt", {},
                  {{"Host", "examplebucket.s3.amazonaws.com"}, {"Range", "bytes=0-9"},
                   {"x-amz-content-sha256", kEmpty}, {"x-amz-date", "20130524T000000Z"}},
                  kEmpty};
  EXPECT_EQ(tessera::sha256_hex(canonical_request(in)), "7344ae5b7ee6c3e7e6b0fe0640412a37625d1fbfff95c48bbb2dc43964946972");
  EXPECT_EQ(sigv4_authorization(in, kS3Docs, "us-east-1", "s3", "20130524T000000Z"),
            "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, "
            "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, "
            "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41");
}

TEST(SigV4, S3ListObjects) {
  SigningInput in{"GET", "/", {{"prefix", "J"}, {"max-keys", "2"}},
                  {{"host", "examplebucket.s3.amazonaws.com"}, {"x-amz-content-sha256", kEmpty},
                   {"x-amz-date", "20130524T000000Z"}},
                  kEmpty};
  EXPECT_EQ(canonical_query(in.query), "max-keys=2&prefix=J");
  const std::string auth = sigv4_authorization(in, kS3Docs, "us-east-1", "s3", "20130524T000000Z");
  EXPECT_NE(auth.find("Signature=34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7"), std::string::npos)
      << auth;
}

TEST(SigV4, SessionTokenIsSignedAndNeverInTheAuthorization) {
  SigningInput in{"GET", "/b/k", {}, {{"host", "127.0.0.1:9000"}}, ""};
  sign_s3_request(in, Credentials{"AK", "SECRETSECRET", "TOKEN123"}, "eu-west-1");
  std::string auth, token, payload;
  for (const auto& [k, v] : in.headers) {
    if (k == "Authorization") auth = v;
    if (k == "x-amz-security-token") token = v;
    if (k == "x-amz-content-sha256") payload = v;
  }
  EXPECT_EQ(token, "TOKEN123");
  EXPECT_EQ(payload, "UNSIGNED-PAYLOAD");
  EXPECT_NE(auth.find("SignedHeaders=host;x-amz-content-sha256;x-amz-date;x-amz-security-token"), std::string::npos)
      << auth;
  EXPECT_NE(auth.find("/eu-west-1/s3/aws4_request"), std::string::npos);
  EXPECT_EQ(auth.find("SECRETSECRET"), std::string::npos);
}
