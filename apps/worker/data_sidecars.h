// The files a run writes beside its weights so that whoever uses the weights
// reads later data the same way:
//   WEIGHTS.labels.json       {"labels": ["b", "s"]}: class index -> the label
//                             as the training file wrote it (tabular CSV)
//   WEIGHTS.standardize.json  {"mean": [...], "stddev": [...]}: per feature,
//                             the training set's (--standardize)
#pragma once

#include <string>
#include <vector>

#include "asyncps/models/dataset.h"
#include "asyncps/core/status.h"

namespace asyncps::worker {

std::string LabelMapPath(const std::string& weights_path);
std::string StandardizationPath(const std::string& weights_path);

// Writes LabelMapPath(weights_path) when data.label_map is set and
// StandardizationPath(weights_path) when data.standardization is, and removes
// the one that is not (an earlier run's). IOError naming the file when one
// cannot be written.
Status SaveDataSidecars(const std::string& weights_path, const models::Dataset& data);

struct DataSidecars {
  std::vector<std::string> label_map;       // empty: there is no WEIGHTS.labels.json
  models::Standardization standardization;  // empty: there is no WEIGHTS.standardize.json
};

// Reads the sidecars beside weights_path; one that does not exist leaves its
// field empty. InvalidArgument naming the file when one is not what
// SaveDataSidecars writes (2 to kMaxClasses distinct non-empty labels; as many
// finite means as standard deviations, each > 0); IOError when one exists but
// cannot be read.
Result<DataSidecars> LoadDataSidecars(const std::string& weights_path);

}  // namespace asyncps::worker
