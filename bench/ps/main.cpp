// asyncps-bench-ps: parameter-server throughput against raw ZeroMQ, in one run.
// See bench/README.md for what is measured and how to read it.
#include <algorithm>
#include <cstdio>
#include <exception>
#include <iostream>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <stdlib.h>
#include <unistd.h>

#include <CLI/CLI.hpp>

#include "memory_floor.h"
#include "processes.h"
#include "ps_cluster.h"
#include "raw_zmq.h"
#include "report.h"

namespace asyncps::bench {
namespace {

// The seed CNN's parameter count: always measured, and the scaling tables' size.
constexpr std::size_t kModelFloats = 1048853;
// The memory floor's pipelined chunks: the chunked variant's.
constexpr std::size_t kFloorChunkFloats = kChunkBytes / sizeof(float);

struct Settings {
  bool quick = false;
  std::vector<std::size_t> sizes;
  std::vector<int> shards{1, 2, 4};
  std::vector<int> workers{1, 2, 4, 8};
  std::vector<std::string> ops;  // empty: all
  bool processes = true;         // the head-to-head group with server processes
  ProcessPeers peers;
  TrialPlan plan;
};

// Full mode measures every op for every size, S and W. Quick mode sweeps the
// sizes at S=1 W=1 only, and scales S and W for commit-and-pull at the model size.
bool Wanted(const Settings& s, const std::string& op, std::size_t floats, int shards, int workers) {
  if (op == kRawPushPull && shards != s.shards.front()) return false;  // it has no shards: measure it once
  if (!s.ops.empty() && std::find(s.ops.begin(), s.ops.end(), op) == s.ops.end()) return false;
  // Compressed variants: the sweep at S=1 W=1 and the scaling at the model size.
  if (op.rfind("commit-and-pull-", 0) == 0) return (workers == 1 && shards == 1) || floats == kModelFloats;
  if (!s.quick) return true;
  if (floats == kModelFloats && (op == kRawReqRep || op == "commit-and-pull")) return true;
  return workers == 1 && shards == 1;
}

void Note(const Record& r) {
  std::fprintf(stderr, "%-16s %9zu floats S=%d W=%d: %10.1f ops/s %6.2f GB/s (CPU %.0f us/op, %.1f faults/op)\n",
               r.op.c_str(), r.floats, r.shards, r.workers, r.m.ops_per_s, r.gb_per_s(), r.m.cpu_us_per_op,
               r.m.minor_faults_per_op);
}

// The sessions measured together (their trials interleaved), and what they measure.
struct Group {
  std::vector<std::unique_ptr<Session>> sessions;
  std::vector<Record> records;  // without measurements yet

