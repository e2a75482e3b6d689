// ReportConfig: everything asyncps-report's flags (and their ASYNCPS_*
// environment variables) say, checked; ParseReportFlags builds it from argv.
#pragma once

#include <cstddef>
#include <string>

#include "cli_parse.h"
#include "connect_options.h"
#include "train_options.h"

namespace asyncps::launcher {

struct ReportConfig {
  worker::TrainOptions train;      // the run's model and data (the test split is evaluated)
  worker::ConnectOptions connect;  // the shards holding the weights
  std::string reports_dir;         // the workers' --report-json files (worker-*.json); empty: none
  std::size_t expect_workers = 0;  // wait until this many worker reports are in reports_dir
  int wait_s = 0;                  // for at most this many seconds
  double curve_every_s = 0;        // while waiting, pull C every this many seconds for the accuracy curve; 0: none
  std::string report_json;         // also write the report as JSON here; empty: no
  std::string save_weights;        // save the final weights here (.npz or .h5); empty: not saved
};

// Parses asyncps-report's argv (with the ASYNCPS_* environment variables) and
// checks every value, without touching any file; --servers is required unless
// --summary. Returns the config; else the exit to end with (--help: 0 and the
// help text; a refused flag or value: 2 and a message naming it). Prints nothing.
tools::ParsedFlags<ReportConfig> ParseReportFlags(int argc, const char* const* argv);

}  // namespace asyncps::launcher
