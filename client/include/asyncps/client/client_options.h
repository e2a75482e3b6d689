// ClientOptions: how a Client reaches and talks to the shards, and the table
// that describes each option once.
//
// ClientOptionTable() has one row per option: its name (snake_case: the Python
// keyword, and with dashes the asyncps-worker flag), the member it sets, its
// unit, its allowed range and its help. Defaults are not in the table: they
// are the member initialisers below (FormatClientOption(row, ClientOptions{})
// writes one). The option checks (CheckClientOptions), the Python keywords,
// the worker's flags and docs/cpp-client.md's table are all built from it, so
// a new option is one member here and one row in client_options.cpp.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <limits>
#include <span>
#include <string>
#include <string_view>
#include <type_traits>
#include <variant>
#include <vector>

#include "asyncps/core/compression.h"
#include "asyncps/core/status.h"
#include "asyncps/core/update_rule.h"

namespace asyncps {

struct ClientOptions {
  // One endpoint per shard, in shard order (e.g. tcp://10.0.0.5:5555;
  // asyncps/endpoint.h says which forms are accepted).
  std::vector<std::string> servers;
  // Identifies this worker in the shards' counters and commit deduplication.
  // Must be unique among the workers of a run.
  std::uint32_t worker_id = 0;
  // The run's update rule; every worker of a run must use the same.
  Algorithm algorithm = Algorithm::kAdag;
  // How long one attempt of a request waits for every shard's reply.
  std::chrono::milliseconds request_timeout{5000};
  // A shard that does not answer within request_timeout gets the same request
  // again (same seq: a commit is still applied at most once) on a fresh socket,
  // after a back-off that starts at retry_backoff_initial and doubles up to
  // retry_backoff_max (replies arriving meanwhile still count). This goes on
  // until retry_deadline after the request was first sent, long enough for a
  // shard to restart from its checkpoint; then the request fails with kTimeout
  // naming the shard's address. A request never blocks longer than the
  // deadline, except while a shard's staleness bound (asyncps-server
  // --max-staleness) holds a pull: the shard answers Blocked every second or
  // so, and each such answer starts the timeout and the deadline afresh.
  std::chrono::milliseconds retry_deadline{60000};
  std::chrono::milliseconds retry_backoff_initial{100};
  std::chrono::milliseconds retry_backoff_max{2000};
  // The deadline of Connect's hello instead of retry_deadline: a shard that is
  // not there when the worker starts fails fast.
  std::chrono::milliseconds connect_deadline{10000};
  // If > 0, also gives up after this many attempts (the first try included);
  // 0: only the deadlines bound a request.
  int max_attempts = 0;
  // ZeroMQ heartbeats on each connection detect a dead peer between requests
  // (0: none).
  std::chrono::milliseconds heartbeat_interval{1000};
  // CURVE security (asyncps/curve.h); off while curve_server_key is empty.
  // curve_server_key: the shards' public key (Z85, 40 characters);
  // curve_secret_key: this client's secret key (its public key, derived from
  // it, must be on the shards' allow-list). When on, every message is encrypted
  // and authenticated; a shard that refuses the key makes requests fail with
  // kUnauthorised. Load keys with ReadCurveKeyFile / CurveKeyFromFileOrEnv.
  std::string curve_server_key;
  std::string curve_secret_key;
  // Lossy wire forms for pulls and commits (asyncps/compression.h): bf16
  // halves the bytes both ways, top-k commits send a fraction of the entries;
  // the residual of lossy commits is kept here and sent later (error
  // feedback). Default: float32 both ways, exact. Init is always float32.
  Compression compression;
  // A client that never commits (evaluation, monitoring): the shards'
  // staleness bound neither waits for it nor holds its pulls.
  bool observer = false;
  // Upstream backup: keep, per shard, the sum of this client's commits that
  // the shard's latest checkpoint does not hold yet, and give it back when
  // the shard restarts from that checkpoint, so that a shard crash loses no
  // commit (docs/operations.md, "What a failure costs"). Costs one
  // slice-sized buffer per shard and a vector add per commit; nothing on the
  // wire unless a shard restarted. Off: a restart loses the commits since
  // its last checkpoint.
  bool upstream_backup = true;
  // The worker's window (batches per commit, RuleConfig::window), shown on
  // the servers' status page; 0: not said.
  std::uint32_t window = 0;
  // The same-host data plane: each shard connection gets a shared-memory
  // segment (/dev/shm, mode 0600, removed when the connection closes) that
  // dense payloads and pulled slices travel through; only small headers cross
  // the socket. Used with each shard whose hello says it opened the segment
  // (asyncps-server --shared-memory on this host, as this user); the others
  // get frames as usual (Client::shared_memory_shards() counts).
  bool shared_memory = false;
  // Pulled slices whose frame is larger come in chunks of about this many
  // bytes (at least 64 KiB, at most 16 per slice), each decoded while the next
  // is on the wire; 0 (the default): each slice in one message. Pulls through
  // shared memory and servers that predate chunks send one message. ZeroMQ
  // allocates every message it receives with malloc: one message per slice,
  // freed before the next arrives, stays in glibc's heap, while a reply's
  // chunks, freed together, are given back to the system and faulted in
  // again at every pull (docs/performance.md: the client in a user's program).
  std::uint64_t reply_chunk_bytes = 0;
  // Lets a waiting request be cancelled (e.g. on Ctrl-C). While a request
  // (Connect's hello included) waits for replies or backs off, `interrupt` is
  // called on the requesting thread at least every interrupt_interval, first
  // after one interrupt_interval (a request answered sooner never calls it).
  // When it returns true, the request is abandoned and fails at once with
  // kUnavailable, saying it was interrupted; the client stays usable (the
  // unanswered shards' connections are renewed, as after a timeout, so a late
  // reply never reaches a later request). An abandoned commit may have been
  // applied by some shards, as a timed-out one. Empty: never interrupted. It
  // must not use this Client. (The Python package checks for signals here.)
  // A callback, so not a row of the table; interrupt_interval is.
  std::function<bool()> interrupt;
  std::chrono::milliseconds interrupt_interval{100};
};

// The member a row of the table sets: a ClientOptions member, or one of
// ClientOptions::compression's. VisitClientOption hands it over as a T&.
using ClientOptionField =
    std::variant<std::vector<std::string> ClientOptions::*, std::uint32_t ClientOptions::*, int ClientOptions::*,
                 std::uint64_t ClientOptions::*, std::chrono::milliseconds ClientOptions::*, bool ClientOptions::*,
                 std::string ClientOptions::*, Algorithm ClientOptions::*, Encoding Compression::*,
                 double Compression::*, bool Compression::*>;

// One option: a row of ClientOptionTable().
struct ClientOptionInfo {
  // snake_case; the Python keyword, and with dashes (request-timeout) the
  // worker's flag.
  std::string_view name;
  ClientOptionField field;
  // The member as C++ spells it where it is not `name`: "compression.pull".
  std::string_view member = "";
  // What a number counts: "ms" (durations, milliseconds here; the Python
  // keywords and the worker's flags take seconds), "bytes", "count",
  // "fraction"; "" for what is not a number.
  std::string_view unit;
  // Numbers (durations in ms, bools excluded): the allowed range, min <= v <=
  // max (v < max where max_open); max infinite: no bound but the type's.
  double min = 0;
  double max = std::numeric_limits<double>::infinity();
  bool max_open = false;
  // Not to be shown (a secret key): printers of options leave it out.
  bool secret = false;
  // What else is allowed, for what is not a number ("" for numbers and bools).
  std::string_view allowed;
  // One sentence or two: what it does (its comment above says more).
  std::string_view help;

