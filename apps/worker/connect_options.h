// ConnectOptions: how a process reaches the PS shards (endpoints, timeouts,
// CURVE keys), defined once for asyncps-worker, asyncps-local and asyncps-report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "asyncps/client/client.h"

namespace CLI {
class App;
}

namespace asyncps::worker {

// The wire compression flags (asyncps/compression.h), shared with asyncps-local.
struct CompressionOptions {
  std::string pull_encoding = "f32";  // "f32" or "bf16"
  std::string commit_encoding = "f32";
  double commit_top_k = 0;  // 0: dense commits
  bool error_feedback = true;

  Result<Compression> ToCompression() const;
  std::vector<std::string> ToArgs() const;
  // "f32" when nothing is compressed, else e.g. "pull bf16, commit bf16 top-1%".
  std::string Describe() const;
};

// Registers --pull-encoding, --commit-encoding, --commit-top-k, --no-error-feedback.
void AddCompressionFlags(CLI::App& app, CompressionOptions& options);

struct ConnectOptions {
  std::vector<std::string> servers;  // one endpoint per shard, in shard order
  int request_timeout_ms = 10000;    // one attempt of a request
  double retry_deadline_s = 60;      // retries (with back-off) until then: rides out a shard restart
  double connect_deadline_s = 10;    // a shard absent at start fails this fast
  // CURVE: the shards' public key and this process's secret key, from files or
  // from ASYNCPS_CURVE_SERVER_KEY / ASYNCPS_CLIENT_CURVE_SECRET_KEY (Z85). Off if
  // unset. (The client's secret key has its own name, not the server's
  // ASYNCPS_CURVE_SECRET_KEY: one environment may serve both.)
  std::string curve_server_key_file;
  std::string curve_secret_key_file;
  CompressionOptions compression;
  // Payloads through shared memory with shards on this host that take it
  // (ClientOptions::shared_memory; asyncps-server --shared-memory).
  bool shared_memory = false;

  // The client's options for `worker_id`, keys loaded and checked.
  Result<ClientOptions> ToClientOptions(std::uint32_t worker_id, Algorithm algorithm) const;
  // The flags that reproduce these options (without --servers).
  std::vector<std::string> ToArgs() const;
};

// Registers --servers (if with_servers), --request-timeout-ms, --retry-deadline,
// --connect-deadline, --curve-server-key-file, --curve-secret-key-file,
// --shared-memory and the compression flags.
void AddConnectFlags(CLI::App& app, ConnectOptions& options, bool with_servers);

}  // namespace asyncps::worker
