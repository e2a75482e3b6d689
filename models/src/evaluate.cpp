#include "asyncps/models/evaluate.h"

#include <algorithm>
#include <vector>

#include "asyncps/models/softmax_cross_entropy.h"

namespace asyncps::models {

Result<Evaluation> Evaluate(Sequential& model, const Dataset& data, std::size_t batch_size) {
  const Shape& in = model.input_shape();
  if (data.height != in.height || data.width != in.width || data.channels != in.channels ||
      data.num_classes != model.num_classes()) {
    return Status::InvalidArgument("evaluate: data of " + std::to_string(data.height) + "x" +
                                   std::to_string(data.width) + "x" + std::to_string(data.channels) + " images with " +
                                   std::to_string(data.num_classes) + " classes does not fit the model's input " +
                                   in.ToString() + " and " + std::to_string(model.num_classes()) + " classes");
  }
  if (batch_size == 0) batch_size = 1;
  const std::size_t k = data.num_classes;
  std::vector<float> y(batch_size * k);
  Evaluation e;
  double loss_sum = 0.0;
  std::size_t correct = 0;
  for (std::size_t b0 = 0; b0 < data.size(); b0 += batch_size) {
    const std::size_t bs = std::min(batch_size, data.size() - b0);
    std::span<const float> logits = model.Forward(data.image(b0), bs, /*training=*/false);
    OneHot(data.labels.data() + b0, bs, k, y.data());
    loss_sum += SoftmaxCrossEntropy(logits.data(), y.data(), bs, k, nullptr) * static_cast<double>(bs);
    for (std::size_t i = 0; i < bs; ++i) {
      const float* z = logits.data() + i * k;
      const std::size_t pred = static_cast<std::size_t>(std::max_element(z, z + k) - z);
      correct += pred == data.labels[b0 + i] ? 1 : 0;
    }
  }
  e.samples = data.size();
  if (e.samples > 0) {
    e.accuracy = static_cast<double>(correct) / static_cast<double>(e.samples);
    e.loss = loss_sum / static_cast<double>(e.samples);
  }
  return e;
}

}  // namespace asyncps::models