  void Add(std::unique_ptr<Session> session, std::string op, std::size_t floats, int shards, int workers,
           int directions) {
    sessions.push_back(std::move(session));
    records.push_back({std::move(op), floats, shards, workers, directions * floats * 4.0, {}, 0});
  }
};

// Measures every session of `g`, trials interleaved, into `out`.
void MeasureGroup(Group& g, const Settings& s, std::vector<Record>& out) {
  std::vector<Session*> sessions;
  for (auto& session : g.sessions) sessions.push_back(session.get());
  const std::vector<Measurement> m = MeasureInterleaved(sessions, s.plan);
  for (std::size_t i = 0; i < m.size(); ++i) {
    g.records[i].m = m[i];
    Note(g.records[i]);
    out.push_back(g.records[i]);
  }
}

// Everything measured for one payload size, shard count and client count. The
// cluster for (n, shards) is started on first need and reused for every w.
void RunGroup(const Settings& s, std::unique_ptr<PsCluster>& cluster, std::size_t n, int shards, int w,
              std::vector<Record>& out) {
  Group g;
  if (Wanted(s, kRawReqRep, n, shards, w)) g.Add(RawReqRep(n, w), kRawReqRep, n, shards, w, 2);
  if (Wanted(s, kRawPushPull, n, shards, w)) g.Add(RawPushPull(n, w), kRawPushPull, n, shards, w, 1);
  for (PsOp op : kAllPsOps) {
    const std::string name = PsOpName(op);
    if (!Wanted(s, name, n, shards, w)) continue;
    if (!cluster) cluster = std::make_unique<PsCluster>(n, static_cast<std::uint32_t>(shards));
    const bool both_ways = op != PsOp::kCommit && op != PsOp::kPull;
    g.Add(cluster->Clients(op, w), name, n, shards, w, both_ways ? 2 : 1);
  }
  MeasureGroup(g, s, out);
}

// The head-to-head group at the model size, S=1 W=1, every session's trials
// interleaved: raw REQ/REP, commit-and-pull f32 and bf16 with the server as a
// process of its own (f32 also with its metrics endpoint scraped, f32 and
// bf16 also with chunked pull replies), shm's memory floor, then the same in-process.
void RunPeers(const Settings& s, std::vector<Record>& out) {
  const std::size_t n = kModelFloats;
  const std::string processes = kProcesses;
  Group g;
  g.Add(ProcessRawReqRep(s.peers, n), processes + kRawReqRep, n, 1, 1, 2);
  for (PsOp op : {PsOp::kCommitAndPull, PsOp::kCommitAndPullBf16, PsOp::kCommitAndPullShm})
    g.Add(ProcessAsyncps(s.peers, n, op), processes + PsOpName(op), n, 1, 1, 2);
  g.Add(ProcessAsyncps(s.peers, n, PsOp::kCommitAndPull, {.metrics = true}),
        processes + "commit-and-pull" + kWithMetrics, n, 1, 1, 2);
  for (PsOp op : {PsOp::kCommitAndPull, PsOp::kCommitAndPullBf16})
    g.Add(ProcessAsyncps(s.peers, n, op, {.chunked = true}), processes + PsOpName(op) + kChunked, n, 1, 1, 2);
  const std::string floor = std::string(kMemoryFloor) + PsOpName(PsOp::kCommitAndPullShm);
  g.Add(MemoryFloor(n, n), floor, n, 1, 1, 2);
  g.Add(MemoryFloor(n, kFloorChunkFloats), floor + kPipelined, n, 1, 1, 2);
  PsCluster cluster(n, 1);
  const std::string in_process = kInProcess;
  g.Add(RawReqRep(n, 1), in_process + kRawReqRep, n, 1, 1, 2);
  for (PsOp op : {PsOp::kCommitAndPull, PsOp::kCommitAndPullBf16, PsOp::kCommitAndPullShm})
    g.Add(cluster.Clients(op, 1), in_process + PsOpName(op), n, 1, 1, 2);
  MeasureGroup(g, s, out);
}

std::vector<Record> RunAll(const Settings& s) {
  std::vector<Record> out;
  if (s.processes) RunPeers(s, out);
  for (std::size_t n : s.sizes) {
    for (int shards : s.shards) {
      if (static_cast<std::size_t>(shards) > n) continue;
      std::unique_ptr<PsCluster> cluster;
      for (int w : s.workers) RunGroup(s, cluster, n, shards, w, out);
    }
  }
  ComputeRatios(out);
  return out;
}

}  // namespace
}  // namespace asyncps::bench

// This program's path, and asyncps-server's beside it in the build tree.
std::string SelfExe() {
  char buf[4096];
  const ssize_t len = readlink("/proc/self/exe", buf, sizeof buf - 1);
  return len > 0 ? std::string(buf, static_cast<std::size_t>(len)) : std::string();
}

std::string DefaultServerBin(const std::string& self) {
  const std::string dir = self.substr(0, self.rfind('/'));  // BUILD/bench/ps
  return dir + "/../../bin/asyncps-server";
}

