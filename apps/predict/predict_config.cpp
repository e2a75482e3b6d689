#include "predict_config.h"

#include <cmath>
#include <filesystem>

#include <CLI/CLI.hpp>

#include "asyncps/models/loss.h"

namespace asyncps::predict {

namespace {
bool EndsWith(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Every value, without touching a file; the error names the flag.
Status Check(const PredictConfig& c) {
  const worker::TrainOptions& m = c.model;
  if (!m.loss.empty()) {
    if (Result<models::Loss> l = models::ParseLoss(m.loss); !l.ok())
      return Status::InvalidArgument("--loss: " + l.status().message());
  }
  if (!(m.divisor > 0) || !std::isfinite(m.divisor))
    return Status::InvalidArgument("--divisor " + std::to_string(m.divisor) + ": must be a finite number > 0");
  if (m.blas_threads < 1 || m.blas_threads > worker::kMaxBlasThreads)
    return Status::InvalidArgument("--blas-threads " + std::to_string(m.blas_threads) + ": must be in [1, " +
                                   std::to_string(worker::kMaxBlasThreads) + "]");
  if (c.batch_size < 1 || c.batch_size > worker::kMaxBatchSize)
    return Status::InvalidArgument("--batch-size " + std::to_string(c.batch_size) + ": must be in [1, " +
                                   std::to_string(worker::kMaxBatchSize) + "]");
  if (c.num_workers < 1 || c.worker_index >= c.num_workers)
    return Status::InvalidArgument("--worker-index " + std::to_string(c.worker_index) + " with --num-workers " +
                                   std::to_string(c.num_workers) +
                                   ": need --num-workers >= 1 and --worker-index < --num-workers");
  if (KindOf(c.data) == DataKind::kCsv) {
    if (Result<models::CsvOptions> co = worker::CsvReadOptions(m); !co.ok()) return co.status();
  } else if (!m.label_column.empty() || !m.feature_columns.empty() || !m.drop_columns.empty() || !c.id_column.empty()) {
    return Status::InvalidArgument(
        "--label-column, --feature-columns, --drop-columns and --id-column are for CSV data; --data " + c.data +
        " is NumPy or IDX data");
  }
  return Status::OK();
}
}  // namespace

DataKind KindOf(const std::string& path) {
  if (EndsWith(path, ".npy") || EndsWith(path, ".npz")) return DataKind::kNumpy;
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    return std::filesystem::exists(std::filesystem::path(path) / "x_test.npy", ec) ? DataKind::kNumpy : DataKind::kIdx;
  return DataKind::kCsv;
}

tools::ParsedFlags<PredictConfig> ParsePredictFlags(int argc, const char* const* argv) {
  PredictConfig c;
  CLI::App app{
      "asyncps-predict: a trained Keras model's predictions for a data file (CSV with or without its label column, "
      "NumPy, IDX), as CSV"};
  worker::AddModelDataFlags(app, c.model);
  app.add_option("--weights", c.weights,
                 "The trained weights (asyncps-worker's --save-weights: .npz in get_weights() order, or .h5); "
                 "WEIGHTS.labels.json and WEIGHTS.standardize.json beside them are applied")
      ->envname("ASYNCPS_WEIGHTS")
      ->required();
  app.add_option("--data", c.data,
                 "The samples: a CSV file (the label column, when it has one, is not read), a .npy of x, a .npz or "
                 "folder whose x_test is read, or a folder of IDX files (the t10k images)")
      ->envname("ASYNCPS_DATA")
      ->required();
  app.add_option("--output", c.output, "Write the predictions' CSV here; - for stdout")
      ->envname("ASYNCPS_OUTPUT")
      ->capture_default_str();
  app.add_option("--id-column", c.id_column,
                 "CSV: a column (header name or index from 0) copied as the output's first column; never a feature")
      ->envname("ASYNCPS_ID_COLUMN");
  app.add_flag("--standardize", c.standardize,
               "The training ran with --standardize: refuse to run without WEIGHTS.standardize.json (which is "
               "applied whenever it is there)")
      ->envname("ASYNCPS_STANDARDIZE");
  app.add_flag("--probabilities", c.probabilities, "Classifiers: a column per class with its probability")
      ->envname("ASYNCPS_PROBABILITIES");
  app.add_option("--batch-size", c.batch_size, "Samples per forward pass, 1..65536")
      ->check(tools::NotNegative())
      ->envname("ASYNCPS_BATCH_SIZE")
      ->capture_default_str();
  app.add_option("--worker-index", c.worker_index,
                 "Predict only this share of the rows (contiguous, in order): with --num-workers N, the outputs of "
                 "indices 0..N-1 concatenated are the whole output")
      ->check(tools::NotNegative())
      ->envname("ASYNCPS_WORKER_INDEX")
      ->capture_default_str();
  app.add_option("--num-workers", c.num_workers, "The shares the rows are split into")
      ->check(tools::NotNegative())
      ->envname("ASYNCPS_NUM_WORKERS")
      ->capture_default_str();
  if (std::optional<tools::FlagsExit> exit = tools::ParseQuietly(app, argc, argv)) return *exit;
  if (Status st = Check(c); !st.ok()) return tools::Refuse("asyncps-predict", st.message());
  c.model.data = c.data;  // the model's errors name --data
  return c;
}

}  // namespace asyncps::predict
