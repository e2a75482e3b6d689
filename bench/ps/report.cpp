#include "report.h"

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <set>
#include <sstream>
#include <stdexcept>

#include <nlohmann/json.hpp>

namespace asyncps::bench {
namespace {

const Record* Find(const std::vector<Record>& records, const std::string& op, std::size_t floats, int shards,
                   int workers) {
  for (const Record& r : records)
    if (r.op == op && r.floats == floats && r.shards == shards && r.workers == workers) return &r;
  return nullptr;
}

std::string Fixed(double v, int decimals) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, v);
  return buf;
}

// 1048853 -> "1,048,853"
std::string Grouped(std::size_t v) {
  const std::string digits = std::to_string(v);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string Ops(const Record* r) { return r ? Fixed(r->m.ops_per_s, r->m.ops_per_s < 100 ? 1 : 0) : "-"; }
std::string Gbps(const Record* r) { return r ? Fixed(r->gb_per_s(), 2) : "-"; }
// CPU time per op of the whole process (client and server sides), in ms.
std::string CpuMs(const Record* r) { return r ? Fixed(r->m.cpu_us_per_op / 1000, 3) : "-"; }
std::string Ratio(const Record* r) { return r && r->ratio_vs_req_rep > 0 ? Fixed(r->ratio_vs_req_rep, 2) + "x" : "-"; }

void Header(std::ostringstream& o, const RunInfo& info) {
  o << "## asyncps PS throughput\n\n"
    << "- machine: " << info.cpu_model << ", " << info.nproc << " CPUs, " << info.kernel << ", ZeroMQ "
    << info.zmq_version << "\n"
    << "- commit: " << info.git_commit << ", run at " << info.started_utc << "\n"
    << "- mode: " << info.mode << "; every figure is the median of " << info.plan.trials << " trials of "
    << info.plan.seconds << " s (after a " << info.plan.warmup_seconds << " s warm-up); shards: " << info.servers
    << "; transport: TCP on 127.0.0.1\n"
    << "- rt/s = round trips per second (all clients together); GB/s counts payload bytes in both "
       "directions (commit-and-pull and REQ/REP move the payload twice per round trip; compressed variants count "
       "the float32 bytes they stand for); CPU ms/rt = CPU time "
       "of the whole process (client and server sides, user + system) per round trip, which other load on "
       "the machine disturbs less than rt/s\n\n";
}

// The head-to-head group: raw REQ/REP and asyncps as separate processes, then in-process.
void Peers(std::ostringstream& o, const std::vector<Record>& records) {
  std::set<std::size_t> sizes;
  for (const Record& r : records)
    if (r.op.rfind(kProcesses, 0) == 0) sizes.insert(r.floats);
  if (sizes.empty()) return;
  o << "### Separate processes and in-process, S=1 shard, W=1 client, interleaved\n\n"
    << "processes: a server process (`asyncps-server`, or a raw REP server: `asyncps-bench-ps --serve-raw-rep`) and "
       "this client process; in-process: server threads in the client's process. f32 + metrics: `asyncps-server "
       "--metrics-bind 127.0.0.1:0` with /metrics scraped every 100 ms; its ratio is to f32 without. CPU ms/rt "
       "counts this process only (the client side) where the server is a process of its own. shm: f32 through "
       "shared memory (`asyncps-server --shared-memory`, ClientOptions::shared_memory).\n\n"
    << "| floats | peers | raw REQ/REP rt/s | f32 rt/s (/ raw) | bf16 rt/s (/ raw) | f32 shm rt/s (/ raw) "
       "| f32 + metrics rt/s (/ f32) | CPU ms/rt raw | f32 | bf16 | shm |\n"
    << "|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (std::size_t n : sizes) {
    for (const std::string prefix : {kProcesses, kInProcess}) {
      const Record* raw = Find(records, prefix + kRawReqRep, n, 1, 1);
      const Record* f32 = Find(records, prefix + "commit-and-pull", n, 1, 1);
      const Record* bf16 = Find(records, prefix + "commit-and-pull-bf16", n, 1, 1);
      const Record* shm = Find(records, prefix + "commit-and-pull-shm", n, 1, 1);
      const Record* met = Find(records, prefix + "commit-and-pull" + kWithMetrics, n, 1, 1);
      std::string met_cell = "-";
      if (met && f32 && f32->m.ops_per_s > 0)
        met_cell = Ops(met) + " (" + Fixed(met->m.ops_per_s / f32->m.ops_per_s, 3) + "x)";
      o << "| " << Grouped(n) << " | " << prefix.substr(0, prefix.size() - 1) << " | " << Ops(raw) << " | " << Ops(f32)
        << " (" << Ratio(f32) << ") | " << Ops(bf16) << " (" << Ratio(bf16) << ") | " << Ops(shm) << " (" << Ratio(shm)
        << ") | " << met_cell << " | " << CpuMs(raw) << " | " << CpuMs(f32) << " | " << CpuMs(bf16) << " | "
        << CpuMs(shm) << " |\n";
    }
  }
  o << "\n";
  for (std::size_t n : sizes) {
    const Record* floor = Find(records, kMemoryFloor + std::string("commit-and-pull-shm"), n, 1, 1);
    const Record* piped = Find(records, kMemoryFloor + std::string("commit-and-pull-shm") + kPipelined, n, 1, 1);
    if (floor == nullptr || piped == nullptr) continue;
    o << "Memory floor of f32 shm at " << Grouped(n)
      << " floats: its four passes over the payload alone (the "
         "commit copied in and checked, checked again, applied while writing the reply, the reply copied out) on "
         "two threads handing over through one atomic, no protocol (memory_floor.h): "
      << Ops(floor) << " rt/s (" << Ratio(floor) << " raw REQ/REP as processes); the reply released in "
      << "512 KiB chunks, each copied out while the next is applied: " << Ops(piped) << " rt/s (" << Ratio(piped)
      << ").\n\n";
  }
  o << "Chunked pull replies (processes): 512 KiB chunks (ClientOptions::reply_chunk_bytes, the default until "
       "2026-12-06) against whole replies (the default), same run.\n\n"
    << "| floats | f32 chunked rt/s | f32 whole rt/s | chunked / whole | bf16 chunked rt/s | bf16 whole rt/s "
       "| chunked / whole |\n"
    << "|---:|---:|---:|---:|---:|---:|---:|\n";
  for (std::size_t n : sizes) {
    o << "| " << Grouped(n);
    for (const std::string op : {"commit-and-pull", "commit-and-pull-bf16"}) {
      const Record* chunked = Find(records, kProcesses + op + kChunked, n, 1, 1);
      const Record* whole = Find(records, kProcesses + op, n, 1, 1);
      const bool both = chunked && whole && whole->m.ops_per_s > 0;
      o << " | " << Ops(chunked) << " | " << Ops(whole) << " | "
        << (both ? Fixed(chunked->m.ops_per_s / whole->m.ops_per_s, 3) + "x" : "-");
    }
    o << " |\n";
  }
  o << "\n";
}

