#include "asyncps/core/apply_commit.h"

#include <algorithm>
#include <bit>
#include <cmath>

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

namespace {

// The bits of |x| compare as integers: at or above kInfBits means NaN or Inf.
constexpr std::uint32_t kInfBits = 0x7f800000u;
inline std::uint32_t MagnitudeBits(float x) { return std::bit_cast<std::uint32_t>(x) & 0x7fffffffu; }

// The slow path, once the fast one saw a non-finite value in `next`: where
// it is (the payload is read again only to say whether it was the cause).
NonFinite Locate(std::span<const float> next, const PayloadView& p) {
  for (std::size_t i = 0; i < next.size(); ++i)
    if (MagnitudeBits(next[i]) >= kInfBits) return {static_cast<std::ptrdiff_t>(i), !std::isfinite(p.value(i))};
  return {};  // not reached: `next` is ours, so the fast path's value is still there
}

// next (and copy) = c + scale * v, returning the largest magnitude's bits.
template <typename Values, typename Decode>
inline std::uint32_t AddScaledLoop(const float* __restrict c, const Values* __restrict v, Decode decode, float scale,
                                   float* __restrict next, float* __restrict copy, std::size_t n) {
  std::uint32_t worst = 0;
  if (copy == nullptr) {
    for (std::size_t i = 0; i < n; ++i) {
      const float x = c[i] + scale * decode(v[i]);
      next[i] = x;
      worst = std::max(worst, MagnitudeBits(x));
    }
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const float x = c[i] + scale * decode(v[i]);
      next[i] = x;
      copy[i] = x;
      worst = std::max(worst, MagnitudeBits(x));
    }
  }
  return worst;
}

}  // namespace

ASYNCPS_HOT_KERNEL NonFinite AddScaled(std::span<const float> center, const PayloadView& p, float scale,
                                       std::span<float> next, std::span<float> copy) {
  float* const out = copy.empty() ? nullptr : copy.data();
  const std::uint32_t worst =
      p.encoding == Encoding::kFloat32
          ? AddScaledLoop(center.data(), static_cast<const float*>(p.values), [](float x) { return x; }, scale,
                          next.data(), out, p.count)
          : AddScaledLoop(center.data(), static_cast<const std::uint16_t*>(p.values),
                          [](std::uint16_t b) { return FromBfloat16(b); }, scale, next.data(), out, p.count);
  return worst < kInfBits ? NonFinite{} : Locate(next, p);
}

NonFinite ApplySparse(std::span<float> center, const PayloadView& p, float scale, std::vector<float>& saved) {
  saved.resize(p.count);
  for (std::size_t j = 0; j < p.count; ++j) {
    const std::uint32_t at = p.indices[j];
    const float v = p.value(j);  // read once
    saved[j] = center[at];
    const float x = center[at] + scale * v;
    if (MagnitudeBits(x) >= kInfBits) {
      for (std::size_t k = j; k-- > 0;) center[p.indices[k]] = saved[k];  // undo, newest first
      return {static_cast<std::ptrdiff_t>(at), !std::isfinite(v)};
    }
    center[at] = x;
  }
  return {};
}

ASYNCPS_HOT_KERNEL void ApplyCommit(std::span<float> center, const PayloadView& p, float scale) {
  float* __restrict c = center.data();
  if (p.sparse()) {
    for (std::size_t j = 0; j < p.count; ++j) c[p.indices[j]] += scale * p.value(j);
    return;
  }
  if (p.encoding == Encoding::kFloat32) {
    const float* __restrict v = static_cast<const float*>(p.values);
    for (std::size_t i = 0; i < p.count; ++i) c[i] += scale * v[i];
    return;
  }
  const std::uint16_t* __restrict v = static_cast<const std::uint16_t*>(p.values);
  for (std::size_t i = 0; i < p.count; ++i) c[i] += scale * FromBfloat16(v[i]);
}

}  // namespace asyncps
