// DescribeShard: the part of a shard's published metrics that says what it
// serves and who works on it (status.json's "settings" and each worker's
// "state"), beside its counters.
#pragma once

#include <string>

#include "asyncps/server/metrics.h"
#include "asyncps/server/shard.h"
#include "asyncps/server/staleness_bound.h"

namespace asyncps::ps {

// Marks m published and fills its endpoint (`endpoint`, the bound one), algorithm and parameter
// count (once the shard has a layout), staleness bound and worker timeout
// from `shard`, and the state of each of m.workers (worker_state.h) from
// `bound`, the shard's staleness bound, at the bound's clock's now.
// REQUIRES: called on the shard's thread; `bound` is shard's.
void DescribeShard(const Shard& shard, const StalenessBound& bound, const std::string& endpoint, ShardMetrics& m);

}  // namespace asyncps::ps
