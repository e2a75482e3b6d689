#include "train_options.h"

#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <utility>
#include <sstream>

#include <CLI/CLI.hpp>

#include "cli_parse.h"
#include "output_path.h"

#include "asyncps/models/cifar_reader.h"
#include "asyncps/models/csv_reader.h"
#include "asyncps/models/evaluate.h"
#include "asyncps/models/keras_h5.h"
#include "asyncps/models/keras_model.h"
#include "asyncps/models/numpy_data.h"
#include "asyncps/models/optimizer.h"
#include "asyncps/models/weights.h"
#include "asyncps/models/seed_cnn.h"

namespace asyncps::worker {

Algorithm TrainOptions::algorithm() const { return ParseAlgorithm(algo).value(); }

RuleConfig TrainOptions::rule() const {
  RuleConfig c = RuleConfig::Defaults(algorithm());
  if (window > 0) c.window = window;
  c.rho = rho;
  c.eta = eta;
  c.momentum = momentum;
  c.overlap = overlap;
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
// --input-shape "H,W,C" (pixel mode) or "N" (tabular, N features) as CSV
// reader options; empty: tabular, every feature.
Status ParseInputShape(const std::string& text, models::CsvOptions& o) {
  o.mode = models::CsvMode::kTabular;
  if (text.empty()) return Status::OK();
  std::vector<std::size_t> dims;
  std::stringstream in(text);
  for (std::string part; std::getline(in, part, ',');) {
    if (part.empty() || part.size() > 9 || part.find_first_not_of("0123456789") != std::string::npos ||
        std::stoull(part) == 0)
      return Status::InvalidArgument("--input-shape " + text + ": expected H,W,C or N, positive integers");
    dims.push_back(std::stoull(part));
  }
  if (dims.size() == 3) {
    o.mode = models::CsvMode::kPixels;
    o.height = dims[0], o.width = dims[1], o.channels = dims[2];
  } else if (dims.size() == 1) {
    o.expected_features = dims[0];
  } else {
    return Status::InvalidArgument("--input-shape " + text + ": expected H,W,C or N");
  }
  return Status::OK();
}

// "a,b,,c" -> {"a", "b", "c"}.
std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> items;
  std::stringstream in(text);
  for (std::string item; std::getline(in, item, ',');)
    if (!item.empty()) items.push_back(item);
  return items;
}

}  // namespace

Result<models::CsvOptions> CsvReadOptions(const TrainOptions& t) {
  models::CsvOptions co;
  co.divisor = t.divisor;
  if (Status st = ParseInputShape(t.input_shape, co); !st.ok()) return st;
  if (t.label_column.empty()) {
    // The default names (label, class, target, y).
  } else if (t.label_column.size() <= 9 && t.label_column.find_first_not_of("0123456789") == std::string::npos) {
    co.label_column = std::stoull(t.label_column);
  } else {
    co.label_name = t.label_column;
  }
  co.feature_columns = SplitList(t.feature_columns);
  co.drop_columns = SplitList(t.drop_columns);
  return co;
}

namespace {

// "--train-csv PATH: " before a reader's message.
Status FromFlag(const std::string& flag, const Status& st) {
  const std::string m = flag + ": " + st.message();
  return st.code() == Status::Code::kIOError ? Status::IOError(m) : Status::InvalidArgument(m);
}

Status CheckReadable(const std::string& flag, const std::string& path) {
  if (path.empty()) return Status::InvalidArgument(flag + " is required for --data-format csv");
  if (!std::ifstream(path))
    return Status::IOError(flag + " " + path + ": cannot be opened for reading; check the path");
  return Status::OK();
}
}  // namespace

