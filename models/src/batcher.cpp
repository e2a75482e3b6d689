#include "asyncps/models/batcher.h"

#include <algorithm>
#include <cstring>
#include <numeric>

#include "asyncps/models/init.h"

namespace asyncps::models {

std::size_t TargetWidth(const Dataset& data, const BatcherOptions& options) {
  return data.regression() || options.binary_targets ? 1 : data.num_classes;
}

Batcher::Batcher(const Dataset& data, const BatcherOptions& options) : data_(data), opt_(options), order_(data.size()) {
  if (opt_.batch_size == 0) opt_.batch_size = 1;
  std::iota(order_.begin(), order_.end(), 0u);
  x_.resize(opt_.batch_size * data.sample_size());
  y_.resize(opt_.batch_size * TargetWidth(data, opt_));
  labels_.resize(opt_.batch_size);
}

void Batcher::StartEpoch(std::uint64_t epoch) {
  std::iota(order_.begin(), order_.end(), 0u);
  if (!opt_.shuffle) return;
  Rng rng(opt_.seed * 0x9E3779B97F4A7C15ull + epoch * 0xD1B54A32D192ED03ull + 1);
  for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.Below(i)]);
}

std::size_t Batcher::num_batches() const {
  const std::size_t n = order_.size(), b = opt_.batch_size;
  return opt_.drop_last ? n / b : (n + b - 1) / b;
}

BatchView Batcher::Get(std::size_t i) {
  const std::size_t begin = i * opt_.batch_size;
  const std::size_t size = std::min(opt_.batch_size, order_.size() - begin);
  const std::size_t per = data_.sample_size();
  for (std::size_t j = 0; j < size; ++j) {
    const std::uint32_t s = order_[begin + j];
    std::memcpy(x_.data() + j * per, data_.image(s), per * sizeof(float));
    if (data_.regression()) {
      y_[j] = data_.targets[s];
    } else {
      labels_[j] = data_.labels[s];
      if (opt_.binary_targets) y_[j] = static_cast<float>(labels_[j]);
    }
  }
  if (!data_.regression() && !opt_.binary_targets) OneHot(labels_.data(), size, data_.num_classes, y_.data());
  return {x_.data(), y_.data(), labels_.data(), size};
}

}  // namespace asyncps::models
