// ConnectOptions: how a process reaches the PS shards (endpoints, timeouts,
// CURVE keys), defined once for asyncps-worker, asyncps-local and asyncps-report.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "asyncps/client.h"

namespace CLI {
class App;
}

namespace asyncps::worker {

struct ConnectOptions {
  std::vector<std::string> servers;  // one endpoint per shard, in shard order
  int request_timeout_ms = 10000;    // one attempt of a request
  double retry_deadline_s = 60;      // retries (with back-off) until then: rides out a shard restart
  double connect_deadline_s = 10;    // a shard absent at start fails this fast
  // CURVE: the shards' public key and this process's secret key, from files or
  // from ASYNCPS_CURVE_SERVER_KEY / ASYNCPS_CURVE_SECRET_KEY (Z85). Off if unset.
  std::string curve_server_key_file;
  std::string curve_secret_key_file;

  // The client's options for `worker_id`, keys loaded and checked.
  Result<ClientOptions> ToClientOptions(std::uint32_t worker_id, Algorithm algorithm) const;
  // The flags that reproduce these options (without --servers).
  std::vector<std::string> ToArgs() const;
};

// Registers --servers (if with_servers), --request-timeout-ms, --retry-deadline,
// --connect-deadline, --curve-server-key-file, --curve-secret-key-file.
void AddConnectFlags(CLI::App& app, ConnectOptions& options, bool with_servers);

}  // namespace asyncps::worker
