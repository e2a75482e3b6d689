// TrainOptions: every training flag, defined once and shared by asyncps-worker
// (which trains), asyncps-local (which passes them on to its workers) and
// asyncps-report (which needs the model and the data to evaluate).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <memory>

#include "asyncps/models/csv_reader.h"
#include "asyncps/models/dataset.h"
#include "asyncps/models/loss.h"
#include "asyncps/models/sequential.h"
#include "asyncps/core/status.h"
#include "asyncps/core/update_rule.h"

namespace CLI {
class App;
}

namespace asyncps::worker {

// Documented limits of the training flags (README, CLI reference).
inline constexpr float kMaxLearningRate = 10.0f;     // --lr must be in [0, 10]
inline constexpr std::size_t kMaxBatchSize = 65536;  // --batch-size in [1, 65536]
inline constexpr int kMaxBlasThreads = 1024;         // --blas-threads in [1, 1024]

struct TrainOptions {
  // The update rule and its hyperparameters. window 0: the algorithm's
  // Dist-Keras default (DOWNPOUR 5, ADAG 12, DynSGD 5, EASGD/EAMSGD 32).
  std::string algo = "adag";
  int window = 0;
  float rho = 5.0f;
  float eta = 0.1f;       // elastic learning rate (EASGD, EAMSGD)
  float momentum = 0.9f;  // EAMSGD
  bool overlap = false;   // RuleConfig::overlap
  // Local training (the seed experiment's settings).
  std::size_t batch_size = 16;
  int epochs = 5;
  std::string optimizer = "adam";
  float lr = 0.0f;         // 0: the optimizer's Keras default (Adam 0.001)
  std::uint64_t seed = 1;  // initial weights and shuffling
  // Data.
  std::string data = "/usr/share/datasets/fashion-mnist";
  // "auto" (detected: --train-csv given -> csv; data_batch_1.bin in --data ->
  // cifar10; a .npz or x_train.npy -> numpy; else mnist), "mnist" (IDX files),
  // "cifar10" (binary batches), "numpy" (models/numpy_data.h), "csv".
  std::string data_format = "auto";
  std::string train_csv, test_csv;  // csv: Dist-Keras CSV files
  // csv: the label's column, an index from 0 or its header name; empty: the
  // column named label, class, target or y (else column 0 for pixels).
  std::string label_column;
  // csv: "H,W,C": pixel mode (cells in 0..255 divided by --divisor, labels
  // 0..9, an image per row); "N" or empty: tabular mode (real-valued features
  // as written, a vector of N or of every feature; labels any tokens, the
  // classes found in --train-csv).
  std::string input_shape;
  std::string feature_columns;  // tabular: comma-separated names or indices; empty: every other column
  std::string drop_columns;     // tabular: comma-separated names or indices left out
  bool standardize = false;     // csv: (x - mean) / std with --train-csv's figures, for every file
  std::size_t train_limit = 0;  // use only the first N training rows (0: all)
  std::size_t test_limit = 0;   // evaluate on the first N test rows (0: all)
  float divisor = 255.0f;       // pixel normalisation (Dist-Keras' example used 250)
  int blas_threads = 1;
  // The model: a Keras model.to_json() file; empty: the seed CNN.
  std::string model;
  // The loss, by its Keras name (categorical_crossentropy, binary_crossentropy,
  // mse, ...); empty: the --model .h5's training_config loss, else
  // categorical_crossentropy. Regression losses read the CSV label as a target.
  std::string loss;
  // Start from these weights (.npz, Keras get_weights() order); empty: --seed's.
  std::string initial_weights;
  // Print the model's summary and exit (not passed on to workers).
  bool summary = false;