int main(int argc, char** argv) {
  using namespace asyncps::bench;
  CLI::App app{
      "asyncps-bench-ps: commit, pull and commit-and-pull throughput of asyncps against raw ZeroMQ "
      "REQ/REP and PUSH/PULL on 127.0.0.1, shards served in-process"};
  Settings s;
  std::string json_path, csv_path;
  app.add_flag("--quick", s.quick, "About a minute: sizes at S=1 W=1, scaling only for commit-and-pull");
  app.add_option("--json", json_path, "Write every figure, the machine, commit and settings as JSON");
  app.add_option("--csv", csv_path, "Write every figure as CSV (settings in leading '#' lines)");
  app.add_option("--sizes", s.sizes, "Payload sizes in floats (default 1K..4M with 1,048,853)");
  app.add_option("--shards", s.shards, "Shard counts S")->capture_default_str();
  app.add_option("--workers", s.workers, "Concurrent client counts W")->capture_default_str();
  app.add_option("--ops", s.ops,
                 "Only these: raw-req-rep raw-push-pull push pull commit-and-pull commit-and-pull-bf16 "
                 "commit-and-pull-top1% commit-and-pull-shm (default all)");
  app.add_option("--trials", s.plan.trials, "Timed trials per figure, the median is reported (default 9)")
      ->check(CLI::PositiveNumber);
  app.add_option("--seconds", s.plan.seconds, "Length of each trial (default 0.2, quick 0.1)")
      ->check(CLI::PositiveNumber);
  s.peers.self_exe = SelfExe();
  s.peers.server_bin = DefaultServerBin(s.peers.self_exe);
  bool no_processes = false;
  app.add_flag("--no-processes", no_processes, "Skip the group with the servers as separate processes");
  app.add_option("--server-bin", s.peers.server_bin, "asyncps-server for that group (default: the build tree's)");
  std::size_t serve_raw_rep = 0;
  std::string ready_file;
  app.add_option("--serve-raw-rep", serve_raw_rep,
                 "Internal: be the raw REP server process for payloads of this many floats");
  app.add_option("--ready-file", ready_file, "Internal, with --serve-raw-rep: write the endpoint here");
  CLI11_PARSE(app, argc, argv);
  if (serve_raw_rep > 0) return ServeRawReqRepProcess(serve_raw_rep, ready_file);
  s.processes = !no_processes;

  const bool custom_trials = app.count("--trials") > 0, custom_seconds = app.count("--seconds") > 0;
  // Many short trials, interleaved across the sessions compared, make the
  // medians robust to bursts of load from elsewhere on the machine.
  if (!custom_trials) s.plan.trials = 9;
  if (!custom_seconds) s.plan.seconds = s.quick ? 0.1 : 0.2;
  if (s.quick) s.plan.warmup_seconds = 0.05;
  if (s.sizes.empty()) {
    s.sizes = s.quick ? std::vector<std::size_t>{1024, 16384, 262144, kModelFloats, 4194304}
                      : std::vector<std::size_t>{1024, 4096, 16384, 65536, 262144, 1048576, kModelFloats, 4194304};
  }

  RunInfo info = CollectRunInfo();
  if (info.git_commit.empty()) return 1;  // bench/commit.sh said why
  info.mode = s.quick ? "quick" : "full";
  info.servers = "in-process (one ShardServer thread per shard, one ZeroMQ context with 1 I/O thread)";
  info.plan = s.plan;
  info.model_floats = kModelFloats;
  try {
    if (s.processes) {
      char dir[] = "/tmp/asyncps-bench-ps.XXXXXX";
      if (mkdtemp(dir) == nullptr) throw std::runtime_error("cannot create a directory in /tmp");
      s.peers.work_dir = dir;
      info.servers += "; the first group also as separate processes (" + s.peers.server_bin + ")";
    }
    const std::vector<Record> records = RunAll(s);
    std::cout << Markdown(info, records) << std::flush;
    if (!json_path.empty()) WriteJson(json_path, info, records);
    if (!csv_path.empty()) WriteCsv(csv_path, info, records);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "asyncps-bench-ps: %s\n", e.what());
    return 1;
  }
  return 0;
}
