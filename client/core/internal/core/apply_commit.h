// The PS side of the update rules (asyncps/update_rule.h has the worker side
// and the table of both): how a shard applies a commit. Internal (not
// installed): the shard and its tests use it.
#pragma once

#include <cstdint>
#include <span>

#include "asyncps/update_rule.h"
#include "core/payload.h"

namespace asyncps {


// The factor a shard multiplies a commit's payload by before adding it to C:
// 1 for every rule but DynSGD, whose factor is 1 / tau with
// tau = updates_applied - last_pulled_updates + 1 (staleness, >= 1);
// 1 / tau for every rule with StalenessScale::kInverse.
float CommitScale(Algorithm a, std::uint64_t updates_applied, std::uint64_t last_pulled_updates,
                  StalenessScale scale = StalenessScale::kNone);

// The staleness of a commit: updates applied since the worker's last pull, plus one.
std::uint64_t Staleness(std::uint64_t updates_applied, std::uint64_t last_pulled_updates);

// center += scale * payload, element by element (a sparse payload at its
// positions; compression.h). REQUIRES: dense: payload.count == center.size();
// sparse: every position < center.size().
void ApplyCommit(std::span<float> center, const PayloadView& payload, float scale);
// The same for a dense payload, writing the new center to `copy` as well in
// the same pass (a pull's reply, one pass instead of two).
// REQUIRES: !payload.sparse(), copy.size() == center.size() == payload.count.
void ApplyCommitAndCopy(std::span<float> center, const PayloadView& payload, float scale, std::span<float> copy);

}  // namespace asyncps
