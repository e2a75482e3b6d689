#include "asyncps/core/top_k.h"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <functional>

namespace asyncps {

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
