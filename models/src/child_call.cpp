#include "child_call.h"

#include <fcntl.h>
#include <poll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <new>

#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
#define ASYNCPS_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(thread_sanitizer) || __has_feature(memory_sanitizer)
#define ASYNCPS_SANITIZED 1
#endif
#endif
#ifdef ASYNCPS_SANITIZED
#include <sanitizer/common_interface_defs.h>
#endif

namespace asyncps::models {
namespace {

// The child's answer: one byte (the Status code, 0 for OK), eight bytes
// (little-endian length), then the bytes or the error message.
constexpr std::size_t kHeaderBytes = 9;

#ifndef ASYNCPS_SANITIZED
// Bytes of address space this process holds now (/proc/self/statm), or 0.
std::size_t AddressSpaceBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) return 0;
  unsigned long pages = 0;
  const bool read = std::fscanf(f, "%lu", &pages) == 1;
  std::fclose(f);
  return read ? pages * static_cast<std::size_t>(sysconf(_SC_PAGESIZE)) : 0;
}
#endif

// In the child: a crash ends it with its signal (the parent's handlers, a SIGBUS
// guard or a fuzzer's, are not the child's business), CPU time is bounded as a
// backstop to the parent's clock, and so is new address space (not under a
// sanitizer: its shadow memory is reserved address space already).
void LimitChild(const ChildLimits& limits) {
  for (int sig : {SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT}) std::signal(sig, SIG_DFL);
#ifdef ASYNCPS_SANITIZED
  __sanitizer_set_death_callback(nullptr);  // a fuzzer's: it would save the input as the parent's crash
#endif
  const rlim_t cpu_seconds = static_cast<rlim_t>(limits.time.count() / 1000 + 2);
  const rlimit cpu{cpu_seconds, cpu_seconds};
  setrlimit(RLIMIT_CPU, &cpu);
#ifndef ASYNCPS_SANITIZED
  if (limits.memory_bytes > 0) {
    const rlim_t bytes = static_cast<rlim_t>(AddressSpaceBytes() + limits.memory_bytes);
    const rlimit as{bytes, bytes};
    setrlimit(RLIMIT_AS, &as);
  }
#endif
}

void WriteAll(int fd, const std::string& bytes) {
  std::size_t done = 0;
  while (done < bytes.size()) {
    const ssize_t n = write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;
    done += static_cast<std::size_t>(n);
  }
}

[[noreturn]] void ChildMain(int fd, const std::function<Result<std::string>()>& work, const ChildLimits& limits,
                            const std::string& what) {
  LimitChild(limits);
  std::string frame;
  {
    Result<std::string> r = Status::Internal(what + " gave no answer");
    try {
      r = work();
    } catch (const std::bad_alloc&) {
      r = Status::InvalidArgument(what + " needs more than the " + std::to_string(limits.memory_bytes >> 20) +
                                  " MiB the reader may use");
    }
    const Status status = r.status();
    const std::string& body = r.ok() ? r.value() : status.message();
    frame.reserve(kHeaderBytes + body.size());
    frame.push_back(static_cast<char>(status.code()));
    for (int i = 0; i < 8; ++i) frame.push_back(static_cast<char>(std::uint64_t{body.size()} >> (8 * i)));
    frame += body;
  }
  WriteAll(fd, frame);
  _exit(0);
}

Status WithCode(Status::Code code, std::string m) {
  switch (code) {
    case Status::Code::kInvalidArgument:
      return Status::InvalidArgument(std::move(m));
    case Status::Code::kMismatch:
      return Status::Mismatch(std::move(m));
    case Status::Code::kTimeout:
      return Status::Timeout(std::move(m));
    case Status::Code::kUnavailable:
      return Status::Unavailable(std::move(m));
    case Status::Code::kProtocol:
      return Status::Protocol(std::move(m));
    case Status::Code::kUnauthorised:
      return Status::Unauthorised(std::move(m));
    case Status::Code::kIOError:
      return Status::IOError(std::move(m));
    default:
      return Status::Internal(std::move(m));
  }
}

}  // namespace

Result<std::string> RunInChild(const std::function<Result<std::string>()>& work, const ChildLimits& limits,
                               const std::string& what) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) return Status::Internal(what + ": pipe: " + std::strerror(errno));
  const pid_t parent = getpid();
  const pid_t pid = fork();
  if (pid < 0) {
    const int e = errno;
    close(fds[0]);
    close(fds[1]);
    return Status::Internal(what + ": fork: " + std::strerror(e));
  }
  if (pid == 0) {
    close(fds[0]);
    prctl(PR_SET_PDEATHSIG, SIGKILL);  // the parent's death ends the child
    if (getppid() != parent) _exit(1);
    ChildMain(fds[1], work, limits, what);
  }
  close(fds[1]);

  const std::size_t most = limits.output_bytes + kHeaderBytes;
  const auto deadline = std::chrono::steady_clock::now() + limits.time;
  std::string got;
  bool out_of_time = false, too_long = false;
  char buf[1 << 16];
  while (true) {
    const auto left =
        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
    if (left.count() <= 0) {
      out_of_time = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = poll(&p, 1, static_cast<int>(std::min<std::int64_t>(left.count() + 1, 1 << 30)));
    if (ready < 0 && errno == EINTR) continue;
    if (ready == 0) continue;  // the deadline check above ends the wait
    const ssize_t n = read(fds[0], buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;  // end of file: the child is done (or died)
    got.append(buf, static_cast<std::size_t>(n));
    if (got.size() > most) {
      too_long = true;
      break;
    }
  }
  close(fds[0]);
  if (out_of_time || too_long) kill(pid, SIGKILL);
  int wstatus = 0;
  pid_t waited;
  do waited = waitpid(pid, &wstatus, 0);
  while (waited < 0 && errno == EINTR);

  const auto seconds = std::to_string(limits.time.count() / 1000.0);
  if (out_of_time)
    return Status::InvalidArgument(what + " was still running after " + seconds.substr(0, seconds.find('.') + 2) +
                                   " s and was stopped: the input is damaged or crafted (it loops)");
  if (too_long)
    return Status::InvalidArgument(what + " answered more than " + std::to_string(limits.output_bytes) + " bytes");
  if (waited == pid && WIFSIGNALED(wstatus)) {
    const int sig = WTERMSIG(wstatus);
    const char* name = sigdescr_np(sig);
    return Status::InvalidArgument(what + " crashed (signal " + std::to_string(sig) + ", " + (name ? name : "?") +
                                   (sig == SIGKILL || sig == SIGXCPU ? ": out of time or memory" : "") +
                                   "): the input is damaged or crafted");
  }
  if (got.size() < kHeaderBytes) {
    const int code = waited == pid && WIFEXITED(wstatus) ? WEXITSTATUS(wstatus) : -1;
    return Status::InvalidArgument(what + " exited (status " + std::to_string(code) +
                                   ") without an answer (out of memory?)");
  }
  std::uint64_t length = 0;
  for (int i = 0; i < 8; ++i) length |= std::uint64_t{static_cast<unsigned char>(got[1 + i])} << (8 * i);
  const auto code = static_cast<unsigned char>(got[0]);
  if (length != got.size() - kHeaderBytes || code > static_cast<unsigned char>(Status::Code::kInternal))
    return Status::Internal(what + " answered malformed bytes");
  got.erase(0, kHeaderBytes);
  if (code == 0) return got;
  return WithCode(static_cast<Status::Code>(code), std::move(got));
}

}  // namespace asyncps::models
