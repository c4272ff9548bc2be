#include "report/progress.hpp"

#include <unistd.h>

#include <cstdio>

namespace tessera {

Progress::Progress(bool enabled, std::uint64_t total_bytes, int ranks)
    : enabled_(enabled), tty_(::isatty(STDERR_FILENO) != 0), total_(total_bytes), ranks_(ranks),
      start_(std::chrono::steady_clock::now()), last_(start_) {}

void Progress::advance(std::uint64_t bytes) {
  done_ += bytes;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  // A terminal refreshes often; a batch log gets one line every 10 s to stay readable.
  const auto every = tty_ ? std::chrono::milliseconds(200) : std::chrono::milliseconds(10000);
  if (now - last_ < every) return;
  last_ = now;
  print(false);
}

void Progress::finish() {
  if (enabled_ && tty_ && done_ > 0) print(true);
}

void Progress::print(bool final_line) {
  const double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  const double frac = total_ ? double(done_) / double(total_) : 1.0;
  const double all_bytes = double(done_) * ranks_;  // rank 0 stands for everyone
  const double rate = secs > 0 ? all_bytes / secs / 1e9 : 0.0;
  const double eta = frac > 0 ? secs * (1 - frac) / frac : 0.0;
  std::fprintf(stderr, "%stessera: %5.1f%%  %.2f of %.2f GB  %.2f GB/s  ETA %.0f s%s", tty_ ? "\r" : "",
               100.0 * frac, all_bytes / 1e9, double(total_) * ranks_ / 1e9, rate, eta,
               tty_ && !final_line ? "" : "\n");
  std::fflush(stderr);
}

}  // namespace tessera
