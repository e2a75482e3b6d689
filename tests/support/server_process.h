// ServerProcess: the real asyncps-server binary as a child process, for tests
// that kill, restart and signal it. Plus TempDir and endpoint helpers.
//
// Addresses come from the OS, never from a "free port" probe that a parallel
// test could take before the server binds it: a server binds
// tcp://127.0.0.1:* and the test reads the bound endpoint from its
// --ready-file (WaitForEndpoints); a test that must restart a server at the
// same address binds an ipc:// path inside its own TempDir (IpcEndpoint).
#pragma once

#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

namespace asyncps::testing {

inline std::string ServerBinary() { return std::string(ASYNCPS_BINARY_DIR) + "/bin/asyncps-server"; }

// What --bind takes for "a TCP port on 127.0.0.1 that the OS picks".
inline constexpr const char* kLoopbackAnyPort = "tcp://127.0.0.1:*";

// A fresh directory under the system temp dir, removed on destruction.
class TempDir {
 public:
  TempDir() {
    std::string templ = (std::filesystem::temp_directory_path() / "asyncps-test-XXXXXX").string();
    path_ = ::mkdtemp(templ.data()) ? templ : std::string();
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::string& path() const { return path_; }
  std::string operator/(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline std::string ReadText(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// The lines of a server's --ready-file: its shards' bound endpoints, in shard
// order (asyncps-server writes the file atomically once every shard is bound).
inline std::vector<std::string> ReadEndpoints(const std::string& ready_file) {
  std::vector<std::string> endpoints;
  std::istringstream in(ReadText(ready_file));
  for (std::string line; std::getline(in, line);)
    if (!line.empty()) endpoints.push_back(line);
  return endpoints;
}

// An ipc:// endpoint named `name` inside `dir`: a fixed address no other test
// can take, for a server that is restarted where its clients look for it.
// (A Unix socket path holds at most 107 bytes; TempDir paths are short.)
inline std::string IpcEndpoint(const TempDir& dir, const std::string& name) { return "ipc://" + (dir / name); }

// An address nothing listens on: an ipc:// path in `dir` that no one binds.
inline std::string DeadEndpoint(const TempDir& dir) { return IpcEndpoint(dir, "nobody-listens"); }

class ServerProcess {
 public:
  // Starts `binary` (default: asyncps-server) with `args`, its output in `log_path`.
  ServerProcess(std::vector<std::string> args, std::string log_path, std::string binary = ServerBinary())
      : log_path_(std::move(log_path)) {
    std::vector<std::string> argv_s = {std::move(binary)};
    argv_s.insert(argv_s.end(), args.begin(), args.end());
    pid_ = ::fork();
    if (pid_ == 0) {
      std::FILE* log = std::fopen(log_path_.c_str(), "a");
      if (log) {
        ::dup2(::fileno(log), STDERR_FILENO);
        ::dup2(::fileno(log), STDOUT_FILENO);
      }
      std::vector<char*> argv;
      for (auto& a : argv_s) argv.push_back(a.data());
      argv.push_back(nullptr);
      ::execv(argv[0], argv.data());
      std::_Exit(127);
    }
  }
  ~ServerProcess() {
    if (running()) Kill(SIGKILL);
  }
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  pid_t pid() const { return pid_; }
  bool running() const { return pid_ > 0 && !exit_status_; }

  // Waits until `path` exists (the server's --ready-file) or the process exits.
  bool WaitForFile(const std::string& path, std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (std::chrono::steady_clock::now() < until) {
      if (std::filesystem::exists(path)) return true;
      if (TryReap()) return false;
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return false;
  }

  // Waits for the --ready-file `path` (see WaitForFile) and returns the
  // endpoints written there; empty if the server exited or did not get ready
  // within `limit`.
  std::vector<std::string> WaitForEndpoints(const std::string& path,
                                            std::chrono::milliseconds limit = std::chrono::seconds(10)) {
    if (!WaitForFile(path, limit)) return {};
    return ReadEndpoints(path);
  }

  // Sends `sig` and, for SIGKILL, reaps the process.
  void Kill(int sig) {
    if (!running()) return;
    ::kill(pid_, sig);
    if (sig == SIGKILL) (void)Wait(std::chrono::seconds(10));
  }

  // Waits for the process to exit; its exit code (128+signal if killed), or
  // nullopt if it is still running after `limit`.
  std::optional<int> Wait(std::chrono::milliseconds limit) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!TryReap()) {
      if (std::chrono::steady_clock::now() >= until) return std::nullopt;
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
    }
    return exit_status_;
  }

  // Resident set size in KiB, from /proc/<pid>/status (-1 if unavailable).
  long RssKiB() const {
    std::ifstream in("/proc/" + std::to_string(pid_) + "/status");
    std::string line;
    while (std::getline(in, line))
      if (line.rfind("VmRSS:", 0) == 0) return std::strtol(line.c_str() + 6, nullptr, 10);
    return -1;
  }

  std::string log() const { return ReadText(log_path_); }

 private:
  bool TryReap() {
    if (exit_status_) return true;
    int status = 0;
    if (::waitpid(pid_, &status, WNOHANG) != pid_) return false;
    exit_status_ = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    return true;
  }

  std::string log_path_;
  pid_t pid_ = -1;
  std::optional<int> exit_status_;
};

}  // namespace asyncps::testing