Status TrainOptions::Validate() const {
  Result<Algorithm> a = ParseAlgorithm(algo);
  if (!a.ok()) return Status::InvalidArgument("--algo: " + a.status().message());
  if (window < 0) return Status::InvalidArgument("--window must be >= 1 (or 0 for the algorithm's default)");
  for (auto [flag, v] : {std::pair{"--rho", rho}, std::pair{"--eta", eta}, std::pair{"--momentum", momentum}}) {
    if (!std::isfinite(v))
      return Status::InvalidArgument(std::string(flag) + " " + Shown(v) + ": must be a finite number");
  }
  if (Status s = rule().Validate(); !s.ok())
    return Status::InvalidArgument("--window/--rho/--eta/--momentum/--overlap: " + s.message());
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
  if (!loss.empty()) {
    if (Result<models::Loss> l = models::ParseLoss(loss); !l.ok())
      return Status::InvalidArgument("--loss: " + l.status().message());
  }
  if (data_format != "auto" && data_format != "mnist" && data_format != "cifar10" && data_format != "csv")
    return Status::InvalidArgument("--data-format " + data_format + ": use auto, mnist, cifar10 or csv");
  if (ResolvedDataFormat() == "csv") {
    models::CsvOptions co;
    if (Status st = ParseInputShape(input_shape, co); !st.ok()) return st;
    if (train_csv.empty() && test_csv.empty())
      return Status::InvalidArgument("--data-format csv: give the files with --train-csv and --test-csv");
    if (co.mode == models::CsvMode::kPixels && (!feature_columns.empty() || !drop_columns.empty()))
      return Status::InvalidArgument("--feature-columns/--drop-columns are for tabular CSV; --input-shape " +
                                     input_shape + " reads every column but the label as pixels");
  } else if (standardize || !feature_columns.empty() || !drop_columns.empty()) {
    return Status::InvalidArgument(
        "--standardize, --feature-columns and --drop-columns are for CSV data "
        "(--train-csv, --test-csv)");
  }
  if (blas_threads < 1 || blas_threads > kMaxBlasThreads) {
    return Status::InvalidArgument("--blas-threads " + std::to_string(blas_threads) + ": must be in [1, " +
                                   std::to_string(kMaxBlasThreads) + "]");
  }
  return Status::OK();
}

Status TrainOptions::CheckData(bool train, bool test) const {
  const std::string format = ResolvedDataFormat();
  for (auto [wanted, split] : {std::pair{train, models::Split::kTrain}, std::pair{test, models::Split::kTest}}) {
    if (!wanted) continue;
    const bool is_train = split == models::Split::kTrain;
    if (format == "csv") {
      if (Status st = CheckReadable(is_train ? "--train-csv" : "--test-csv", is_train ? train_csv : test_csv); !st.ok())
        return st;
    } else if (format == "numpy") {
      if (!std::ifstream(data) && !std::filesystem::is_directory(data))
        return Status::IOError("--data " + data + ": cannot open it (NumPy data: a .npz or a folder of .npy files)");
    } else if (format == "cifar10") {
      for (const std::string& name :
           is_train ? std::vector<std::string>{"data_batch_1.bin", "data_batch_2.bin", "data_batch_3.bin",
                                               "data_batch_4.bin", "data_batch_5.bin"}
                    : std::vector<std::string>{"test_batch.bin"}) {
        const std::string path = data + "/" + name;
        if (!std::ifstream(path))
          return Status::IOError("--data " + data + ": " + name + " is missing or unreadable (CIFAR-10 binary folder)");
      }
    } else if (Result<models::MnistFiles> files = models::FindMnistFiles(data, split); !files.ok()) {
      return files.status();
    }
  }
  return Status::OK();
}

std::vector<std::string> TrainOptions::ToArgs() const {
  const auto f = Text;
  return {"--algo",
          algo,
          "--window",
          std::to_string(window),
          "--rho",
          f(rho),
          "--eta",
          f(eta),
          "--momentum",
          f(momentum),
          "--overlap=" + std::string(overlap ? "true" : "false"),
          "--batch-size",
          std::to_string(batch_size),
          "--epochs",
          std::to_string(epochs),
          "--optimizer",
          optimizer,
          "--lr",
          f(lr),
          "--seed",
          std::to_string(seed),
          "--data",
          data,
          "--train-limit",
          std::to_string(train_limit),
          "--test-limit",
          std::to_string(test_limit),
          "--divisor",
          f(divisor),
          "--blas-threads",
          std::to_string(blas_threads),
          "--model",
          model,
          "--initial-weights",
          initial_weights,
          "--data-format",
          data_format,
          "--train-csv",
          train_csv,
          "--test-csv",
          test_csv,
          "--label-column",
          label_column,
          "--input-shape",
          input_shape,
          "--feature-columns",
          feature_columns,
          "--drop-columns",
          drop_columns,
          "--loss",
          loss,
          "--standardize=" + std::string(standardize ? "true" : "false")};
}