void PayloadSweep(std::ostringstream& o, const std::vector<Record>& records) {
  std::set<std::size_t> sizes;
  for (const Record& r : records)
    if (r.shards == 1 && r.workers == 1) sizes.insert(r.floats);
  o << "### Payload sweep, S=1 shard, W=1 client\n\n"
    << "| floats | MB | raw REQ/REP rt/s | raw REQ/REP GB/s | raw PUSH/PULL GB/s | commit rt/s | pull rt/s "
       "| commit-and-pull rt/s | commit-and-pull GB/s | commit-and-pull / REQ/REP "
       "| CPU ms/rt REQ/REP | CPU ms/rt commit-and-pull |\n"
    << "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (std::size_t n : sizes) {
    const Record* cp = Find(records, "commit-and-pull", n, 1, 1);
    const Record* rr = Find(records, kRawReqRep, n, 1, 1);
    o << "| " << Grouped(n) << " | " << Fixed(n * 4.0 / 1e6, 3) << " | " << Ops(rr) << " | " << Gbps(rr) << " | "
      << Gbps(Find(records, kRawPushPull, n, 1, 1)) << " | " << Ops(Find(records, "commit", n, 1, 1)) << " | "
      << Ops(Find(records, "pull", n, 1, 1)) << " | " << Ops(cp) << " | " << Gbps(cp) << " | " << Ratio(cp) << " | "
      << CpuMs(rr) << " | " << CpuMs(cp) << " |\n";
  }
  o << "\n";
}

