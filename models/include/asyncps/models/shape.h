// Shape: the per-sample shape of an activation, NHWC without the batch axis.
//
// Images are rank 3 (height, width, channels); the outputs of Flatten and Dense
// are rank 1 and keep their length in `channels` (height = width = 1); sequences
// (timesteps, features) are rank 2 with height 1, width = timesteps and
// channels = features, so their memory layout is an image row's.
#pragma once

#include <cstddef>
#include <string>

namespace asyncps::models {

struct Shape {
  std::size_t height = 1;
  std::size_t width = 1;
  std::size_t channels = 1;
  int rank = 3;  // 3 (image), 2 (sequence) or 1 (vector)

  static Shape Image(std::size_t h, std::size_t w, std::size_t c) { return {h, w, c, 3}; }
  static Shape Vector(std::size_t n) { return {1, 1, n, 1}; }
  static Shape Sequence(std::size_t steps, std::size_t features) { return {1, steps, features, 2}; }
  // Elements per sample.
  std::size_t size() const { return height * width * channels; }
  // Keras style with the batch axis: "(None, 26, 26, 32)", "(None, 28, 64)" or "(None, 10)".
  std::string ToString() const;
  bool operator==(const Shape&) const = default;
};

}  // namespace asyncps::models
