// Dist-Keras' CSV format: a header line, then one sample per line as
// "label,p0,p1,...,p783" (values 0..255; label 0..classes-1). The label may be
// any column (by index or by its header name); the features are all the other
// columns, in order.
#pragma once

#include <cstddef>
#include <string>

#include "asyncps/models/dataset.h"
#include "asyncps/core/status.h"

namespace asyncps::models {

struct CsvOptions {
  std::size_t height = 28;
  std::size_t width = 28;
  std::size_t channels = 1;
  std::size_t num_classes = 10;
  float divisor = 255.0f;  // pixels are divided by this (Dist-Keras used 250)
  bool has_header = true;
  std::size_t label_column = 0;
  // The label column by header name; set, it wins over label_column.
  std::string label_name;
  // true: the number of features is every column but the label (from the
  // header, else the first row), and a sample is a vector of them (1x1xN);
  // false: height * width * channels features.
  bool infer_features = false;
};

// Errors name the file, the line number and what is wrong (wrong column count,
// not a number, a value that is NaN or outside [0, 255], label out of range, a
// label name absent from the header); IOError when the file cannot be opened.
Result<Dataset> ReadCsv(const std::string& path, const CsvOptions& options = {});

}  // namespace asyncps::models
