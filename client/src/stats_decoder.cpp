#include "stats_decoder.h"

#include <string>

namespace asyncps::internal {

ShardStats DecodeShardStats(const wire::ShardStats& in) {
  ShardStats o;
  o.shard_index = in.shard_index();
  o.num_shards = in.num_shards();
  o.algorithm = wire::FromWire(in.algorithm());
  o.initialised = in.initialised();
  o.range = {in.range_begin(), in.range_end()};
  wire::ReadCounters(in, &o);
  if (in.errors_by_code()) {
    for (flatbuffers::uoffset_t code = 1; code < in.errors_by_code()->size(); ++code) {
      if (code == static_cast<flatbuffers::uoffset_t>(wire::ErrorCode::Blocked)) continue;  // not an error
      const bool known = code <= static_cast<flatbuffers::uoffset_t>(wire::ErrorCode::MAX);
      o.errors_by_class[known ? wire::EnumNameErrorCode(static_cast<wire::ErrorCode>(code))
                              : "code" + std::to_string(code)] = in.errors_by_code()->Get(code);
    }
  }
  if (in.per_worker()) {
    for (const auto* w : *in.per_worker()) {
      o.commits_per_worker.emplace_back(w->worker_id(), w->commits());
      o.blocked_seconds_per_worker[w->worker_id()] = static_cast<double>(w->blocked_ms()) / 1000;
    }
  }
  o.max_staleness = in.max_staleness();
  o.inverse_staleness_scale = in.inverse_staleness_scale();
  if (in.staleness_counts()) o.staleness_counts.assign(in.staleness_counts()->begin(), in.staleness_counts()->end());
  return o;
}

}  // namespace asyncps::internal
