#include "core/cleanup.hpp"

#include <signal.h>
#include <unistd.h>

#include <atomic>
#include <cstring>

#if defined(__SANITIZE_ADDRESS__)
#define TESSERA_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TESSERA_ASAN 1
#endif
#endif
#ifdef TESSERA_ASAN
#include <sanitizer/common_interface_defs.h>
#endif

namespace tessera {
namespace {

// Plain arrays: the handler may only use async-signal-safe calls (unlink, raise).
constexpr int slots = 4;
constexpr std::size_t max_path = 4096;
char paths[slots][max_path];
std::atomic<bool> used[slots];

std::atomic<bool> skip_shutdown{false};

constexpr int caught[] = {SIGTERM, SIGINT, SIGHUP, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT};
struct sigaction previous[NSIG];

void remove_all() {
  for (int i = 0; i < slots; ++i)
    if (used[i].load()) ::unlink(paths[i]);
}

void on_signal(int sig) {
  remove_all();
  // Then whatever handled the signal before (the default: die of it, so the launcher sees why;
  // or a sanitizer's or MPI's report): it runs once this handler returns (the signal is pending).
  ::sigaction(sig, &previous[sig], nullptr);
  ::raise(sig);
}

void install_once() {
  static const bool installed = [] {
#ifdef TESSERA_ASAN
    __sanitizer_set_death_callback(remove_all);  // a sanitizer report ends the process with _exit
#endif
    for (int sig : caught) {
      struct sigaction sa {};
      sa.sa_handler = on_signal;
      sigemptyset(&sa.sa_mask);
      ::sigaction(sig, &sa, &previous[sig]);
      // A signal ignored on purpose (nohup) stays ignored: the run goes on, so must its files.
      if (!(previous[sig].sa_flags & SA_SIGINFO) && previous[sig].sa_handler == SIG_IGN)
        ::sigaction(sig, &previous[sig], nullptr);
    }
    return true;
  }();
  (void)installed;
}

}  // namespace

int remove_on_signal(const std::string& path) {
  if (path.size() >= max_path) return -1;
  install_once();
  for (int i = 0; i < slots; ++i) {
    if (used[i].load()) continue;
    std::memcpy(paths[i], path.c_str(), path.size() + 1);
    used[i].store(true);
    return i;
  }
  return -1;
}

void remove_registered_files() { remove_all(); }

void install_cleanup_handlers() { install_once(); }

void skip_library_shutdown() { skip_shutdown.store(true); }
bool library_shutdown_skipped() { return skip_shutdown.load(); }

void forget_on_signal(int slot) {
  if (slot >= 0 && slot < slots) used[slot].store(false);
}

}  // namespace tessera
