#include "asyncps/server/checkpoint.h"
#include "asyncps/core/counter_table.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <bit>
#include <cerrno>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string_view>
#include <unordered_set>

namespace asyncps::ps {
namespace {

static_assert(std::endian::native == std::endian::little, "checkpoints are written little-endian");
constexpr char kMagic[8] = {'A', 'P', 'S', 'C', 'K', 'P', 'T', '\0'};

std::string Errno() { return std::strerror(errno); }

// Appends fixed-size values to a byte buffer (the header part of the file).
class Encoder {
 public:
  template <typename T>
  void Put(T v) {
    const auto* p = reinterpret_cast<const char*>(&v);
    bytes_.append(p, sizeof v);
  }
  void PutBytes(const void* p, std::size_t n) { bytes_.append(static_cast<const char*>(p), n); }
  const std::string& bytes() const { return bytes_; }

 private:
  std::string bytes_;
};

// Reads fixed-size values with bounds checks; the first overrun latches `ok`.
class Decoder {
 public:
  Decoder(const char* p, std::size_t n) : p_(p), n_(n) {}
  template <typename T>
  T Get() {
    T v{};
    if (!Need(sizeof v)) return v;
    std::memcpy(&v, p_ + at_, sizeof v);
    at_ += sizeof v;
    return v;
  }
  const char* Take(std::size_t n) {
    if (!Need(n)) return nullptr;
    const char* p = p_ + at_;
    at_ += n;
    return p;
  }
  bool ok() const { return ok_; }
  std::size_t remaining() const { return n_ - at_; }

