// The size limits of the models library: the largest model it builds, the
// largest buffer it sizes and the deepest Keras JSON it reads. Every product of
// dimensions (a layer's output shape, a tensor's or the model's parameter
// count, a batch of activations, a layer's workspace) is checked against these,
// without overflowing, before anything is allocated; a model or batch beyond
// them is refused with InvalidArgument naming the layer, the field and the value.
#pragma once

#include <cstddef>

#include "asyncps/core/layout.h"

namespace asyncps::models {

// The most parameters a model may have: its layout's bound, 2^31 - 1 (8 GiB of
// float32, twice with the gradients).
inline constexpr std::size_t kMaxParameters = kMaxLayoutElements;

// The most float32 elements of any one buffer a model sizes, 2^31 - 1 (8 GiB):
// a sample's activation at any layer (the input's too), a batch of activations
// (Sequential::Reserve), a layer's workspace (im2col columns, Winograd tiles,
// Dense's scratch). Every dimension then fits the 32-bit ints BLAS takes.
inline constexpr std::size_t kMaxBufferElements = kMaxLayoutElements;

// The deepest nesting of JSON arrays and objects in a Keras model description
// (model.to_json() nests about 8 deep).
inline constexpr std::size_t kMaxJsonDepth = 64;

}  // namespace asyncps::models
