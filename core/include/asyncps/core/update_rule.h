// The asynchronous update rules, as Dist-Keras defines them: both sides of each
// rule's settings, and the table of what each side does (the worker side's
// kernels: rule_kernels.h; the server side's: apply_commit.h).
//
//   rule      worker, per batch (it = batch counter from 1)         PS on a commit
//   DOWNPOUR  before training, if it % win == 0:                     C <- C + D
//             D = W - W0; commit D; pull; W = W0 = C
//   ADAG      after training, if it % win == 0:                      C <- C + D
//             D = (W - W0) / win; commit D; pull; W = W0 = C
//   DynSGD    as ADAG but D = W - W0, sent with the update count     C <- C + D / tau,
//             u of the worker's last pull                            tau = updates - u + 1
//   EASGD     before training, if it % win == 0:                     C <- C + E
//   (AEASGD)  pull C; E = alpha (W - C); W <- W - E; commit E
//   EAMSGD    EASGD's elastic step, plus momentum every batch:       C <- C + E
//             v <- mu v; train at W + v giving W'; g = W' - (W + v);
//             v <- v - eta g; W <- W - v
//   average   after training, if it % win == 0:                      C <- C + D, the pull
//   (model    D = (W - W0) / N for N workers; commit D; pull;         held until every
//   averaging) W = W0 = C: C becomes the mean of the N models          worker committed
//             (Dist-Keras' AveragingTrainer, Elephas' synchronous)   (a barrier: bound 0)
#pragma once

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

#include "asyncps/core/compression.h"
#include "asyncps/core/status.h"

namespace asyncps {

enum class Algorithm : std::uint8_t { kDownpour, kAdag, kDynSgd, kEasgd, kEamsgd, kSingle, kAverage };

// "downpour", "adag", "dynsgd", "easgd", "eamsgd", "single", "average".
const char* AlgorithmName(Algorithm a);
// Accepts the names above (and "aeasgd" for easgd), case-insensitive.
Result<Algorithm> ParseAlgorithm(std::string_view name);

// When the worker exchanges with the PS relative to training batch `it`.
enum class ExchangePoint { kBeforeBatch, kAfterBatch, kNever };

struct RuleConfig {
  Algorithm algorithm = Algorithm::kAdag;
  int window = 12;        // communication window, in batches
  float rho = 5.0f;       // elastic rules: alpha = rho * eta
  float eta = 0.1f;       // elastic rules: the elastic (and EAMSGD momentum) learning rate
  float momentum = 0.9f;  // EAMSGD only
  int workers = 1;        // average only: N, the workers whose models are averaged
  // The exchange of window k travels while window k+1 trains; its pull is used at
  // the next exchange (RuleDriver, docs/update-rules.md "Overlapped exchange").
  // Not with average (its pull is a barrier).
  bool overlap = false;

  // Dist-Keras' defaults for the algorithm (window 5, 12, 5, 32, 32; rho 5; eta 0.1; mu 0.9);
  // average: window 5.
  static RuleConfig Defaults(Algorithm a);
  float alpha() const { return rho * eta; }
  ExchangePoint exchange_point() const;
  // OK, or InvalidArgument naming the bad field.
  Status Validate() const;
};

// Commits a worker sends when it trains `batches` batches under `config`,
// its final commit of the batches trained after the last exchange included.
// Delta rules after the batch (ADAG, DynSGD): ceil(batches / window).
// Rules before the batch (DOWNPOUR, EASGD, EAMSGD): one exchange at every
// multiple of the window that follows trained work, plus the final one.
std::uint64_t ExpectedCommits(const RuleConfig& config, std::uint64_t batches);

}  // namespace asyncps
