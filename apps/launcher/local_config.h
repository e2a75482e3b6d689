// LocalConfig: everything asyncps-local's flags say, checked; ParseLocalFlags
// builds it from argv.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli_parse.h"
#include "connect_options.h"
#include "train_options.h"

namespace asyncps::launcher {

struct LocalConfig {
  worker::TrainOptions train;                        // passed on to every worker
  worker::CompressionOptions compression;            // passed on to every worker (not for --algo single)
  std::size_t workers = 3;                           // worker processes, 1..256
  std::size_t shards = 2;                            // shards of the one asyncps-server process, 1..64
  std::string report_json;                           // also write the report as JSON here; empty: no
  std::string save_weights = "asyncps-weights.npz";  // the final weights (.npz or .h5); empty: not saved
  std::string checkpoint_dir;                        // asyncps-server --checkpoint-dir; empty: none
  std::string metrics_bind;                          // asyncps-server --metrics-bind; empty: none
  int timeout_s = 0;                                 // stop everything and fail after this long; 0: no limit
  // Passed on to asyncps-server: the staleness bound.
  std::string max_staleness = "off";
  std::string staleness_scale = "none";
  double worker_timeout_s = 30;
  double curve_every_s = 0;  // seconds between snapshots of C for the accuracy curve; 0: none
  // --straggler I:F: worker I trains F times slower (asyncps-worker --slowdown).
  std::vector<std::string> stragglers;
  std::string shared_memory = "on";  // the workers' payloads through shared memory: "on" or "off"
  std::string server_bin;            // asyncps-server to run; empty: next to this binary, else the build tree's
  std::string worker_bin;            // asyncps-worker to run; the same
  bool keep_work_dir = false;        // keep (and name) the run's temporary folder
  // After the report, keep asyncps-server (its shards and status page) up
  // until SIGINT or SIGTERM. Refused with --algo single (no server).
  bool keep_serving = false;
  // --elastic: workers lease ranges of the data from the launcher's lease
  // service (lease_service.h) instead of training fixed partitions, may join
  // (asyncps-worker --join) or leave mid-run, and failed ones are restarted.
  bool elastic = false;
  std::size_t min_workers = 1;             // fail when fewer run for longer than min_workers_timeout_s
  std::size_t max_workers = 0;             // joins beyond this many refused; 0: --workers
  std::size_t max_restarts = 0;            // restarts of each failed worker process
  std::uint64_t lease_ranges = 0;          // ranges per epoch; 0: 4 per --max-workers
  double lease_timeout_s = 10;             // a silent worker's range returns to the queue after this
  double min_workers_timeout_s = 30;       // how long fewer than min_workers may run
  std::string lease_bind = "127.0.0.1:0";  // the lease service's HOST:PORT (port 0: any)

  // Derived by ParseLocalFlags: each worker's slowdown, from `stragglers` (1: none).
  std::vector<double> slowdown;
};

// Parses asyncps-local's argv (a flag given twice takes its last value) and
// checks every value (the training and compression flags, --straggler,
// --keep-serving against --algo single),
// without touching any file. Returns the config, `slowdown` filled in; else
// the exit to end with (--help: 0 and the help text; a refused flag or value:
// 2 and a message naming it). Prints nothing.
tools::ParsedFlags<LocalConfig> ParseLocalFlags(int argc, const char* const* argv);

}  // namespace asyncps::launcher
