#include "local_config.h"

#include <algorithm>
#include <cmath>
#include <exception>

#include <CLI/CLI.hpp>

#include "asyncps/core/status.h"

namespace asyncps::launcher {
namespace {

// The slowdown of every worker from --straggler I:F values (1: none), or why
// a value is refused.
Result<std::vector<double>> ParseStragglers(const std::vector<std::string>& values, std::size_t workers) {
  std::vector<double> slowdown(workers, 1.0);
  for (const std::string& v : values) {
    const auto colon = v.find(':');
    std::size_t index = 0, used = 0;
    double factor = 0;
    bool ok = colon != std::string::npos && colon > 0 && v.find_first_not_of("0123456789") == colon;
    try {
      if (ok) index = std::stoul(v.substr(0, colon));
      if (ok) factor = std::stod(v.substr(colon + 1), &used);
    } catch (const std::exception&) {
      ok = false;
    }
    ok = ok && used == v.size() - colon - 1 && std::isfinite(factor) && factor >= 1 && factor <= 1000;
    if (!ok || index >= workers)
      return Status::InvalidArgument("--straggler " + v + ": expected I:F with a worker index I below --workers " +
                                     std::to_string(workers) + " and a slowdown F from 1 to 1000 (e.g. 0:3)");
    slowdown[index] = factor;
  }
  return slowdown;
}

// Registers asyncps-local's own flags (not the training or compression ones) on `app`.
void AddLaunchFlags(CLI::App& app, LocalConfig& c) {
  app.add_option("--workers", c.workers, "Worker processes")->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--shards", c.shards, "Parameter shards (served by one asyncps-server process)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--report-json", c.report_json, "Also write the report as JSON here");
  app.add_option("--save-weights", c.save_weights,
                 "Where to save the final weights (.npz, or .h5 for Keras' model.load_weights; '' to skip)")
      ->capture_default_str();
  app.add_option("--checkpoint-dir", c.checkpoint_dir, "Passed on to asyncps-server: where shards keep checkpoints");
  app.add_option("--metrics-bind", c.metrics_bind,
                 "Passed on to asyncps-server: serve /metrics and the status page on HOST:PORT (port 0: any)");
  app.add_option("--timeout", c.timeout_s, "Stop everything and fail after this many seconds (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-staleness", c.max_staleness,
                 "Passed on to asyncps-server: bounded staleness (SSP); hold a worker's pull while it is more than S "
                 "commits ahead of the slowest (0: a barrier every window), or off")
      ->check(tools::MaxStaleness())
      ->capture_default_str();
  app.add_option("--staleness-scale", c.staleness_scale, "Passed on to asyncps-server: none, or inverse (1/tau)")
      ->check(CLI::IsMember({"none", "inverse"}))
      ->capture_default_str();
  app.add_option("--worker-timeout", c.worker_timeout_s,
                 "Passed on to asyncps-server: seconds before the staleness bound stops waiting for a silent worker")
      ->check(tools::FiniteRange(0.1, 86400.0))
      ->capture_default_str();
  app.add_option("--curve-every", c.curve_every_s,
                 "Pull the weights from the PS every this many seconds while training, and report their test "
                 "accuracy against time (evaluated after the run); 0: off")
      ->check(tools::FiniteRange(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--straggler", c.stragglers,
                 "Experiment: I:F makes worker I train F times slower (repeatable; asyncps-worker --slowdown)");
  app.add_option("--shared-memory", c.shared_memory,
                 "Payloads between the workers and the shards through shared memory (on) or over the socket (off)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--server-bin", c.server_bin, "asyncps-server to run (default: next to this binary)");
  app.add_option("--worker-bin", c.worker_bin, "asyncps-worker to run (default: next to this binary)");
  app.add_flag("--keep-work-dir", c.keep_work_dir, "Keep the temporary folder with the workers' reports");
  app.add_flag("--elastic", c.elastic,
               "Workers lease ranges of the data from this launcher (each sample trained once per epoch even when "
               "workers fail, join or leave) instead of training fixed partitions; docs/operations.md");
  app.add_option("--min-workers", c.min_workers,
                 "--elastic: fail when fewer workers run for longer than --min-workers-timeout")
      ->check(CLI::Range(1, 256))
      ->capture_default_str();
  app.add_option("--max-workers", c.max_workers,
                 "--elastic: refuse workers joining beyond this many (default: --workers)")
      ->check(CLI::Range(1, 256));
  app.add_option("--max-restarts", c.max_restarts, "--elastic: restart each failed worker up to this many times")
      ->check(CLI::Range(0, 1000))
      ->capture_default_str();
  app.add_option("--lease-ranges", c.lease_ranges,
                 "--elastic: ranges the data is cut into each epoch (default: 4 per --max-workers)")
      ->check(CLI::Range(1, 1000000));
  app.add_option("--lease-timeout", c.lease_timeout_s,
                 "--elastic: seconds of silence after which a worker is lost and its range handed to another")
      ->check(tools::FiniteRange(0.1, 86400.0))
      ->capture_default_str();
  app.add_option("--min-workers-timeout", c.min_workers_timeout_s,
                 "--elastic: seconds fewer than --min-workers may run before the launcher fails")
      ->check(tools::FiniteRange(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--lease-bind", c.lease_bind,
                 "--elastic: HOST:PORT of the lease service asyncps-worker --join connects to (port 0: any)")
      ->capture_default_str();
  app.add_flag("--keep-serving", c.keep_serving,
               "After the report, keep the shards and the status page (--metrics-bind) up until Ctrl-C (SIGINT) "
               "or SIGTERM");
}

// --elastic's flags: refused without it; with it, the workers' bounds and the
// rules it cannot run under. Fills in max_workers' and lease_ranges' defaults.
Status CheckElastic(const CLI::App& app, LocalConfig& c) {
  if (!c.elastic) {
    for (const char* flag : {"--min-workers", "--max-workers", "--max-restarts", "--lease-ranges", "--lease-timeout",
                             "--min-workers-timeout", "--lease-bind"})
      if (app.count(flag) > 0) return Status::InvalidArgument(std::string(flag) + " needs --elastic");
    return Status::OK();
  }
  if (c.max_workers == 0) c.max_workers = std::max(c.workers, c.min_workers);
  if (c.lease_ranges == 0) c.lease_ranges = 4 * c.max_workers;
  if (c.min_workers > c.workers || c.workers > c.max_workers)
    return Status::InvalidArgument("--min-workers " + std::to_string(c.min_workers) + ", --workers " +
                                   std::to_string(c.workers) + ", --max-workers " + std::to_string(c.max_workers) +
                                   ": need min <= workers <= max");
  const Algorithm a = c.train.algorithm();
  if (a == Algorithm::kSingle || a == Algorithm::kAverage)
    return Status::InvalidArgument(
        "--elastic leases the data to workers of a parameter server that come and go: "
        "not for --algo " +
        c.train.algo + " (" + (a == Algorithm::kSingle ? "no server" : "a fixed number of models averaged") + ")");
  // A worker waiting for an epoch's last ranges commits nothing: a staleness
  // bound would hold the others until --worker-timeout.
  if (c.max_staleness != "off")
    return Status::InvalidArgument("--elastic with --max-staleness " + c.max_staleness +
                                   ": workers waiting for an epoch's last ranges would hold the others; use off");
  const std::size_t colon = c.lease_bind.rfind(':');
  const std::string port = colon == std::string::npos ? "" : c.lease_bind.substr(colon + 1);
  if (colon == 0 || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos ||
      std::stoul(port) > 65535)
    return Status::InvalidArgument("--lease-bind " + c.lease_bind + ": expected HOST:PORT with a port 0 to 65535");
  return Status::OK();
}

}  // namespace

tools::ParsedFlags<LocalConfig> ParseLocalFlags(int argc, const char* const* argv) {
  LocalConfig c;
  CLI::App app{"asyncps-local: runs a parameter server and workers on this machine and reports the result"};
  // A flag given twice takes its last value, so a wrapper's defaults can be
  // overridden (scripts/seed-experiment.sh --epochs 1).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  worker::AddTrainFlags(app, c.train);
  worker::AddCompressionFlags(app, c.compression);
  AddLaunchFlags(app, c);
  if (std::optional<tools::FlagsExit> exit = tools::ParseQuietly(app, argc, argv)) return *exit;

  Status valid = c.train.Validate();
  if (valid.ok()) valid = c.compression.ToCompression().status();
  Result<std::vector<double>> slowdown = ParseStragglers(c.stragglers, c.workers);
  if (valid.ok()) valid = slowdown.status();
  if (valid.ok() && c.keep_serving && c.train.algorithm() == Algorithm::kSingle)
    valid = Status::InvalidArgument(
        "--keep-serving keeps the parameter server up after the run, and --algo single has none: drop one of them");
  // Model averaging's rounds are the staleness bound's barrier (S = 0).
  if (valid.ok() && c.train.algorithm() == Algorithm::kAverage) {
    if (app.count("--max-staleness") > 0 && c.max_staleness != "0")
      valid = Status::InvalidArgument(
          "--algo average averages in rounds, a barrier every window: it needs "
          "--max-staleness 0 (the default with it), not " +
          c.max_staleness);
    c.max_staleness = "0";
  }
  if (valid.ok()) valid = CheckElastic(app, c);
  if (!valid.ok()) return tools::Refuse("asyncps-local", valid.message());
  c.slowdown = std::move(slowdown).value();
  return c;
}

}  // namespace asyncps::launcher
