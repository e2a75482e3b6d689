#include "asyncps/server/reported_metrics.h"

namespace asyncps::ps {

void ReportedMetrics::AddTestAccuracy(const TestAccuracyPoint& p) {
  if (test_accuracy.size() >= kMaxTestPoints) {
    std::vector<TestAccuracyPoint> kept;
    kept.reserve(kMaxTestPoints);
    for (std::size_t i = 0; i < test_accuracy.size(); i += 2) kept.push_back(test_accuracy[i]);
    test_accuracy = std::move(kept);
  }
  test_accuracy.push_back(p);
}

}  // namespace asyncps::ps