Status TrainOptions::TakeOptimizerFromModel(bool optimizer_given, bool lr_given) {
  if ((optimizer_given && lr_given) || model.empty() || !models::IsHdf5Path(model)) return Status::OK();
  Result<std::string> config = models::ReadKerasH5TrainingConfig(model);
  if (!config.ok()) return Status::InvalidArgument("--model: " + config.status().message());
  if (config.value().empty()) return Status::OK();  // not compiled
  Result<std::optional<models::TrainingOptimizer>> taken =
      models::OptimizerFromTrainingConfig(config.value(), "--model " + model);
  if (!taken.ok()) return taken.status();
  if (!taken.value()) return Status::OK();
  // An optimizer given alone keeps its own default learning rate.
  if (!optimizer_given) {
    optimizer = taken.value()->name;
    if (!lr_given) lr = taken.value()->learning_rate;
  }
  return Status::OK();
}

Result<models::Loss> TrainOptions::ResolvedLoss() const {
  if (!loss.empty()) {
    Result<models::Loss> l = models::ParseLoss(loss);
    if (!l.ok()) return Status::InvalidArgument("--loss: " + l.status().message());
    return l;
  }
  if (!model.empty() && models::IsHdf5Path(model)) {
    Result<std::string> config = models::ReadKerasH5TrainingConfig(model);
    if (!config.ok()) return Status::InvalidArgument("--model: " + config.status().message());
    if (!config.value().empty()) {
      Result<models::Loss> l = models::LossFromTrainingConfig(config.value(), "--model " + model);
      if (!l.ok()) return Status::InvalidArgument(l.status().message() + "; or give --loss");
      return l;
    }
  }
  return models::Loss{};
}

std::string TrainOptions::ResolvedDataFormat() const {
  if (data_format != "auto") return data_format;
  if (!train_csv.empty()) return "csv";
  if (models::IsCifar10Dir(data)) return "cifar10";
  if (models::IsNumpyData(data)) return "numpy";
  return "mnist";
}

Result<models::Dataset> TrainOptions::LoadCsv(models::Split split, std::size_t worker, std::size_t num_workers) const {
  const bool train = split == models::Split::kTrain;
  Result<models::CsvOptions> options = CsvReadOptions(*this);
  if (!options.ok()) return options.status();
  models::CsvOptions& co = options.value();
  Result<models::Loss> resolved_loss = ResolvedLoss();
  if (!resolved_loss.ok()) return resolved_loss.status();
  co.regression = !resolved_loss.value().classification();
  if (co.regression && co.mode == models::CsvMode::kPixels)
    return Status::InvalidArgument("--loss " + loss +
                                   " is a regression loss; pixel CSV (--input-shape H,W,C) has classes");
  auto read = [&](const std::string& flag, const std::string& path, std::size_t limit) -> Result<models::Dataset> {
    if (Status st = CheckReadable(flag, path); !st.ok()) return st;
    Result<models::Dataset> all = models::ReadCsv(path, co);
    if (!all.ok()) return FromFlag(flag, all.status());  // the reader's message names the file
    return limit > 0 ? models::Head(all.value(), limit) : std::move(all).value();
  };
  // Pixels: each file alone, as Dist-Keras read them.
  const bool tabular = co.mode == models::CsvMode::kTabular;
  if (!tabular && !standardize) {
    Result<models::Dataset> data =
        train ? read("--train-csv", train_csv, train_limit) : read("--test-csv", test_csv, test_limit);
    if (!data.ok()) return data.status();
    return models::Partition(data.value(), worker, num_workers);
  }
  // The label map and the standardization come from the training file.
  if (train_csv.empty()) {
    return Status::InvalidArgument("--test-csv " + test_csv + ": give --train-csv too: " +
                                   (tabular ? "the classes and their order" : "--standardize's figures") +
                                   " come from the training file");
  }
  Result<models::Dataset> training = read("--train-csv", train_csv, train_limit);
  if (!training.ok()) return training.status();
  models::Standardization scaling;
  if (standardize) {
    Result<models::Standardization> s = models::ComputeStandardization(training.value());
    if (!s.ok()) return FromFlag("--train-csv " + train_csv, s.status());
    scaling = std::move(s).value();
  }
  Result<models::Dataset> data = std::move(training);
  if (!train) {
    co.label_map = data.value().label_map;
    data = read("--test-csv", test_csv, test_limit);
    if (!data.ok()) return data.status();
  }
  Result<models::Dataset> part = models::Partition(data.value(), worker, num_workers);
  if (!part.ok() || !standardize) return part;
  if (Status st = models::ApplyStandardization(scaling, part.value()); !st.ok())
    return FromFlag(train ? "--train-csv " + train_csv : "--test-csv " + test_csv, st);
  return part;
}

