// The PS side of the update rules (asyncps/update_rule.h has the worker side
// and the table of both): how a shard applies a commit. Internal (not
// installed): the shard and its tests use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>

#include "asyncps/core/update_rule.h"
#include "asyncps/core/payload.h"

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

// A dense commit applied to C a prefix at a time, in order: a shard applies
// each chunk of a pull's reply just before encoding it (the chunk's values are
// then still in cache, and the apply overlaps the earlier chunks' transfer).
// Whatever is left is applied by Finish, or at the latest by the destructor.
// REQUIRES: the center and the payload outlive the pending part; nothing else
// reads or writes the center until Finish. Not thread-safe.
class DeferredCommit {
 public:
  DeferredCommit() = default;
  ~DeferredCommit() { Finish(); }
  DeferredCommit(const DeferredCommit&) = delete;
  DeferredCommit& operator=(const DeferredCommit&) = delete;

  // Takes `center += scale * payload` to apply later.
  // REQUIRES: !pending(), !payload.sparse(), payload.count == center.size().
  void Defer(std::span<float> center, const PayloadView& payload, float scale);
  // Applies the elements before `end` (at most the center's size) not applied
  // yet; nothing when nothing is pending.
  void ApplyUpTo(std::size_t end);
  void Finish() { ApplyUpTo(center_.size()); }
  bool pending() const { return applied_ < center_.size(); }

 private:
  std::span<float> center_;
  PayloadView payload_;
  float scale_ = 1.0f;
  std::size_t applied_ = 0;
};

}  // namespace asyncps
