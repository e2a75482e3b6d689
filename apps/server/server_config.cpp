#include "server_config.h"

#include <utility>

#include <CLI/CLI.hpp>

#include "asyncps/core/status.h"
#include "asyncps/transport/endpoint.h"
#include "asyncps/transport/http_endpoint.h"

namespace asyncps::ps {
namespace {

constexpr const char* kProgram = "asyncps-server";

// Registers every flag of asyncps-server on `app`, bound to `c`'s fields.
void AddServerFlags(CLI::App& app, ServerConfig& c) {
  app.add_option("--bind", c.bind,
                 "Endpoint of the first shard: tcp://HOST:PORT (later shards use the next ports), "
                 "tcp://HOST:* (ephemeral ports), or ipc://PATH (later shards: PATH-i)")
      ->envname("ASYNCPS_BIND")
      ->capture_default_str();
  app.add_option("--shards", c.shards, "Number of shards this process serves")
      ->envname("ASYNCPS_SHARDS")
      ->check(CLI::Range(1u, 1024u))
      ->capture_default_str();
  app.add_option("--first-shard", c.first_shard, "Index of this process's first shard (for one process per shard)")
      ->envname("ASYNCPS_FIRST_SHARD")
      ->capture_default_str();
  app.add_option("--num-shards", c.num_shards, "Shards in the whole cluster (default: first-shard + shards)")
      ->envname("ASYNCPS_NUM_SHARDS");
  app.add_option("--max-message-mb", c.max_message_mb, "Largest request accepted, in MiB")
      ->envname("ASYNCPS_MAX_MESSAGE_MB")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--max-reply-mb", c.max_reply_mb,
                 "Memory for pulled slices queued to clients, in MiB; past it (or past 2 replies queued for one "
                 "client) replies are dropped and clients resend")
      ->envname("ASYNCPS_MAX_REPLY_MB")
      ->check(CLI::Range(std::size_t{1}, std::size_t{1} << 20))
      ->capture_default_str();
  app.add_option("--io-threads", c.io_threads, "ZeroMQ I/O threads")
      ->envname("ASYNCPS_IO_THREADS")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_flag("--shared-memory", c.shared_memory,
               "Take payloads from, and answer pulls into, the shared-memory segments of clients on this host "
               "(ClientOptions::shared_memory, asyncps-worker --shared-memory): only small headers cross the "
               "socket. Segments must belong to this server's user with mode 0600")
      ->envname("ASYNCPS_SHARED_MEMORY");
  app.add_flag("--allow-non-finite", c.allow_non_finite, "Apply payloads holding NaN or Inf (rejected by default)")
      ->envname("ASYNCPS_ALLOW_NON_FINITE");
  app.add_option("--ready-file", c.ready_file, "Once bound, write the shards' endpoints here, one per line")
      ->envname("ASYNCPS_READY_FILE");
  app.add_option("--save-weights", c.save_weights,
                 "On shutdown, write each shard's slice as DIR/shard-<i>-of-<n>.npy (float32, 1-D)")
      ->envname("ASYNCPS_SAVE_WEIGHTS");
  app.add_option("--curve-secret-key-file", c.curve_secret_key_file,
                 "Turn on CURVE security (encrypted, authenticated connections) with this server secret key file "
                 "(from asyncps-keygen; or put the Z85 key itself in ASYNCPS_CURVE_SECRET_KEY). Needs --curve-allow")
      ->envname("ASYNCPS_CURVE_SECRET_KEY_FILE");
  app.add_option("--curve-allow", c.curve_allow,
                 "CURVE allow-list: a file of client public keys (Z85, one per line, '#' comments); "
                 "only these clients may connect")
      ->envname("ASYNCPS_CURVE_ALLOW");
  app.add_option("--straggler-fraction", c.straggler_fraction,
                 "Name a worker whose commit rate falls below this fraction of the workers' median (log line, "
                 "metric asyncps_worker_straggler); 0: off")
      ->envname("ASYNCPS_STRAGGLER_FRACTION")
      ->check(tools::FiniteRange(0.0, 1.0))
      ->capture_default_str();
  app.add_option("--straggler-window", c.straggler_window_s, "Seconds over which commit rates are measured")
      ->envname("ASYNCPS_STRAGGLER_WINDOW")
      ->check(tools::FiniteRange(0.1, 3600.0))
      ->capture_default_str();
  app.add_option("--max-staleness", c.max_staleness,
                 "Bounded staleness (SSP): hold a worker's pull while it is more than S commits ahead of the slowest "
                 "active worker; 0 with window w is a barrier every w batches; off: fully asynchronous")
      ->envname("ASYNCPS_MAX_STALENESS")
      ->check(tools::MaxStaleness())
      ->capture_default_str();
  app.add_option("--worker-timeout", c.worker_timeout_s,
                 "Seconds without a request after which the staleness bound stops waiting for a worker (one that "
                 "sends Leave drops out at once)")
      ->envname("ASYNCPS_WORKER_TIMEOUT")
      ->check(tools::FiniteRange(0.1, 86400.0))
      ->capture_default_str();
  app.add_option("--staleness-scale", c.staleness_scale,
                 "Scale every commit by 1/tau (inverse; DynSGD's rule for any algorithm) or as the rule says (none)")
      ->envname("ASYNCPS_STALENESS_SCALE")
      ->check(CLI::IsMember({"none", "inverse"}))
      ->capture_default_str();
  app.add_option("--metrics-bind", c.metrics_bind,
                 "Serve GET /metrics (Prometheus text format), /healthz, the status page / and /status.json on "
                 "HOST:PORT (port 0: any); off when empty")
      ->envname("ASYNCPS_METRICS_BIND");
  app.add_option("--metrics-token-file", c.metrics_token_file,
                 "Require 'Authorization: Bearer TOKEN' on every --metrics-bind path but /healthz (401 without "
                 "it), TOKEN being this file's content (e.g. openssl rand -hex 32 > FILE); off when empty")
      ->envname("ASYNCPS_METRICS_TOKEN_FILE");
  app.add_option("--checkpoint-dir", c.checkpoint_dir,
                 "Keep each shard's checkpoint in DIR/shard-<i>-of-<n>.ckpt: restored at start when present, "
                 "written every --checkpoint-every seconds and at shutdown (SIGTERM/SIGINT)")
      ->envname("ASYNCPS_CHECKPOINT_DIR");
  app.add_option("--checkpoint-every", c.checkpoint_every_s,
                 "Seconds between checkpoints while serving (only when the state changed; 0: only at shutdown). "
                 "A crash loses at most the updates of one interval")
      ->envname("ASYNCPS_CHECKPOINT_EVERY")
      ->check(tools::FiniteRange(0.0, 1e6))
      ->capture_default_str();
  app.add_flag("--recover-from-workers", c.recover_from_workers,
               "A shard that starts with nothing to restore (no --checkpoint-dir, or no checkpoint in it) takes "
               "its slice back, after a restart, from the first worker that pulled before it: that worker's copy, "
               "the update count continuing from that pull's (a run's start is a worker's init, as without it). "
               "Lost: the commits the dead shard applied after that pull (the other workers' since, and under "
               "EASGD/EAMSGD that worker's last); a commit whose reply the crash lost is sent again, and counted "
               "twice if the copy already held it (at most one per worker)")
      ->envname("ASYNCPS_RECOVER_FROM_WORKERS");
}

}  // namespace

