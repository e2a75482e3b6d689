// Run: asyncps-local's work once its flags are parsed.
#pragma once

#include "local_config.h"

namespace asyncps::launcher {

// With --summary, prints the model's summary and returns. Otherwise checks
// every file the run reads or writes (and loads the test set and the model),
// starts asyncps-server (unless --algo single) and the workers in a temporary
// folder, shows their progress, and prints the run's report (also as JSON
// with --report-json). Stops every child on SIGINT, SIGTERM, --timeout or the
// first failure. Returns the exit status: 0, or 1 with the reason on stderr.
// REQUIRES: `config` came from ParseLocalFlags (`slowdown` is set).
// Installs SIGINT and SIGTERM handlers: one Run per process.
int Run(const LocalConfig& config);

}  // namespace asyncps::launcher