 private:
  bool Need(std::size_t n) {
    if (!ok_ || n > n_ - at_) ok_ = false;
    return ok_;
  }
  const char* p_;
  std::size_t n_;
  std::size_t at_ = 0;
  bool ok_ = true;
};

std::uint32_t Crc(std::uint32_t crc, const void* p, std::size_t n) {
  const auto* b = static_cast<const Bytef*>(p);
  while (n > 0) {
    const uInt chunk = static_cast<uInt>(std::min<std::size_t>(n, 1u << 30));
    crc = static_cast<std::uint32_t>(crc32(crc, b, chunk));
    b += chunk;
    n -= chunk;
  }
  return crc;
}

// Writes all of [p, p+n) to fd; false with errno set on failure.
bool WriteAll(int fd, const char* p, std::size_t n) {
  while (n > 0) {
    const ssize_t w = ::write(fd, p, std::min<std::size_t>(n, 1u << 30));
    if (w < 0) {
      if (errno == EINTR) continue;
      return false;
    }
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

// The name under which error class `code` is kept.
std::string ErrorCounterName(std::size_t code) {
  return std::string("errors.") + wire::EnumNameErrorCode(static_cast<wire::ErrorCode>(code));
}

// What a checkpoint keeps of the counters: the checkpointed ones of
// kShardCounters, then the error classes.
std::vector<std::pair<std::string, std::uint64_t>> NamedCounters(const CheckpointData& d) {
  std::vector<std::pair<std::string, std::uint64_t>> out;
  for (const ShardCounterInfo& c : kShardCounters)
    if (c.checkpointed) out.emplace_back(std::string(c.name), d.counters.*c.field);
  for (std::size_t code = 1; code < kNumErrorCodes; ++code)
    out.emplace_back(ErrorCounterName(code), d.errors_by_code[code]);
  return out;
}

// Sets the counter called `name`, if this build knows it (a newer writer's
// others are skipped).
void SetNamedCounter(const std::string& name, std::uint64_t value, CheckpointData& d) {
  if (const ShardCounterInfo* c = FindShardCounter(name); c != nullptr && c->checkpointed) {
    d.counters.*c->field = value;
    return;
  }
  for (std::size_t code = 1; code < kNumErrorCodes; ++code)
    if (name == ErrorCounterName(code)) d.errors_by_code[code] = value;
}

std::string Encode(const CheckpointData& d) {
  Encoder e;
  e.PutBytes(kMagic, sizeof kMagic);
  e.Put<std::uint32_t>(kCheckpointFormatVersion);
  e.Put<std::uint32_t>(d.shard_index);
  e.Put<std::uint32_t>(d.num_shards);
  e.Put<std::uint32_t>(static_cast<std::uint32_t>(d.algorithm));
  e.Put<std::uint32_t>(static_cast<std::uint32_t>(d.layout.num_tensors()));
  for (const TensorSpec& t : d.layout.tensors()) {
    e.Put<std::uint32_t>(static_cast<std::uint32_t>(t.name.size()));
    e.PutBytes(t.name.data(), t.name.size());
    e.Put<std::uint32_t>(static_cast<std::uint32_t>(t.shape.size()));
    for (std::size_t dim : t.shape) e.Put<std::uint64_t>(dim);
  }
  const std::vector<std::pair<std::string, std::uint64_t>> counters = NamedCounters(d);
  e.Put<std::uint32_t>(static_cast<std::uint32_t>(counters.size()));
  for (const auto& [name, value] : counters) {
    e.Put<std::uint32_t>(static_cast<std::uint32_t>(name.size()));
    e.PutBytes(name.data(), name.size());
    e.Put<std::uint64_t>(value);
  }
  e.Put<std::uint32_t>(static_cast<std::uint32_t>(d.workers.size()));
  for (const Shard::WorkerRecord& w : d.workers) {
    e.Put<std::uint32_t>(w.id);
    e.Put<std::uint64_t>(w.commits);
    e.Put<std::uint64_t>(w.last_seq);
    e.Put<std::uint64_t>(w.session);
  }
  e.Put<std::uint64_t>(d.center.size());
  return e.bytes();
}

Status Refuse(const std::string& path, const std::string& why) {
  return Status::IOError("checkpoint " + path + " is refused: " + why +
                         " (move it away to start this shard fresh, or restore a good copy)");
}

// What a well-formed checkpoint must still satisfy to be a state a shard can
// have reached: a shard index within the count, no counter that would wrap
// (checkpointed counts are below 2^63: 292 years at 10^9 a second), a
// staleness maximum no larger than the updates, each worker id once, and no
// more commits by the workers than updates applied. Refusals name the field
// and its value.
Status CheckState(const std::string& path, const CheckpointData& d) {
  if (d.num_shards == 0 || d.shard_index >= d.num_shards)
    return Refuse(path, "shard_index = " + std::to_string(d.shard_index) +
                            " is not below num_shards = " + std::to_string(d.num_shards));
  for (const ShardCounterInfo& c : kShardCounters) {
    if (!c.checkpointed || std::string_view(c.name) == "staleness_sum") continue;  // a sum: bounded by no count
    const std::uint64_t v = d.counters.*c.field;
    if (v > kMaxCheckpointCount)
      return Refuse(path, "counter " + std::string(c.name) + " = " + std::to_string(v) +
                              " is over 2^63 - 1: no run counts that far, and it would wrap");
  }
  for (std::size_t code = 1; code < kNumErrorCodes; ++code)
    if (d.errors_by_code[code] > kMaxCheckpointCount)
      return Refuse(path, "counter " + ErrorCounterName(code) + " = " + std::to_string(d.errors_by_code[code]) +
                              " is over 2^63 - 1: no run counts that far, and it would wrap");
  const std::uint64_t updates = d.counters.updates;
  if (d.counters.staleness_max > updates)
    return Refuse(path, "counter staleness_max = " + std::to_string(d.counters.staleness_max) +
                            " is more than updates = " + std::to_string(updates) +
                            " (a commit's staleness is at most the updates applied)");
  std::unordered_set<std::uint32_t> ids;
  std::uint64_t commits = 0;
  for (const Shard::WorkerRecord& w : d.workers) {
    if (!ids.insert(w.id).second) return Refuse(path, "worker " + std::to_string(w.id) + " is listed twice");
    if (w.commits > updates - commits)  // sum of commits > updates, without overflowing
      return Refuse(path, "worker " + std::to_string(w.id) + " commits = " + std::to_string(w.commits) +
                              " takes its workers' commits over updates = " + std::to_string(updates) +
                              " (every commit applied is one update)");
    commits += w.commits;
  }
  return Status::OK();
}

}  // namespace

std::string CheckpointPath(const std::string& dir, std::uint32_t shard_index, std::uint32_t num_shards) {
  return (std::filesystem::path(dir) /
          ("shard-" + std::to_string(shard_index) + "-of-" + std::to_string(num_shards) + ".ckpt"))
      .string();
}

CheckpointData SnapshotShard(const Shard& shard) {
  CheckpointData d;
  d.shard_index = shard.options().shard_index;
  d.num_shards = shard.options().num_shards;
  d.algorithm = shard.algorithm();
  d.layout = shard.layout();
  d.counters = shard.counters();
  d.errors_by_code = shard.errors_by_code();
  d.workers = shard.worker_records();
  d.center.assign(shard.center().begin(), shard.center().end());
  return d;
}

Status WriteCheckpoint(const std::string& path, const CheckpointData& data, const CheckpointWriteHook& hook) {
  const std::filesystem::path target(path);
  const std::filesystem::path dir = target.has_parent_path() ? target.parent_path() : std::filesystem::path(".");
  const std::string tmp = path + ".tmp-" + std::to_string(::getpid());
  const std::string head = Encode(data);
  const char* center = reinterpret_cast<const char*>(data.center.data());
  const std::size_t center_bytes = data.center.size() * sizeof(float);
  std::uint32_t crc = Crc(Crc(0, head.data(), head.size()), center, center_bytes);

  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return Status::IOError("cannot create " + tmp + ": " + Errno() + " (is --checkpoint-dir writable?)");
  auto fail = [&](const std::string& what) {
    const std::string why = what + " " + tmp + ": " + Errno();
    ::close(fd);
    ::unlink(tmp.c_str());
    return Status::IOError(why);
  };
  // The hook (tests only) may stop the write after the header, as a crash would.
  if (!WriteAll(fd, head.data(), head.size())) return fail("cannot write");
  if (hook && !hook(head.size())) {
    errno = EIO;
    return fail("injected failure writing");
  }
  if (!WriteAll(fd, center, center_bytes)) return fail("cannot write");
  if (!WriteAll(fd, reinterpret_cast<const char*>(&crc), sizeof crc)) return fail("cannot write");
  if (::fsync(fd) != 0) return fail("cannot fsync");
  if (::close(fd) != 0) {
    ::unlink(tmp.c_str());
    return Status::IOError("cannot close " + tmp + ": " + Errno());
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    const std::string why = Errno();
    ::unlink(tmp.c_str());
    return Status::IOError("cannot rename " + tmp + " to " + path + ": " + why);
  }
  // Make the rename itself durable.
  const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dfd < 0) return Status::IOError("cannot open directory " + dir.string() + " to fsync it: " + Errno());
  const int rc = ::fsync(dfd);
  const std::string why = rc != 0 ? Errno() : "";
  ::close(dfd);
  if (rc != 0) return Status::IOError("cannot fsync directory " + dir.string() + ": " + why);
  return Status::OK();
}

Result<CheckpointData> ReadCheckpoint(const std::string& path) {
  // (An ifstream opens a directory and sizes it as ~2^63 bytes.)
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec))
    return Status::IOError("checkpoint " + path + " is not a regular file (a directory?): move it away");
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) return Status::IOError("cannot open checkpoint " + path + ": " + Errno());
  const std::streamsize size = in.tellg();
  if (size < 0) return Status::IOError("cannot size checkpoint " + path);
  std::vector<char> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (!in.read(bytes.data(), size)) return Status::IOError("cannot read checkpoint " + path + ": " + Errno());

  const std::size_t n = bytes.size();
  if (n < sizeof kMagic + 4 || std::memcmp(bytes.data(), kMagic, sizeof kMagic) != 0)
    return Refuse(path, "not an asyncps checkpoint (bad magic or empty)");
  if (n < sizeof kMagic + 8) return Refuse(path, "truncated (" + std::to_string(n) + " bytes)");
  std::uint32_t stored_crc = 0;
  std::memcpy(&stored_crc, bytes.data() + n - 4, 4);
  Decoder d(bytes.data(), n - 4);
  d.Take(sizeof kMagic);
  const auto version = d.Get<std::uint32_t>();
  if (version != kCheckpointFormatVersion)
    return Refuse(path, "format version " + std::to_string(version) + ", this server reads version " +
                            std::to_string(kCheckpointFormatVersion) + " only (CHANGELOG.md: compatibility policy)");
  if (Crc(0, bytes.data(), n - 4) != stored_crc)
    return Refuse(path, "CRC mismatch: the file is torn (truncated) or corrupt");

  CheckpointData out;
  out.shard_index = d.Get<std::uint32_t>();
  out.num_shards = d.Get<std::uint32_t>();
  const auto algorithm = d.Get<std::uint32_t>();
  if (algorithm > static_cast<std::uint32_t>(Algorithm::kAverage) ||
      algorithm == static_cast<std::uint32_t>(Algorithm::kSingle))
    return Refuse(path, "unknown algorithm " + std::to_string(algorithm));
  out.algorithm = static_cast<Algorithm>(algorithm);
  const auto num_tensors = d.Get<std::uint32_t>();
  for (std::uint32_t i = 0; i < num_tensors && d.ok(); ++i) {
    TensorSpec t;
    const auto len = d.Get<std::uint32_t>();
    const char* name = d.Take(len);
    if (name == nullptr) break;
    t.name.assign(name, len);
    const auto rank = d.Get<std::uint32_t>();
    if (rank > d.remaining() / 8) return Refuse(path, "tensor " + t.name + " has an impossible rank");
    for (std::uint32_t k = 0; k < rank; ++k) t.shape.push_back(d.Get<std::uint64_t>());
    // A shape whose size overflows (or passes the layout maximum) is refused,
    // never wrapped into a small one that matches the center.
    if (Result<std::size_t> added = out.layout.TryAdd(t.name, t.shape); !added.ok())
      return Refuse(path, added.status().message());
  }
  const auto num_counters = d.Get<std::uint32_t>();
  if (num_counters > d.remaining() / 8) return Refuse(path, "impossible counter count");
  for (std::uint32_t i = 0; i < num_counters && d.ok(); ++i) {
    const auto len = d.Get<std::uint32_t>();
    const char* name = d.Take(len);
    if (name == nullptr) break;
    const auto value = d.Get<std::uint64_t>();
    SetNamedCounter(std::string(name, len), value, out);
  }
  const auto num_workers = d.Get<std::uint32_t>();
  if (num_workers > d.remaining() / 28) return Refuse(path, "impossible worker count");
  for (std::uint32_t i = 0; i < num_workers; ++i) {
    Shard::WorkerRecord w;
    w.id = d.Get<std::uint32_t>();
    w.commits = d.Get<std::uint64_t>();
    w.last_seq = d.Get<std::uint64_t>();
    w.session = d.Get<std::uint64_t>();
    out.workers.push_back(w);
  }
  const auto floats = d.Get<std::uint64_t>();
  if (!d.ok() || floats != d.remaining() / sizeof(float) || d.remaining() % sizeof(float) != 0)
    return Refuse(path, "its sections do not add up to its size");
  out.center.resize(floats);
  // (an empty vector's data() may be null: no memcpy for an empty slice)
  if (floats > 0) std::memcpy(out.center.data(), d.Take(floats * sizeof(float)), floats * sizeof(float));
  if (Status st = CheckState(path, out); !st.ok()) return st;
  return out;
}

