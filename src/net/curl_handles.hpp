#pragma once
// RAII, move-only owners of libcurl handles (included only by src/net/*.cpp).
#include <curl/curl.h>

#include <utility>

namespace tessera::net {

template <typename T, void (*Free)(T*)>
class CurlHandle {
 public:
  CurlHandle() noexcept = default;
  explicit CurlHandle(T* p) noexcept : p_(p) {}
  ~CurlHandle() { reset(); }
  CurlHandle(CurlHandle&& o) noexcept : p_(std::exchange(o.p_, nullptr)) {}
  CurlHandle& operator=(CurlHandle&& o) noexcept {
    if (this != &o) {
      reset();
      p_ = std::exchange(o.p_, nullptr);
    }
    return *this;
  }
  CurlHandle(const CurlHandle&) = delete;
  CurlHandle& operator=(const CurlHandle&) = delete;
  T* get() const noexcept { return p_; }
  void reset(T* p = nullptr) noexcept {
    if (p_) Free(p_);
    p_ = p;
  }

 private:
  T* p_ = nullptr;
};

inline void free_easy(CURL* c) { curl_easy_cleanup(c); }
inline void free_multi(CURLM* m) { curl_multi_cleanup(m); }
inline void free_slist(curl_slist* s) { curl_slist_free_all(s); }

using Easy = CurlHandle<CURL, free_easy>;
using Multi = CurlHandle<CURLM, free_multi>;
using Slist = CurlHandle<curl_slist, free_slist>;

}  // namespace tessera::net
