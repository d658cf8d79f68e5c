// Child processes for tests that drive the real binaries: run a program to completion
// with a bounded wait (run_program), and start a daemon that announces its address as
// "listening on HOST:PORT" on the first line of stdout (tallyd_process). No GoogleTest
// here, so stand-alone drivers (tests/crash/) use it as well as the integration tests.
#pragma once

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/select.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "app/http_common/http_client.hpp"

extern char** environ;

namespace tally::testing {

inline std::string read_file(const std::string& path) {
  std::ifstream file{path, std::ios::binary};
  std::ostringstream text;
  text << file.rdbuf();
  return text.str();
}

/// Runs a program to completion; returns its exit code (or 128+signal) and output.
struct run_result {
  int exit_code = -1;
  std::string output;  ///< stdout and stderr together
};

/// Runs `args` (args[0] is the program's path) with the current environment plus
/// `env_extra`; kills it with SIGKILL when it runs longer than `timeout`.
inline run_result run_program(const std::vector<std::string>& args, const std::vector<std::string>& env_extra = {},
                              std::chrono::seconds timeout = std::chrono::seconds{20}) {
  run_result out;
  int pipe_fds[2];
  if (::pipe(pipe_fds) != 0)
    return out;
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
  posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 2);
  posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
  std::vector<char*> argv;
  for (auto& arg : args)
    argv.push_back(const_cast<char*>(arg.c_str()));
  argv.push_back(nullptr);
  std::vector<std::string> env_strings;
  for (char** entry = environ; *entry; ++entry)
    env_strings.emplace_back(*entry);
  for (auto& extra : env_extra)
    env_strings.push_back(extra);
  std::vector<char*> envp;
  for (auto& entry : env_strings)
    envp.push_back(entry.data());
  envp.push_back(nullptr);
  pid_t pid = 0;
  int spawned = posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), envp.data());
  posix_spawn_file_actions_destroy(&actions);
  ::close(pipe_fds[1]);
  if (spawned != 0) {
    ::close(pipe_fds[0]);
    return out;
  }
  auto deadline = std::chrono::steady_clock::now() + timeout;
  char chunk[4096];
  while (true) {
    fd_set readable;
    FD_ZERO(&readable);
    FD_SET(pipe_fds[0], &readable);
    timeval wait{0, 100000};
    if (::select(pipe_fds[0] + 1, &readable, nullptr, nullptr, &wait) > 0) {
      auto got = ::read(pipe_fds[0], chunk, sizeof chunk);
      if (got <= 0)
        break;
      out.output.append(chunk, static_cast<std::size_t>(got));
    }
    if (std::chrono::steady_clock::now() > deadline) {
      ::kill(pid, SIGKILL);
      break;
    }
  }
  ::close(pipe_fds[0]);
  int wstatus = 0;
  ::waitpid(pid, &wstatus, 0);
  out.exit_code = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
  return out;
}

/// A running daemon that prints "listening on HOST:PORT" first on stdout (tallyd).
/// Killed with SIGKILL when destroyed while still running.
class tallyd_process {
public:
  tallyd_process() = default;
  tallyd_process(const tallyd_process&) = delete;
  tallyd_process& operator=(const tallyd_process&) = delete;
  ~tallyd_process() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      int ignored = 0;
      ::waitpid(pid_, &ignored, 0);
    }
  }

  /// Starts `program` with `args`, stderr appended to `log_path`, and waits (at most
  /// `listen_wait`) for its listening line. Returns false (with the log in `log()` and
  /// the reason in `start_problem()`) when it exited or did not listen in time.
  bool start(const std::string& program, const std::vector<std::string>& args, const std::string& log_path,
             std::chrono::milliseconds listen_wait = std::chrono::seconds{15}) {
    log_path_ = log_path;
    start_problem_.clear();
    int pipe_fds[2];
    if (::pipe(pipe_fds) != 0) {
      start_problem_ = std::string{"pipe failed: "} + std::strerror(errno);
      return false;
    }
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, pipe_fds[1], 1);
    posix_spawn_file_actions_addopen(&actions, 2, log_path.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_addclose(&actions, pipe_fds[0]);
    std::vector<std::string> all{program};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& arg : all)
      argv.push_back(const_cast<char*>(arg.c_str()));
    argv.push_back(nullptr);
    int spawned = posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    ::close(pipe_fds[1]);
    if (spawned != 0) {
      ::close(pipe_fds[0]);
      pid_ = -1;
      start_problem_ = "cannot start " + program + ": " + std::strerror(spawned);
      return false;
    }
    // The first stdout line is "listening on HOST:PORT".
    std::string line;
    auto deadline = std::chrono::steady_clock::now() + listen_wait;
    char c = 0;
    while (std::chrono::steady_clock::now() < deadline) {
      fd_set readable;
      FD_ZERO(&readable);
      FD_SET(pipe_fds[0], &readable);
      timeval wait{0, 100000};
      if (::select(pipe_fds[0] + 1, &readable, nullptr, nullptr, &wait) <= 0)
        continue;
      if (::read(pipe_fds[0], &c, 1) != 1)
        break;
      if (c == '\n')
        break;
      line += c;
    }
    ::close(pipe_fds[0]);
    const std::string prefix = "listening on ";
    if (line.rfind(prefix, 0) != 0) {
      start_problem_ = program + " did not print \"" + prefix + "HOST:PORT\" within "
                       + std::to_string(listen_wait.count()) + " ms (first line: \"" + line + "\")";
      return false;
    }
    auto address = line.substr(prefix.size());
    auto colon = address.rfind(':');
    where_.host = address.substr(0, colon);
    where_.port = static_cast<std::uint16_t>(std::stoi(address.substr(colon + 1)));
    return true;
  }

  /// Sends `signal` and waits (at most `wait`) for the exit; returns the exit code,
  /// 128+signal when killed by one, or -1 when it did not exit in time.
  int stop(int signal = SIGTERM, std::chrono::milliseconds wait = std::chrono::seconds{20}) {
    if (pid_ <= 0)
      return exit_code_;
    ::kill(pid_, signal);
    return wait_exit(wait);
  }

  int wait_exit(std::chrono::milliseconds wait) {
    auto deadline = std::chrono::steady_clock::now() + wait;
    while (std::chrono::steady_clock::now() < deadline) {
      int wstatus = 0;
      auto done = ::waitpid(pid_, &wstatus, WNOHANG);
      if (done == pid_) {
        pid_ = -1;
        exit_code_ = WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : 128 + WTERMSIG(wstatus);
        return exit_code_;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds{10});
    }
    return -1;
  }

  pid_t pid() const { return pid_; }
  const http_common::endpoint& where() const { return where_; }
  std::string url() const { return "http://" + where_.host + ":" + std::to_string(where_.port); }
  std::string log() const { return read_file(log_path_); }
  /// Why the last start() failed; empty after a successful one.
  const std::string& start_problem() const { return start_problem_; }

private:
  pid_t pid_ = -1;
  int exit_code_ = -1;
  std::string log_path_;
  std::string start_problem_;
  http_common::endpoint where_;
};

}  // namespace tally::testing
