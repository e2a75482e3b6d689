// Run: asyncps-worker's work once its flags are parsed.
#pragma once

#include "worker_config.h"

namespace asyncps::worker {

// With --summary, prints the model's summary and returns. Otherwise checks
// every file the run reads or writes, starts the metrics endpoint if asked,
// trains to the end (RunWorker) with progress lines on stdout, and writes the
// report. Returns the exit status: 0; 1 when a file is refused, training fails
// or the report cannot be written; 2 for a refused --metrics-bind.
// REQUIRES: `config` came from ParseWorkerFlags (or passes its checks).
int Run(const WorkerConfig& config);

}  // namespace asyncps::worker
