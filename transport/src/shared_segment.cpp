#include "asyncps/transport/shared_segment.h"

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <ctime>
#include <cstdint>
#include <cstring>
#include <random>
#include <utility>

#include "asyncps/transport/sigbus_guard.h"

namespace asyncps {
namespace {

constexpr std::string_view kPrefix = "/asyncps-";
constexpr std::size_t kMaxNameLength = 64;
constexpr std::uint64_t kMagic = 0x314d485353505341ull;  // "ASPSSHM1", little-endian

constexpr std::size_t kHeaderBytes = SharedSegment::kHeaderBytes;

// What the first kHeaderBytes of a segment hold.
struct Header {
  std::uint64_t magic;
  std::uint64_t request_bytes;
  std::uint64_t reply_bytes;
};

std::size_t RoundUp(std::size_t n) { return (n + kHeaderBytes - 1) / kHeaderBytes * kHeaderBytes; }

std::string Errno(const std::string& what) { return what + ": " + std::strerror(errno); }

// True when the creator's lock on `fd` is free: the creator is gone (in any
// pid namespace sharing this /dev/shm). Takes the lock only to drop it.
bool LockFree(int fd) {
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) return false;
  ::flock(fd, LOCK_UN);
  return true;
}

// Removes /dev/shm/asyncps-* segments of this user whose creator is gone (a
// client that crashed never unlinked its segments). A segment younger than a
// second may be between its creation and its lock: left alone.
void RemoveOrphans() {
  DIR* dir = ::opendir("/dev/shm");
  if (dir == nullptr) return;
  const std::time_t now = std::time(nullptr);
  while (dirent* e = ::readdir(dir)) {
    std::string path = "/";
    path += e->d_name;
    if (!IsSegmentName(path)) continue;
    const int fd = ::shm_open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC, 0);
    if (fd < 0) continue;
    struct stat st {};
    if (::fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_uid == ::geteuid() && now - st.st_ctime >= 1 &&
        LockFree(fd))
      ::shm_unlink(path.c_str());
    ::close(fd);
  }
  ::closedir(dir);
}

std::string RandomName() {
  std::random_device entropy;
  char suffix[17];
  std::snprintf(suffix, sizeof suffix, "%08x%08x", entropy(), entropy());
  return std::string(kPrefix) + std::to_string(::getpid()) + "-" + suffix;
}

}  // namespace

bool IsSegmentName(std::string_view name) {
  if (!name.starts_with(kPrefix) || name.size() > kMaxNameLength || name.size() == kPrefix.size()) return false;
  for (char c : name.substr(kPrefix.size()))
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || c == '-')) return false;
  return true;
}

SharedSegment::~SharedSegment() { Close(); }

SharedSegment::SharedSegment(SharedSegment&& other) noexcept { *this = std::move(other); }

SharedSegment& SharedSegment::operator=(SharedSegment&& other) noexcept {
  if (this == &other) return *this;
  Close();
  map_ = std::move(other.map_);
  name_ = std::move(other.name_);
  fd_ = std::exchange(other.fd_, -1);
  owner_ = std::exchange(other.owner_, false);
  creator_ = other.creator_;
  request_bytes_ = other.request_bytes_;
  reply_offset_ = other.reply_offset_;
  reply_bytes_ = other.reply_bytes_;
  other.name_.clear();
  return *this;
}

void SharedSegment::Close() {
  if (owner_ && creator_ == ::getpid()) ::shm_unlink(name_.c_str());
  if (fd_ >= 0) ::close(fd_);
  owner_ = false;
  fd_ = -1;
  map_ = MemoryMap();
}

