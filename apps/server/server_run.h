// Run: asyncps-server's work once its flags are parsed.
#pragma once

#include "server_config.h"

namespace asyncps::ps {

// Checks the output folders (created if needed) and the CURVE settings, binds
// every shard (restoring it from its checkpoint when there is one), starts the
// metrics endpoint and writes the ready file, then serves until SIGINT or
// SIGTERM, and at shutdown writes the final checkpoints and the weights.
// Logs to stderr. Returns the exit status: 0; 1 when a file cannot be written
// or a shard or the metrics endpoint cannot start; 2 for refused CURVE settings.
// REQUIRES: `config` came from ParseServerFlags (its derived fields are set).
// Installs SIGINT and SIGTERM handlers: one Run per process.
int Run(const ServerConfig& config);

}  // namespace asyncps::ps
