// ProgressDisplay: what asyncps-local shows while the workers train. On a
// terminal, one status line redrawn in place (epoch, samples/s, recent loss);
// otherwise plain lines, one per worker and epoch. Other worker output is
// relayed with a "[worker i]" prefix.
#pragma once

#include <chrono>
#include <string>
#include <vector>

namespace asyncps::launcher {

class ProgressDisplay {
 public:
  // leased: each worker's passes are ranges of an epoch (asyncps-local --elastic).
  ProgressDisplay(std::size_t workers, int epochs, bool terminal, bool leased = false);

  // A line from worker i: "@progress key=value ..." updates its state; anything
  // else is printed.
  void OnLine(std::size_t worker, const std::string& line);
  // Redraws the status line (terminal only, at most 5 times a second).
  void Render();
  // Ends the status line.
  void Finish();

 private:
  struct WorkerState {
    int epoch = 0;
    std::size_t batch = 0, batches = 0;
    double sps = 0, loss = 0;
  };
  void ClearStatus();

  std::vector<WorkerState> state_;
  int epochs_;
  bool terminal_;
  bool leased_;
  bool status_shown_ = false;
  std::chrono::steady_clock::time_point last_render_{};
};

}  // namespace asyncps::launcher
