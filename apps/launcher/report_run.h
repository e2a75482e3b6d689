// Run: asyncps-report's work once its flags are parsed.
#pragma once

#include "report_config.h"

namespace asyncps::launcher {

// With --summary, prints the model's summary and returns. Otherwise checks
// every file it reads or writes (and loads the test set and the model), waits
// up to --wait for --expect-workers worker reports, evaluates the weights the
// shards hold and prints the run's report (also as JSON with --report-json).
// Returns the exit status: 0, or 1 with the reason on stderr.
// REQUIRES: `config` came from ParseReportFlags (or passes its checks).
int Run(const ReportConfig& config);

}  // namespace asyncps::launcher