  // The validated rule configuration. REQUIRES: Validate() succeeded.
  RuleConfig rule() const;
  Algorithm algorithm() const;
  // Checks every field (values only, no files); the error names the flag, the
  // value given and the allowed values. Binaries exit 2 when it fails.
  Status Validate() const;
  // A .h5 --model's training_config gives the optimizer and the learning rate
  // that were not given as --optimizer / --lr (`optimizer_given`, `lr_given`).
  // AddTrainFlags calls it once the command line is parsed.
  Status TakeOptimizerFromModel(bool optimizer_given, bool lr_given);
  // Checks that the data files of the splits asked for exist and can be read
  // (IOError naming the file and --data), before any work starts.
  Status CheckData(bool train, bool test) const;
  // Every file a run reads or writes, before any work (a bad path must not
  // throw a finished run away): CheckData(train, test); with `test`, the test
  // set loaded and the model built for it (a refused --model, a shape mismatch
  // or bad --initial-weights fail now); and CheckOutputPath for the files the
  // run will write (--save-weights, --report-json; "" when none).
  Status CheckRunFiles(bool train, bool test, const std::string& save_weights, const std::string& report_json) const;
  // The flags that reproduce these options, for passing them on to a worker.
  std::vector<std::string> ToArgs() const;

  // --loss, else the --model .h5's training_config loss, else
  // categorical_crossentropy. Errors name --loss or --model.
  Result<models::Loss> ResolvedLoss() const;
  // The data format in use: --data-format, or what "auto" detects.
  std::string ResolvedDataFormat() const;
  // Loads `split` from --data with --divisor and the split's limit (--train-limit
  // or --test-limit); for the training split, only share `worker` of `num_workers`.
  // Tabular CSV: the label map and --standardize's figures come from the
  // whole --train-csv (after --train-limit), for either split; errors are
  // prefixed with the flag the file came from.
  Result<models::Dataset> LoadData(models::Split split, std::size_t worker = 0, std::size_t num_workers = 1) const;
  // Where the data comes from, for messages: "--train-csv FILE" (else
  // "--test-csv FILE") for CSV, "--data DIR" otherwise.
  std::string DataSource() const;
  // LoadData for --data-format csv.
  Result<models::Dataset> LoadCsv(models::Split split, std::size_t worker, std::size_t num_workers) const;
  // The model (--model, else the seed CNN) for samples shaped like `data`,
  // initialised from --initial-weights, else from --seed. A model whose input
  // shape or number of classes differs from the data's is an InvalidArgument
  // naming both.
  Result<std::unique_ptr<models::Sequential>> BuildModel(const models::Dataset& data) const;
  // BuildModel without the checks of the outputs against the data's labels:
  // the input shape, the loss (set on the model) against the last activation
  // and --initial-weights only (unlabelled data to predict on).
  Result<std::unique_ptr<models::Sequential>> BuildModelForInputs(const models::Dataset& data) const;
  // The Keras-style summary of the model (the seed CNN on 28x28x1 images and 10
  // classes when there is no --model).
  Result<std::string> ModelSummary() const;
};

// The CSV reader's options from --input-shape, --divisor, --label-column,
// --feature-columns and --drop-columns (errors name the flag).
Result<models::CsvOptions> CsvReadOptions(const TrainOptions& options);

// A label map as "0=b, 1=s"; "" when it is empty (the labels are the indices).
std::string JoinedLabels(const std::vector<std::string>& label_map);

// --summary: prints options.ModelSummary() (or the error, prefixed by
// `program`) and returns the exit status: 0, or 1 when the model is refused.
int PrintModelSummary(const TrainOptions& options, const char* program);

// Registers the training flags (with ASYNCPS_* environment variables) on `app`.
void AddTrainFlags(CLI::App& app, TrainOptions& options);

// Registers the flags that say how to read the model and the data, the part of
// AddTrainFlags that asyncps-predict shares: --model, --loss, --label-column,
// --input-shape, --feature-columns, --drop-columns, --divisor, --blas-threads.
void AddModelDataFlags(CLI::App& app, TrainOptions& options);

}  // namespace asyncps::worker
