// Files registered with remove_on_signal go when the process is stopped or crashes, stay when
// the signal is ignored on purpose (nohup), and stay after forget_on_signal.
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <string>

#include <gtest/gtest.h>

#include "core/cleanup.hpp"

namespace tessera {
namespace {

namespace fs = std::filesystem;

std::string touch(const std::string& name) {
  const std::string p = (fs::temp_directory_path() / (name + "-" + std::to_string(::getpid()))).string();
  std::ofstream(p) << "x";
  return p;
}

// Runs `body` in a child process; returns its wait status.
template <class F>
int in_child(F body) {
  const pid_t pid = ::fork();
  if (pid == 0) {
    body();
    std::_Exit(0);
  }
  int status = 0;
  ::waitpid(pid, &status, 0);
  return status;
}

TEST(Cleanup, RegisteredFileGoesOnTerminationAndTheSignalStillKills) {
  const std::string f = touch("cleanup-term");
  const int status = in_child([&] {
    remove_on_signal(f);
    ::raise(SIGTERM);
    std::_Exit(7);  // not reached
  });
  EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGTERM);
  EXPECT_FALSE(fs::exists(f));
}

TEST(Cleanup, RegisteredFileGoesOnACrash) {
  const std::string f = touch("cleanup-abort");
  const int status = in_child([&] {
    remove_on_signal(f);
    std::abort();
  });
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_FALSE(fs::exists(f));
}

TEST(Cleanup, IgnoredSignalKeepsTheFileAndTheProcess) {
  const std::string f = touch("cleanup-nohup");
  const int status = in_child([&] {
    ::signal(SIGHUP, SIG_IGN);
    remove_on_signal(f);
    ::raise(SIGHUP);
    std::_Exit(5);
  });
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 5);
  EXPECT_TRUE(fs::exists(f));
  fs::remove(f);
}

TEST(Cleanup, ForgottenFileStays) {
  const std::string f = touch("cleanup-forget");
  const int status = in_child([&] {
    forget_on_signal(remove_on_signal(f));
    ::raise(SIGTERM);
  });
  EXPECT_TRUE(WIFSIGNALED(status));
  EXPECT_TRUE(fs::exists(f));
  fs::remove(f);
}

}  // namespace
}  // namespace tessera