tools::ParsedFlags<ServerConfig> ParseServerFlags(int argc, const char* const* argv) {
  ServerConfig c;
  CLI::App app{"asyncps-server: serves parameter shards for asynchronous distributed training"};
  AddServerFlags(app, c);
  if (std::optional<tools::FlagsExit> exit = tools::ParseQuietly(app, argc, argv)) return *exit;

  if (!c.metrics_bind.empty()) {
    if (Result<std::pair<std::string, int>> hp = ParseHostPort(c.metrics_bind); !hp.ok())
      return tools::Refuse(kProgram, hp.status().message());
  }
  if (!c.metrics_token_file.empty()) {
    if (c.metrics_bind.empty())
      return tools::Refuse(kProgram, "--metrics-token-file needs --metrics-bind (there is no endpoint to guard)");
    Result<std::string> token = tools::ReadBearerTokenFile(c.metrics_token_file);
    if (!token.ok()) return tools::Refuse(kProgram, "--metrics-token-file: " + token.status().message());
    c.metrics_token = std::move(token).value();
  }
  if (app.count("--num-shards") > 0 && c.num_shards == 0)
    return tools::Refuse(kProgram, "--num-shards must be >= 1 (leave it out for --first-shard + --shards)");
  if (c.num_shards == 0) c.num_shards = c.first_shard + c.shards;
  if (c.first_shard + c.shards > c.num_shards) {
    return tools::Refuse(kProgram, "--first-shard " + std::to_string(c.first_shard) + " + --shards " +
                                       std::to_string(c.shards) + " exceeds --num-shards " +
                                       std::to_string(c.num_shards));
  }
  for (std::uint32_t i = 0; i < c.shards; ++i) {
    Result<std::string> endpoint = ShardEndpoint(c.bind, i, c.shards);
    if (!endpoint.ok()) return tools::Refuse(kProgram, "--bind: " + endpoint.status().message());
    c.endpoints.push_back(std::move(endpoint).value());
  }
  return c;
}

}  // namespace asyncps::ps
