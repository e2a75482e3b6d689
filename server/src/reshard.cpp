#include "asyncps/server/reshard.h"

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>

namespace asyncps::ps {
namespace {

std::string ShardName(const CheckpointData& d) {
  return "shard " + std::to_string(d.shard_index) + " of " + std::to_string(d.num_shards);
}

// Each worker's id and commits, by id: what every shard of a cleanly stopped
// run agrees on (the deduplication state belongs to sessions that ended with it).
std::map<std::uint32_t, std::uint64_t> CommitsByWorker(const CheckpointData& d) {
  std::map<std::uint32_t, std::uint64_t> commits;
  for (const Shard::WorkerRecord& w : d.workers) commits[w.id] = w.commits;
  return commits;
}

}  // namespace

Result<std::vector<CheckpointData>> Reshard(const std::vector<CheckpointData>& shards, std::uint32_t num_shards) {
  if (shards.empty()) return Status::InvalidArgument("no checkpoints to reshard");
  std::vector<const CheckpointData*> by_index(shards[0].num_shards, nullptr);
  for (const CheckpointData& d : shards) {
    if (d.num_shards != shards[0].num_shards)
      return Status::InvalidArgument(ShardName(d) + " and " + ShardName(shards[0]) +
                                     " are from runs of different sizes");
    if (d.shard_index >= d.num_shards || by_index[d.shard_index] != nullptr)
      return Status::InvalidArgument(ShardName(d) + " is given twice");
    by_index[d.shard_index] = &d;
  }
  for (std::size_t i = 0; i < by_index.size(); ++i)
    if (by_index[i] == nullptr)
      return Status::InvalidArgument("shard " + std::to_string(i) + " of " + std::to_string(by_index.size()) +
                                     " is missing");
  const CheckpointData& first = *by_index[0];
  const std::size_t parameters = first.layout.total_size();
  const std::vector<ShardRange> from = first.layout.Partition(first.num_shards);
  for (const CheckpointData* d : by_index) {
    if (d->algorithm != first.algorithm)
      return Status::InvalidArgument(ShardName(*d) + " ran another algorithm than shard 0");
    if (Status st = d->layout.Compare(first.layout); !st.ok())
      return Status::InvalidArgument(ShardName(*d) + " has another layout than shard 0: " + st.message());
    if (d->counters.updates != first.counters.updates || CommitsByWorker(*d) != CommitsByWorker(first)) {
      return Status::InvalidArgument(
          ShardName(*d) + " stopped at " + std::to_string(d->counters.updates) + " updates, shard 0 at " +
          std::to_string(first.counters.updates) +
          " (or their workers' commits differ): the shards did not stop at the same commit; stop the run with "
          "SIGTERM (every shard checkpoints on the way out) and reshard those checkpoints");
    }
    if (d->center.size() != from[d->shard_index].size())
      return Status::InvalidArgument(ShardName(*d) + " holds " + std::to_string(d->center.size()) +
                                     " parameters where its range has " + std::to_string(from[d->shard_index].size()));
  }
  const std::size_t most = std::min<std::size_t>(kMaxReshardShards, parameters);
  if (num_shards < 1 || num_shards > most)
    return Status::InvalidArgument("--shards " + std::to_string(num_shards) + " is not in [1, " + std::to_string(most) +
                                   "] (at most " + std::to_string(kMaxReshardShards) +
                                   " shards, and no more than the model's " + std::to_string(parameters) +
                                   " parameters)");

  std::vector<float> model(parameters);
  for (const CheckpointData* d : by_index)
    std::copy(d->center.begin(), d->center.end(),
              model.begin() + static_cast<std::ptrdiff_t>(from[d->shard_index].begin));
  std::vector<CheckpointData> out;
  const std::vector<ShardRange> to = first.layout.Partition(num_shards);
  for (std::uint32_t j = 0; j < num_shards; ++j) {
    CheckpointData d = first;
    d.shard_index = j;
    d.num_shards = num_shards;
    d.center.assign(model.begin() + static_cast<std::ptrdiff_t>(to[j].begin),
                    model.begin() + static_cast<std::ptrdiff_t>(to[j].end));
    out.push_back(std::move(d));
  }
  return out;
}

Result<ReshardSummary> ReshardDir(const std::string& from_dir, const std::string& to_dir, std::uint32_t num_shards) {
  namespace fs = std::filesystem;
  const std::regex name(R"(shard-([0-9]+)-of-([0-9]+)\.ckpt)");
  std::error_code ec;
  if (!fs::is_directory(from_dir, ec)) return Status::IOError("--from " + from_dir + " is not a directory");
  if (fs::exists(to_dir, ec) && fs::equivalent(from_dir, to_dir, ec))
    return Status::InvalidArgument("--to is --from: write the new checkpoints to another directory");
  std::map<std::string, std::vector<std::string>> by_count;  // shard count -> files
  for (const fs::directory_entry& e : fs::directory_iterator(from_dir, ec)) {
    std::smatch m;
    const std::string file = e.path().filename().string();
    if (std::regex_match(file, m, name)) by_count[m[2].str()].push_back(e.path().string());
  }
  if (ec) return Status::IOError("cannot list --from " + from_dir + ": " + ec.message());
  if (by_count.empty()) return Status::InvalidArgument("--from " + from_dir + " holds no shard-<i>-of-<n>.ckpt files");
  if (by_count.size() > 1) {
    std::string counts;
    for (const auto& [count, files] : by_count) counts += (counts.empty() ? "" : ", ") + count;
    return Status::InvalidArgument("--from " + from_dir + " holds checkpoints of runs with " + counts +
                                   " shards: keep one run's in it");
  }
  if (fs::is_directory(to_dir, ec)) {
    for (const fs::directory_entry& e : fs::directory_iterator(to_dir, ec))
      if (std::regex_match(e.path().filename().string(), name))
        return Status::InvalidArgument("--to " + to_dir + " already holds " + e.path().filename().string() +
                                       ": give an empty directory");
  }
  std::vector<CheckpointData> shards;
  for (const std::string& file : by_count.begin()->second) {
    Result<CheckpointData> read = ReadCheckpoint(file);
    if (!read.ok()) return read.status();
    shards.push_back(std::move(read).value());
  }
  Result<std::vector<CheckpointData>> out = Reshard(shards, num_shards);
  if (!out.ok()) return Status::InvalidArgument("--from " + from_dir + ": " + out.status().message());
  fs::create_directories(to_dir, ec);
  if (ec) return Status::IOError("cannot create --to " + to_dir + ": " + ec.message());
  ReshardSummary summary{
      shards[0].num_shards, num_shards, shards[0].counters.updates, shards[0].layout.total_size(), {}};
  for (const CheckpointData& d : out.value()) {
    const std::string path = CheckpointPath(to_dir, d.shard_index, d.num_shards);
    if (Status st = WriteCheckpoint(path, d); !st.ok()) {
      for (const std::string& written : summary.written) fs::remove(written, ec);  // all or nothing
      return st;
    }
    summary.written.push_back(path);
  }
  return summary;
}

}  // namespace asyncps::ps
