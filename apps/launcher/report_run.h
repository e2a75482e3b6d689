// Run: asyncps-report's work once its flags are parsed.
#pragma once

#include <string>
#include <vector>

#include "report_config.h"
#include "worker_report.h"

namespace asyncps::launcher {

// The worker reports in folder `dir`: every regular .json file in it that
// holds one (asyncps-worker --report-json), whatever its name, one per
// worker index (in directory order); `skipped` names each other entry and why
// ("not a .json file", "not a worker report: ...", "a second report of worker
// K"), for the message when too few are found. A report still being written
// is skipped this time and read on a later call.
struct WorkerReportsFound {
  std::vector<worker::WorkerReport> reports;
  std::vector<std::string> skipped;
};
WorkerReportsFound ReadWorkerReports(const std::string& dir);

// With --summary, prints the model's summary and returns. Otherwise checks
// every file it reads or writes (and loads the test set and the model), waits
// up to --wait for --expect-workers worker reports, evaluates the weights the
// shards hold and prints the run's report (also as JSON with --report-json).
// Returns the exit status: 0, or 1 with the reason on stderr.
// REQUIRES: `config` came from ParseReportFlags (or passes its checks).
int Run(const ReportConfig& config);

}  // namespace asyncps::launcher
