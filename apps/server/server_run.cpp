#include "server_run.h"

#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#include "asyncps/server/checkpoint.h"
#include "asyncps/server/curve_auth.h"
#include "asyncps/server/log.h"
#include "asyncps/server/metrics_server.h"
#include "asyncps/server/npy_writer.h"
#include "asyncps/server/shard_server.h"
#include "asyncps/transport/http_endpoint.h"

namespace asyncps::ps {
namespace {

std::atomic<bool> g_stop{false};
extern "C" void OnSignal(int) { g_stop.store(true); }

void InstallSignalHandlers() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
}

std::chrono::milliseconds Ms(double seconds) {
  return std::chrono::milliseconds(static_cast<std::int64_t>(seconds * 1000));
}

// Writes `text` to `path` atomically (temp file + rename), so a reader never
// sees a half-written file.
bool WriteFileAtomically(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << text;
    if (!out.flush()) return false;
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

// Creates `dir` if needed and checks that files can be written there, so a
// bad output directory fails at start, not at shutdown. "" when fine.
std::string CheckWritableDir(const std::string& dir, const char* flag) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return std::string("cannot create ") + flag + " " + dir + ": " + ec.message();
  if (!std::filesystem::is_directory(dir, ec)) return std::string(flag) + " " + dir + " is not a directory";
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    return std::string("cannot write into ") + flag + " " + dir + ": " + std::strerror(errno);
  return "";
}

// The options of this process's i-th shard.
ShardServerOptions ShardOptionsFor(const ServerConfig& c, std::uint32_t i, const CurveServerConfig& curve) {
  ShardServerOptions options;
  options.shard.shard_index = c.first_shard + i;
  options.shard.num_shards = c.num_shards;
  options.shard.reject_non_finite = !c.allow_non_finite;
  options.shard.shared_memory = c.shared_memory;
  options.shard.max_message_bytes = c.max_message_mb << 20;
  options.curve_secret_key = curve.secret_key;
  options.checkpoint_dir = c.checkpoint_dir;
  options.checkpoint_every = Ms(c.checkpoint_every_s);
  options.shard.recover_from_workers = c.recover_from_workers;
  options.replies.max_bytes = c.max_reply_mb << 20;
  // ParseServerFlags checked it (tools::MaxStaleness).
  options.shard.max_staleness = c.max_staleness == "off" ? -1 : std::stoll(c.max_staleness);
  options.shard.worker_timeout = Ms(c.worker_timeout_s);
  options.shard.staleness_scale =
      c.staleness_scale == "inverse" ? asyncps::StalenessScale::kInverse : asyncps::StalenessScale::kNone;
  options.straggler_fraction = c.straggler_fraction;
  options.log_stragglers = i == 0;  // the shards agree: one line per event
  options.log_workers = i == 0;     // every worker talks to every shard: likewise
  options.straggler_window = Ms(c.straggler_window_s);
  return options;
}

// Binds every shard of this process into `servers`, each restored from its
// checkpoint when there is one, and collects their endpoints (one per line)
// in `endpoints`. False, having said why, when one cannot start.
bool StartShards(zmq::context_t& context, const ServerConfig& c, const CurveServerConfig& curve,
                 std::vector<std::unique_ptr<ShardServer>>& servers, std::string& endpoints) {
  for (std::uint32_t i = 0; i < c.shards; ++i) {
    const std::uint32_t index = c.first_shard + i;
    auto server = ShardServer::Bind(context, c.endpoints[i], ShardOptionsFor(c, i, curve));
    if (!server.ok()) {
      std::fprintf(stderr, "asyncps-server: shard %u: %s\n", index, server.status().message().c_str());
      return false;
    }
    servers.push_back(std::move(server).value());
    if (Result<bool> restored = servers.back()->RestoreFromCheckpoint(); !restored.ok()) {
      std::fprintf(stderr, "asyncps-server: shard %u: %s\n", index, restored.status().ToString().c_str());
      return false;
    } else if (restored.value()) {
      Log("info", "shard " + std::to_string(index) + " restored from " +
                      CheckpointPath(c.checkpoint_dir, index, c.num_shards) + ": resuming at " +
                      std::to_string(servers.back()->shard().counters().restored_updates) + " updates");
    } else if (c.recover_from_workers) {
      Log("info", "shard " + std::to_string(index) +
                      " has nothing to restore: a worker's init starts it, or after a restart the first worker's "
                      "copy (--recover-from-workers)");
    }
    Log("info", "shard " + std::to_string(index) + " of " + std::to_string(c.num_shards) + " listening on " +
                    servers.back()->endpoint());
    endpoints += servers.back()->endpoint() + "\n";
  }
  return true;
}

// Starts the metrics endpoint over `servers` in `metrics` (left empty without
// --metrics-bind). False, having said why, when it cannot start.
bool StartMetrics(const ServerConfig& c, const std::vector<std::unique_ptr<ShardServer>>& servers,
                  std::unique_ptr<MetricsServer>& metrics) {
  if (c.metrics_bind.empty()) return true;
  tools::HttpEndpointOptions http;
  http.bearer_token = c.metrics_token;
  std::vector<const ShardServer*> shard_servers;
  for (const auto& s : servers) shard_servers.push_back(s.get());
  auto started = MetricsServer::Start(c.metrics_bind, std::move(shard_servers), {ASYNCPS_VERSION, ASYNCPS_GIT_COMMIT},
                                      std::move(http));
  if (!started.ok()) {
    std::fprintf(stderr, "asyncps-server: %s\n", started.status().message().c_str());
    return false;
  }
  metrics = std::move(started).value();
  Log("info", "metrics on " + metrics->url() + "/metrics");
  Log("info", "status page on " + metrics->url() + "/");
  if (!c.metrics_token_file.empty())
    Log("info", "metrics: every path but /healthz needs the bearer token of " + c.metrics_token_file);
  return true;
}

// After serving: every shard's final checkpoint, counters and weights. Returns
// the exit status: 1 when a checkpoint or a weights file failed, else 0.
int Shutdown(const ServerConfig& c, const std::vector<std::unique_ptr<ShardServer>>& servers) {
  int rc = 0;
  for (auto& s : servers) {
    if (c.checkpoint_dir.empty()) break;
    const Shard& shard = s->shard();
    const std::string name = "shard " + std::to_string(shard.options().shard_index);
    const std::string path = CheckpointPath(c.checkpoint_dir, shard.options().shard_index, c.num_shards);
    if (Status st = s->Checkpoint(); !st.ok()) {
      rc = 1;
      const std::uint64_t on_disk = shard.counters().checkpointed_updates;
      Log("error", name + ": the final checkpoint FAILED (" + st.message() + "): " + path + " holds " +
                       std::to_string(on_disk) + " of " + std::to_string(shard.counters().updates) +
                       " updates, so a restart from it loses the last " +
                       std::to_string(shard.counters().updates - on_disk));
    } else if (shard.initialised()) {
      Log("info", name + ": checkpoint at " + std::to_string(shard.counters().updates) + " updates in " + path);
    }
  }
  for (auto& s : servers) {
    const Shard& shard = s->shard();
    Log("info", "shard " + std::to_string(shard.options().shard_index) + ": " +
                    std::to_string(shard.counters().updates) + " updates, " + std::to_string(shard.counters().pulls) +
                    " pulls, " + std::to_string(shard.counters().errors) + " errors");
    if (!c.save_weights.empty() && shard.initialised()) {
      const std::string path = c.save_weights + "/shard-" + std::to_string(shard.options().shard_index) + "-of-" +
                               std::to_string(c.num_shards) + ".npy";
      if (Status st = WriteNpy1D(path, shard.center()); !st.ok()) {
        Log("error", st.ToString());
        rc = 1;
      } else {
        Log("info", "wrote " + path);
      }
    }
  }
  return rc;
}

}  // namespace

