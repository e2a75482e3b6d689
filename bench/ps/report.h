// Results of one benchmark run and their three outputs: a markdown summary
// (stdout, for the README), JSON and CSV (with machine, commit and settings).
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "harness.h"

namespace asyncps::bench {

// Names of the measured operations, as they appear in every output.
inline constexpr const char* kRawReqRep = "raw-req-rep";
inline constexpr const char* kRawPushPull = "raw-push-pull";
// The head-to-head group at S=1 W=1 (processes.h): an op name above or a
// PsOpName, prefixed by how the peers ran; "+metrics": the server's metrics
// endpoint on and scraped every 100 ms.
inline constexpr const char* kProcesses = "processes:";
inline constexpr const char* kInProcess = "in-process:";
inline constexpr const char* kWithMetrics = "+metrics";
inline constexpr const char* kChunked = "+chunked";  // pull replies in kChunkBytes chunks
// ClientOptions::reply_chunk_bytes of the chunked variant (the default until 2026-12-06).
inline constexpr std::uint64_t kChunkBytes = 512 << 10;
// The memory floor of commit-and-pull-shm (memory_floor.h), its ratio taken to
// the raw baseline as separate processes; "+pipelined": the reply in chunks.
inline constexpr const char* kMemoryFloor = "floor:";
inline constexpr const char* kPipelined = "+pipelined";

struct Record {
  std::string op;          // kRawReqRep, kRawPushPull or a PsOpName
  std::size_t floats = 0;  // payload per message, float32
  // asyncps: the shard count S. Raw baselines (which have no shards): the S of
  // the asyncps figures they were measured with, trial for trial.
  int shards = 0;
  int workers = 1;
  double bytes_per_op = 0;  // payload bytes moved per op, both directions
  Measurement m;
  // commit-and-pull: round trips/s over raw REQ/REP's with the same payload,
  // workers and peers (same prefix), measured interleaved with it (0: no baseline).
  double ratio_vs_req_rep = 0;

  double gb_per_s() const { return m.ops_per_s * bytes_per_op / 1e9; }
};

struct RunInfo {
  std::string cpu_model;
  unsigned nproc = 0;
  std::string kernel;
  std::string zmq_version;
  std::string git_commit;
  std::string started_utc;
  std::string mode;     // "quick" or "full"
  std::string servers;  // how the shards run, e.g. "in-process"
  TrialPlan plan;
  std::size_t model_floats = 0;
};

// Machine, commit and time; the caller fills the settings.
RunInfo CollectRunInfo();

// Fills ratio_vs_req_rep where a baseline exists.
void ComputeRatios(std::vector<Record>& records);

std::string Markdown(const RunInfo& info, const std::vector<Record>& records);
void WriteJson(const std::string& path, const RunInfo& info, const std::vector<Record>& records);
void WriteCsv(const std::string& path, const RunInfo& info, const std::vector<Record>& records);

}  // namespace asyncps::bench