// Compressed commit-and-pull against the uncompressed one and raw REQ/REP (float32).
void CompressedSweep(std::ostringstream& o, const std::vector<Record>& records) {
  std::set<std::size_t> sizes;
  for (const Record& r : records)
    if (r.shards == 1 && r.workers == 1 && r.op == "commit-and-pull-bf16") sizes.insert(r.floats);
  if (sizes.empty()) return;
  o << "### Compressed wire, S=1 shard, W=1 client: commit-and-pull rt/s (ratio to raw float32 REQ/REP)\n\n"
    << "bf16: pulls and commits in bfloat16 (half the bytes); top1%: bf16 pulls, commits of the 1% largest "
       "entries (position + bf16 value), the rest kept as the worker's residual\n\n"
    << "| floats | raw REQ/REP | commit-and-pull f32 | bf16 | top1% | CPU ms/rt f32 | bf16 | top1% |\n"
    << "|---:|---:|---:|---:|---:|---:|---:|---:|\n";
  for (std::size_t n : sizes) {
    const Record* f32 = Find(records, "commit-and-pull", n, 1, 1);
    const Record* bf16 = Find(records, "commit-and-pull-bf16", n, 1, 1);
    const Record* topk = Find(records, "commit-and-pull-top1%", n, 1, 1);
    o << "| " << Grouped(n) << " | " << Ops(Find(records, kRawReqRep, n, 1, 1)) << " | " << Ops(f32) << " ("
      << Ratio(f32) << ") | " << Ops(bf16) << " (" << Ratio(bf16) << ") | " << Ops(topk) << " (" << Ratio(topk)
      << ") | " << CpuMs(f32) << " | " << CpuMs(bf16) << " | " << CpuMs(topk) << " |\n";
  }
  o << "\n";
}

// One table per asyncps op at the model size: S down, W across.
void Scaling(std::ostringstream& o, const std::vector<Record>& records, const std::string& op, std::size_t floats) {
  std::set<int> shards, workers;
  for (const Record& r : records)
    if (r.op == op && r.floats == floats) shards.insert(r.shards), workers.insert(r.workers);
  if (shards.empty()) return;
  if (shards.size() < 2 && workers.size() < 2) return;
  const bool with_ratio = op.rfind("commit-and-pull", 0) == 0;
  o << "### Scaling at " << Grouped(floats) << " floats: " << op << " rt/s"
    << (with_ratio ? " (ratio to raw REQ/REP with as many clients, interleaved with it)" : "") << "\n\n| S \\ W |";
  for (int w : workers) o << " " << w << " |";
  o << "\n|---|";
  for (std::size_t i = 0; i < workers.size(); ++i) o << "---:|";
  o << "\n";
  if (with_ratio) {
    o << "| raw REQ/REP (with S=" << *shards.begin() << ") |";
    for (int w : workers) o << " " << Ops(Find(records, kRawReqRep, floats, *shards.begin(), w)) << " |";
    o << "\n";
  }
  for (int s : shards) {
    o << "| " << s << " |";
    for (int w : workers) {
      const Record* r = Find(records, op, floats, s, w);
      o << " " << Ops(r) << (with_ratio && r ? " (" + Ratio(r) + ")" : "") << " |";
    }
    o << "\n";
  }
  o << "\n";
}

