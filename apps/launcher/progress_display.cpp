#include "progress_display.h"

#include <cstdio>
#include <cstdlib>
#include <sstream>

namespace asyncps::launcher {

ProgressDisplay::ProgressDisplay(std::size_t workers, int epochs, bool terminal, bool leased)
    : state_(workers), epochs_(epochs), terminal_(terminal), leased_(leased) {}

void ProgressDisplay::ClearStatus() {
  if (status_shown_) {
    std::printf("\r\033[K");
    status_shown_ = false;
  }
}

void ProgressDisplay::OnLine(std::size_t worker, const std::string& line) {
  if (line.rfind("@progress", 0) != 0) {
    ClearStatus();
    std::printf("[worker %zu] %s\n", worker, line.c_str());
    std::fflush(stdout);
    return;
  }
  WorkerState& s = state_[worker];
  std::istringstream in(line.substr(9));
  for (std::string kv; in >> kv;) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos) continue;
    const std::string key = kv.substr(0, eq);
    const char* value = kv.c_str() + eq + 1;
    if (key == "epoch")
      s.epoch = std::atoi(value);
    else if (key == "batch")
      s.batch = std::strtoul(value, nullptr, 10);
    else if (key == "batches")
      s.batches = std::strtoul(value, nullptr, 10);
    else if (key == "sps")
      s.sps = std::atof(value);
    else if (key == "loss")
      s.loss = std::atof(value);
  }
  if (!terminal_ && s.batch == s.batches) {
    std::printf("worker %zu: %s %d/%d done, %.0f samples/s, loss %.4f\n", worker,
                leased_ ? "a range of epoch" : "epoch", s.epoch, epochs_, s.sps, s.loss);
    std::fflush(stdout);
  }
}

void ProgressDisplay::Render() {
  if (!terminal_) return;
  const auto now = std::chrono::steady_clock::now();
  if (now - last_render_ < std::chrono::milliseconds(200)) return;
  last_render_ = now;
  double sps = 0, loss = 0;
  std::size_t batch = 0, batches = 0;
  int epoch = epochs_;
  for (const auto& s : state_) {
    sps += s.sps;
    loss += s.loss / static_cast<double>(state_.size());
    batch += s.batch;
    batches += s.batches;
    epoch = std::min(epoch, s.epoch);
  }
  std::printf("\r\033[Kepoch %d/%d  %3.0f%%  %.0f samples/s  loss %.4f  (%zu workers)", epoch, epochs_,
              batches ? 100.0 * static_cast<double>(batch) / static_cast<double>(batches) : 0.0, sps, loss,
              state_.size());
  std::fflush(stdout);
  status_shown_ = true;
}

void ProgressDisplay::Finish() {
  if (status_shown_) std::printf("\n");
  status_shown_ = false;
  std::fflush(stdout);
}

}  // namespace asyncps::launcher
