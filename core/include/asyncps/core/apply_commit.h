// The PS side of the update rules (update_rule.h has the table of both sides,
// rule_kernels.h the worker side): how a shard scales and applies a commit,
// never letting a NaN or Inf into the center. Internal (not
// installed): the shard and its tests use it.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "asyncps/core/update_rule.h"
#include "asyncps/core/payload.h"

namespace asyncps {

// How a shard scales a commit by its staleness tau (asyncps-server
// --staleness-scale): kNone as the rule says (only DynSGD divides by tau),
// kInverse by 1 / tau whatever the rule (DynSGD's scaling for DOWNPOUR, ADAG,
// EASGD and EAMSGD too; DynSGD itself is unchanged).
enum class StalenessScale : std::uint8_t { kNone, kInverse };

// The factor a shard multiplies a commit's payload by before adding it to C:
// 1 for every rule but DynSGD, whose factor is 1 / tau with
// tau = updates_applied - last_pulled_updates + 1 (staleness, >= 1);
// 1 / tau for every rule with StalenessScale::kInverse.
float CommitScale(Algorithm a, std::uint64_t updates_applied, std::uint64_t last_pulled_updates,
                  StalenessScale scale = StalenessScale::kNone);

// The staleness of a commit: updates applied since the worker's last pull, plus one.
std::uint64_t Staleness(std::uint64_t updates_applied, std::uint64_t last_pulled_updates);

// Where a checked apply stopped: -1, or the first element (of the slice)
// whose new value would not be finite, and whether the payload held a NaN or
// Inf as it was read (else a sum overflowed).
struct NonFinite {
  std::ptrdiff_t at = -1;
  bool in_payload = false;
};

// next = center + scale * payload (dense), in one pass that reads each payload
// value once and finds the first element of `next` that is not finite. A
// client may rewrite a shared-memory payload while this runs: only values this
// pass read and checked reach `next`, so the caller swaps `next` in as the new
// center only when nothing was found. `copy`, if not empty, gets `next` too
// (a pull's reply written in the same pass).
// REQUIRES: !payload.sparse(); next.size() == center.size() == payload.count;
// copy empty or of that size; next and copy overlap nothing.
NonFinite AddScaled(std::span<const float> center, const PayloadView& payload, float scale, std::span<float> next,
                    std::span<float> copy = {});
// The same with the pull's reply in bfloat16: copy = EncodeBfloat16(next),
// bit for bit, written in the same pass (the reply of a CommitAndPull).
// REQUIRES: as above, and copy.size() == next.size().
NonFinite AddScaled(std::span<const float> center, const PayloadView& payload, float scale, std::span<float> next,
                    std::span<std::uint16_t> copy);

// center += scale * payload at a sparse payload's positions, unless an element
// would become non-finite: then every element keeps its value. `saved` is
// scratch (the touched elements' old values).
// REQUIRES: payload.sparse(), positions < center.size().
NonFinite ApplySparse(std::span<float> center, const PayloadView& payload, float scale, std::vector<float>& saved);

// center += scale * payload, unchecked (a server that allows non-finite
// values). REQUIRES: as AddScaled or ApplySparse.
void ApplyCommit(std::span<float> center, const PayloadView& payload, float scale);

}  // namespace asyncps