Result<SharedSegment> SharedSegment::Create(std::size_t request_bytes, std::size_t reply_bytes) {
  RemoveOrphans();
  SharedSegment s;
  s.request_bytes_ = request_bytes;
  s.reply_offset_ = kHeaderBytes + RoundUp(request_bytes);
  s.reply_bytes_ = reply_bytes;
  const std::size_t total = s.reply_offset_ + RoundUp(reply_bytes);
  int fd = -1;
  for (int attempt = 0; attempt < 4 && fd < 0; ++attempt) {
    s.name_ = RandomName();
    fd = ::shm_open(s.name_.c_str(), O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
    if (fd < 0 && errno != EEXIST) break;
  }
  if (fd < 0) return Status::Unavailable(Errno("cannot create shared memory " + s.name_));
  s.owner_ = true;  // from here on, the name goes with s
  s.creator_ = ::getpid();
  s.fd_ = fd;  // kept open: it holds the creator's lock (liveness) until Close
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) return Status::Unavailable(Errno("cannot lock shared memory " + s.name_));
  // fchmod: the umask may have taken bits, never added them; make sure.
  // posix_fallocate, not ftruncate: the pages are reserved now, so a full
  // /dev/shm (a container's is 64 MiB by default) fails here, cleanly, instead
  // of raising SIGBUS in whichever process first writes a page.
  const int err = ::fchmod(fd, 0600) != 0 ? errno : ::posix_fallocate(fd, 0, static_cast<off_t>(total));
  if (err != 0) {
    errno = err;
    const Status st = Status::Unavailable(Errno("cannot reserve " + std::to_string(total) + " bytes of shared memory " +
                                                s.name_ + " (is /dev/shm full?)"));
    return st;
  }
  Result<MemoryMap> map = MemoryMap::Shared(fd, total);
  if (!map.ok()) return Status::Unavailable(s.name_ + ": " + map.status().message());
  s.map_ = std::move(map).value();
  const Header h{kMagic, request_bytes, reply_bytes};
  std::memcpy(s.map_.data(), &h, sizeof h);
  return s;
}

Result<SharedSegment> SharedSegment::Open(std::string_view name) {
  if (!IsSegmentName(name)) {
    std::string shown(name.substr(0, kMaxNameLength));
    shown += "' is not an asyncps shared-memory segment name";
    return Status::InvalidArgument("'" + shown);
  }
  SharedSegment s;
  s.name_ = name;
  s.fd_ = ::shm_open(s.name_.c_str(), O_RDWR | O_NOFOLLOW | O_CLOEXEC, 0);
  if (s.fd_ < 0)
    return Status::Unavailable(Errno("cannot open shared memory " + s.name_) +
                               " (client and server on different hosts or /dev/shm mounts?)");
  struct stat st {};
  if (::fstat(s.fd_, &st) != 0) return Status::Unavailable(Errno("cannot stat shared memory " + s.name_));
  if (!S_ISREG(st.st_mode) || st.st_uid != ::geteuid() || (st.st_mode & 0077) != 0)
    return Status::InvalidArgument("shared memory " + s.name_ + " must be a file of this server's user with mode 0600");
  const auto size = static_cast<std::size_t>(st.st_size);
  if (size < kHeaderBytes) return Status::InvalidArgument("shared memory " + s.name_ + " is too small for its header");
  Result<MemoryMap> map = MemoryMap::Shared(s.fd_, size);
  if (!map.ok()) return Status::Unavailable(s.name_ + ": " + map.status().message());
  s.map_ = std::move(map).value();
  Header h{};
  // Read once (the client may write it later), guarded: it may have shrunk since fstat.
  if (!GuardSigbus(s.mapping(), [&] { std::memcpy(&h, s.map_.data(), sizeof h); }))
    return Status::InvalidArgument("shared memory " + s.name_ + " shrank while it was opened");
  if (h.magic != kMagic || h.request_bytes > size || h.reply_bytes > size ||
      kHeaderBytes + RoundUp(h.request_bytes) + RoundUp(h.reply_bytes) > size)
    return Status::InvalidArgument("shared memory " + s.name_ + " has no valid asyncps header for its " +
                                   std::to_string(size) + " bytes");
  s.request_bytes_ = h.request_bytes;
  s.reply_offset_ = kHeaderBytes + RoundUp(h.request_bytes);
  s.reply_bytes_ = h.reply_bytes;
  return s;
}

bool SharedSegment::creator_gone() const { return fd_ >= 0 && LockFree(fd_); }

bool SharedSegment::unlinked() const {
  struct stat st {};
  return fd_ < 0 || ::fstat(fd_, &st) != 0 || st.st_nlink == 0;
}

}  // namespace asyncps
