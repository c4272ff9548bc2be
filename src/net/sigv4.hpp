#pragma once
// AWS Signature Version 4 (header form), checked against AWS's published test vectors.
#include <string>
#include <utility>
#include <vector>

#include "net/credentials.hpp"

namespace tessera::net {

using Pairs = std::vector<std::pair<std::string, std::string>>;

struct SigningInput {
  std::string method = "GET";
  std::string path = "/";      // canonical URI, already percent-encoded (S3 encodes once)
  Pairs query;                 // decoded names and values, any order
  Pairs headers;               // must include "host"; names in any case
  std::string payload_hash;    // hex SHA-256 of the body, or "UNSIGNED-PAYLOAD"
};

// "a=1&b=2": names sorted, both sides percent-encoded ('/' too), as both the URL and the
// canonical request use it.
std::string canonical_query(const Pairs& query);
std::string canonical_request(const SigningInput& in);
std::string string_to_sign(const SigningInput& in, const std::string& amz_date, const std::string& scope);

// The Authorization header value. `amz_date` is "YYYYMMDDTHHMMSSZ" and must equal the request's
// x-amz-date header, which the caller puts in `in.headers` (with any token header) beforehand.
std::string sigv4_authorization(const SigningInput& in, const Credentials& creds, const std::string& region,
                                const std::string& service, const std::string& amz_date);

// Adds x-amz-date, x-amz-content-sha256 (UNSIGNED-PAYLOAD), x-amz-security-token when the
// credentials have one, and Authorization to `in.headers`, for an S3 request sent now.
void sign_s3_request(SigningInput& in, const Credentials& creds, const std::string& region);

// Current UTC time as "YYYYMMDDTHHMMSSZ".
std::string amz_date_now();

}  // namespace tessera::net