Result<models::Dataset> TrainOptions::LoadData(models::Split split, std::size_t worker, std::size_t num_workers) const {
  const std::size_t limit = split == models::Split::kTrain ? train_limit : test_limit;
  const std::string format = ResolvedDataFormat();
  if (format == "cifar10") {
    models::CifarOptions co;
    co.dir = data;
    co.divisor = divisor;
    co.limit = limit;
    co.worker = worker;
    co.num_workers = num_workers;
    return models::LoadCifar10(co, split);
  }
  if (format == "csv") return LoadCsv(split, worker, num_workers);
  if (format == "numpy") {
    Result<models::Dataset> d = models::LoadNumpyData(
        {.path = data, .divisor = divisor, .limit = limit, .worker = worker, .num_workers = num_workers}, split);
    if (d.ok()) return d;
    const std::string m = "--data " + d.status().message();  // the message starts with the path
    return d.status().code() == Status::Code::kIOError ? Status::IOError(m) : Status::InvalidArgument(m);
  }
  models::MnistOptions mo;
  mo.dir = data;
  mo.divisor = divisor;
  mo.limit = limit;
  mo.worker = worker;
  mo.num_workers = num_workers;
  return models::LoadMnist(mo, split);
}

std::string TrainOptions::DataSource() const {
  if (ResolvedDataFormat() != "csv") return "--data " + data;
  return train_csv.empty() ? "--test-csv " + test_csv : "--train-csv " + train_csv;
}

namespace {
// "28x28x1 images" or "784 features", as the data holds them.
std::string DataShape(const models::Dataset& d) {
  if (d.height == 1 && d.width == 1) return std::to_string(d.channels) + " features";
  return std::to_string(d.height) + "x" + std::to_string(d.width) + "x" + std::to_string(d.channels) + " images";
}
}  // namespace

std::string JoinedLabels(const std::vector<std::string>& label_map) {
  std::string s;
  for (std::size_t k = 0; k < label_map.size(); ++k) s += (k ? ", " : "") + std::to_string(k) + "=" + label_map[k];
  return s;
}

Status TrainOptions::CheckRunFiles(bool train, bool test, const std::string& save_weights,
                                   const std::string& report_json) const {
  Status paths = CheckData(train, test);
  if (paths.ok() && test) {
    Result<models::Dataset> data = LoadData(models::Split::kTest);
    paths = data.ok() ? BuildModel(data.value()).status() : data.status();
  }
  if (paths.ok()) paths = CheckOutputPath("--save-weights", save_weights);
  if (paths.ok()) paths = CheckOutputPath("--report-json", report_json);
  return paths;
}

