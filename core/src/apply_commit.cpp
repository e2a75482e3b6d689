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

float CommitScale(Algorithm a, std::uint64_t updates_applied, std::uint64_t last_pulled_updates, StalenessScale scale) {
  if (a != Algorithm::kDynSgd && scale == StalenessScale::kNone) return 1.0f;
  return 1.0f / static_cast<float>(Staleness(updates_applied, last_pulled_updates));
}

namespace {

// The bits of |x| compare as integers: at or above kInfBits means NaN or Inf.
constexpr std::uint32_t kInfBits = 0x7f800000u;
inline std::uint32_t MagnitudeBits(float x) { return std::bit_cast<std::uint32_t>(x) & 0x7fffffffu; }

// The largest magnitudes' bits of the payload values read and of the sums.
struct Worst {
  std::uint32_t value = 0;
  std::uint32_t sum = 0;
};

// next (and copy, in the copy's encoding) = c + scale * v, each v read once.
template <typename Values, typename Decode, typename Copy, typename Encode>
ASYNCPS_KERNEL_INLINE inline Worst AddScaledLoop(const float* __restrict c, const Values* __restrict v, Decode decode,
                                                 float scale, float* __restrict next, Copy* __restrict copy,
                                                 Encode encode, std::size_t n) {
  Worst worst;
  const auto step = [&](std::size_t i) {
    const float value = decode(v[i]);
    const float x = c[i] + scale * value;
    worst.value = std::max(worst.value, MagnitudeBits(value));
    worst.sum = std::max(worst.sum, MagnitudeBits(x));
    return x;
  };
  if (copy == nullptr) {
    for (std::size_t i = 0; i < n; ++i) next[i] = step(i);
  } else {
    for (std::size_t i = 0; i < n; ++i) {
      const float x = step(i);
      next[i] = x;
      copy[i] = encode(x);
    }
  }
  return worst;
}

template <typename Copy, typename Encode>
ASYNCPS_KERNEL_INLINE inline NonFinite AddScaledTo(std::span<const float> center, const PayloadView& p, float scale,
                                                   std::span<float> next, Copy* copy, Encode encode) {
  const Worst worst =
      p.encoding == Encoding::kFloat32
          ? AddScaledLoop(
                center.data(), static_cast<const float*>(p.values), [](float x) { return x; }, scale, next.data(), copy,
                encode, p.count)
          : AddScaledLoop(
                center.data(), static_cast<const std::uint16_t*>(p.values),
                [](std::uint16_t b) { return FromBfloat16(b); }, scale, next.data(), copy, encode, p.count);
  if (worst.sum < kInfBits) return {};
  // Where (`next` is ours: the value the fast path saw is still there); the
  // cause from the values as they were read (a client may have changed them since).
  const auto bad = std::find_if(next.begin(), next.end(), [](float x) { return MagnitudeBits(x) >= kInfBits; });
  return {bad - next.begin(), worst.value >= kInfBits};
}

}  // namespace

ASYNCPS_HOT_KERNEL NonFinite AddScaled(std::span<const float> center, const PayloadView& p, float scale,
                                       std::span<float> next, std::span<float> copy) {
  return AddScaledTo(center, p, scale, next, copy.empty() ? nullptr : copy.data(), [](float x) { return x; });
}

ASYNCPS_HOT_KERNEL NonFinite AddScaled(std::span<const float> center, const PayloadView& p, float scale,
                                       std::span<float> next, std::span<std::uint16_t> copy) {
  return AddScaledTo(center, p, scale, next, copy.data(), [](float x) { return ToBfloat16Finite(x); });
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
