// ServerConfig: everything asyncps-server's flags (and their ASYNCPS_*
// environment variables) say, checked; ParseServerFlags builds it from argv.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "cli_parse.h"

namespace asyncps::ps {

struct ServerConfig {
  // The shards and where they listen.
  std::string bind = "tcp://*:5555";  // the first shard's endpoint; later shards: the next ports, or PATH-i
  std::uint32_t shards = 1;           // shards this process serves, 1..1024
  std::uint32_t first_shard = 0;      // index of this process's first shard
  std::uint32_t num_shards = 0;       // shards in the cluster; 0 (not given): first_shard + shards
  // Limits.
  std::size_t max_message_mb = 2048;  // largest request accepted, MiB
  std::size_t max_reply_mb = 512;     // memory for pulled slices queued to clients, MiB
  int io_threads = 1;                 // ZeroMQ I/O threads
  // What the shards take.
  bool shared_memory = false;     // payloads through the clients' shared-memory segments
  bool allow_non_finite = false;  // apply payloads holding NaN or Inf
  // Files.
  std::string ready_file;    // once bound: the shards' endpoints, one per line; empty: none
  std::string save_weights;  // on shutdown: DIR/shard-<i>-of-<n>.npy; empty: none
  // CURVE security; both empty (and no ASYNCPS_CURVE_SECRET_KEY): off.
  std::string curve_secret_key_file;
  std::string curve_allow;
  // Stragglers: named below this fraction of the median commit rate (0: off),
  // measured over this many seconds.
  double straggler_fraction = 0.5;
  double straggler_window_s = 30;
  // Bounded staleness: "off" or a whole number of commits (0..1e9).
  std::string max_staleness = "off";
  double worker_timeout_s = 30;          // seconds before the bound stops waiting for a silent worker
  std::string staleness_scale = "none";  // "none" or "inverse"
  // Metrics and the status page on HOST:PORT; empty: off. With a token file,
  // every path but /healthz needs its bearer token.
  std::string metrics_bind;
  std::string metrics_token_file;
  // Checkpoints in DIR/shard-<i>-of-<n>.ckpt, every this many seconds (0: at
  // shutdown only); empty: none.
  std::string checkpoint_dir;
  double checkpoint_every_s = 60;
  // A shard that starts with nothing to restore takes its weights back from
  // the first worker that sends its copy (ShardOptions::recover_from_workers).
  bool recover_from_workers = false;

  // Derived by ParseServerFlags:
  std::vector<std::string> endpoints;  // one per shard this process serves, from `bind`
  std::string metrics_token;           // the content of metrics_token_file
};

// Parses asyncps-server's argv (with the ASYNCPS_* environment variables) and
// checks every value: ranges, --bind and --metrics-bind, the shard indices,
// and --metrics-token-file (read here). Returns the config, with num_shards
// resolved and the derived fields filled in; else the exit to end with
// (--help: 0 and the help text; a refused flag or value: 2 and a message
// naming it). Prints nothing. Files other than the token file are not touched.
tools::ParsedFlags<ServerConfig> ParseServerFlags(int argc, const char* const* argv);

}  // namespace asyncps::ps
