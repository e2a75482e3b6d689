// The seed CNN of Dist-Keras' MNIST example:
//   Conv2D(32, 3x3) ReLU, Conv2D(32, 3x3) ReLU, MaxPooling2D(2x2), Flatten,
//   Dense(225) ReLU, Dense(10) softmax  -- 1,048,853 parameters on 28x28x1.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>

#include "asyncps/models/sequential.h"

namespace asyncps::models {

struct SeedCnnOptions {
  std::size_t height = 28;
  std::size_t width = 28;
  std::size_t channels = 1;
  std::size_t num_classes = 10;
  std::uint64_t seed = 1;  // initial weights (Glorot-uniform kernels, zero biases)
};

inline constexpr std::size_t kSeedCnnParams = 1048853;  // on 28x28x1, 10 classes

// Builds and initialises the seed CNN. Fails only for images smaller than 6x6.
Result<std::unique_ptr<Sequential>> BuildSeedCnn(const SeedCnnOptions& options = {});

}  // namespace asyncps::models
