// ReportedMetrics: what workers measured and sent along with their requests
// (Request.train_loss on commits, Request.test_accuracy in Report), kept by a
// shard for the status page and the metrics endpoint only. Nothing in the
// update rules reads it, and checkpoints do not keep it.
//
// Thread-safety: none; owned by a Shard (one thread) and copied when published.
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace asyncps::ps {

// One test-accuracy measurement: the centre as it was at `updates`.
struct TestAccuracyPoint {
  std::uint64_t updates = 0;
  float accuracy = 0;
  std::uint32_t worker_id = 0;  // who measured it (an observer's id for the launcher's curve)
  bool operator==(const TestAccuracyPoint&) const = default;
};

struct ReportedMetrics {
  // The most test-accuracy points kept: when full, every other one is dropped
  // (the first stays), so they span the whole run at a coarser resolution.
  static constexpr std::size_t kMaxTestPoints = 256;

  // Sum and count of the training losses commits carried (the history's
  // mean loss of an interval is the difference of two samples).
  double train_loss_sum = 0;
  std::uint64_t train_loss_count = 0;
  // In the order received.
  std::vector<TestAccuracyPoint> test_accuracy;

  void AddTrainLoss(float loss) {
    train_loss_sum += loss;
    ++train_loss_count;
  }
  void AddTestAccuracy(const TestAccuracyPoint& p);
};

}  // namespace asyncps::ps
