// asyncps-local: the main job. Starts a parameter server with S shards and W
// workers on 127.0.0.1, shows their progress, and prints the run's report.
#include <poll.h>
#include <unistd.h>

#include <atomic>
#include <cmath>
#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <CLI/CLI.hpp>

#include "cli_parse.h"
#include "output_path.h"

#include "child_process.h"
#include "progress_display.h"
#include "accuracy_curve.h"
#include "asyncps/transport/endpoint.h"
#include "run_report.h"

namespace fs = std::filesystem;
using namespace asyncps;
using asyncps::launcher::ChildProcess;

namespace {

std::atomic<bool> g_interrupted{false};
extern "C" void OnSignal(int) { g_interrupted = true; }

// The sibling binary next to this one (installed layout), else the one built
// in this build tree.
std::string FindBinary(const std::string& name, const char* build_path) {
  std::error_code ec;
  const fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec && fs::exists(self.parent_path() / name)) return (self.parent_path() / name).string();
  if (fs::exists(build_path)) return build_path;
  return name;
}

// Where the shards listen. With shared memory every client is on this host, so
// the control messages take a Unix socket in the run's own folder (mkdtemp's
// 0700 keeps other users out): cheaper than loopback TCP. A path too long for
// the last shard's Unix socket keeps TCP.
std::string ShardBind(const fs::path& work, bool shared_memory, std::size_t shards) {
  const std::string ipc = "ipc://" + (work / "shard").string();
  return shared_memory && ShardEndpoint(ipc, shards - 1, shards).ok() ? ipc : "tcp://127.0.0.1:*";
}

std::string Join(const std::vector<std::string>& v, const std::string& sep) {
  std::string out;
  for (const auto& s : v) out += (out.empty() ? "" : sep) + s;
  return out;
}

// Waits for the server's --ready-file and returns the endpoints in it.
Result<std::vector<std::string>> WaitForServer(ChildProcess& server, const fs::path& ready, std::size_t shards) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(15);
  while (std::chrono::steady_clock::now() < deadline) {
    server.ReadLines();
    if (server.Poll())
      return Status::Unavailable("asyncps-server " + server.ExitDescription() + ": " + Join(server.tail(), " | "));
    std::ifstream in(ready);
    std::vector<std::string> endpoints;
    for (std::string line; std::getline(in, line);)
      if (!line.empty()) endpoints.push_back(line);
    if (endpoints.size() == shards) return endpoints;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return Status::Timeout("asyncps-server did not become ready within 15 s");
}

// The status page's URL: as the server logged it ("status page on URL", the
// port it bound when --metrics-bind asked for port 0), else from `bind`.
std::string StatusPageUrl(const ChildProcess& server, const std::string& bind) {
  const std::string said = "status page on ";
  for (const std::string& line : server.tail())
    if (const auto at = line.find(said); at != std::string::npos) return line.substr(at + said.size());
  return "http://" + bind + "/";
}

struct LaunchOptions {
  std::size_t workers = 3;
  std::size_t shards = 2;
  std::string report_json;
  std::string save_weights = "asyncps-weights.npz";
  std::string server_bin, worker_bin;
  std::string checkpoint_dir;
  std::string metrics_bind;
  int timeout_s = 0;
  bool keep_work_dir = false;
  // Passed on to asyncps-server: the staleness bound.
  std::string max_staleness = "off";
  std::string staleness_scale = "none";
  double worker_timeout_s = 30;
  // --straggler I:F: worker I trains F times slower (asyncps-worker --slowdown).
  std::vector<std::string> stragglers;
  double curve_every_s = 0;          // seconds between snapshots of C for the accuracy curve; 0: none
  std::string shared_memory = "on";  // the workers' payloads through shared memory (on/off)
};

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

// Stops every child, the server last (it holds the state the workers need).
void StopAll(std::vector<ChildProcess>& workers, ChildProcess* server) {
  for (auto& w : workers) w.Stop();
  if (server) server->Stop();
}

// The run's temporary folder (the server's ready file, the workers' reports):
// removed on every way out of main unless --keep-work-dir, then named.
class WorkDir {
 public:
  WorkDir(fs::path path, bool keep) : path_(std::move(path)), keep_(keep) {}
  WorkDir(const WorkDir&) = delete;
  WorkDir& operator=(const WorkDir&) = delete;
  ~WorkDir() {
    std::error_code ec;
    if (!keep_)
      fs::remove_all(path_, ec);
    else
      std::printf("work folder: %s\n", path_.c_str());
  }
  const fs::path& path() const { return path_; }

