// asyncps-server: serves one or more parameter shards over ZeroMQ.
#include <unistd.h>

#include <atomic>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <thread>
#include <vector>

#include <CLI/CLI.hpp>

#include "cli_parse.h"

#include "asyncps/transport/endpoint.h"
#include "asyncps/transport/http_endpoint.h"
#include "asyncps/server/checkpoint.h"
#include "asyncps/server/curve_auth.h"
#include "asyncps/server/log.h"
#include "asyncps/server/metrics_server.h"
#include "asyncps/server/npy_writer.h"
#include "asyncps/server/shard_server.h"

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

}  // namespace

int main(int argc, char** argv) {
  using namespace asyncps::ps;
  CLI::App app{"asyncps-server: serves parameter shards for asynchronous distributed training"};
  std::string bind = "tcp://*:5555";
  std::uint32_t shards = 1, first_shard = 0, num_shards = 0;
  std::size_t max_message_mb = 2048, max_reply_mb = 512;
  int io_threads = 1;
  bool allow_non_finite = false;
  std::string ready_file, save_weights;
  app.add_option("--bind", bind,
                 "Endpoint of the first shard: tcp://HOST:PORT (later shards use the next ports), "
                 "tcp://HOST:* (ephemeral ports), or ipc://PATH (later shards: PATH-i)")
      ->envname("ASYNCPS_BIND")
      ->capture_default_str();
  app.add_option("--shards", shards, "Number of shards this process serves")
      ->envname("ASYNCPS_SHARDS")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--first-shard", first_shard, "Index of this process's first shard (for one process per shard)")
      ->envname("ASYNCPS_FIRST_SHARD")
      ->capture_default_str();
  app.add_option("--num-shards", num_shards, "Shards in the whole cluster (default: first-shard + shards)")
      ->envname("ASYNCPS_NUM_SHARDS");
  app.add_option("--max-message-mb", max_message_mb, "Largest request accepted, in MiB")
      ->envname("ASYNCPS_MAX_MESSAGE_MB")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-reply-mb", max_reply_mb,
                 "Memory for pulled slices queued to clients, in MiB; past it (or past 2 replies queued for one "
                 "client) replies are dropped and clients resend")
      ->envname("ASYNCPS_MAX_REPLY_MB")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--io-threads", io_threads, "ZeroMQ I/O threads")
      ->envname("ASYNCPS_IO_THREADS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  bool shared_memory = false;
  app.add_flag("--shared-memory", shared_memory,
               "Take payloads from, and answer pulls into, the shared-memory segments of clients on this host "
               "(ClientOptions::shared_memory, asyncps-worker --shared-memory): only small headers cross the "
               "socket. Segments must belong to this server's user with mode 0600")
      ->envname("ASYNCPS_SHARED_MEMORY");
  app.add_flag("--allow-non-finite", allow_non_finite, "Apply payloads holding NaN or Inf (rejected by default)")
      ->envname("ASYNCPS_ALLOW_NON_FINITE");
  app.add_option("--ready-file", ready_file, "Once bound, write the shards' endpoints here, one per line")
      ->envname("ASYNCPS_READY_FILE");
  app.add_option("--save-weights", save_weights,
                 "On shutdown, write each shard's slice as DIR/shard-<i>-of-<n>.npy (float32, 1-D)")
      ->envname("ASYNCPS_SAVE_WEIGHTS");
  std::string curve_secret_key_file, curve_allow;
  app.add_option("--curve-secret-key-file", curve_secret_key_file,
                 "Turn on CURVE security (encrypted, authenticated connections) with this server secret key file "
                 "(from asyncps-keygen; or put the Z85 key itself in ASYNCPS_CURVE_SECRET_KEY). Needs --curve-allow")
      ->envname("ASYNCPS_CURVE_SECRET_KEY_FILE");
  app.add_option("--curve-allow", curve_allow,
                 "CURVE allow-list: a file of client public keys (Z85, one per line, '#' comments); "
                 "only these clients may connect")
      ->envname("ASYNCPS_CURVE_ALLOW");
  double straggler_fraction = 0.5, straggler_window_s = 30;
  app.add_option("--straggler-fraction", straggler_fraction,
                 "Name a worker whose commit rate falls below this fraction of the workers' median (log line, "
                 "metric asyncps_worker_straggler); 0: off")
      ->envname("ASYNCPS_STRAGGLER_FRACTION")
      ->check(asyncps::tools::FiniteRange(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--straggler-window", straggler_window_s, "Seconds over which commit rates are measured")
      ->envname("ASYNCPS_STRAGGLER_WINDOW")
      ->check(asyncps::tools::FiniteRange(0.1, 3600.0))
      ->capture_default_str();
  std::string max_staleness = "off", staleness_scale = "none";
  double worker_timeout_s = 30;
  app.add_option("--max-staleness", max_staleness,
                 "Bounded staleness (SSP): hold a worker's pull while it is more than S commits ahead of the slowest "
                 "active worker; 0 with window w is a barrier every w batches; off: fully asynchronous")
      ->envname("ASYNCPS_MAX_STALENESS")
      ->check(asyncps::tools::MaxStaleness())
      ->capture_default_str();
  app.add_option("--worker-timeout", worker_timeout_s,
                 "Seconds without a request after which the staleness bound stops waiting for a worker (one that "
                 "sends Leave drops out at once)")
      ->envname("ASYNCPS_WORKER_TIMEOUT")
      ->check(asyncps::tools::FiniteRange(0.1, 86400.0))
      ->capture_default_str();
  app.add_option("--staleness-scale", staleness_scale,
                 "Scale every commit by 1/tau (inverse; DynSGD's rule for any algorithm) or as the rule says (none)")
      ->envname("ASYNCPS_STALENESS_SCALE")
      ->check(CLI::IsMember({"none", "inverse"}))
      ->capture_default_str();
  std::string metrics_bind;
  app.add_option("--metrics-bind", metrics_bind,
                 "Serve GET /metrics (Prometheus text format), /healthz, the status page / and /status.json on "
                 "HOST:PORT (port 0: any); off when empty")
      ->envname("ASYNCPS_METRICS_BIND");
  std::string metrics_token_file;
  app.add_option("--metrics-token-file", metrics_token_file,
                 "Require 'Authorization: Bearer TOKEN' on every --metrics-bind path but /healthz (401 without "
                 "it), TOKEN being this file's content (e.g. openssl rand -hex 32 > FILE); off when empty")
      ->envname("ASYNCPS_METRICS_TOKEN_FILE");
  std::string checkpoint_dir;
  double checkpoint_every_s = 60;
  app.add_option("--checkpoint-dir", checkpoint_dir,
                 "Keep each shard's checkpoint in DIR/shard-<i>-of-<n>.ckpt: restored at start when present, "
                 "written every --checkpoint-every seconds and at shutdown (SIGTERM/SIGINT)")
      ->envname("ASYNCPS_CHECKPOINT_DIR");
  app.add_option("--checkpoint-every", checkpoint_every_s,
                 "Seconds between checkpoints while serving (only when the state changed; 0: only at shutdown). "
                 "A crash loses at most the updates of one interval")
      ->envname("ASYNCPS_CHECKPOINT_EVERY")
      ->check(asyncps::tools::FiniteRange(0.0, 1e6))
      ->capture_default_str();
  if (auto exit_status = asyncps::tools::ParseFlags(app, argc, argv)) return *exit_status;

  if (!metrics_bind.empty()) {
    if (asyncps::Result<std::pair<std::string, int>> hp = asyncps::ParseHostPort(metrics_bind); !hp.ok()) {
      std::fprintf(stderr, "asyncps-server: %s\n", hp.status().message().c_str());
      return 2;
    }
  }
  asyncps::tools::HttpEndpointOptions metrics_http;
  if (!metrics_token_file.empty()) {
    if (metrics_bind.empty()) {
      std::fprintf(stderr,
                   "asyncps-server: --metrics-token-file needs --metrics-bind (there is no endpoint to guard)\n");
      return 2;
    }
    asyncps::Result<std::string> token = asyncps::tools::ReadBearerTokenFile(metrics_token_file);
    if (!token.ok()) {
      std::fprintf(stderr, "asyncps-server: --metrics-token-file: %s\n", token.status().message().c_str());
      return 2;
    }
    metrics_http.bearer_token = std::move(token).value();
  }
  if (app.count("--num-shards") > 0 && num_shards == 0) {
    std::fprintf(stderr, "asyncps-server: --num-shards must be >= 1 (leave it out for --first-shard + --shards)\n");
    return 2;
  }
  if (num_shards == 0) num_shards = first_shard + shards;
  if (first_shard + shards > num_shards) {
    std::fprintf(stderr, "asyncps-server: --first-shard %u + --shards %u exceeds --num-shards %u\n", first_shard,
                 shards, num_shards);
    return 2;
  }
  std::vector<std::string> endpoints_to_bind;
  for (std::uint32_t i = 0; i < shards; ++i) {
    asyncps::Result<std::string> endpoint = asyncps::ShardEndpoint(bind, i, shards);
    if (!endpoint.ok()) {
      std::fprintf(stderr, "asyncps-server: --bind: %s\n", endpoint.status().message().c_str());
      return 2;
    }
    endpoints_to_bind.push_back(endpoint.value());
  }
  for (const auto& [dir, flag] :
       {std::pair{checkpoint_dir, "--checkpoint-dir"}, std::pair{save_weights, "--save-weights"}}) {
    if (dir.empty()) continue;
    if (std::string why = CheckWritableDir(dir, flag); !why.empty()) {
      std::fprintf(stderr, "asyncps-server: %s\n", why.c_str());
      return 1;
    }
  }
  asyncps::Result<CurveServerConfig> curve = LoadCurveServerConfig(curve_secret_key_file, curve_allow);
  if (!curve.ok()) {
    std::fprintf(stderr, "asyncps-server: %s\n", curve.status().message().c_str());
    return 2;
  }
  InstallSignalHandlers();

  zmq::context_t context(io_threads);
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
  for (std::uint32_t i = 0; i < shards; ++i) {
    ShardServerOptions options;
    options.shard.shard_index = first_shard + i;
    options.shard.num_shards = num_shards;
    options.shard.reject_non_finite = !allow_non_finite;
    options.shard.shared_memory = shared_memory;
    options.shard.max_message_bytes = max_message_mb << 20;
    options.curve_secret_key = curve.value().secret_key;
    options.checkpoint_dir = checkpoint_dir;
    options.checkpoint_every = std::chrono::milliseconds(static_cast<std::int64_t>(checkpoint_every_s * 1000));
    options.replies.max_bytes = max_reply_mb << 20;
    options.shard.max_staleness = max_staleness == "off" ? -1 : std::stoll(max_staleness);  // MaxStaleness checked it
    options.shard.worker_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(worker_timeout_s * 1000));
    options.shard.staleness_scale =
        staleness_scale == "inverse" ? asyncps::StalenessScale::kInverse : asyncps::StalenessScale::kNone;
    options.straggler_fraction = straggler_fraction;
    options.straggler_window = std::chrono::milliseconds(static_cast<std::int64_t>(straggler_window_s * 1000));
    auto server = ShardServer::Bind(context, endpoints_to_bind[i], options);
    if (!server.ok()) {
      std::fprintf(stderr, "asyncps-server: shard %u: %s\n", first_shard + i, server.status().message().c_str());
      return 1;
    }
    servers.push_back(std::move(server).value());
    if (asyncps::Result<bool> restored = servers.back()->RestoreFromCheckpoint(); !restored.ok()) {
      std::fprintf(stderr, "asyncps-server: shard %u: %s\n", first_shard + i, restored.status().ToString().c_str());
      return 1;
    } else if (restored.value()) {
      Log("info", "shard " + std::to_string(first_shard + i) + " restored from " +
                      CheckpointPath(checkpoint_dir, first_shard + i, num_shards) + ": resuming at " +
                      std::to_string(servers.back()->shard().counters().restored_updates) + " updates");
    }
    Log("info", "shard " + std::to_string(first_shard + i) + " of " + std::to_string(num_shards) + " listening on " +
                    servers.back()->endpoint());
    endpoints += servers.back()->endpoint() + "\n";
  }
  std::unique_ptr<MetricsServer> metrics;
  if (!metrics_bind.empty()) {
    std::vector<const ShardServer*> shard_servers;
    for (const auto& s : servers) shard_servers.push_back(s.get());
    auto started = MetricsServer::Start(metrics_bind, std::move(shard_servers), {ASYNCPS_VERSION, ASYNCPS_GIT_COMMIT},
                                        std::move(metrics_http));
    if (!started.ok()) {
      std::fprintf(stderr, "asyncps-server: %s\n", started.status().message().c_str());
      return 1;
    }
    metrics = std::move(started).value();
    Log("info", "metrics on " + metrics->url() + "/metrics");
    Log("info", "status page on " + metrics->url() + "/");
    if (!metrics_token_file.empty())
      Log("info", "metrics: every path but /healthz needs the bearer token of " + metrics_token_file);
  }
  if (!ready_file.empty() && !WriteFileAtomically(ready_file, endpoints)) {
    std::fprintf(stderr, "asyncps-server: cannot write --ready-file %s\n", ready_file.c_str());
    return 1;
  }

  std::vector<std::thread> threads;
  for (auto& s : servers) threads.emplace_back([&s] { s->Serve(g_stop); });
  for (auto& t : threads) t.join();
  Log("info", "shutting down");

  int rc = 0;
  for (auto& s : servers) {
    if (checkpoint_dir.empty()) break;
    const Shard& shard = s->shard();
    const std::string name = "shard " + std::to_string(shard.options().shard_index);
    const std::string path = CheckpointPath(checkpoint_dir, shard.options().shard_index, num_shards);
    if (asyncps::Status st = s->Checkpoint(); !st.ok()) {
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
    if (!save_weights.empty() && shard.initialised()) {
      const std::string path = save_weights + "/shard-" + std::to_string(shard.options().shard_index) + "-of-" +
                               std::to_string(num_shards) + ".npy";
      if (asyncps::Status st = WriteNpy1D(path, shard.center()); !st.ok()) {
        Log("error", st.ToString());
        rc = 1;
      } else {
        Log("info", "wrote " + path);
      }
    }
  }
  metrics.reset();  // it reads the shard servers
  servers.clear();  // close sockets before the context: the ports are released here
  return rc;
}
