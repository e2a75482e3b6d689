// WorkerConfig: everything asyncps-worker's flags (and their ASYNCPS_*
// environment variables) say, checked; ParseWorkerFlags builds it from argv.
#pragma once

#include <string>

#include "cli_parse.h"
#include "train_options.h"
#include "worker.h"

namespace asyncps::worker {

struct WorkerConfig {
  TrainOptions train;                     // the training flags (train_options.h)
  WorkerOptions worker;                   // the shards to reach, this worker's partition, --save-weights, --slowdown
  std::string report_json;                // write the report here as JSON; empty: none
  std::string progress_format = "human";  // "human", or "machine" (key=value lines for asyncps-local)
  std::string metrics_bind;               // serve /metrics on HOST:PORT while training; empty: off
};

// Parses asyncps-worker's argv (with the ASYNCPS_* environment variables; the
// worker index defaults to $JOB_COMPLETION_INDEX) and checks every value,
// without touching any file. Returns the config; else the exit to end with
// (--help: 0 and the help text; a refused flag or value: 2 and a message
// naming it). Prints nothing.
tools::ParsedFlags<WorkerConfig> ParseWorkerFlags(int argc, const char* const* argv);

}  // namespace asyncps::worker
