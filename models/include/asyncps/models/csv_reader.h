// Dist-Keras' CSV format: a header line, then one sample per line as
// "label,p0,p1,...,p783" (integers 0..255; label 0..classes-1).
#pragma once

#include <cstddef>
#include <string>

#include "asyncps/models/dataset.h"
#include "asyncps/status.h"

namespace asyncps::models {

struct CsvOptions {
  std::size_t height = 28;
  std::size_t width = 28;
  std::size_t channels = 1;
  std::size_t num_classes = 10;
  float divisor = 255.0f;   // pixels are divided by this (Dist-Keras used 250)
  bool has_header = true;
  std::size_t label_column = 0;
};

// Errors name the file, the line number and what is wrong (wrong column count,
// not a number, label out of range); IOError when the file cannot be opened.
Result<Dataset> ReadCsv(const std::string& path, const CsvOptions& options = {});

}  // namespace asyncps::models
