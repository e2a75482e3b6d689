#include "asyncps/models/evaluate.h"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <vector>

#include "asyncps/models/softmax_cross_entropy.h"

namespace asyncps::models {

ClassScores ScoresOf(std::span<const std::uint64_t> confusion, std::size_t num_classes, std::size_t c) {
  std::uint64_t predicted = 0, actual = 0;
  for (std::size_t k = 0; k < num_classes; ++k) {
    predicted += confusion[k * num_classes + c];
    actual += confusion[c * num_classes + k];
  }
  const double hits = static_cast<double>(confusion[c * num_classes + c]);
  ClassScores s;
  s.precision = predicted > 0 ? hits / static_cast<double>(predicted) : 0.0;
  s.recall = actual > 0 ? hits / static_cast<double>(actual) : 0.0;
  s.f1 = s.precision + s.recall > 0 ? 2 * s.precision * s.recall / (s.precision + s.recall) : 0.0;
  return s;
}

double MacroF1(std::span<const std::uint64_t> confusion, std::size_t num_classes) {
  if (num_classes == 0) return 0.0;
  double sum = 0.0;
  for (std::size_t c = 0; c < num_classes; ++c) sum += ScoresOf(confusion, num_classes, c).f1;
  return sum / static_cast<double>(num_classes);
}

double RocAuc(std::span<const float> scores, std::span<const std::uint8_t> positive) {
  std::vector<std::size_t> order(scores.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return scores[a] < scores[b]; });
  // Sum of the positives' ranks (1-based, ties sharing their mean rank).
  double rank_sum = 0.0;
  std::uint64_t positives = 0;
  for (std::size_t i = 0; i < order.size();) {
    std::size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double mean_rank = (static_cast<double>(i + 1) + static_cast<double>(j)) / 2.0;
    for (std::size_t t = i; t < j; ++t) {
      if (positive[order[t]] != 0) {
        rank_sum += mean_rank;
        ++positives;
      }
    }
    i = j;
  }
  const std::uint64_t negatives = scores.size() - positives;
  if (positives == 0 || negatives == 0) return 0.5;
  const double p = static_cast<double>(positives), n = static_cast<double>(negatives);
  return (rank_sum - p * (p + 1) / 2.0) / (p * n);
}

std::size_t ModelOutputsFor(const Loss& loss, const Dataset& data) {
  return data.regression() || loss.kind == LossKind::kBinaryCrossentropy ? 1 : data.num_classes;
}

Result<Evaluation> Evaluate(Sequential& model, const Dataset& data, std::size_t batch_size) {
  const Shape& in = model.input_shape();
  const Loss& loss = model.loss();
  const OutputActivation activation = model.output_activation();
  const std::size_t units = model.num_classes();
  if (data.height != in.height || data.width != in.width || data.channels != in.channels ||
      units != ModelOutputsFor(loss, data)) {
    return Status::InvalidArgument("evaluate: data of " + std::to_string(data.height) + "x" +
                                   std::to_string(data.width) + "x" + std::to_string(data.channels) + " images with " +
                                   std::to_string(data.num_classes) + " classes does not fit the model's input " +
                                   in.ToString() + " and " + std::to_string(units) + " classes");
  }
  if (data.regression() == loss.classification()) {
    return Status::InvalidArgument(std::string("evaluate: ") + (data.regression() ? "regression targets" : "classes") +
                                   " with the loss " + LossName(loss.kind));
  }
  if (batch_size == 0) batch_size = 1;
  const bool binary = loss.kind == LossKind::kBinaryCrossentropy;
  const std::size_t k = data.regression() ? 0 : data.num_classes;
  // Probabilities (or predictions) are needed for two classes' AUC and for regression.
  const bool want_outputs = k == 2 || data.regression();
  std::vector<float> y(batch_size * units), outputs(batch_size * units);
  Evaluation e;
  e.regression = data.regression();
  e.num_classes = k;
  e.confusion.assign(k * k, 0);
  std::vector<float> positive_scores;  // two classes: the probability of class 1 per sample
  if (k == 2) positive_scores.reserve(data.size());
  double loss_sum = 0.0, squared = 0.0, absolute = 0.0;
  std::size_t correct = 0;
  for (std::size_t b0 = 0; b0 < data.size(); b0 += batch_size) {
    const std::size_t bs = std::min(batch_size, data.size() - b0);
    std::span<const float> z = model.Forward(data.image(b0), bs, /*training=*/false);
    if (data.regression()) {
      std::copy(data.targets.begin() + static_cast<std::ptrdiff_t>(b0),
                data.targets.begin() + static_cast<std::ptrdiff_t>(b0 + bs), y.begin());
    } else if (binary) {
      for (std::size_t i = 0; i < bs; ++i) y[i] = static_cast<float>(data.labels[b0 + i]);
    } else {
      OneHot(data.labels.data() + b0, bs, k, y.data());
    }
    loss_sum += ComputeLoss(loss, activation, z.data(), y.data(), bs, units, nullptr) * static_cast<double>(bs);
    if (want_outputs) {
      // Classes' probabilities come from the logits whatever the last layer (from_logits).
      const OutputActivation a = data.regression() ? activation
                                 : binary          ? OutputActivation::kSigmoid
                                                   : OutputActivation::kSoftmax;
      ApplyOutputActivation(a, z.data(), bs, units, outputs.data());
    }
    for (std::size_t i = 0; i < bs; ++i) {
      if (data.regression()) {
        const double err = static_cast<double>(outputs[i]) - y[i];
        squared += err * err;
        absolute += std::fabs(err);
        continue;
      }
      const float* zi = z.data() + i * units;
      const std::size_t pred =
          binary ? (zi[0] > 0 ? 1 : 0) : static_cast<std::size_t>(std::max_element(zi, zi + units) - zi);
      const std::size_t truth = data.labels[b0 + i];
      correct += pred == truth ? 1 : 0;
      ++e.confusion[truth * k + pred];
      if (k == 2) positive_scores.push_back(binary ? outputs[i] : outputs[i * k + 1]);
    }
  }
  e.samples = data.size();
  if (e.samples > 0) {
    const double n = static_cast<double>(e.samples);
    e.accuracy = static_cast<double>(correct) / n;
    e.loss = loss_sum / n;
    if (e.regression) {
      e.mse = squared / n;
      e.mae = absolute / n;
      double mean = 0.0, total = 0.0;
      for (float t : data.targets) mean += t;
      mean /= n;
      for (float t : data.targets) total += (t - mean) * (t - mean);
      e.r2 = total > 0 ? 1.0 - squared / total : 0.0;
      return e;
    }
  }
  e.macro_f1 = MacroF1(e.confusion, k);
  if (k == 2) {
    e.positive = ScoresOf(e.confusion, k, 1);
    std::vector<std::uint8_t> is_positive(data.labels.begin(), data.labels.end());
    e.roc_auc = RocAuc(positive_scores, is_positive);
  }
  return e;
}

}  // namespace asyncps::models