Result<std::unique_ptr<models::Sequential>> TrainOptions::BuildModelForInputs(const models::Dataset& d) const {
  Result<std::unique_ptr<models::Sequential>> built = Status::Internal("unset");
  if (model.empty()) {
    models::SeedCnnOptions so;
    so.height = d.height;
    so.width = d.width;
    so.channels = d.channels;
    so.num_classes = d.num_classes;
    so.seed = seed;
    built = models::BuildSeedCnn(so);
  } else {
    built = models::LoadKerasModel(model, seed);
  }
  if (!built.ok()) return built.status();
  models::Sequential& m = *built.value();
  const models::Shape want = m.input_shape();
  const bool flat_ok = want.rank == 1 && want.size() == d.sample_size();
  // A sequence model reads an image's rows as its timesteps (the same memory).
  const bool rows_ok = want.rank == 2 && want.width == d.height && want.channels == d.width * d.channels;
  if (!flat_ok && !rows_ok && !(want == models::Shape::Image(d.height, d.width, d.channels))) {
    // A CSV row of the model's size read as features: its pixels, reshaped, would fit.
    std::string reshape;
    if (ResolvedDataFormat() == "csv" && want.size() == d.sample_size() && (want.rank == 2 || want.rank == 3)) {
      reshape = want.rank == 3 ? std::to_string(want.height) + "," + std::to_string(want.width) + "," +
                                     std::to_string(want.channels)
                               : std::to_string(want.width) + "," + std::to_string(want.channels) + ",1";
      reshape = "; if the columns are pixels (0..255), read each row as an image with --input-shape " + reshape;
    }
    return Status::InvalidArgument("--model " + model + " takes inputs " + want.ToString() + ", but " + DataSource() +
                                   " holds " + DataShape(d) + "; change the model's input shape or the data" + reshape);
  }
  if (Status st = m.CheckInput(d.images.data(), d.size()); !st.ok())
    return Status::InvalidArgument("--model " + model + " cannot read " + DataSource() + ": " + st.message());
  Result<models::Loss> loss_used = ResolvedLoss();
  if (!loss_used.ok()) return loss_used.status();
  const models::Loss& l = loss_used.value();
  const std::string loss_name = models::LossName(l.kind);
  if (Status st = models::CheckLossFits(l, m.output_activation(), m.num_classes()); !st.ok())
    return Status::InvalidArgument("--model " + model + " with the loss " + loss_name + ": " + st.message());
  m.SetLoss(l);
  if (!initial_weights.empty()) {
    if (Status st = models::LoadInitialWeights(initial_weights, m); !st.ok())
      return Status::InvalidArgument("--initial-weights: " + st.message());
  }
  return built;
}

Result<std::unique_ptr<models::Sequential>> TrainOptions::BuildModel(const models::Dataset& d) const {
  Result<std::unique_ptr<models::Sequential>> built = BuildModelForInputs(d);
  if (!built.ok()) return built;
  const models::Sequential& m = *built.value();
  const models::Loss& l = m.loss();
  const std::string loss_name = models::LossName(l.kind);
  if (l.classification() && d.regression())
    return Status::InvalidArgument("--loss " + loss_name + " needs classes, but the data holds real targets");
  if (!l.classification() && !d.regression()) {
    return Status::InvalidArgument("--loss " + loss_name + " is a regression loss, but " + DataSource() +
                                   " holds classes: regression reads tabular CSV (--train-csv)");
  }
  if (l.kind == models::LossKind::kBinaryCrossentropy && d.num_classes != 2) {
    return Status::InvalidArgument("binary_crossentropy needs two classes, but " + DataSource() + " has " +
                                   std::to_string(d.num_classes) +
                                   (d.label_map.empty() ? "" : " (" + JoinedLabels(d.label_map) + ")") +
                                   ": use categorical_crossentropy with a softmax");
  }
  if (m.num_classes() != models::ModelOutputsFor(l, d)) {
    const std::string holds = d.regression() ? "one real target per row"
                                             : std::to_string(d.num_classes) + " classes" +
                                                   (d.label_map.empty() ? "" : " (" + JoinedLabels(d.label_map) + ")");
    return Status::InvalidArgument("--model " + model + " has " + std::to_string(m.num_classes()) + " outputs, but " +
                                   DataSource() + " has " + holds + "; with " + loss_name + " make the last Dense " +
                                   "layer's units " + std::to_string(models::ModelOutputsFor(l, d)));
  }
  return built;
}

