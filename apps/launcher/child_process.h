// ChildProcess: a process started by asyncps-local, with its stdout and stderr
// merged into one pipe that the launcher reads line by line without blocking.
#pragma once

#include <cstdint>
#include <string>
#include <sys/types.h>
#include <vector>

#include "asyncps/core/status.h"

namespace asyncps::launcher {

class ChildProcess {
 public:
  // Starts argv[0] (a path) with the arguments. The child gets its own process
  // group so a signal to the launcher's terminal does not reach it twice.
  static Result<ChildProcess> Start(const std::vector<std::string>& argv, std::string name);

  ChildProcess(ChildProcess&&) noexcept;
  ChildProcess& operator=(ChildProcess&&) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ~ChildProcess();  // kills (SIGKILL) and reaps a child still running

  const std::string& name() const { return name_; }
  pid_t pid() const { return pid_; }
  int output_fd() const { return fd_; }

  // Reads what is available; returns complete lines. Keeps the last lines seen
  // (for error messages). Returns an empty vector at EOF or when nothing is ready.
  std::vector<std::string> ReadLines();
  const std::vector<std::string>& tail() const { return tail_; }

  // Non-blocking: true once the process has exited (then exit_status() is valid).
  bool Poll();
  bool running() const { return running_; }
  // "exited with code 1", "killed by signal 9 (Killed)".
  std::string ExitDescription() const;
  bool succeeded() const;
  // Peak resident memory of the exited process, in KiB (0 while it runs).
  std::uint64_t peak_rss_kb() const { return peak_rss_kb_; }

  // Asks the process to stop (SIGTERM), then SIGKILL after `grace_ms`; reaps it.
  void Stop(int grace_ms = 2000);

 private:
  ChildProcess() = default;
  std::string name_;
  pid_t pid_ = -1;
  int fd_ = -1;
  bool running_ = false;
  int status_ = 0;
  std::uint64_t peak_rss_kb_ = 0;
  void Reap(int options);
  std::string partial_;
  std::vector<std::string> tail_;
};

}  // namespace asyncps::launcher