Result<bool> RestoreShardFromDir(const std::string& dir, Shard& shard) {
  const std::uint32_t index = shard.options().shard_index, count = shard.options().num_shards;
  const std::string path = CheckpointPath(dir, index, count);
  const std::string prefix = "shard-" + std::to_string(index) + "-of-";
  const std::regex other(prefix + "([0-9]+)\\.ckpt");
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(dir, ec)) {
    std::smatch m;
    const std::string name = entry.path().filename().string();
    if (name.rfind(prefix + std::to_string(count) + ".ckpt.tmp-", 0) == 0) {
      std::filesystem::remove(entry.path(), ec);  // left by a crash mid-write: never a checkpoint
    } else if (std::regex_match(name, m, other) && m[1].str() != std::to_string(count)) {
      // A checkpoint of this shard index from a run with another shard count
      // would be silently ignored: refuse instead.
      return Status::InvalidArgument("checkpoint " + entry.path().string() + " is for a run of " + m[1].str() +
                                     " shards but this is shard " + std::to_string(index) + " of " +
                                     std::to_string(count) + ": use another --checkpoint-dir or the same shard count");
    }
  }
  if (!std::filesystem::exists(path, ec)) return false;
  Result<CheckpointData> read = ReadCheckpoint(path);
  if (!read.ok()) return read.status();
  CheckpointData& d = read.value();
  if (d.shard_index != index || d.num_shards != count)
    return Status::InvalidArgument("checkpoint " + path + " holds shard " + std::to_string(d.shard_index) + " of " +
                                   std::to_string(d.num_shards) + " but this is shard " + std::to_string(index) +
                                   " of " + std::to_string(count) + ": refusing to restore it");
  if (d.layout.num_tensors() == 0 || d.layout.total_size() > shard.options().max_parameters)
    return Refuse(path, "its layout (" + std::to_string(d.layout.total_size()) +
                            " floats) is empty or larger than this server's maximum of " +
                            std::to_string(shard.options().max_parameters));
  if (d.workers.size() > shard.options().max_workers)
    return Refuse(path, "num_workers = " + std::to_string(d.workers.size()) + " is more than this server's " +
                            std::to_string(shard.options().max_workers) + " worker ids (max_workers)");
  // A center holding NaN or Inf would poison every pull; a shard that accepts
  // non-finite commits (reject_non_finite off) may have reached one, so it restores it.
  if (shard.options().reject_non_finite) {
    for (std::size_t i = 0; i < d.center.size(); ++i)
      if (!std::isfinite(d.center[i]))
        return Refuse(path, "center element " + std::to_string(i) + " = " + std::to_string(d.center[i]) +
                                " is not finite (this server rejects NaN and Inf)");
  }
  const ShardRange range = d.layout.Partition(count)[index];
  if (range.size() != d.center.size())
    return Refuse(path, "its slice has " + std::to_string(d.center.size()) + " floats but its layout gives shard " +
                            std::to_string(index) + " " + std::to_string(range.size()));
  shard.Restore(std::move(d.layout), d.algorithm, std::move(d.center), d.counters, d.errors_by_code, d.workers);
  return true;
}

}  // namespace asyncps::ps
