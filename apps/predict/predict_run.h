// asyncps-predict's run: the samples of --data (this worker's contiguous share
// of them), read as the training read its data (the label map and the
// standardization saved beside --weights), through the model, out as CSV.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "asyncps/core/status.h"
#include "asyncps/models/dataset.h"
#include "data_sidecars.h"
#include "predict_config.h"

namespace asyncps::predict {

// Every row of --data, unlabelled, scaled with sidecars.standardization when
// it is set; ids: the --id-column cells (else empty). Errors name --data, --weights or the sidecar file:
// a file that cannot be read, a standardization of another feature count,
// --standardize without its sidecar.
struct Samples {
  models::Dataset data;
  std::vector<std::string> ids;
};
Result<Samples> LoadSamples(const PredictConfig& c, const worker::DataSidecars& sidecars);

// Runs asyncps-predict: writes the CSV of --worker-index's share of the rows
// (PartitionBounds) to --output (or stdout) and returns the exit status, 0 or
// 1 (the error on stderr, naming the flag or file).
//
// The CSV: a header (only from --worker-index 0, so that the shares' outputs
// concatenate into the whole), then a line per row: the --id-column cell, the
// prediction (a classifier's class as its label, a regression's value, or one
// value per output: prediction_0, ...), and with --probabilities one column
// per class, probability_LABEL.
int Run(const PredictConfig& c);

}  // namespace asyncps::predict