Result<std::string> TrainOptions::ModelSummary() const {
  Result<std::unique_ptr<models::Sequential>> built =
      model.empty() ? models::BuildSeedCnn({.seed = seed}) : models::LoadKerasModel(model, seed);
  if (!built.ok()) return built.status();
  return built.value()->Summary();
}

int PrintModelSummary(const TrainOptions& options, const char* program) {
  Result<std::string> summary = options.ModelSummary();
  if (!summary.ok()) {
    std::fprintf(stderr, "%s: %s\n", program, summary.status().message().c_str());
    return 1;
  }
  std::fputs(summary.value().c_str(), stdout);
  return 0;
}

void AddModelDataFlags(CLI::App& app, TrainOptions& o) {
  app.add_option("--label-column", o.label_column,
                 "CSV: the label's column, an index from 0 or its header name; default: the column named label, "
                 "class, target or y (any case)")
      ->envname("ASYNCPS_LABEL_COLUMN");
  app.add_option("--input-shape", o.input_shape,
                 "CSV: H,W,C reads pixels (0..255, divided by --divisor; labels 0..9) as images (e.g. 28,28,1); "
                 "N or nothing reads tabular data: real-valued features as written, labels any tokens with the "
                 "classes found in --train-csv")
      ->envname("ASYNCPS_INPUT_SHAPE");
  app.add_option("--feature-columns", o.feature_columns,
                 "Tabular CSV: the feature columns, comma-separated names or indices, in this order; default: "
                 "every column but the label")
      ->envname("ASYNCPS_FEATURE_COLUMNS");
  app.add_option("--drop-columns", o.drop_columns,
                 "Tabular CSV: columns left out (ids, weights), comma-separated names or indices")
      ->envname("ASYNCPS_DROP_COLUMNS");
  app.add_option("--divisor", o.divisor, "Pixels are divided by this (Dist-Keras' MNIST example: 250)")
      ->envname("ASYNCPS_DIVISOR")
      ->capture_default_str();
  app.add_option("--model", o.model,
                 "Keras model file: model.to_json() as .json, or model.save() as .h5 (architecture and weights); "
                 "default: the seed CNN")
      ->envname("ASYNCPS_MODEL");
  app.add_option("--loss", o.loss,
                 "Loss, by its Keras name: categorical_crossentropy, sparse_categorical_crossentropy, "
                 "binary_crossentropy (one sigmoid unit), mean_squared_error (mse), mean_absolute_error (mae), huber; "
                 "default: the --model .h5's training_config, else categorical_crossentropy")
      ->envname("ASYNCPS_LOSS");
  app.add_option("--blas-threads", o.blas_threads, "GEMM threads per process (oneDNN, OpenBLAS), 1..1024")
      ->envname("ASYNCPS_BLAS_THREADS")
      ->capture_default_str();
}

