// The timing harness shared by every benchmark in this folder.
//
// A Session is W worker threads that each repeat one operation (a round trip,
// or one message sent); one trial runs them all for a fixed time. Figures are
// medians over trials, and the trials of the sessions being compared are
// interleaved (A B C A B C ...), so that load from elsewhere on the machine
// hits the baseline and asyncps alike instead of whichever ran at that moment.
#pragma once

#include <barrier>
#include <chrono>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace asyncps::bench {

struct TrialPlan {
  int trials = 5;               // timed trials; the figure reported is their median
  double seconds = 0.3;         // length of each trial
  double warmup_seconds = 0.1;  // one untimed trial first (connections, buffers, caches)
};

struct Measurement {
  double ops_per_s = 0;  // median over the trials, all workers together
  std::vector<double> trial_ops_per_s;
  double minor_faults_per_op = 0;  // whole process, during this session's trials
  double context_switches_per_op = 0;
  // CPU time (user + system) of the whole process per op: client and server
  // sides together. Less sensitive than ops/s to load from other processes.
  double cpu_us_per_op = 0;
};

// One unit of work of one worker. Throws on failure.
using Op = std::function<void()>;
// Builds worker w's Op on that worker's own thread (a ZeroMQ socket must stay
// on the thread that uses it); the Op and what it holds die on that thread too.
using OpFactory = std::function<Op(int w)>;

class Session {
 public:
  // Starts the workers. `keep_alive` (e.g. the server the ops talk to) is
  // released only after the workers have stopped.
  Session(int workers, OpFactory make_op, std::shared_ptr<void> keep_alive = nullptr);
  ~Session();
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  // Runs every worker for `seconds`; returns ops per second, all workers
  // together. Throws the first worker error.
  double Trial(double seconds);

  // Minor page faults and context switches of the whole process during trials
  // (recorded by the caller of Trial: the other sessions are idle meanwhile).
  struct Usage {
    long faults = 0, switches = 0;
    double cpu_seconds = 0;
    std::uint64_t ops = 0;
  };
  const Usage& usage() const { return usage_; }

 private:
  using Clock = std::chrono::steady_clock;
  void WorkerLoop(int w);
  void Fail(std::exception_ptr e);

  OpFactory make_op_;
  std::shared_ptr<void> keep_alive_;
  std::barrier<> sync_;
  bool quit_ = false;
  Clock::time_point deadline_;
  std::vector<std::uint64_t> ops_;
  std::vector<Clock::time_point> finish_;
  std::mutex error_mu_;
  std::exception_ptr error_;
  Usage usage_;
  std::vector<std::thread> threads_;
};

// One warm-up trial of each session, then plan.trials rounds in which each
// session runs one trial in turn. Returns one Measurement per session.
std::vector<Measurement> MeasureInterleaved(const std::vector<Session*>& sessions, const TrialPlan& plan);

double Median(std::vector<double> values);

}  // namespace asyncps::bench
