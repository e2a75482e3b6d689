#include "asyncps/compression.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <string>

#include "internal/lower_case.h"

namespace asyncps {
namespace {

// Exponent bits all ones: Inf or NaN (float32, bfloat16).
constexpr std::uint32_t kF32Exponent = 0x7f800000u;
constexpr std::uint16_t kBf16Exponent = 0x7f80u;

}  // namespace

const char* EncodingName(Encoding e) { return e == Encoding::kBfloat16 ? "bf16" : "f32"; }

Result<Encoding> ParseEncoding(std::string_view name) {
  const std::string n = internal::LowerCase(name);
  if (n == "f32" || n == "float32") return Encoding::kFloat32;
  if (n == "bf16" || n == "bfloat16") return Encoding::kBfloat16;
  return Status::InvalidArgument("unknown encoding '" + std::string(name) + "' (expected f32 or bf16)");
}

std::size_t BytesPerValue(Encoding e) { return e == Encoding::kBfloat16 ? 2 : 4; }

Status Compression::Validate() const {
  if (!(commit_top_k >= 0 && commit_top_k < 1))
    return Status::InvalidArgument("commit_top_k must be 0 (dense commits) or in (0, 1), got " +
                                   std::to_string(commit_top_k));
  return Status::OK();
}

std::uint16_t ToBfloat16(float v) {
  const auto bits = std::bit_cast<std::uint32_t>(v);
  // Round to nearest even on the 16 bits dropped. A NaN must not round into Inf.
  if ((bits & kF32Exponent) == kF32Exponent && (bits & 0x007fffffu) != 0)
    return static_cast<std::uint16_t>((bits >> 16) | 0x0040u);
  return ToBfloat16Finite(v);
}

void EncodeBfloat16(std::span<const float> in, std::uint16_t* __restrict out) {
  const float* __restrict src = in.data();
  for (std::size_t i = 0; i < in.size(); ++i) out[i] = ToBfloat16Finite(src[i]);
}

float PayloadView::value(std::size_t j) const {
  if (encoding == Encoding::kBfloat16) return FromBfloat16(static_cast<const std::uint16_t*>(values)[j]);
  return static_cast<const float*>(values)[j];
}

PayloadView DenseView(std::span<const float> values) {
  return PayloadView{Encoding::kFloat32, values.data(), values.size(), {}};
}

std::ptrdiff_t FirstNonFinite(std::span<const float> values) {
  // A branch-free scan of the exponent bits first. GCC does not vectorise
  // std::isfinite; this loop runs ~6x faster on 1M floats.
  std::uint32_t non_finite = 0;
  for (float v : values) non_finite |= (std::bit_cast<std::uint32_t>(v) & kF32Exponent) == kF32Exponent;
  if (non_finite == 0) return -1;
  for (std::size_t i = 0; i < values.size(); ++i)
    if (!std::isfinite(values[i])) return static_cast<std::ptrdiff_t>(i);
  return -1;
}

std::ptrdiff_t FirstNonFinite(const PayloadView& p) {
  if (p.encoding == Encoding::kFloat32)
    return FirstNonFinite(std::span<const float>(static_cast<const float*>(p.values), p.count));
  const auto* v = static_cast<const std::uint16_t*>(p.values);
  std::uint32_t non_finite = 0;
  for (std::size_t j = 0; j < p.count; ++j) non_finite |= (v[j] & kBf16Exponent) == kBf16Exponent;
  if (non_finite == 0) return -1;
  for (std::size_t j = 0; j < p.count; ++j)
    if ((v[j] & kBf16Exponent) == kBf16Exponent) return static_cast<std::ptrdiff_t>(j);
  return -1;
}

void Decode(const PayloadView& p, std::span<float> out) {
  if (p.encoding == Encoding::kFloat32) {
    std::copy_n(static_cast<const float*>(p.values), p.count, out.begin());
    return;
  }
  const std::uint16_t* __restrict v = static_cast<const std::uint16_t*>(p.values);
  float* __restrict o = out.data();
  for (std::size_t i = 0; i < p.count; ++i) o[i] = FromBfloat16(v[i]);
}

void SelectTopK(std::span<const float> values, std::size_t k, std::vector<std::uint32_t>& out,
                std::vector<float>& scratch) {
  out.clear();
  const std::size_t n = values.size();
  if (k == 0) return;
  if (k >= n) {
    out.resize(n);
    for (std::size_t i = 0; i < n; ++i) out[i] = static_cast<std::uint32_t>(i);
    return;
  }
  // 1. A threshold from a strided sample, set to let through about twice the
  //    k wanted, so that one pass over `values` collects a small candidate set
  //    that almost always holds the top k.
  const std::size_t stride = std::max<std::size_t>(1, n / 8192);
  scratch.clear();
  for (std::size_t i = 0; i < n; i += stride) scratch.push_back(std::fabs(values[i]));
  const std::size_t m = scratch.size();
  const std::size_t rank = std::min(m - 1, (2 * k * m + n - 1) / n);  // 0-based, from the largest
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(rank), scratch.end(),
                   std::greater<>());
  float threshold = scratch[rank];
  auto collect = [&](float t) {
    out.clear();
    // Most blocks hold no candidate: a vectorised test skips them whole. The
    // bits of |v| order like the values (non-negative floats), and an integer
    // max reduction vectorises where a float compare-and-or does not.
    constexpr std::size_t kBlock = 8;
    const std::uint32_t t_bits = std::bit_cast<std::uint32_t>(t);
    std::size_t i = 0;
    for (; i + kBlock <= n; i += kBlock) {
      std::uint32_t bits[kBlock];
      std::memcpy(bits, values.data() + i, sizeof bits);
      std::uint32_t largest = 0;
      for (std::uint32_t b : bits) largest = std::max(largest, b & 0x7fffffffu);
      if (largest < t_bits) continue;
      for (std::size_t j = i; j < i + kBlock; ++j)
        if (std::fabs(values[j]) >= t) out.push_back(static_cast<std::uint32_t>(j));
    }
    for (; i < n; ++i)
      if (std::fabs(values[i]) >= t) out.push_back(static_cast<std::uint32_t>(i));
  };
  collect(threshold);
  if (out.size() < k) collect(0.0f);  // the sample misled us: every entry is a candidate
  if (out.size() == k) return;
  // 2. The exact k-th largest magnitude among the candidates.
  scratch.resize(out.size());
  for (std::size_t j = 0; j < out.size(); ++j) scratch[j] = std::fabs(values[out[j]]);
  std::nth_element(scratch.begin(), scratch.begin() + static_cast<std::ptrdiff_t>(k - 1), scratch.end(),
                   std::greater<>());
  const float kth = scratch[k - 1];
  // 3. Keep those above it, and ties at it from the lowest position, in order.
  std::size_t above = 0;
  for (std::uint32_t i : out) above += std::fabs(values[i]) > kth;
  std::size_t ties = k - above;
  std::size_t kept = 0;
  for (std::uint32_t i : out) {
    const float a = std::fabs(values[i]);
    if (a > kth || (a == kth && ties > 0)) {
      if (a == kth) --ties;
      out[kept++] = i;
    }
  }
  out.resize(kept);
}

}  // namespace asyncps
