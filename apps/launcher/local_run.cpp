#include "local_run.h"

#include <poll.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <thread>

#include "accuracy_curve.h"
#include "asyncps/transport/endpoint.h"
#include "child_process.h"
#include "lease_service.h"
#include "progress_display.h"
#include "run_report.h"

namespace asyncps::launcher {
namespace {

namespace fs = std::filesystem;

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

// `arg` as a POSIX shell reads it back: as is when plain, else in single quotes.
std::string ShellQuoted(const std::string& arg) {
  if (!arg.empty() &&
      arg.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_./:=,@%+-") ==
          std::string::npos)
    return arg;
  std::string out = "'";
  for (char ch : arg) out += ch == '\'' ? std::string("'\\''") : std::string(1, ch);
  return out + "'";
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

// The run's temporary folder (the server's ready file, the workers' reports):
// removed on every way out of Run unless --keep-work-dir, then named.
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

// The run's child processes: the workers and, unless --algo single, the server.
struct Children {
  std::vector<ChildProcess> workers;
  std::optional<ChildProcess> server;

  // Stops every child, the server last (it holds the state the workers need),
  // and says `message` on stderr. Returns the exit status, 1.
  int Fail(const std::string& message) {
    for (auto& w : workers) w.Stop();
    if (server) server->Stop();
    std::fprintf(stderr, "asyncps-local: %s\n", message.c_str());
    return 1;
  }
};

// Starts asyncps-server (`bin`) into children.server, its ready file in
// `work`, and returns its shards' endpoints once it is ready.
Result<std::vector<std::string>> StartServer(const LocalConfig& c, const std::string& bin, const fs::path& work,
                                             Children& children) {
  const std::string bind = ShardBind(work, c.shared_memory == "on", c.shards);
  std::vector<std::string> args{
      bin, "--bind", bind, "--shards", std::to_string(c.shards), "--ready-file", (work / "ready").string()};
  if (!c.checkpoint_dir.empty()) args.insert(args.end(), {"--checkpoint-dir", c.checkpoint_dir});
  args.insert(args.end(), {"--max-staleness", c.max_staleness, "--staleness-scale", c.staleness_scale,
                           "--worker-timeout", std::to_string(c.worker_timeout_s)});
  if (!c.metrics_bind.empty()) args.insert(args.end(), {"--metrics-bind", c.metrics_bind});
  if (c.shared_memory == "on") args.emplace_back("--shared-memory");
  Result<ChildProcess> started = ChildProcess::Start(args, "asyncps-server");
  if (!started.ok()) return started.status();
  children.server.emplace(std::move(started).value());
  return WaitForServer(*children.server, work / "ready", c.shards);
}

// What worker `i` runs (`bin` first): partition i writing its report into
// `work`, or with `join` (--elastic) the lease service's ranges; `endpoints`:
// the shards' (empty for --algo single).
std::vector<std::string> WorkerArgs(const LocalConfig& c, const std::string& bin, const fs::path& work,
                                    const std::vector<std::string>& endpoints, std::size_t i, const std::string& join) {
  const bool single = c.train.algorithm() == Algorithm::kSingle;
  std::vector<std::string> args{bin};
  for (auto& a : c.train.ToArgs()) args.push_back(a);
  if (join.empty())
    args.insert(args.end(), {"--worker-index", std::to_string(i), "--num-workers", std::to_string(c.workers),
                             "--report-json", (work / ("worker-" + std::to_string(i) + ".json")).string()});
  else
    args.insert(args.end(), {"--join", join});
  args.insert(args.end(), {"--progress-format", "machine"});
  if (!single) {
    args.insert(args.end(), {"--servers", Join(endpoints, ",")});
    for (auto& a : c.compression.ToArgs()) args.push_back(a);
    if (c.shared_memory == "on") args.emplace_back("--shared-memory");
  }
  if (single && i == 0) args.insert(args.end(), {"--save-weights", (work / "worker-0.npz").string()});
  const double slowdown = i < c.slowdown.size() ? c.slowdown[i] : 1.0;
  if (slowdown > 1) args.insert(args.end(), {"--slowdown", std::to_string(slowdown)});
  return args;
}

// Starts every worker (`bin`) into children.workers (WorkerArgs).
Status StartWorkers(const LocalConfig& c, const std::string& bin, const fs::path& work,
                    const std::vector<std::string>& endpoints, const std::string& join, Children& children) {
  for (std::size_t i = 0; i < c.workers; ++i) {
    Result<ChildProcess> started =
        ChildProcess::Start(WorkerArgs(c, bin, work, endpoints, i, join), "worker " + std::to_string(i));
    if (!started.ok()) return started.status();
    children.workers.push_back(std::move(started).value());
  }
  return Status::OK();
}

// Waits up to 200 ms for the running workers' output, then says why the run
// must stop ("" when it need not): interrupted, --timeout since `start`, or
// the server ended.
std::string WaitAndCheck(const LocalConfig& c, Children& children, std::chrono::steady_clock::time_point start) {
  std::vector<pollfd> fds;
  for (auto& w : children.workers)
    if (w.running()) fds.push_back({w.output_fd(), POLLIN, 0});
  poll(fds.data(), fds.size(), 200);
  if (g_interrupted) return "interrupted: stopped all processes";
  if (c.timeout_s > 0 && std::chrono::steady_clock::now() - start > std::chrono::seconds(c.timeout_s))
    return "--timeout of " + std::to_string(c.timeout_s) + " s reached: stopped all processes";
  if (children.server) {
    children.server->ReadLines();
    if (children.server->Poll())
      return "asyncps-server " + children.server->ExitDescription() +
             "; last output: " + Join(children.server->tail(), " | ");
  }
  return "";
}

// Relays the workers' output and shows their progress until every worker has
// finished, taking a snapshot for `curve` (may be null) every --curve-every.
// Returns "" when all succeeded, else why the run must stop (interrupted,
// --timeout, a child that died, a failed snapshot).
std::string Supervise(const LocalConfig& c, Children& children, AccuracyCurve* curve) {
  std::vector<ChildProcess>& workers = children.workers;
  ProgressDisplay display(c.workers, c.train.epochs, isatty(STDOUT_FILENO));
  const auto start = std::chrono::steady_clock::now();
  std::size_t done = 0;
  while (done < workers.size()) {
    if (std::string why = WaitAndCheck(c, children, start); !why.empty()) return why;
    done = 0;
    for (std::size_t i = 0; i < workers.size(); ++i) {
      for (const auto& line : workers[i].ReadLines()) display.OnLine(i, line);
      if (workers[i].Poll()) {
        for (const auto& line : workers[i].ReadLines()) display.OnLine(i, line);  // the last words
        if (!workers[i].succeeded()) {
          display.Finish();
          return workers[i].name() + " " + workers[i].ExitDescription() + "; last output:\n  " +
                 Join(workers[i].tail(), "\n  ");
        }
        ++done;
      }
    }
    display.Render();
    if (curve && done < workers.size())
      if (Status st = curve->SnapshotIfDue(); !st.ok()) return st.ToString();
  }
  display.Finish();
  return "";
}

// --elastic: relays the workers' output until every epoch's ranges are done
// and every worker has left. A worker process that fails loses its lease (it
// returns to the queue) and is restarted up to --max-restarts times; `start`
// starts worker process i again. Returns "" when the run completed, else why
// it must stop: every worker failed (named), fewer than --min-workers for
// longer than --min-workers-timeout, or WaitAndCheck's reasons.
std::string SuperviseElastic(const LocalConfig& c, Children& children, LeaseService& leases, AccuracyCurve* curve,
                             const std::function<Result<ChildProcess>(std::size_t)>& start_worker) {
  std::vector<ChildProcess>& workers = children.workers;
  std::vector<std::size_t> restarts(workers.size(), 0);
  std::vector<std::string> failures;  // "worker 0 killed by signal 9 (Killed)"
  ProgressDisplay display(c.workers, c.train.epochs, isatty(STDOUT_FILENO), /*leased=*/true);
  const auto start = std::chrono::steady_clock::now();
  // Since when fewer than --min-workers run; max(): not fewer.
  auto too_few_since = std::chrono::steady_clock::time_point::max();
  for (;;) {
    if (std::string why = WaitAndCheck(c, children, start); !why.empty()) return why;
    std::set<std::int64_t> running;  // the process groups of the workers running
    for (std::size_t i = 0; i < workers.size(); ++i) {
      ChildProcess& w = workers[i];
      if (!w.running()) continue;
      for (const auto& line : w.ReadLines()) display.OnLine(i, line);
      if (!w.Poll()) {
        running.insert(w.pid());
        continue;
      }
      for (const auto& line : w.ReadLines()) display.OnLine(i, line);  // the last words
      // Exit 0: finished, or stopped (SIGTERM) and gave its range back.
      if (w.succeeded()) continue;
      const std::vector<std::uint32_t> lost = leases.With([&](LeaseTable& t) { return t.LoseGroup(w.pid()); });
      std::string ids;
      for (std::uint32_t id : lost) ids += (ids.empty() ? " (lease worker " : ", ") + std::to_string(id);
      if (!ids.empty()) ids += "; a range it held goes back to the queue)";
      const std::string what = w.name() + ids + " " + w.ExitDescription();
      display.Finish();
      const bool finished = leases.With([](LeaseTable& t) { return t.finished(); });
      if (restarts[i] < c.max_restarts && !finished) {
        Result<ChildProcess> again = start_worker(i);
        if (!again.ok()) return again.status().ToString();
        w = std::move(again).value();
        running.insert(w.pid());
        std::printf("asyncps-local: %s; restarted it (restart %zu of --max-restarts %zu)\n", what.c_str(),
                    ++restarts[i], c.max_restarts);
      } else {
        failures.push_back(what + (c.max_restarts > 0 ? " after " + std::to_string(restarts[i]) + " restarts" : ""));
        std::printf("asyncps-local: %s; not restarted (--max-restarts %zu)\n", what.c_str(), c.max_restarts);
      }
      std::fflush(stdout);
    }
    // Joined workers (asyncps-worker --join) count too; silent ones are lost.
    std::size_t joined = 0;
    bool finished = false;
    const std::vector<std::uint32_t> expired = leases.With([&](LeaseTable& t) {
      std::vector<std::uint32_t> lost = t.Expire();
      for (std::int64_t group : t.active_groups()) joined += running.count(group) == 0;
      finished = t.finished();
      return lost;
    });
    for (std::uint32_t id : expired)
      std::printf(
          "asyncps-local: lease worker %u silent for more than --lease-timeout %g s: lost, its range back in "
          "the queue\n",
          id, c.lease_timeout_s);
    const std::size_t live = running.size() + joined;
    if (finished && live == 0) break;
    if (!finished && live == 0) return "every worker failed before the run completed: " + Join(failures, "; ");
    if (!finished && live < c.min_workers) {
      const auto now = std::chrono::steady_clock::now();
      too_few_since = std::min(too_few_since, now);
      if (now - too_few_since > std::chrono::duration<double>(c.min_workers_timeout_s))
        return "only " + std::to_string(live) + " workers for more than --min-workers-timeout " +
               std::to_string(c.min_workers_timeout_s) + " s (--min-workers " + std::to_string(c.min_workers) +
               "); failed: " + Join(failures, "; ");
    } else {
      too_few_since = std::chrono::steady_clock::time_point::max();
    }
    display.Render();
    if (curve && !finished)
      if (Status st = curve->SnapshotIfDue(); !st.ok()) return st.ToString();
  }
  display.Finish();
  return "";
}

// After the workers finished: their reports (from `leases` with --elastic,
// else their files), the weights' evaluation and the
// accuracy curve, printed (and written to --report-json). Stops the server,
// unless --keep-serving.
// Returns the exit status: 0, or 1 with the reason on stderr.
int Report(const LocalConfig& c, const fs::path& work, const std::vector<std::string>& endpoints, AccuracyCurve* curve,
           const LeaseLedger* leases, Children& children) {
  std::vector<worker::WorkerReport> reports;
  if (leases) reports = leases->reports;
  for (std::size_t i = 0; i < c.workers && !leases; ++i) {
    std::ifstream in(work / ("worker-" + std::to_string(i) + ".json"));
    try {
      reports.push_back(worker::WorkerReportFromJson(nlohmann::json::parse(in)));
    } catch (const std::exception& e) {
      return children.Fail("cannot read worker " + std::to_string(i) + "'s report: " + e.what());
    }
  }
  WeightsSource source;
  if (c.train.algorithm() == Algorithm::kSingle)
    source.npz_path = (work / "worker-0.npz").string();
  else
    source.ps.servers = endpoints;
  Result<RunReport> report = BuildRunReport(c.train, std::move(reports), source, c.save_weights, leases);
  if (!report.ok()) return children.Fail(report.status().ToString());
  if (curve) {  // (its points go to the servers too: their status page draws them)
    Result<std::vector<CurvePoint>> points = curve->Evaluate();
    if (!points.ok()) return children.Fail(points.status().ToString());
    report.value().curve = std::move(points).value();
  }
  if (children.server && !c.keep_serving) children.server->Stop();
  if (children.server) report.value().server_peak_rss_kb = children.server->peak_rss_kb();
  std::printf("%s", FormatReport(report.value()).c_str());
  if (!c.report_json.empty()) {
    std::ofstream out(c.report_json);
    out << ToJson(report.value()).dump(2) << "\n";
    if (!out.flush()) return children.Fail("cannot write --report-json " + c.report_json);
  }
  return 0;
}

// --keep-serving, after the report: keeps `server` (the shards, the status
// page at `page_url`, "" without --metrics-bind) up until SIGINT or SIGTERM,
// reading its output so that it never blocks on a full pipe. Returns the exit
// status: 0 once stopped, 1 when the server ended by itself.
int KeepServing(ChildProcess& server, const std::string& page_url) {
  if (!page_url.empty()) std::printf("status page: %s\n", page_url.c_str());
  std::printf("the run is over; the shards keep serving: press Ctrl-C to stop\n");
  std::fflush(stdout);
  while (!g_interrupted) {
    pollfd fd{server.output_fd(), POLLIN, 0};
    poll(&fd, 1, 200);
    server.ReadLines();
    if (server.Poll()) {
      std::fprintf(stderr, "asyncps-local: asyncps-server %s while serving after the run; last output: %s\n",
                   server.ExitDescription().c_str(), Join(server.tail(), " | ").c_str());
      return 1;
    }
  }
  server.Stop();
  return 0;
}

}  // namespace

int Run(const LocalConfig& c) {
  if (c.train.summary) return worker::PrintModelSummary(c.train, "asyncps-local");
  if (Status paths = c.train.CheckRunFiles(/*train=*/true, /*test=*/true, c.save_weights, c.report_json); !paths.ok()) {
    std::fprintf(stderr, "asyncps-local: %s\n", paths.message().c_str());
    return 1;
  }
  const std::string server_bin =
      c.server_bin.empty() ? FindBinary("asyncps-server", ASYNCPS_SERVER_BUILD_PATH) : c.server_bin;
  const std::string worker_bin =
      c.worker_bin.empty() ? FindBinary("asyncps-worker", ASYNCPS_WORKER_BUILD_PATH) : c.worker_bin;
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
  // Declared before the children: removed (or named) after they are stopped.
  const WorkDir work_dir(tmpl, c.keep_work_dir);
  const fs::path& work = work_dir.path();
  const bool single = c.train.algorithm() == Algorithm::kSingle;

  Children children;
  std::vector<std::string> endpoints;
  std::string page_url;  // "" without --metrics-bind
  if (!single) {
    Result<std::vector<std::string>> ready = StartServer(c, server_bin, work, children);
    if (!ready.ok()) return children.Fail(ready.status().message());
    endpoints = std::move(ready).value();
    if (!c.metrics_bind.empty()) {
      page_url = StatusPageUrl(*children.server, c.metrics_bind);
      std::printf("status page: %s\n", page_url.c_str());
    }
  }
  std::unique_ptr<LeaseService> leases;
  if (c.elastic) {
    Result<std::unique_ptr<LeaseService>> started =
        LeaseService::Start({0, c.lease_ranges, c.train.epochs, c.lease_timeout_s, c.max_workers}, c.lease_bind);
    if (!started.ok()) return children.Fail(started.status().message());
    leases = std::move(started).value();
    // As WorkerArgs gives it to a worker of its own, but for a person to read.
    std::vector<std::string> join = WorkerArgs(c, "asyncps-worker", work, endpoints, c.workers, leases->endpoint());
    const auto format = std::find(join.begin(), join.end(), "--progress-format");
    join.erase(format, format + 2);  // "--progress-format machine"
    for (std::string& arg : join) arg = ShellQuoted(arg);
    std::printf("lease service: %s; add a worker: %s\n", leases->endpoint().c_str(), Join(join, " ").c_str());
    std::fflush(stdout);
  }
  if (Status st = StartWorkers(c, worker_bin, work, endpoints, leases ? leases->endpoint() : "", children); !st.ok())
    return children.Fail(st.message());

  std::unique_ptr<AccuracyCurve> curve;
  if (!single && c.curve_every_s > 0) {
    worker::ConnectOptions ps;
    ps.servers = endpoints;
    Result<std::unique_ptr<AccuracyCurve>> connected =
        AccuracyCurve::Connect(c.train, ps, std::chrono::duration<double>(c.curve_every_s));
    if (!connected.ok()) return children.Fail(connected.status().message());
    curve = std::move(connected).value();
  }
  // Supervise: relay output, show progress, fail fast if anything dies
  // (--elastic: restart it, or go on without it).
  if (leases) {
    const auto start_worker = [&](std::size_t i) {
      return ChildProcess::Start(WorkerArgs(c, worker_bin, work, endpoints, i, leases->endpoint()),
                                 "worker " + std::to_string(i));
    };
    if (std::string why = SuperviseElastic(c, children, *leases, curve.get(), start_worker); !why.empty())
      return children.Fail(why);
  } else if (std::string why = Supervise(c, children, curve.get()); !why.empty()) {
    return children.Fail(why);
  }
  const LeaseLedger ledger = leases ? leases->With([](LeaseTable& t) { return t.ledger(); }) : LeaseLedger{};
  const int rc = Report(c, work, endpoints, curve.get(), leases ? &ledger : nullptr, children);
  if (rc != 0 || !c.keep_serving || !children.server) return rc;
  return KeepServing(*children.server, page_url);
}

}  // namespace asyncps::launcher
