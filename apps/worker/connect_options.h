// ConnectOptions: how a process reaches the PS shards (endpoints, timeouts,
// CURVE keys), defined once for asyncps-worker, asyncps-local and asyncps-report.
//
// The flags are built from the client's options table
// (asyncps/client/client_options.h): each number or switch of ClientOptions is
// a flag named after its row (retry_backoff_max: --retry-backoff-max, in
// seconds for durations), with the row's help, range and environment variable
// ASYNCPS_<FLAG>; its default is the member initialiser's. The rest are
// special: --servers, the CURVE key files, the compression flags (below), and
// request_timeout, which keeps its flag --request-timeout-ms (milliseconds)
// and the worker's own default (kWorkerRequestTimeout). worker_id, algorithm,
// observer and interrupt_interval are set by the program, not by flags.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "asyncps/client/client.h"

namespace CLI {
class App;
}

namespace asyncps::worker {

// The default of --request-timeout-ms: the tools' own, longer than the
// library's ClientOptions::request_timeout (as it was before the table).
inline constexpr std::chrono::milliseconds kWorkerRequestTimeout{10000};

// The wire compression flags (asyncps/compression.h), shared with asyncps-local.
// Defaults: Compression's.
struct CompressionOptions {
  std::string pull_encoding = EncodingName(Compression{}.pull);  // "f32" or "bf16"
  std::string commit_encoding = EncodingName(Compression{}.commit);
  double commit_top_k = Compression{}.commit_top_k;  // 0: dense commits
  bool error_feedback = Compression{}.error_feedback;

  Result<Compression> ToCompression() const;
  std::vector<std::string> ToArgs() const;
  // "f32" when nothing is compressed, else e.g. "pull bf16, commit bf16 top-1%".
  std::string Describe() const;
};

// Registers --pull-encoding, --commit-encoding, --commit-top-k, --no-error-feedback
// (the table's rows pull_encoding, commit_encoding, commit_top_k, error_feedback).
void AddCompressionFlags(CLI::App& app, CompressionOptions& options);

// ClientOptions as the flags' defaults: the library's, but request_timeout
// kWorkerRequestTimeout.
ClientOptions WorkerClientDefaults();

struct ConnectOptions {
  std::vector<std::string> servers;  // one endpoint per shard, in shard order
  // The options the table's flags set (timeouts, retries, heartbeats,
  // shared_memory, reply_chunk_bytes, ...). ToClientOptions replaces its
  // servers, worker_id, algorithm, CURVE keys and compression.
  ClientOptions client = WorkerClientDefaults();
  // CURVE: the shards' public key and this process's secret key, from files or
  // from ASYNCPS_CURVE_SERVER_KEY / ASYNCPS_CLIENT_CURVE_SECRET_KEY (Z85). Off if
  // unset. (The client's secret key has its own name, not the server's
  // ASYNCPS_CURVE_SECRET_KEY: one environment may serve both.)
  std::string curve_server_key_file;
  std::string curve_secret_key_file;
  CompressionOptions compression;

  // The client's options for `worker_id`, keys loaded and checked.
  Result<ClientOptions> ToClientOptions(std::uint32_t worker_id, Algorithm algorithm) const;
  // The flags that reproduce these options (without --servers).
  std::vector<std::string> ToArgs() const;
};

// Registers --servers (if with_servers), a flag for each number or switch of
// the options table (--request-timeout-ms, --retry-deadline,
// --retry-backoff-initial, --retry-backoff-max, --connect-deadline,
// --max-attempts, --heartbeat-interval, --shared-memory, --reply-chunk-bytes),
// --curve-server-key-file, --curve-secret-key-file and the compression flags.
void AddConnectFlags(CLI::App& app, ConnectOptions& options, bool with_servers);

}  // namespace asyncps::worker