  // The member as C++ spells it: "request_timeout", "compression.pull".
  std::string_view MemberName() const { return member.empty() ? name : member; }
  // True for numbers (integers, durations, fractions): the range applies.
  bool numeric() const;
  // The allowed values as text: ">= 1 ms", "[0, 1)", "true, false", "f32, bf16"; with
  // in_seconds, durations in seconds (">= 0.001 s").
  std::string AllowedText(bool in_seconds = false) const;
};

// Every option but `interrupt`, in ClientOptions' order.
std::span<const ClientOptionInfo> ClientOptionTable();

// The row called `name`, or nullptr.
const ClientOptionInfo* FindClientOption(std::string_view name);

// The valid names, comma-separated ("servers, worker_id, ...").
std::string ClientOptionNames();

// Calls f(T& member) with the member `option` sets in `options`; returns what f returns.
template <class Options, class F>
requires std::is_same_v<std::remove_const_t<Options>, ClientOptions>
decltype(auto) VisitClientOption(const ClientOptionInfo& option, Options& options, F&& f) {
  return std::visit(
      [&](auto member) -> decltype(auto) {
        if constexpr (std::is_invocable_v<decltype(member), const Compression&>)
          return f(options.compression.*member);
        else
          return f(options.*member);
      },
      option.field);
}

// The option's value in `options` as text, in the table's unit: "5000",
// "true", "adag", "f32", "0.25"; servers comma-separated; "" when empty.
std::string FormatClientOption(const ClientOptionInfo& option, const ClientOptions& options);

// OK if `value` (a number in the option's unit; REQUIRES: option.numeric())
// is in its range, else kInvalidArgument naming the option, the range and the
// value.
Status CheckClientOptionValue(const ClientOptionInfo& option, double value);

// OK, or kInvalidArgument naming the first option that is out of its range or
// malformed (servers empty or not an endpoint, an unknown algorithm, half a
// CURVE key pair or a malformed key, retry_backoff_max < retry_backoff_initial);
// kUnavailable when CURVE keys are set but this libzmq has no CURVE.
// Client::Connect runs it first.
Status CheckClientOptions(const ClientOptions& options);

}  // namespace asyncps
