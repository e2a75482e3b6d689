#include "harness.h"

#include <sys/resource.h>

#include <algorithm>

namespace asyncps::bench {
namespace {

Session::Usage ProcessUsage() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  const auto seconds = [](const timeval& t) { return static_cast<double>(t.tv_sec) + t.tv_usec / 1e6; };
  return {u.ru_minflt, u.ru_nvcsw + u.ru_nivcsw, seconds(u.ru_utime) + seconds(u.ru_stime), 0};
}

}  // namespace

Session::Session(int workers, OpFactory make_op, std::shared_ptr<void> keep_alive)
    : make_op_(std::move(make_op)),
      keep_alive_(std::move(keep_alive)),
      sync_(workers + 1),
      ops_(workers),
      finish_(workers) {
  for (int w = 0; w < workers; ++w) threads_.emplace_back([this, w] { WorkerLoop(w); });
}

Session::~Session() {
  quit_ = true;
  sync_.arrive_and_wait();  // releases the workers, which see quit_
  for (auto& t : threads_) t.join();
}

void Session::Fail(std::exception_ptr e) {
  std::lock_guard<std::mutex> lock(error_mu_);
  if (!error_) error_ = e;
}

// A worker takes part in every trial even after a failure, so that the
// barriers never deadlock; it just stops doing work.
void Session::WorkerLoop(int w) {
  Op op;
  try {
    op = make_op_(w);
  } catch (...) {
    Fail(std::current_exception());
  }
  for (;;) {
    sync_.arrive_and_wait();  // start (or quit)
    if (quit_) return;
    std::uint64_t n = 0;
    try {
      while (op && Clock::now() < deadline_) {
        op();
        ++n;
      }
    } catch (...) {
      Fail(std::current_exception());
      op = nullptr;
    }
    ops_[w] = n;
    finish_[w] = Clock::now();
    sync_.arrive_and_wait();  // end
  }
}

double Session::Trial(double seconds) {
  const Usage before = ProcessUsage();
  const Clock::time_point start = Clock::now();
  deadline_ = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  sync_.arrive_and_wait();
  sync_.arrive_and_wait();
  const Usage after = ProcessUsage();
  if (error_) std::rethrow_exception(error_);

  std::uint64_t ops = 0;
  Clock::time_point end = start;
  for (std::size_t w = 0; w < ops_.size(); ++w) {
    ops += ops_[w];
    end = std::max(end, finish_[w]);  // the last op ends after the deadline
  }
  usage_.faults += after.faults - before.faults;
  usage_.switches += after.switches - before.switches;
  usage_.cpu_seconds += after.cpu_seconds - before.cpu_seconds;
  usage_.ops += ops;
  return static_cast<double>(ops) / std::chrono::duration<double>(end - start).count();
}

double Median(std::vector<double> values) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  const std::size_t m = values.size() / 2;
  return values.size() % 2 ? values[m] : (values[m - 1] + values[m]) / 2;
}

std::vector<Measurement> MeasureInterleaved(const std::vector<Session*>& sessions, const TrialPlan& plan) {
  for (Session* s : sessions) s->Trial(plan.warmup_seconds);
  std::vector<Session::Usage> warm;
  for (Session* s : sessions) warm.push_back(s->usage());
  std::vector<Measurement> out(sessions.size());
  for (int t = 0; t < plan.trials; ++t)
    for (std::size_t i = 0; i < sessions.size(); ++i)
      out[i].trial_ops_per_s.push_back(sessions[i]->Trial(plan.seconds));
  for (std::size_t i = 0; i < sessions.size(); ++i) {
    Measurement& m = out[i];
    m.ops_per_s = Median(m.trial_ops_per_s);
    const Session::Usage& u = sessions[i]->usage();
    const double ops = static_cast<double>(u.ops - warm[i].ops);
    if (ops > 0) {
      m.minor_faults_per_op = (u.faults - warm[i].faults) / ops;
      m.context_switches_per_op = (u.switches - warm[i].switches) / ops;
      m.cpu_us_per_op = (u.cpu_seconds - warm[i].cpu_seconds) / ops * 1e6;
    }
  }
  return out;
}

}  // namespace asyncps::bench
