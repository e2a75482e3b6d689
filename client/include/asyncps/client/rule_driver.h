// RuleDriver: the worker side of an update rule, around the worker's own
// training loop. The model and its optimizer stay the caller's; the driver only
// reads and writes the flat weight vector W between batches:
//
//   driver.Start(w);                 // W = W0 = C
//   for each batch:
//     driver.BeforeBatch(w);         // DOWNPOUR / EASGD / EAMSGD exchange here
//     train one batch on w;
//     driver.AfterBatch(w);          // ADAG / DynSGD exchange here
//     driver.RecordLoss(loss);       // optional: the servers' status page shows it
//   driver.Finish(w);                // sends the batches trained since the last exchange
//
// See update_rule.h for each rule's formulas. BeforeBatch, AfterBatch and
// Finish compute with denormals flushed to zero (ScopedFlushDenormals, as the
// models do); the caller's floating-point mode is restored on return.
//
// With RuleConfig::overlap the exchange runs on a thread of the driver's: at a
// boundary the driver waits for the previous exchange (its pull becomes the
// base), sends this window's commit in the background and trains on at
// base + the commit (delta rules) or W - E against the base (elastic rules);
// docs/update-rules.md "Overlapped exchange" has each rule's exact steps.
// While an exchange is in flight the driver owns the client: the caller must
// not use it until Finish returned. An exchange's error is returned by the
// next BeforeBatch/AfterBatch/Finish. Waiting for it there calls the client's
// ClientOptions::interrupt on the calling thread every interrupt_interval
// (Python: Ctrl-C); when that returns true the call fails with kUnavailable,
// saying so, and the exchange stays in flight: the next call waits for it.
//
// The driver keeps the centre as it last pulled it, and gives it to its
// client as the copy a shard that restarted with nothing to restore takes
// back (Client::set_recovery_copy; asyncps-server --recover-from-workers):
// the caller must not pull with the client itself between Start and Finish.
#pragma once

#include <cstdint>
#include <future>
#include <span>
#include <vector>

#include "asyncps/client/client.h"
#include "asyncps/core/update_rule.h"

namespace asyncps {

class RuleDriver {
 public:
  // REQUIRES: `client` outlives the driver. A config that fails Validate(),
  // is kSingle, or names another algorithm than the client's makes every call
  // below fail with kInvalidArgument saying so (nothing is sent).
  RuleDriver(Client& client, RuleConfig config);
  // Waits for the exchange in flight, if any.
  ~RuleDriver();
  RuleDriver(const RuleDriver&) = delete;
  RuleDriver& operator=(const RuleDriver&) = delete;

  // Pulls the center variable into w and remembers it as W0.
  Status Start(std::span<float> w);
  Status BeforeBatch(std::span<float> w);
  Status AfterBatch(std::span<float> w);
  // If batches were trained since the last exchange, exchanges once more
  // (overlap: after waiting for the exchange in flight; a delta rule with
  // nothing left to send ends at the last centre pulled). EAMSGD: a
  // BeforeBatch look-ahead that no AfterBatch followed is undone first (w is
  // put back as it was before it).
  Status Finish(std::span<float> w);
  // A trained batch's loss: the mean of those recorded since the previous
  // exchange rides on the next commit (Client::ReportTrainingLoss). A value
  // that is not finite is not recorded.
  void RecordLoss(double batch_loss);

  std::uint64_t batches() const { return it_ - 1; }
  std::uint64_t commits() const { return commits_; }  // acknowledged by every shard
  // overlap: whether an exchange is in flight (from the first exchange until
  // Finish: the driver owns the client meanwhile).
  bool exchanging() const { return in_flight_.valid(); }
  const RuleConfig& config() const { return config_; }

 private:
  Status Exchange(std::span<float> w);  // the rule's exchange with the PS
  // The mean of the losses recorded since the last exchange goes with the next commit.
  void ReportLoss();
  Status Overlapped(std::span<float> w);  // Exchange's overlapped form
  Status Settle();                        // waits for the exchange in flight; its pull becomes base_
  Status AwaitInFlight();                 // in_flight_'s status, or Unavailable when interrupted
  // The centre as the client last pulled it, shard by shard (the recovery copy).
  std::span<const float> LastPulled() const;
  bool Due() const { return it_ % static_cast<std::uint64_t>(config_.window) == 0 && unsent_ > 0; }

  Client& client_;
  RuleConfig config_;
  Status usable_;             // why the config cannot drive this client (OK: it can)
  std::uint64_t it_ = 1;      // the batch about to be trained, from 1, never reset
  std::uint64_t unsent_ = 0;  // batches trained since the last exchange
  std::uint64_t commits_ = 0;
  bool started_ = false;  // Start pulled: LastPulled holds a copy
  double loss_sum_ = 0;   // RecordLoss since the last exchange
  std::uint64_t loss_count_ = 0;
  std::vector<float> w0_;                // delta rules: the weights of the last pull
  std::vector<float> center_;            // elastic rules: the pulled center
  std::vector<float> elastic_;           // elastic rules: the commit, alpha (w - center)
  std::vector<float> velocity_, saved_;  // EAMSGD
  bool lookahead_ = false;               // EAMSGD: w holds BeforeBatch's look-ahead (no AfterBatch since)
  // overlap: the centre of the last pull, the commit in flight, where its pull lands
  std::vector<float> base_, outbox_, inbox_;
  std::vector<std::uint64_t> base_updates_;  // overlap: each shard's update count at base_'s pull
  std::future<Status> in_flight_;
};

}  // namespace asyncps
