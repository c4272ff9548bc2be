// The ROS3 fallback reader (hdf5_remote.hpp): the local HDF5 reader on the objects' http(s)
// URLs, every read inside a Ros3Scope so that files open through HDF5's ROS3 driver.
#include "core/error.hpp"
#include "io/remote_parts.hpp"
#include "io/hdf5_remote.hpp"
#include "io/hdf5_source.hpp"
#include "net/object_store.hpp"

namespace tessera {
namespace {

class Ros3Source final : public Source {
 public:
  explicit Ros3Source(InputMeta m) : Source(std::move(m)) {
    InputMeta inner = meta_;
    inner.kind = "hdf5";
    RemoteParts remote = open_remote_parts(meta_);
    store_ = std::move(remote.store);
    if (const auto& c = store_->credentials()) {
      if (!c->session_token.empty())
        throw InputError("cannot read '" + remote.urls.front() + "' through HDF5's ROS3 driver with "
                         "temporary credentials (AWS_SESSION_TOKEN): this HDF5 has no session-token support");
      access_ = Ros3Access{true, store_->region(), c->access_key, c->secret_key};
    }
    for (std::size_t i = 0; i < inner.parts.size(); ++i) {
      labels_.emplace_back(store_->http_url(remote.urls[i]), remote.urls[i]);
      inner.parts[i].path = labels_.back().first;
      inner.parts[i].reader.clear();
    }
    inner_ = open_hdf5_source(inner);
  }

  void read(const Box& box, void* dst) override {
    Ros3Scope scope(access_);
    try {
      inner_->read(box, dst);
    } catch (const InputError& e) {
      // Messages name the user's URLs, not the endpoint's.
      std::string msg = e.what();
      for (const auto& [http, label] : labels_)
        for (std::size_t at = msg.find(http); at != std::string::npos; at = msg.find(http, at + label.size()))
          msg.replace(at, http.size(), label);
      throw InputError(msg);
    }
  }

 private:
  std::unique_ptr<net::ObjectStore> store_;
  Ros3Access access_;
  std::vector<std::pair<std::string, std::string>> labels_;  // http URL, user's URL
  std::unique_ptr<Source> inner_;
};

}  // namespace

std::unique_ptr<Source> open_ros3_source(const InputMeta& meta) { return std::make_unique<Ros3Source>(meta); }

}  // namespace tessera
