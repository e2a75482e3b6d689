#include "train_options.h"

#include <cmath>
#include <iomanip>
#include <utility>
#include <sstream>

#include <CLI/CLI.hpp>

#include "asyncps/models/optimizer.h"
#include "asyncps/models/seed_cnn.h"
#include "flag_checks.h"

namespace asyncps::worker {

Algorithm TrainOptions::algorithm() const { return ParseAlgorithm(algo).value(); }

RuleConfig TrainOptions::rule() const {
  RuleConfig c = RuleConfig::Defaults(algorithm());
  if (window > 0) c.window = window;
  c.rho = rho;
  c.eta = eta;
  c.momentum = momentum;
  return c;
}

namespace {
std::string Text(float v) {  // round-trips exactly; "inf" and "nan" as such
  std::ostringstream out;
  out << std::setprecision(9) << v;
  return out.str();
}
std::string Shown(float v) {  // for messages: 6 significant digits, as the user most likely typed it
  std::ostringstream out;
  out << v;
  return out.str();
}
}  // namespace

Status TrainOptions::Validate() const {
  Result<Algorithm> a = ParseAlgorithm(algo);
  if (!a.ok()) return Status::InvalidArgument("--algo: " + a.status().message());
  if (window < 0) return Status::InvalidArgument("--window must be >= 1 (or 0 for the algorithm's default)");
  for (auto [flag, v] : {std::pair{"--rho", rho}, std::pair{"--eta", eta}, std::pair{"--momentum", momentum}}) {
    if (!std::isfinite(v)) return Status::InvalidArgument(std::string(flag) + " " + Shown(v) + ": must be a finite number");
  }
  if (Status s = rule().Validate(); !s.ok()) return Status::InvalidArgument("--window/--rho/--eta/--momentum: " + s.message());
  if (batch_size < 1 || batch_size > kMaxBatchSize) {
    return Status::InvalidArgument("--batch-size " + std::to_string(batch_size) + ": must be in [1, " +
                                   std::to_string(kMaxBatchSize) + "]");
  }
  if (epochs < 1) return Status::InvalidArgument("--epochs " + std::to_string(epochs) + ": must be >= 1");
  if (!(lr >= 0 && lr <= kMaxLearningRate)) {
    return Status::InvalidArgument("--lr " + Shown(lr) + ": must be a number in [0, " + Shown(kMaxLearningRate) +
                                   "] (0: the optimizer's Keras default)");
  }
  if (Result<std::unique_ptr<models::Optimizer>> opt = models::MakeOptimizer(optimizer, lr); !opt.ok())
    return Status::InvalidArgument("--optimizer " + optimizer + ": " + opt.status().message());
  if (!(divisor > 0) || !std::isfinite(divisor))
    return Status::InvalidArgument("--divisor " + Shown(divisor) + ": must be a finite number > 0");
  if (blas_threads < 1 || blas_threads > kMaxBlasThreads) {
    return Status::InvalidArgument("--blas-threads " + std::to_string(blas_threads) + ": must be in [1, " +
                                   std::to_string(kMaxBlasThreads) + "]");
  }
  return Status::OK();
}

Status TrainOptions::CheckData(bool train, bool test) const {
  for (auto [wanted, split] : {std::pair{train, models::Split::kTrain}, std::pair{test, models::Split::kTest}}) {
    if (!wanted) continue;
    if (Result<models::MnistFiles> files = models::FindMnistFiles(data, split); !files.ok()) return files.status();
  }
  return Status::OK();
}

std::vector<std::string> TrainOptions::ToArgs() const {
  const auto f = Text;
  return {"--algo", algo, "--window", std::to_string(window), "--rho", f(rho), "--eta", f(eta),
          "--momentum", f(momentum), "--batch-size", std::to_string(batch_size), "--epochs",
          std::to_string(epochs), "--optimizer", optimizer, "--lr", f(lr), "--seed", std::to_string(seed),
          "--data", data, "--train-limit", std::to_string(train_limit), "--test-limit",
          std::to_string(test_limit), "--divisor", f(divisor), "--blas-threads", std::to_string(blas_threads)};
}

Result<models::Dataset> TrainOptions::LoadData(models::Split split, std::size_t worker,
                                               std::size_t num_workers) const {
  models::MnistOptions mo;
  mo.dir = data;
  mo.divisor = divisor;
  mo.limit = split == models::Split::kTrain ? train_limit : test_limit;
  mo.worker = worker;
  mo.num_workers = num_workers;
  return models::LoadMnist(mo, split);
}

Result<std::unique_ptr<models::Sequential>> TrainOptions::BuildModel(const models::Dataset& d) const {
  models::SeedCnnOptions so;
  so.height = d.height;
  so.width = d.width;
  so.channels = d.channels;
  so.num_classes = d.num_classes;
  so.seed = seed;
  return models::BuildSeedCnn(so);
}

void AddTrainFlags(CLI::App& app, TrainOptions& o) {
  app.add_option("--algo", o.algo, "Update rule: downpour, adag, dynsgd, easgd (asynchronous EASGD), eamsgd, "
                                   "or single (local training, no parameter server)")
      ->envname("ASYNCPS_ALGO")->capture_default_str();
  app.add_option("--window", o.window, "Communication window in batches (0: the rule's Dist-Keras default: "
                                       "downpour 5, adag 12, dynsgd 5, easgd/eamsgd 32)")
      ->envname("ASYNCPS_WINDOW")->capture_default_str();
  app.add_option("--rho", o.rho, "EASGD/EAMSGD elasticity; alpha = rho * eta")->envname("ASYNCPS_RHO")->capture_default_str();
  app.add_option("--eta", o.eta, "EASGD/EAMSGD elastic learning rate")->envname("ASYNCPS_ETA")->capture_default_str();
  app.add_option("--momentum", o.momentum, "EAMSGD momentum")->envname("ASYNCPS_MOMENTUM")->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "Mini-batch size, 1..65536 (capped at the worker's partition)")
      ->check(NotNegative())->envname("ASYNCPS_BATCH_SIZE")->capture_default_str();
  app.add_option("--epochs", o.epochs, "Passes over each worker's partition")->envname("ASYNCPS_EPOCHS")->capture_default_str();
  app.add_option("--optimizer", o.optimizer, "Worker optimizer: sgd, adam, adagrad, rmsprop")
      ->envname("ASYNCPS_OPTIMIZER")->capture_default_str();
  app.add_option("--lr", o.lr, "Worker learning rate in [0, 10] (0: the optimizer's Keras default)")
      ->envname("ASYNCPS_LR")->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the initial weights and the shuffling")->check(NotNegative())->envname("ASYNCPS_SEED")->capture_default_str();
  app.add_option("--data", o.data, "Directory with MNIST-format IDX files (train-images-idx3-ubyte[.gz], ...)")
      ->envname("ASYNCPS_DATA")->capture_default_str();
  app.add_option("--train-limit", o.train_limit, "Use only the first N training rows (0: all)")->check(NotNegative())
      ->envname("ASYNCPS_TRAIN_LIMIT")->capture_default_str();
  app.add_option("--test-limit", o.test_limit, "Evaluate on the first N test rows (0: all)")->check(NotNegative())
      ->envname("ASYNCPS_TEST_LIMIT")->capture_default_str();
  app.add_option("--divisor", o.divisor, "Pixels are divided by this (Dist-Keras' MNIST example: 250)")
      ->envname("ASYNCPS_DIVISOR")->capture_default_str();
  app.add_option("--blas-threads", o.blas_threads, "OpenBLAS threads per process, 1..1024")
      ->envname("ASYNCPS_BLAS_THREADS")->capture_default_str();
}

}  // namespace asyncps::worker
