// The files a run writes beside its weights so that whoever uses the weights
// reads later data the same way:
//   WEIGHTS.labels.json       {"labels": ["b", "s"]}: class index -> the label
//                             as the training file wrote it (tabular CSV)
//   WEIGHTS.standardize.json  {"mean": [...], "stddev": [...]}: per feature,
//                             the training set's (--standardize)
#pragma once

#include <string>

#include "asyncps/models/dataset.h"
#include "asyncps/core/status.h"

namespace asyncps::worker {

std::string LabelMapPath(const std::string& weights_path);
std::string StandardizationPath(const std::string& weights_path);

// Writes LabelMapPath(weights_path) when data.label_map is set and
// StandardizationPath(weights_path) when data.standardization is; nothing
// else. IOError naming the file when one cannot be written.
Status SaveDataSidecars(const std::string& weights_path, const models::Dataset& data);

}  // namespace asyncps::worker
