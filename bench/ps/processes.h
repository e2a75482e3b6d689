// The peers as separate processes, the way a user runs them: the real
// asyncps-server binary, or a raw ZeroMQ REP server process (this benchmark
// re-run with --serve-raw-rep), each serving the clients of this process.
#pragma once

#include <atomic>
#include <chrono>
#include <cstddef>
#include <memory>
#include <string>
#include <sys/types.h>
#include <thread>
#include <vector>

#include "harness.h"
#include "ps_cluster.h"

namespace asyncps::bench {

// A child process running argv (argv[0]: the program's path), its stdout and
// stderr appended to `log`. Destroying it sends SIGTERM, then SIGKILL after
// 5 s, and reaps it. Throws std::runtime_error when it cannot be started.
class ChildProcess {
 public:
  ChildProcess(const std::vector<std::string>& argv, const std::string& log);
  ~ChildProcess();
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;

  // The contents of `path` once the child has written it (a ready file,
  // written atomically). Throws if the child exits first or after 30 s.
  std::string WaitForFile(const std::string& path) const;

 private:
  pid_t pid_ = -1;
  std::string log_;
};

// GET `url` every `period` on a thread of its own, as a Prometheus server
// scrapes an endpoint, until destroyed. `url` is http://HOST:PORT/PATH.
class Scraper {
 public:
  Scraper(const std::string& url, std::chrono::milliseconds period);
  ~Scraper();
  Scraper(const Scraper&) = delete;
  Scraper& operator=(const Scraper&) = delete;
  // Scrapes answered with 200 so far.
  long scrapes() const { return scrapes_; }

 private:
  std::atomic<bool> stop_{false};
  std::atomic<long> scrapes_{0};
  std::thread thread_;
};

struct ProcessPeers {
  std::string self_exe;    // this benchmark, run with --serve-raw-rep for the raw server
  std::string server_bin;  // asyncps-server
  std::string work_dir;    // ready files and the servers' logs
};

// One REQ client in this process against a raw REP server process (RawReqRep's
// bytes and copies).
std::unique_ptr<Session> ProcessRawReqRep(const ProcessPeers& peers, std::size_t floats);

// What differs from the default server and client of ProcessAsyncps.
struct ProcessVariant {
  // The server runs with --metrics-bind 127.0.0.1:0 and a Scraper polls its
  // /metrics every 100 ms while the session lives.
  bool metrics = false;
  // The client asks for pull replies in chunks (ClientOptions::reply_chunk_bytes
  // = kChunkBytes, the default until 2026-12-06) instead of whole ones.
  bool chunked = false;
};

// One client in this process repeating `op` against an asyncps-server process
// serving one shard of `floats` floats.
std::unique_ptr<Session> ProcessAsyncps(const ProcessPeers& peers, std::size_t floats, PsOp op,
                                        ProcessVariant variant = {});

// The --serve-raw-rep mode: serves ServeReqRep on tcp://127.0.0.1:* until
// SIGTERM or SIGINT, after writing the endpoint to `ready_file`. Returns the
// exit status.
int ServeRawReqRepProcess(std::size_t floats, const std::string& ready_file);

}  // namespace asyncps::bench
