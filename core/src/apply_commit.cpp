#include "asyncps/core/apply_commit.h"

#include <algorithm>

#include "asyncps/core/dispatch.h"

namespace asyncps {

std::uint64_t Staleness(std::uint64_t updates_applied, std::uint64_t last_pulled_updates) {
  // A worker cannot have pulled a version newer than the shard's (a restarted
  // shard may be behind): clamp so that tau >= 1.
  return updates_applied >= last_pulled_updates ? updates_applied - last_pulled_updates + 1 : 1;
}

float CommitScale(Algorithm a, std::uint64_t updates_applied, std::uint64_t last_pulled_updates,
                  StalenessScale scale) {
  if (a != Algorithm::kDynSgd && scale == StalenessScale::kNone) return 1.0f;
  return 1.0f / static_cast<float>(Staleness(updates_applied, last_pulled_updates));
}

ASYNCPS_HOT_KERNEL void ApplyCommit(std::span<float> center, const PayloadView& p, float scale) {
  float* __restrict c = center.data();
  if (p.sparse()) {
    for (std::size_t j = 0; j < p.count; ++j) c[p.indices[j]] += scale * p.value(j);
    return;
  }
  if (p.encoding == Encoding::kFloat32) {
    const float* __restrict v = static_cast<const float*>(p.values);
    if (scale == 1.0f) {
      for (std::size_t i = 0; i < p.count; ++i) c[i] += v[i];
    } else {
      for (std::size_t i = 0; i < p.count; ++i) c[i] += scale * v[i];
    }
    return;
  }
  const std::uint16_t* __restrict v = static_cast<const std::uint16_t*>(p.values);
  for (std::size_t i = 0; i < p.count; ++i) c[i] += scale * FromBfloat16(v[i]);
}

ASYNCPS_HOT_KERNEL void ApplyCommitAndCopy(std::span<float> center, const PayloadView& p, float scale,
                                           std::span<float> copy) {
  float* __restrict c = center.data();
  float* __restrict out = copy.data();
  if (p.encoding == Encoding::kFloat32) {
    const float* __restrict v = static_cast<const float*>(p.values);
    for (std::size_t i = 0; i < p.count; ++i) out[i] = c[i] = c[i] + scale * v[i];
    return;
  }
  const std::uint16_t* __restrict v = static_cast<const std::uint16_t*>(p.values);
  for (std::size_t i = 0; i < p.count; ++i) out[i] = c[i] = c[i] + scale * FromBfloat16(v[i]);
}

void DeferredCommit::Defer(std::span<float> center, const PayloadView& payload, float scale) {
  center_ = center;
  payload_ = payload;
  scale_ = scale;
  applied_ = 0;
}

void DeferredCommit::ApplyUpTo(std::size_t end) {
  end = std::min(end, center_.size());
  if (end <= applied_) return;
  const std::size_t n = end - applied_;
  PayloadView part = payload_;
  part.values = static_cast<const std::byte*>(payload_.values) + applied_ * BytesPerValue(payload_.encoding);
  part.count = n;
  ApplyCommit(center_.subspan(applied_, n), part, scale_);
  applied_ = end;
}

}  // namespace asyncps