void AddTrainFlags(CLI::App& app, TrainOptions& o) {
  AddModelDataFlags(app, o);
  app.add_option("--algo", o.algo,
                 "Update rule: downpour, adag, dynsgd, easgd (asynchronous EASGD), eamsgd, average "
                 "(synchronous model averaging), or single (local training, no parameter server)")
      ->envname("ASYNCPS_ALGO")
      ->capture_default_str();
  app.add_flag("--overlap", o.overlap,
               "Exchange in the background: window k's commit and pull travel while window k+1 trains, and its "
               "pull is used at the next exchange (not with average; docs/update-rules.md)")
      ->envname("ASYNCPS_OVERLAP");
  app.add_option("--window", o.window,
                 "Communication window in batches (0: the rule's Dist-Keras default: "
                 "downpour 5, adag 12, dynsgd 5, easgd/eamsgd 32)")
      ->envname("ASYNCPS_WINDOW")
      ->capture_default_str();
  app.add_option("--rho", o.rho, "EASGD/EAMSGD elasticity; alpha = rho * eta")
      ->envname("ASYNCPS_RHO")
      ->capture_default_str();
  app.add_option("--eta", o.eta, "EASGD/EAMSGD elastic learning rate")->envname("ASYNCPS_ETA")->capture_default_str();
  app.add_option("--momentum", o.momentum, "EAMSGD momentum")->envname("ASYNCPS_MOMENTUM")->capture_default_str();
  app.add_option("--batch-size", o.batch_size, "Mini-batch size, 1..65536 (capped at the worker's partition)")
      ->check(asyncps::tools::NotNegative())
      ->envname("ASYNCPS_BATCH_SIZE")
      ->capture_default_str();
  app.add_option("--epochs", o.epochs, "Passes over each worker's partition")
      ->envname("ASYNCPS_EPOCHS")
      ->capture_default_str();
  app.add_option("--optimizer", o.optimizer,
                 "Worker optimizer: sgd, adam, adagrad, rmsprop (default: a .h5 --model's compiled optimizer, else "
                 "adam)")
      ->envname("ASYNCPS_OPTIMIZER")
      ->capture_default_str();
  app.add_option("--lr", o.lr,
                 "Worker learning rate in [0, 10] (0: the optimizer's Keras default; a .h5 --model's compiled "
                 "optimizer gives its own)")
      ->envname("ASYNCPS_LR")
      ->capture_default_str();
  app.add_option("--seed", o.seed, "Seed of the initial weights and the shuffling")
      ->check(asyncps::tools::NotNegative())
      ->envname("ASYNCPS_SEED")
      ->capture_default_str();
  app.add_option("--data", o.data,
                 "Directory with MNIST-format IDX files (train-images-idx3-ubyte[.gz], ...) or CIFAR-10 batches, or "
                 "NumPy data: a .npz of x_train, y_train, x_test, y_test (Keras' load_data() names) or a folder of "
                 "those .npy files")
      ->envname("ASYNCPS_DATA")
      ->capture_default_str();
  app.add_option("--data-format", o.data_format,
                 "auto, mnist (IDX files), cifar10 (binary batches), numpy (.npz / .npy) or csv")
      ->envname("ASYNCPS_DATA_FORMAT")
      ->check(CLI::IsMember({"auto", "mnist", "cifar10", "numpy", "csv"}))
      ->capture_default_str();
  app.add_option("--train-csv", o.train_csv, "Training data as Dist-Keras CSV (a header, a label column, features)")
      ->envname("ASYNCPS_TRAIN_CSV");
  app.add_option("--test-csv", o.test_csv, "Test data as Dist-Keras CSV")->envname("ASYNCPS_TEST_CSV");
  app.add_flag("--standardize", o.standardize,
               "CSV: standardize every feature, (x - mean) / std with --train-csv's figures, for every file; "
               "saved beside the weights as WEIGHTS.standardize.json")
      ->envname("ASYNCPS_STANDARDIZE");
  app.add_option("--train-limit", o.train_limit, "Use only the first N training rows (0: all)")
      ->check(asyncps::tools::NotNegative())
      ->envname("ASYNCPS_TRAIN_LIMIT")
      ->capture_default_str();
  app.add_option("--test-limit", o.test_limit, "Evaluate on the first N test rows (0: all)")
      ->check(asyncps::tools::NotNegative())
      ->envname("ASYNCPS_TEST_LIMIT")
      ->capture_default_str();
  app.add_option("--initial-weights", o.initial_weights,
                 "Start from these weights: .npz of the model's arrays in Keras get_weights() order, or a Keras "
                 ".h5 (model.save_weights / model.save)")
      ->envname("ASYNCPS_INITIAL_WEIGHTS");
  app.add_flag("--summary", o.summary, "Print the model's Keras-style summary and exit");
  // What --optimizer and --lr leave open, a .h5's compiled optimizer gives.
  app.parse_complete_callback([&app, &o] {
    if (Status st = o.TakeOptimizerFromModel(app.count("--optimizer") > 0, app.count("--lr") > 0); !st.ok())
      throw CLI::ValidationError("--model", st.message());
  });
}

}  // namespace asyncps::worker
