// Runs a scenario in a fresh child process: for behaviour fixed once per process
// (NDL_DEVICE and NDL_CPU_THREADS are read when the runtime starts) or that happens at
// process exit.
//
// A scenario is registered with NDL_TEST_PROBE(name) { ...; return exit_code; } at namespace
// scope. run_probe("name", {{"NDL_DEVICE", "cpu"}}) starts the test binary itself
// (/proc/self/exe) with NDL_TEST_PROBE=name and the given environment; before main() runs,
// the registered scenario runs and the child exits with its return value. What it prints to
// stdout and stderr comes back in probe_result::output. A child that runs past its time limit
// is killed and reported as timed out.
#pragma once

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

namespace ndl_test {

struct probe_result {
  int exit_code = -1;      ///< the child's exit status, or -1 when it did not exit normally
  int signal = 0;          ///< the signal that ended it, if any
  bool timed_out = false;  ///< killed after the time limit
  std::string output;      ///< stdout and stderr, interleaved
};

/// Runs the probe `name` in a child process with `env` added to (or replacing entries of)
/// this process's environment.
inline probe_result run_probe(const std::string& name,
                              const std::vector<std::pair<std::string, std::string>>& env,
                              std::chrono::seconds limit = std::chrono::seconds(30)) {
  probe_result result;
  std::vector<std::string> vars;
  for (char** e = environ; *e; ++e) {
    const std::string var = *e;
    bool replaced = var.rfind("NDL_TEST_PROBE=", 0) == 0;
    for (const auto& [k, v] : env)
      replaced = replaced || var.rfind(k + "=", 0) == 0;
    if (!replaced) vars.push_back(var);
  }
  vars.push_back("NDL_TEST_PROBE=" + name);
  for (const auto& [k, v] : env)
    vars.push_back(k + "=" + v);
  std::vector<char*> envp;
  for (auto& v : vars)
    envp.push_back(v.data());
  envp.push_back(nullptr);

  int fds[2];
  if (pipe(fds) != 0) {
    result.output = "pipe() failed";
    return result;
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addclose(&actions, fds[1]);
  std::string exe = "/proc/self/exe";
  char* argv[] = {exe.data(), nullptr};
  pid_t pid = 0;
  const int rc = posix_spawn(&pid, "/proc/self/exe", &actions, nullptr, argv, envp.data());
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    result.output = std::string("posix_spawn failed: ") + std::strerror(rc);
    return result;
  }

  const auto deadline = std::chrono::steady_clock::now() + limit;
  char buf[4096];
  for (;;) {
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, 100);
    if (ready > 0) {
      const ssize_t n = read(fds[0], buf, sizeof buf);
      if (n <= 0) break;  // the child closed its end: it is exiting
      result.output.append(buf, static_cast<size_t>(n));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      kill(pid, SIGKILL);
      result.timed_out = true;
      break;
    }
  }
  close(fds[0]);
  int status = 0;
  waitpid(pid, &status, 0);
  if (WIFEXITED(status)) result.exit_code = WEXITSTATUS(status);
  if (WIFSIGNALED(status)) result.signal = WTERMSIG(status);
  return result;
}

namespace detail {
/// Runs `body` and exits with its result when this process is the child for probe `name`.
struct probe_registration {
  probe_registration(const char* name, int (*body)()) {
    const char* want = std::getenv("NDL_TEST_PROBE");
    if (!want || std::strcmp(want, name) != 0) return;
    const int code = body();
    std::fflush(stdout);
    std::fflush(stderr);
    std::_Exit(code);
  }
};
}  // namespace detail

}  // namespace ndl_test

/// Registers a child-process scenario; the body returns the child's exit code.
#define NDL_TEST_PROBE(name)                                                \
  static int ndl_probe_body_##name();                                       \
  static const ::ndl_test::detail::probe_registration ndl_probe_reg_##name{ \
      #name, &ndl_probe_body_##name};                                       \
  static int ndl_probe_body_##name()