 private:
  fs::path path_;
  bool keep_;
};

int Fail(const std::string& message, std::vector<ChildProcess>& workers, ChildProcess* server) {
  StopAll(workers, server);
  std::fprintf(stderr, "asyncps-local: %s\n", message.c_str());
  return 1;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"asyncps-local: runs a parameter server and workers on this machine and reports the result"};
  // A flag given twice takes its last value, so a wrapper's defaults can be
  // overridden (scripts/seed-experiment.sh --epochs 1).
  app.option_defaults()->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
  worker::TrainOptions train;
  LaunchOptions lo;
  worker::AddTrainFlags(app, train);
  worker::CompressionOptions compression;
  worker::AddCompressionFlags(app, compression);
  app.add_option("--workers", lo.workers, "Worker processes")->check(CLI::Range(1, 256))->capture_default_str();
  app.add_option("--shards", lo.shards, "Parameter shards (served by one asyncps-server process)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--report-json", lo.report_json, "Also write the report as JSON here");
  app.add_option("--save-weights", lo.save_weights,
                 "Where to save the final weights (.npz, or .h5 for Keras' model.load_weights; '' to skip)")
      ->capture_default_str();
  app.add_option("--checkpoint-dir", lo.checkpoint_dir, "Passed on to asyncps-server: where shards keep checkpoints");
  app.add_option("--metrics-bind", lo.metrics_bind,
                 "Passed on to asyncps-server: serve /metrics and the status page on HOST:PORT (port 0: any)");
  app.add_option("--timeout", lo.timeout_s, "Stop everything and fail after this many seconds (0: no limit)")
      ->check(CLI::NonNegativeNumber)
      ->capture_default_str();
  app.add_option("--max-staleness", lo.max_staleness,
                 "Passed on to asyncps-server: bounded staleness (SSP); hold a worker's pull while it is more than S "
                 "commits ahead of the slowest (0: a barrier every window), or off")
      ->check(asyncps::tools::MaxStaleness())
      ->capture_default_str();
  app.add_option("--staleness-scale", lo.staleness_scale, "Passed on to asyncps-server: none, or inverse (1/tau)")
      ->check(CLI::IsMember({"none", "inverse"}))
      ->capture_default_str();
  app.add_option("--worker-timeout", lo.worker_timeout_s,
                 "Passed on to asyncps-server: seconds before the staleness bound stops waiting for a silent worker")
      ->check(asyncps::tools::FiniteRange(0.1, 86400.0))
      ->capture_default_str();
  app.add_option("--curve-every", lo.curve_every_s,
                 "Pull the weights from the PS every this many seconds while training, and report their test "
                 "accuracy against time (evaluated after the run); 0: off")
      ->check(asyncps::tools::FiniteRange(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--straggler", lo.stragglers,
                 "Experiment: I:F makes worker I train F times slower (repeatable; asyncps-worker --slowdown)");
  app.add_option("--shared-memory", lo.shared_memory,
                 "Payloads between the workers and the shards through shared memory (on) or over the socket (off)")
      ->check(CLI::IsMember({"on", "off"}))
      ->capture_default_str();
  app.add_option("--server-bin", lo.server_bin, "asyncps-server to run (default: next to this binary)");
  app.add_option("--worker-bin", lo.worker_bin, "asyncps-worker to run (default: next to this binary)");
  app.add_flag("--keep-work-dir", lo.keep_work_dir, "Keep the temporary folder with the workers' reports");
  if (auto exit_status = asyncps::tools::ParseFlags(app, argc, argv)) return *exit_status;
  Status valid = train.Validate();
  if (valid.ok()) valid = compression.ToCompression().status();
  Result<std::vector<double>> slowdown = ParseStragglers(lo.stragglers, lo.workers);
  if (valid.ok()) valid = slowdown.status();
  if (!valid.ok()) {
    std::fprintf(stderr, "asyncps-local: %s\n", valid.message().c_str());
    return 2;
  }
  if (train.summary) return worker::PrintModelSummary(train, "asyncps-local");
  // Every file the run reads or writes, before any work: a bad test file, model
  // or output path must not throw a finished run away. The test set is small:
  // load it once here so that a corrupt file fails now, not after training.
  Status paths = train.CheckData(/*train=*/true, /*test=*/true);
  if (paths.ok()) {
    // The model too: a refused --model, a shape mismatch or bad --initial-weights fail now.
    Result<models::Dataset> test = train.LoadData(models::Split::kTest);
    paths = test.ok() ? train.BuildModel(test.value()).status() : test.status();
  }
  if (paths.ok()) paths = worker::CheckOutputPath("--save-weights", lo.save_weights);
  if (paths.ok()) paths = worker::CheckOutputPath("--report-json", lo.report_json);
  if (!paths.ok()) {
    std::fprintf(stderr, "asyncps-local: %s\n", paths.message().c_str());
    return 1;
  }
  if (lo.server_bin.empty()) lo.server_bin = FindBinary("asyncps-server", ASYNCPS_SERVER_BUILD_PATH);
  if (lo.worker_bin.empty()) lo.worker_bin = FindBinary("asyncps-worker", ASYNCPS_WORKER_BUILD_PATH);
  std::signal(SIGINT, OnSignal);
  std::signal(SIGTERM, OnSignal);

  // In $TMPDIR (else /tmp).
  std::error_code tmp_ec;
  std::string tmpl = (fs::temp_directory_path(tmp_ec) / "asyncps-local-XXXXXX").string();
  if (tmp_ec || !mkdtemp(tmpl.data())) {
    std::fprintf(stderr, "asyncps-local: cannot create a work folder %s: %s\n", tmpl.c_str(),
                 tmp_ec ? tmp_ec.message().c_str() : std::strerror(errno));
    return 1;
  }
  const WorkDir work_dir(tmpl, lo.keep_work_dir);
  const fs::path& work = work_dir.path();
  const bool single = train.algorithm() == Algorithm::kSingle;

  std::vector<ChildProcess> workers;
  std::optional<ChildProcess> server;
  std::vector<std::string> endpoints;
  if (!single) {
    const std::string bind = ShardBind(work, lo.shared_memory == "on", lo.shards);
    std::vector<std::string> args{lo.server_bin,
                                  "--bind",
                                  bind,
                                  "--shards",
                                  std::to_string(lo.shards),
                                  "--ready-file",
                                  (work / "ready").string()};
    if (!lo.checkpoint_dir.empty()) args.insert(args.end(), {"--checkpoint-dir", lo.checkpoint_dir});
    args.insert(args.end(), {"--max-staleness", lo.max_staleness, "--staleness-scale", lo.staleness_scale,
                             "--worker-timeout", std::to_string(lo.worker_timeout_s)});
    if (!lo.metrics_bind.empty()) args.insert(args.end(), {"--metrics-bind", lo.metrics_bind});
    if (lo.shared_memory == "on") args.emplace_back("--shared-memory");
    auto started = ChildProcess::Start(args, "asyncps-server");
    if (!started.ok()) return Fail(started.status().message(), workers, nullptr);
    server.emplace(std::move(started).value());
    auto ready = WaitForServer(*server, work / "ready", lo.shards);
    if (!ready.ok()) return Fail(ready.status().message(), workers, &*server);
    endpoints = ready.value();
    if (!lo.metrics_bind.empty()) std::printf("status page: %s\n", StatusPageUrl(*server, lo.metrics_bind).c_str());
  }

  for (std::size_t i = 0; i < lo.workers; ++i) {
    std::vector<std::string> args{lo.worker_bin};
    for (auto& a : train.ToArgs()) args.push_back(a);
    for (auto& a : std::vector<std::string>{
             "--worker-index", std::to_string(i), "--num-workers", std::to_string(lo.workers), "--report-json",
             (work / ("worker-" + std::to_string(i) + ".json")).string(), "--progress-format", "machine"})
      args.push_back(a);
    if (!single) {
      args.insert(args.end(), {"--servers", Join(endpoints, ",")});
      for (auto& a : compression.ToArgs()) args.push_back(a);
      if (lo.shared_memory == "on") args.emplace_back("--shared-memory");
    }
    if (single && i == 0) args.insert(args.end(), {"--save-weights", (work / "worker-0.npz").string()});
    if (slowdown.value()[i] > 1) args.insert(args.end(), {"--slowdown", std::to_string(slowdown.value()[i])});
    auto started = ChildProcess::Start(args, "worker " + std::to_string(i));
    if (!started.ok()) return Fail(started.status().message(), workers, server ? &*server : nullptr);
    workers.push_back(std::move(started).value());
  }

  std::unique_ptr<launcher::AccuracyCurve> curve;
  if (!single && lo.curve_every_s > 0) {
    worker::ConnectOptions ps;
    ps.servers = endpoints;
    auto connected = launcher::AccuracyCurve::Connect(train, ps);
    if (!connected.ok()) return Fail(connected.status().message(), workers, &*server);
    curve = std::move(connected).value();
  }
  auto next_snapshot = std::chrono::steady_clock::now();

  // Supervise: relay output, show progress, fail fast if anything dies.
  launcher::ProgressDisplay display(lo.workers, train.epochs, isatty(STDOUT_FILENO));
  const auto start = std::chrono::steady_clock::now();
  std::size_t done = 0;
  while (done < workers.size()) {
    std::vector<pollfd> fds;
    for (auto& w : workers) fds.push_back({w.output_fd(), POLLIN, 0});
    poll(fds.data(), fds.size(), 200);
    if (g_interrupted) return Fail("interrupted: stopped all processes", workers, server ? &*server : nullptr);
    if (lo.timeout_s > 0 && std::chrono::steady_clock::now() - start > std::chrono::seconds(lo.timeout_s))
      return Fail("--timeout of " + std::to_string(lo.timeout_s) + " s reached: stopped all processes", workers,
                  server ? &*server : nullptr);
    if (server) {
      server->ReadLines();
      if (server->Poll())
        return Fail("asyncps-server " + server->ExitDescription() + "; last output: " + Join(server->tail(), " | "),
                    workers, &*server);
    }
    done = 0;
    for (std::size_t i = 0; i < workers.size(); ++i) {
      for (const auto& line : workers[i].ReadLines()) display.OnLine(i, line);
      if (workers[i].Poll()) {
        for (const auto& line : workers[i].ReadLines()) display.OnLine(i, line);  // the last words
        if (!workers[i].succeeded()) {
          display.Finish();
          return Fail(workers[i].name() + " " + workers[i].ExitDescription() + "; last output:\n  " +
                          Join(workers[i].tail(), "\n  "),
                      workers, server ? &*server : nullptr);
        }
        ++done;
      }
    }
    display.Render();
    if (curve && done < workers.size() && std::chrono::steady_clock::now() >= next_snapshot) {
      if (Status st = curve->Snapshot(); !st.ok()) return Fail(st.ToString(), workers, server ? &*server : nullptr);
      next_snapshot += std::chrono::milliseconds(static_cast<std::int64_t>(lo.curve_every_s * 1000));
    }
  }
  display.Finish();

  std::vector<worker::WorkerReport> reports;
  for (std::size_t i = 0; i < lo.workers; ++i) {
    std::ifstream in(work / ("worker-" + std::to_string(i) + ".json"));
    try {
      reports.push_back(worker::WorkerReportFromJson(nlohmann::json::parse(in)));
    } catch (const std::exception& e) {
      return Fail("cannot read worker " + std::to_string(i) + "'s report: " + e.what(), workers,
                  server ? &*server : nullptr);
    }
  }
  launcher::WeightsSource source;
  if (single)
    source.npz_path = (work / "worker-0.npz").string();
  else
    source.ps.servers = endpoints;
  Result<launcher::RunReport> report = launcher::BuildRunReport(train, std::move(reports), source, lo.save_weights);
  if (server) server->Stop();
  if (!report.ok()) return Fail(report.status().ToString(), workers, nullptr);
  if (curve) {
    Result<std::vector<launcher::CurvePoint>> points = curve->Evaluate();
    if (!points.ok()) return Fail(points.status().ToString(), workers, nullptr);
    report.value().curve = std::move(points).value();
  }
  if (server) report.value().server_peak_rss_kb = server->peak_rss_kb();
  std::printf("%s", launcher::FormatReport(report.value()).c_str());
  if (!lo.report_json.empty()) {
    std::ofstream out(lo.report_json);
    out << launcher::ToJson(report.value()).dump(2) << "\n";
    if (!out.flush()) return Fail("cannot write --report-json " + lo.report_json, workers, nullptr);
  }
  return 0;
}
