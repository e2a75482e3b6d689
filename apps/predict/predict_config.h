// PredictConfig: everything asyncps-predict's flags (and their ASYNCPS_*
// environment variables) say, checked; ParsePredictFlags builds it from argv.
#pragma once

#include <cstddef>
#include <string>

#include "cli_parse.h"
#include "train_options.h"

namespace asyncps::predict {

// How --data is read, from its name: a .npy or .npz file (NumPy), a folder
// (IDX files, or NumPy's x_test.npy), else CSV.
enum class DataKind { kCsv, kNumpy, kIdx };
DataKind KindOf(const std::string& data_path);

struct PredictConfig {
  // --model, --loss and how to read the data, as the training read it
  // (worker::AddModelDataFlags); the other fields stay at their defaults.
  worker::TrainOptions model;
  std::string weights;         // the trained weights (.npz or .h5), their sidecars beside them
  std::string data;            // the samples to predict on
  std::string output = "-";    // the predictions' CSV; "-": stdout
  std::string id_column;       // CSV: copied into the output as its first column; never a feature
  bool standardize = false;    // the training ran with --standardize: WEIGHTS.standardize.json must be there
  bool probabilities = false;  // a column per class with its probability
  std::size_t batch_size = 256;
  std::size_t worker_index = 0;  // predict only this contiguous share of the rows ...
  std::size_t num_workers = 1;   // ... of this many
};

// Parses asyncps-predict's argv and checks every value, without touching any
// file. Returns the config; else the exit to end with (--help: 0 and the help
// text; a refused flag or value: 2 and a message naming it). Prints nothing.
tools::ParsedFlags<PredictConfig> ParsePredictFlags(int argc, const char* const* argv);

}  // namespace asyncps::predict
