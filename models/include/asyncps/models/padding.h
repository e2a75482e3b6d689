// Padding: how a sliding window (convolution, pooling) treats the image border,
// and the output size it gives, as Keras/TensorFlow compute them.
#pragma once

#include <cstddef>

namespace asyncps::models {

enum class Padding {
  kValid,  // no padding: output = floor((input - window) / stride) + 1
  kSame,   // output = ceil(input / stride), zero padding split TF's way (the extra row/column at the end)
};

// One axis of a window sliding over an input.
struct WindowExtent {
  std::size_t out = 0;         // output length
  std::size_t pad_before = 0;  // padding before the first input element
};

// The output length and leading padding of a window of `window` elements
// moving by `stride` over `input` elements. REQUIRES: window, stride >= 1.
// out is 0 when a valid window does not fit (callers report that).
inline WindowExtent SlidingWindow(std::size_t input, std::size_t window, std::size_t stride, Padding padding) {
  if (padding == Padding::kValid) {
    if (input < window) return {0, 0};
    return {(input - window) / stride + 1, 0};
  }
  // Written so that nothing overflows whatever the sizes: (out - 1) * stride < input.
  const std::size_t out = input / stride + (input % stride != 0 ? 1 : 0);
  if (out == 0) return {0, 0};
  const std::size_t covered = input - (out - 1) * stride;  // inputs from the last window's start
  const std::size_t total = window > covered ? window - covered : 0;
  return {out, total / 2};
}

}  // namespace asyncps::models
