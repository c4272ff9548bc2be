#pragma once
// Runs one phase of a collective job on every rank and agrees on its outcome: if any rank threw,
// every rank throws the same AgreedError afterwards. Nobody waits forever for a rank that failed,
// because no collective call is made inside a phase that a failing rank could skip.
#include <exception>
#include <utility>

#include "core/error.hpp"
#include "mpi/comm.hpp"

namespace tessera::mpi {

template <class F>
auto run_phase(const Comm& comm, F&& body) -> decltype(body()) {
  int code = 0;
  std::string message;
  using R = decltype(body());
  if constexpr (std::is_void_v<R>) {
    try {
      std::forward<F>(body)();
    } catch (const Error& e) {
      code = static_cast<int>(e.code()), message = e.what();
    } catch (const std::bad_alloc&) {
      code = static_cast<int>(ExitCode::runtime), message = "out of memory; lower run.memory_per_rank";
    } catch (const std::exception& e) {
      code = static_cast<int>(ExitCode::runtime), message = e.what();
    }
    const Agreement a = agree(comm, code, message);
    if (a.code) throw AgreedError(static_cast<ExitCode>(a.code), a.message, a.origin_rank, a.failed_ranks);
  } else {
    R result{};
    run_phase(comm, [&] { result = std::forward<F>(body)(); });
    return result;
  }
}

}  // namespace tessera::mpi
