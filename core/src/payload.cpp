#include "asyncps/core/payload.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>

#include "asyncps/core/dispatch.h"

namespace asyncps {
namespace {

// Exponent bits all ones: Inf or NaN (float32, bfloat16).
constexpr std::uint32_t kF32Exponent = 0x7f800000u;
constexpr std::uint16_t kBf16Exponent = 0x7f80u;

// The bits of |v|: v is NaN or Inf exactly when they are >= kF32Exponent. The
// scans below keep the largest (one max per vector, branch-free: GCC
// vectorises them, and does not vectorise std::isfinite) and compare once.
ASYNCPS_KERNEL_INLINE inline std::uint32_t MagnitudeBits(float v) {
  return std::bit_cast<std::uint32_t>(v) & 0x7fffffffu;
}

// Scans: non-zero when some value is NaN or Inf.
ASYNCPS_HOT_KERNEL std::uint32_t AnyNonFinite(const float* values, std::size_t n) {
  std::uint32_t most = 0;
  for (std::size_t i = 0; i < n; ++i) most = std::max(most, MagnitudeBits(values[i]));
  return most >= kF32Exponent;
}

ASYNCPS_HOT_KERNEL std::uint32_t AnyNonFinite(const std::uint16_t* values, std::size_t n) {
  std::uint16_t most = 0;
  for (std::size_t i = 0; i < n; ++i) most = std::max(most, static_cast<std::uint16_t>(values[i] & 0x7fffu));
  return most >= kBf16Exponent;
}

ASYNCPS_HOT_KERNEL std::uint32_t CopyAnyNonFinite(const float* __restrict values, std::size_t n,
                                                  float* __restrict out) {
  std::uint32_t most = 0;
  for (std::size_t i = 0; i < n; ++i) {
    out[i] = values[i];
    most = std::max(most, MagnitudeBits(values[i]));
  }
  return most >= kF32Exponent;
}

ASYNCPS_HOT_KERNEL std::uint32_t DeltaAnyNonFinite(const float* __restrict w, const float* __restrict w0, float inv,
                                                   std::size_t n, float* __restrict out) {
  std::uint32_t most = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const float d = (w[i] - w0[i]) * inv;
    out[i] = d;
    most = std::max(most, MagnitudeBits(d));
  }
  return most >= kF32Exponent;
}

ASYNCPS_HOT_KERNEL void EncodeBfloat16InPlaceResidual(const float* __restrict values, float* __restrict residual,
                                                      std::size_t n, std::uint16_t* __restrict out) {
  for (std::size_t i = 0; i < n; ++i) {
    const float want = residual[i] + values[i];
    const std::uint16_t b = ToBfloat16Finite(want);
    out[i] = b;
    residual[i] = want - FromBfloat16(b);
  }
}

ASYNCPS_HOT_KERNEL void DecodeBfloat16(const std::uint16_t* __restrict v, std::size_t n, float* __restrict out) {
  for (std::size_t i = 0; i < n; ++i) out[i] = FromBfloat16(v[i]);
}

// One pass: GCC would otherwise split the loop into two memcpy calls, which
// read `v` twice.
__attribute__((optimize("no-tree-loop-distribute-patterns"))) ASYNCPS_HOT_KERNEL void CopyTwice(
    const float* __restrict v, std::size_t n, float* __restrict out, float* __restrict copy) {
  for (std::size_t i = 0; i < n; ++i) out[i] = copy[i] = v[i];
}

ASYNCPS_HOT_KERNEL void DecodeBfloat16Twice(const std::uint16_t* __restrict v, std::size_t n, float* __restrict out,
                                            float* __restrict copy) {
  for (std::size_t i = 0; i < n; ++i) out[i] = copy[i] = FromBfloat16(v[i]);
}

}  // namespace

float PayloadView::value(std::size_t j) const {
  if (encoding == Encoding::kBfloat16) return FromBfloat16(static_cast<const std::uint16_t*>(values)[j]);
  return static_cast<const float*>(values)[j];
}

PayloadView DenseView(std::span<const float> values) {
  return PayloadView{Encoding::kFloat32, values.data(), values.size(), {}};
}

std::ptrdiff_t FirstNonFinite(std::span<const float> values) {
  if (AnyNonFinite(values.data(), values.size()) == 0) return -1;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) return static_cast<std::ptrdiff_t>(i);
  return -1;
}

std::ptrdiff_t CopyCheckingFinite(std::span<const float> values, float* out) {
  if (CopyAnyNonFinite(values.data(), values.size(), out) == 0) return -1;
  return FirstNonFinite(values);
}

std::ptrdiff_t DeltaCheckingFinite(std::span<const float> w, std::span<const float> w0, float divisor, float* out) {
  if (DeltaAnyNonFinite(w.data(), w0.data(), 1.0f / divisor, w.size(), out) == 0) return -1;
  return FirstNonFinite(std::span<const float>(out, w.size()));
}

void EncodeBfloat16WithResidual(std::span<const float> values, std::span<float> residual, std::uint16_t* out) {
  EncodeBfloat16InPlaceResidual(values.data(), residual.data(), values.size(), out);
}

std::ptrdiff_t FirstNonFinite(const PayloadView& p) {
  if (p.encoding == Encoding::kFloat32)
    return FirstNonFinite(std::span<const float>(static_cast<const float*>(p.values), p.count));
  const auto* v = static_cast<const std::uint16_t*>(p.values);
  if (AnyNonFinite(v, p.count) == 0) return -1;
  for (std::size_t j = 0; j < p.count; ++j)
    if ((v[j] & kBf16Exponent) == kBf16Exponent) return static_cast<std::ptrdiff_t>(j);
  return -1;
}

void EncodeSlice(std::span<const float> values, Encoding encoding, std::span<std::byte> out) {
  if (encoding == Encoding::kBfloat16) {
    EncodeBfloat16(values, reinterpret_cast<std::uint16_t*>(out.data()));
  } else if (!values.empty()) {
    std::memcpy(out.data(), values.data(), values.size_bytes());
  }
}

void Decode(const PayloadView& p, std::span<float> out) {
  if (p.encoding == Encoding::kFloat32) {
    std::copy_n(static_cast<const float*>(p.values), p.count, out.begin());
    return;
  }
  DecodeBfloat16(static_cast<const std::uint16_t*>(p.values), p.count, out.data());
}

void Decode(const PayloadView& p, std::span<float> out, std::span<float> copy) {
  if (p.encoding == Encoding::kFloat32) {
    CopyTwice(static_cast<const float*>(p.values), p.count, out.data(), copy.data());
  } else {
    DecodeBfloat16Twice(static_cast<const std::uint16_t*>(p.values), p.count, out.data(), copy.data());
  }
}

}  // namespace asyncps
