#include "child_process.h"

#include <cerrno>
#include <csignal>
#include <cstring>
#include <fcntl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <thread>
#include <unistd.h>

namespace asyncps::launcher {

namespace {
constexpr std::size_t kTailLines = 20;
}

Result<ChildProcess> ChildProcess::Start(const std::vector<std::string>& argv, std::string name) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::IOError("pipe: " + std::string(std::strerror(errno)));
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  const pid_t pid = fork();
  if (pid < 0) {
    close(fds[0]);
    close(fds[1]);
    return Status::IOError("fork: " + std::string(std::strerror(errno)));
  }
  if (pid == 0) {
    setpgid(0, 0);
    dup2(fds[1], STDOUT_FILENO);
    dup2(fds[1], STDERR_FILENO);
    execv(args[0], args.data());
    // Only async-signal-safe calls between fork and exec (no allocation).
    static const char kMsg[] = "cannot execute ";
    (void)!write(STDERR_FILENO, kMsg, sizeof kMsg - 1);
    (void)!write(STDERR_FILENO, args[0], std::strlen(args[0]));
    (void)!write(STDERR_FILENO, "\n", 1);
    _exit(127);
  }
  close(fds[1]);
  fcntl(fds[0], F_SETFL, fcntl(fds[0], F_GETFL) | O_NONBLOCK);
  ChildProcess child;
  child.name_ = std::move(name);
  child.pid_ = pid;
  child.fd_ = fds[0];
  child.running_ = true;
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& o) noexcept { *this = std::move(o); }

ChildProcess& ChildProcess::operator=(ChildProcess&& o) noexcept {
  std::swap(name_, o.name_);
  std::swap(pid_, o.pid_);
  std::swap(fd_, o.fd_);
  std::swap(running_, o.running_);
  std::swap(status_, o.status_);
  std::swap(peak_rss_kb_, o.peak_rss_kb_);
  std::swap(partial_, o.partial_);
  std::swap(tail_, o.tail_);
  return *this;
}

ChildProcess::~ChildProcess() {
  if (running_) Stop(0);
  if (fd_ >= 0) close(fd_);
}

std::vector<std::string> ChildProcess::ReadLines() {
  std::vector<std::string> lines;
  if (fd_ < 0) return lines;
  char buf[4096];
  for (;;) {
    const ssize_t n = read(fd_, buf, sizeof buf);
    if (n <= 0) break;
    partial_.append(buf, static_cast<std::size_t>(n));
  }
  std::size_t start = 0, nl;
  while ((nl = partial_.find('\n', start)) != std::string::npos) {
    lines.push_back(partial_.substr(start, nl - start));
    start = nl + 1;
  }
  partial_.erase(0, start);
  for (const auto& l : lines) {
    if (l.rfind("@progress", 0) == 0) continue;
    tail_.push_back(l);
    if (tail_.size() > kTailLines) tail_.erase(tail_.begin());
  }
  return lines;
}

void ChildProcess::Reap(int options) {
  rusage usage{};
  if (wait4(pid_, &status_, options, &usage) == pid_) {
    running_ = false;
    peak_rss_kb_ = static_cast<std::uint64_t>(usage.ru_maxrss);
  }
}

bool ChildProcess::Poll() {
  if (running_) Reap(WNOHANG);
  return !running_;
}

bool ChildProcess::succeeded() const { return !running_ && WIFEXITED(status_) && WEXITSTATUS(status_) == 0; }

std::string ChildProcess::ExitDescription() const {
  if (running_) return "still running";
  if (WIFEXITED(status_)) return "exited with code " + std::to_string(WEXITSTATUS(status_));
  if (WIFSIGNALED(status_))
    return "killed by signal " + std::to_string(WTERMSIG(status_)) + " (" + strsignal(WTERMSIG(status_)) + ")";
  return "ended with status " + std::to_string(status_);
}

void ChildProcess::Stop(int grace_ms) {
  if (!running_) return;
  kill(pid_, grace_ms > 0 ? SIGTERM : SIGKILL);
  for (int waited = 0; waited < grace_ms && !Poll(); waited += 10)
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  if (running_) {
    kill(pid_, SIGKILL);
    Reap(0);
  }
}

}  // namespace asyncps::launcher
