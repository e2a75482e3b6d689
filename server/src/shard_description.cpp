#include "asyncps/server/shard_description.h"

namespace asyncps::ps {

void DescribeShard(const Shard& shard, const StalenessBound& bound, const std::string& endpoint, ShardMetrics& m) {
  const ShardOptions& o = shard.options();
  m.published = true;
  m.endpoint = endpoint;
  m.algorithm = shard.has_layout() ? AlgorithmName(shard.algorithm()) : "";
  m.parameters = shard.has_layout() ? shard.layout().total_size() : 0;
  m.max_staleness = o.max_staleness < 0 ? -1 : o.max_staleness;
  m.worker_timeout_s = std::chrono::duration<double>(o.worker_timeout).count();
  const auto now = bound.options().now();
  for (ShardMetrics::Worker& k : m.workers)
    if (const StalenessBound::WorkerState* w = bound.Find(k.id))
      k.state = ClassifyWorker(*w, now, bound.options().worker_timeout, k.unfinished);
}

}  // namespace asyncps::ps
