#include "core/stop_request.hpp"

#include <signal.h>

#include <atomic>
#include <initializer_list>

namespace tessera {
namespace {

std::atomic<int> requested{0};
static_assert(std::atomic<int>::is_always_lock_free, "the signal handler needs a lock-free flag");

void on_stop_signal(int sig) { requested.store(sig); }

}  // namespace

void stop_on_signal_at_tile_boundary() {
  for (int sig : {SIGTERM, SIGUSR1}) {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;  // blocking reads resume; the loop sees the flag after the tile
    ::sigaction(sig, &sa, nullptr);
  }
}

void ignore_stop_signal() { ::signal(SIGUSR1, SIG_IGN); }

bool stop_requested() { return requested.load() != 0; }
int stop_signal() { return requested.load(); }

}  // namespace tessera
