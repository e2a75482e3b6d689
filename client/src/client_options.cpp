#include "asyncps/client/client_options.h"

#include <charconv>
#include <cmath>
#include <limits>
#include <string>

#include "asyncps/transport/curve.h"
#include "asyncps/transport/endpoint.h"
#include "asyncps/wire/wire.h"

namespace asyncps {
namespace {

using O = ClientOptions;
using C = Compression;

constexpr double kInf = std::numeric_limits<double>::infinity();
// Durations: at most about 31 years (the deadline arithmetic stays far from overflow).
constexpr double kMaxMs = 1e12;
// Heartbeats: ZeroMQ takes an int of ms, and three of them as the timeout.
constexpr double kMaxHeartbeatMs = 86400000;

// Defaults are ClientOptions' member initialisers, never written here.
const ClientOptionInfo kTable[] = {
    {.name = "servers",
     .field = &O::servers,
     .allowed = "one tcp://HOST:PORT or ipc://PATH per shard",
     .help = "The shards' endpoints, one per shard, in shard order."},
    {.name = "worker_id",
     .field = &O::worker_id,
     .max = 4294967295.0,
     .help = "Identifies this worker in the shards' counters and commit deduplication; unique among a run's workers."},
    {.name = "algorithm",
     .field = &O::algorithm,
     .allowed = "downpour, adag, dynsgd, easgd, eamsgd, average",
     .help = "The run's update rule; every worker of a run uses the same."},
    {.name = "request_timeout",
     .field = &O::request_timeout,
     .unit = "ms",
     .min = 1,
     .max = kMaxMs,
     .help = "How long one attempt of a request waits for every shard's reply before it is resent."},
    {.name = "retry_deadline",
     .field = &O::retry_deadline,
     .unit = "ms",
     .min = 1,
     .max = kMaxMs,
     .help = "How long a request is retried (with back-off) before it fails: rides out a shard restart."},
    {.name = "retry_backoff_initial",
     .field = &O::retry_backoff_initial,
     .unit = "ms",
     .max = kMaxMs,
     .help = "The first back-off before a resend; it doubles up to retry_backoff_max."},
    {.name = "retry_backoff_max",
     .field = &O::retry_backoff_max,
     .unit = "ms",
     .max = kMaxMs,
     .help = "The longest back-off between resends; at least retry_backoff_initial."},
    {.name = "connect_deadline",
     .field = &O::connect_deadline,
     .unit = "ms",
     .min = 1,
     .max = kMaxMs,
     .help = "Connect's deadline instead of retry_deadline: a shard absent at start fails this fast."},
    {.name = "max_attempts",
     .field = &O::max_attempts,
     .unit = "count",
     .help = "If > 0, a request also fails after this many attempts (0: only the deadlines bound it)."},
    {.name = "heartbeat_interval",
     .field = &O::heartbeat_interval,
     .unit = "ms",
     .max = kMaxHeartbeatMs,
     .help = "ZeroMQ heartbeats on each connection detect a dead peer between requests (0: none)."},
    {.name = "curve_server_key",
     .field = &O::curve_server_key,
     .allowed = "40 Z85 characters, or empty",
     .help = "The shards' CURVE public key; CURVE encryption and authentication are off while it is empty."},
    {.name = "curve_secret_key",
     .field = &O::curve_secret_key,
     .secret = true,
     .allowed = "40 Z85 characters, or empty",
     .help = "This client's CURVE secret key (set with curve_server_key); its public key must be on the shards' "
             "allow-list."},
    {.name = "pull_encoding",
     .field = &C::pull,
     .member = "compression.pull",
     .allowed = "f32, bf16",
     .help = "How pulled weights travel: f32 (exact) or bf16 (half the bytes, 8 significant bits)."},
    {.name = "commit_encoding",
     .field = &C::commit,
     .member = "compression.commit",
     .allowed = "f32, bf16",
     .help = "How commit values travel: f32 or bf16 (the rounding is kept and sent later: error feedback)."},
    {.name = "commit_top_k",
     .field = &C::commit_top_k,
     .member = "compression.commit_top_k",
     .unit = "fraction",
     .max = 1,
     .max_open = true,
     .help = "Send only this fraction of each shard's commit entries, the largest in magnitude, with their positions "
             "(0: every entry); the rest waits for later commits."},
    {.name = "error_feedback",
     .field = &C::error_feedback,
     .member = "compression.error_feedback",
     .help = "Keep what lossy commits leave out and send it with later commits (false: drop it; for comparison only)."},
    {.name = "observer",
     .field = &O::observer,
     .help = "A client that never commits (evaluation, monitoring): the shards' staleness bound neither waits for it "
             "nor holds its pulls, and its algorithm need not be the run's."},
    {.name = "upstream_backup",
     .field = &O::upstream_backup,
     .help = "Keep the sum of this client's commits that a shard's latest checkpoint does not hold, and give it back "
             "when the shard restarts from that checkpoint: a shard crash loses no commit (false: it loses those since "
             "its last checkpoint)."},
    {.name = "window",
     .field = &O::window,
     .unit = "count",
     .max = 4294967295.0,
     .help = "The worker's window (batches per commit), shown on the servers' status page (0: not said)."},
    {.name = "shared_memory",
     .field = &O::shared_memory,
     .help = "Send payloads and take pulled weights through shared memory with shards on this host that allow it "
             "(asyncps-server --shared-memory); other shards get them over the socket."},
    {.name = "reply_chunk_bytes",
     .field = &O::reply_chunk_bytes,
     .unit = "bytes",
     .help = "Pulled slices larger than this come in chunks of about this size (at least 64 KiB, at most 16 per "
             "slice), each decoded while the next is on the wire (0: one message per slice, which malloc keeps without "
             "page faults; docs/performance.md)."},
    {.name = "interrupt_interval",
     .field = &O::interrupt_interval,
     .unit = "ms",
     .min = 1,
     .max = kMaxMs,
     .help = "How often a waiting request calls ClientOptions::interrupt (Python: checks for Ctrl-C)."},
};

template <class T>
constexpr bool kIsNumber = std::is_same_v<T, std::chrono::milliseconds> ||
                           (std::is_arithmetic_v<T> && !std::is_same_v<T, bool>);

// The shortest text that reads back as `v`.
std::string Shortest(double v) {
  char buf[32];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  return ec == std::errc() ? std::string(buf, end) : std::to_string(v);
}

// A number's unit as it follows the number in messages ("" for counts, fractions, ids).
std::string UnitSuffix(const ClientOptionInfo& o) {
  return o.unit == "ms" || o.unit == "bytes" ? " " + std::string(o.unit) : "";
}

double AsNumber(const ClientOptionInfo& option, const ClientOptions& options) {
  return VisitClientOption(option, options, []<class T>(const T& v) -> double {
    if constexpr (std::is_same_v<T, std::chrono::milliseconds>)
      return static_cast<double>(v.count());
    else if constexpr (kIsNumber<T>)
      return static_cast<double>(v);
    else
      return 0;
  });
}

// Both CURVE keys or neither, each a valid key.
Status CheckCurveOptions(const ClientOptions& options) {
  if (options.curve_server_key.empty() && options.curve_secret_key.empty()) return Status::OK();
  if (options.curve_server_key.empty() || options.curve_secret_key.empty())
    return Status::InvalidArgument(
        "CURVE security needs both ClientOptions::curve_server_key (the shards' public key) and "
        "curve_secret_key (this client's secret key)");
  if (Status st = CheckCurveKey(options.curve_server_key, "ClientOptions::curve_server_key"); !st.ok()) return st;
  if (Status st = CheckCurveKey(options.curve_secret_key, "ClientOptions::curve_secret_key"); !st.ok()) return st;
  if (!CurveAvailable()) return Status::Unavailable("this libzmq was built without CURVE security");
  return Status::OK();
}

}  // namespace

bool ClientOptionInfo::numeric() const {
  return std::visit([]<class T, class Of>(T Of::*) { return kIsNumber<T>; }, field);
}

std::string ClientOptionInfo::AllowedText(bool in_seconds) const {
  if (std::holds_alternative<bool ClientOptions::*>(field) || std::holds_alternative<bool Compression::*>(field))
    return "true, false";
  if (!numeric()) return std::string(allowed);
  const bool seconds = in_seconds && unit == "ms";
  const double scale = seconds ? 1000 : 1;
  const std::string suffix = seconds ? " s" : UnitSuffix(*this);
  if (std::isinf(max)) return ">= " + Shortest(min / scale) + suffix;
  return "[" + Shortest(min / scale) + ", " + Shortest(max / scale) + (max_open ? ")" : "]") + suffix;
}

std::span<const ClientOptionInfo> ClientOptionTable() { return kTable; }

const ClientOptionInfo* FindClientOption(std::string_view name) {
  for (const ClientOptionInfo& o : kTable)
    if (o.name == name) return &o;
  return nullptr;
}

std::string ClientOptionNames() {
  std::string out;
  for (const ClientOptionInfo& o : kTable) out += (out.empty() ? "" : ", ") + std::string(o.name);
  return out;
}

std::string FormatClientOption(const ClientOptionInfo& option, const ClientOptions& options) {
  return VisitClientOption(option, options, []<class T>(const T& v) -> std::string {
    if constexpr (std::is_same_v<T, std::vector<std::string>>) {
      std::string out;
      for (const std::string& s : v) out += (out.empty() ? "" : ",") + s;
      return out;
    } else if constexpr (std::is_same_v<T, std::chrono::milliseconds>) {
      return std::to_string(v.count());
    } else if constexpr (std::is_same_v<T, bool>) {
      return v ? "true" : "false";
    } else if constexpr (std::is_same_v<T, double>) {
      return Shortest(v);
    } else if constexpr (std::is_integral_v<T>) {
      return std::to_string(v);
    } else if constexpr (std::is_same_v<T, std::string>) {
      return v;
    } else if constexpr (std::is_same_v<T, Algorithm>) {
      return AlgorithmName(v);
    } else {
      static_assert(std::is_same_v<T, Encoding>);
      return EncodingName(v);
    }
  });
}

Status CheckClientOptionValue(const ClientOptionInfo& option, double value) {
  const bool ok = value >= option.min && (option.max_open ? value < option.max : value <= option.max);
  if (ok) return Status::OK();
  const std::string allowed = option.AllowedText();
  return Status::InvalidArgument(std::string(option.name) + " must be " + (allowed[0] == '[' ? "in " : "") + allowed +
                                 ", not " + Shortest(value) + UnitSuffix(option));
}

Status CheckClientOptions(const ClientOptions& options) {
  if (options.servers.empty()) return Status::InvalidArgument("no servers given: pass one endpoint per shard");
  for (const std::string& endpoint : options.servers)
    if (Status st = CheckEndpoint(endpoint, EndpointUse::kConnect); !st.ok()) return st;
  if (Result<wire::Algorithm> a = wire::ToWire(options.algorithm); !a.ok()) return a.status();
  for (const ClientOptionInfo& option : kTable) {
    if (!option.numeric()) continue;
    if (Status st = CheckClientOptionValue(option, AsNumber(option, options)); !st.ok()) return st;
  }
  if (options.retry_backoff_max < options.retry_backoff_initial)
    return Status::InvalidArgument("retry_backoff_max (" + std::to_string(options.retry_backoff_max.count()) +
                                   " ms) must be >= retry_backoff_initial (" +
                                   std::to_string(options.retry_backoff_initial.count()) + " ms)");
  if (Status st = CheckCurveOptions(options); !st.ok()) return st;
  return options.compression.Validate();
}

}  // namespace asyncps
