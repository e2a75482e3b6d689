// Dist-Keras' CSV files: a header line, then one sample per line. Two modes:
//
// - kPixels, Dist-Keras' image CSV ("label,p0,...,p783"): every feature is a
//   pixel in [0, 255], divided by `divisor`; the label is an integer in
//   [0, num_classes); a sample is a height x width x channels image.
// - kTabular, data as Dist-Keras users have it (the ATLAS Higgs CSV): the
//   features are real numbers of any sign and range, written as they are
//   (scientific notation included), taken as a vector (1x1xN); the labels are
//   any tokens ("s"/"b", "-1"/"1", "cat"), mapped to class indices by the label
//   map: the distinct labels of the training file, sorted (by value when every
//   label is a number, else as text). A later file's labels are mapped through
//   the training file's map.
//
// The label column: label_name (a header name) or label_column (an index from
// 0); neither given, the column named label, class, target or y (the first of
// these names in the header), else column 0 in pixel mode and an error in
// tabular mode.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "asyncps/models/dataset.h"
#include "asyncps/core/status.h"

namespace asyncps::models {

// Labels are stored as bytes: at most this many classes.
inline constexpr std::size_t kMaxClasses = 256;

enum class CsvMode { kPixels, kTabular };

struct CsvOptions {
  CsvMode mode = CsvMode::kPixels;
  // kPixels: the image shape, the number of classes and the divisor.
  std::size_t height = 28;
  std::size_t width = 28;
  std::size_t channels = 1;
  std::size_t num_classes = 10;
  float divisor = 255.0f;  // pixels are divided by this (Dist-Keras used 250)
  bool has_header = true;
  // The label column by index; label_name (a header name), set, wins.
  std::optional<std::size_t> label_column;
  std::string label_name;
  // kTabular: the feature columns, each a header name or an index from 0, in
  // the order given; empty: every column but the label and drop_columns.
  std::vector<std::string> feature_columns;
  std::vector<std::string> drop_columns;  // kTabular: columns left out
  // kTabular: 0, any number of features; else exactly this many.
  std::size_t expected_features = 0;
  // kTabular: the training file's label map (class index -> label); empty: the
  // map is built from this file's labels (this is the training file).
  std::vector<std::string> label_map;
  // kTabular: the label column holds real-valued targets (regression), read
  // into Dataset::targets; no label map.
  bool regression = false;
  // Data to predict on: the label column (named, else one with a default
  // name; a file may have none, and then pixel mode has none either) is not
  // read; the Dataset is unlabelled.
  bool skip_labels = false;
  // kTabular: a column (header name or index from 0) that is no feature, its
  // cells returned as written through ReadCsv's `ids`; empty: none.
  std::string id_column;
};

// Returns the samples; in tabular mode with label_map (the map used) and
// num_classes (its size) set. Errors name the file, the line and the column
// (by index and header name) and what is wrong: a ragged row, a cell that is
// not a number, NaN or infinite, out of [0, 255] (pixels), a label out of
// range (pixels) or absent from the training file's map (tabular), a label
// or feature column absent from the header, a training file with a single
// class or more than kMaxClasses; IOError when the file cannot be opened.
// With options.id_column, *ids gets each sample's id cell. REQUIRES: ids is
// not nullptr when options.id_column is set.
Result<Dataset> ReadCsv(const std::string& path, const CsvOptions& options = {},
                        std::vector<std::string>* ids = nullptr);

}  // namespace asyncps::models