int Run(const ServerConfig& c) {
  for (const auto& [dir, flag] :
       {std::pair{c.checkpoint_dir, "--checkpoint-dir"}, std::pair{c.save_weights, "--save-weights"}}) {
    if (dir.empty()) continue;
    if (std::string why = CheckWritableDir(dir, flag); !why.empty()) {
      std::fprintf(stderr, "asyncps-server: %s\n", why.c_str());
      return 1;
    }
  }
  Result<CurveServerConfig> curve = LoadCurveServerConfig(c.curve_secret_key_file, c.curve_allow);
  if (!curve.ok()) {
    std::fprintf(stderr, "asyncps-server: %s\n", curve.status().message().c_str());
    return 2;
  }
  InstallSignalHandlers();

  zmq::context_t context(c.io_threads);
  // Before any shard binds, and destroyed after every shard socket closed.
  std::unique_ptr<CurveAuthenticator> authenticator;
  if (curve.value().on()) {
    auto started = CurveAuthenticator::Start(context, curve.value().allowed);
    if (!started.ok()) {
      std::fprintf(stderr, "asyncps-server: %s\n", started.status().message().c_str());
      return 1;
    }
    authenticator = std::move(started).value();
    Log("info", "CURVE security on: server public key " + curve.value().public_key + ", " +
                    std::to_string(curve.value().allowed.size()) + " client key(s) allowed");
  }
  std::vector<std::unique_ptr<ShardServer>> servers;
  std::string endpoints;
  std::unique_ptr<MetricsServer> metrics;
  if (!StartShards(context, c, curve.value(), servers, endpoints) || !StartMetrics(c, servers, metrics)) return 1;
  if (!c.ready_file.empty() && !WriteFileAtomically(c.ready_file, endpoints)) {
    std::fprintf(stderr, "asyncps-server: cannot write --ready-file %s\n", c.ready_file.c_str());
    return 1;
  }

  std::vector<std::thread> threads;
  for (auto& s : servers) threads.emplace_back([&s] { s->Serve(g_stop); });
  for (auto& t : threads) t.join();
  Log("info", "shutting down");

  const int rc = Shutdown(c, servers);
  metrics.reset();  // it reads the shard servers
  servers.clear();  // close sockets before the context: the ports are released here
  return rc;
}

}  // namespace asyncps::ps
