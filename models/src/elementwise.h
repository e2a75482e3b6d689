// Helpers for the xtensor elementwise code of models/ (internal).
#pragma once

#include <algorithm>
#include <cstddef>

namespace asyncps::models::internal {

// Calls f(begin, length) over [0, n) in blocks small enough that a few float
// arrays of one block stay in L1: an update rule written as several xtensor
// assignments (m = ..., v = ..., w -= ...) then reads memory once, as a fused
// loop would.
constexpr std::size_t kElementwiseBlock = 1024;

template <class F>
inline void ForBlocks(std::size_t n, F&& f) {
  for (std::size_t i = 0; i < n; i += kElementwiseBlock) f(i, std::min(kElementwiseBlock, n - i));
}

}  // namespace asyncps::models::internal