nlohmann::json InfoJson(const RunInfo& info) {
  return {{"cpu_model", info.cpu_model},
          {"nproc", info.nproc},
          {"kernel", info.kernel},
          {"zmq_version", info.zmq_version},
          {"git_commit", info.git_commit},
          {"started_utc", info.started_utc},
          {"mode", info.mode},
          {"servers", info.servers},
          {"trials", info.plan.trials},
          {"trial_seconds", info.plan.seconds},
          {"warmup_seconds", info.plan.warmup_seconds},
          {"model_floats", info.model_floats}};
}

std::ofstream OpenOrThrow(const std::string& path) {
  std::ofstream out(path, std::ios::trunc);
  if (!out) throw std::runtime_error("cannot write " + path);
  return out;
}

}  // namespace

void ComputeRatios(std::vector<Record>& records) {
  for (Record& r : records) {
    const std::size_t colon = r.op.find(':');
    const std::string prefix = colon == std::string::npos ? "" : r.op.substr(0, colon + 1);
    if (r.op.compare(prefix.size(), 15, "commit-and-pull") != 0) continue;
    const std::string base_prefix = prefix == kMemoryFloor ? kProcesses : prefix;
    const Record* base = Find(records, base_prefix + kRawReqRep, r.floats, r.shards, r.workers);
    if (base && base->m.ops_per_s > 0) r.ratio_vs_req_rep = r.m.ops_per_s / base->m.ops_per_s;
  }
}

std::string Markdown(const RunInfo& info, const std::vector<Record>& records) {
  std::ostringstream o;
  Header(o, info);
  Peers(o, records);
  PayloadSweep(o, records);
  CompressedSweep(o, records);
  // Scaling at the model size, or at the largest size measured when --sizes left it out.
  std::size_t floats = 0;
  for (const Record& r : records)
    if (floats != info.model_floats) floats = r.floats == info.model_floats ? r.floats : std::max(floats, r.floats);
  for (const char* op : {"commit-and-pull", "commit-and-pull-bf16", "commit-and-pull-top1%", "commit", "pull"})
    Scaling(o, records, op, floats);
  return o.str();
}

void WriteJson(const std::string& path, const RunInfo& info, const std::vector<Record>& records) {
  nlohmann::json rows = nlohmann::json::array();
  for (const Record& r : records) {
    rows.push_back({{"op", r.op},
                    {"floats", r.floats},
                    {"shards", r.shards},
                    {"workers", r.workers},
                    {"ops_per_s", r.m.ops_per_s},
                    {"gb_per_s", r.gb_per_s()},
                    {"trial_ops_per_s", r.m.trial_ops_per_s},
                    {"ratio_vs_req_rep", r.ratio_vs_req_rep},
                    {"minor_faults_per_op", r.m.minor_faults_per_op},
                    {"context_switches_per_op", r.m.context_switches_per_op},
                    {"cpu_us_per_op", r.m.cpu_us_per_op}});
  }
  OpenOrThrow(path) << nlohmann::json{{"run", InfoJson(info)}, {"results", rows}}.dump(2) << "\n";
}

void WriteCsv(const std::string& path, const RunInfo& info, const std::vector<Record>& records) {
  std::ofstream out = OpenOrThrow(path);
  // The run's settings as comment lines (gnuplot and pandas skip them with '#').
  const nlohmann::json settings = InfoJson(info);
  for (auto it = settings.begin(); it != settings.end(); ++it) out << "# " << it.key() << ": " << it.value() << "\n";
  out << "op,floats,shards,workers,ops_per_s,gb_per_s,ratio_vs_req_rep,minor_faults_per_op,context_switches_per_op,cpu_"
         "us_per_op\n";
  for (const Record& r : records) {
    out << r.op << "," << r.floats << "," << r.shards << "," << r.workers << "," << r.m.ops_per_s << "," << r.gb_per_s()
        << "," << r.ratio_vs_req_rep << "," << r.m.minor_faults_per_op << "," << r.m.context_switches_per_op << ","
        << r.m.cpu_us_per_op << "\n";
  }
}

}  // namespace asyncps::bench
