// What the Keras fuzz targets do with a model a file built: check that its
// parts agree (layout, buffers, parameter counts, summary) and, when it is
// small enough to be quick, train it one step, so that a size the reader let
// through wrongly shows up as ASan's out-of-bounds access.
#pragma once

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <vector>

#include "asyncps/models/optimizer.h"
#include "asyncps/models/sequential.h"

namespace asyncps::fuzz {

// The largest model the Keras fuzz targets build (the readers' max_parameters):
// enough for the seeds (LeNet: 61,706), far below libFuzzer's memory limit.
inline constexpr std::size_t kFuzzMaxParameters = std::size_t{1} << 20;
// The most work a model may take to be trained a step, summed over its layers:
// output size x (1 + parameters per output channel) (a convolution's or dense
// layer's multiplications and im2col columns per sample), plus, for a layer
// without parameters (pooling, activations), input pixels x output size (a
// pooling window may cover the whole input).
inline constexpr std::size_t kFuzzMaxWork = std::size_t{1} << 24;

[[noreturn]] inline void ModelFail(const char* what) {
  std::fprintf(stderr, "keras fuzzer: %s\n", what);
  std::abort();
}

inline void ExerciseModel(models::Sequential& m) {
  if (m.params().size() != m.layout().total_size() || m.grads().size() != m.layout().total_size())
    ModelFail("the parameter buffers do not match the layout");
  if (m.num_params() > kFuzzMaxParameters) ModelFail("the model is larger than max_parameters");
  std::size_t counted = 0, work = 0;
  for (const auto& layer : m.layers()) {
    counted += layer->num_params();
    const models::Shape& in = layer->input_shape();
    const models::Shape& out = layer->output_shape();
    const std::size_t per_output = 1 + layer->num_params() / std::max<std::size_t>(out.channels, 1);
    const std::optional<std::size_t> cost =
        layer->num_params() > 0 ? BoundedProduct({std::max(in.size(), out.size()), per_output}, kFuzzMaxWork)
                                : BoundedProduct({in.height, in.width, out.size()}, kFuzzMaxWork);
    work = cost ? std::min(work + *cost, kFuzzMaxWork + 1) : kFuzzMaxWork + 1;
  }
  if (counted != m.num_params()) ModelFail("the layers' parameter counts do not add up to the layout");
  if (m.Summary().empty()) ModelFail("empty summary");
  if (work > kFuzzMaxWork) return;
  constexpr std::size_t kBatch = 2;
  if (!m.Reserve(kBatch).ok()) ModelFail("Reserve refused a small model's batch");
  const std::size_t classes = m.num_classes();
  std::vector<float> x(kBatch * m.input_shape().size(), 0.5f), y(kBatch * classes, 0.0f);
  for (std::size_t i = 0; i < kBatch; ++i) y[i * classes + i % classes] = 1.0f;
  auto opt = models::MakeOptimizer("sgd", 0.01f);
  if (!opt.ok()) ModelFail("no sgd optimizer");
  (void)m.TrainStep(x.data(), y.data(), kBatch, *opt.value());
  if (m.Forward(x.data(), kBatch).size() != kBatch * classes) ModelFail("Forward gave the wrong number of logits");
}

}  // namespace asyncps::fuzz
