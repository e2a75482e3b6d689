// Batcher: epochs of shuffled mini-batches over a Dataset, with no allocation
// after construction (the batch buffers are sized once and reused).
//
//   Batcher b(train, {.batch_size = 32, .seed = 7});
//   for (int e = 0; e < epochs; ++e) {
//     b.StartEpoch(e);
//     for (std::size_t i = 0; i < b.num_batches(); ++i) {
//       BatchView batch = b.Get(i);
//       model.TrainStep(batch.x, batch.y, batch.size, opt);
//     }
//   }
//
// The dataset must outlive the Batcher. Not thread-safe.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

#include "asyncps/models/dataset.h"

namespace asyncps::models {

struct BatcherOptions {
  std::size_t batch_size = 32;
  std::uint64_t seed = 1;  // epoch e's order depends only on (seed, e)
  bool shuffle = true;
  bool drop_last = false;  // false: the last partial batch is trained too
  // y holds each sample's class index (0 or 1) as one float, not one-hot
  // (binary_crossentropy on one sigmoid unit). Regression data (targets) always
  // gives y = the targets.
  bool binary_targets = false;
};

struct BatchView {
  const float* x = nullptr;              // [size, h, w, c]
  const float* y = nullptr;              // one-hot [size, classes], or [size, 1] (see BatcherOptions)
  const std::uint8_t* labels = nullptr;  // [size]
  std::size_t size = 0;
};

// The floats per sample in BatchView::y.
std::size_t TargetWidth(const Dataset& data, const BatcherOptions& options);

class Batcher {
 public:
  // REQUIRES: options.batch_size >= 1.
  Batcher(const Dataset& data, const BatcherOptions& options);

  // Shuffles for epoch `epoch` (Fisher-Yates from a generator seeded by seed and
  // epoch), or restores the natural order when shuffle is off.
  void StartEpoch(std::uint64_t epoch);
  std::size_t num_batches() const;
  // Batch i of the current epoch, copied into the reused buffers; valid until
  // the next Get. REQUIRES: i < num_batches().
  BatchView Get(std::size_t i);
  // The sample order of the current epoch.
  const std::vector<std::uint32_t>& order() const { return order_; }

 private:
  const Dataset& data_;
  BatcherOptions opt_;
  std::vector<std::uint32_t> order_;
  std::vector<float> x_, y_;
  std::vector<std::uint8_t> labels_;
};

}  // namespace asyncps::models
