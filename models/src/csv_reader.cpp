#include "asyncps/models/csv_reader.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <fstream>
#include <limits>
#include <numeric>
#include <optional>
#include <unordered_map>
#include <vector>

namespace asyncps::models {

namespace {

// The names a label column has when no column is named for it.
constexpr const char* kDefaultLabelNames[] = {"label", "class", "target", "y"};

// The comma-separated cells of a line, spaces trimmed.
std::vector<std::string> Cells(const std::string& line) {
  std::vector<std::string> cells;
  std::size_t start = 0;
  for (;;) {
    const std::size_t comma = line.find(',', start);
    std::string c = line.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    const auto first = c.find_first_not_of(' '), last = c.find_last_not_of(" \r");
    cells.push_back(first == std::string::npos ? "" : c.substr(first, last - first + 1));
    if (comma == std::string::npos) return cells;
    start = comma + 1;
  }
}

// The whole cell as a number ("1.5", "-2e-3", "+4"); false when it is not one.
bool ParseNumber(const std::string& cell, double* v) {
  const char* p = cell.data();
  const char* end = p + cell.size();
  if (p != end && *p == '+') ++p;
  auto [q, ec] = std::from_chars(p, end, *v);
  return ec == std::errc() && q == end && p != end;
}

std::string Lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// "column 3 ('f2')", 1-based as a spreadsheet counts; without a header, "column 3".
std::string ColumnName(const std::vector<std::string>& header, std::size_t col) {
  std::string s = "column " + std::to_string(col + 1);
  if (col < header.size()) s += " ('" + header[col] + "')";
  return s;
}

// A column given as a header name, or as an index from 0.
Result<std::size_t> FindColumn(const std::string& path, const std::vector<std::string>& header, std::size_t columns,
                               const std::string& spec, const char* what) {
  const auto it = std::find(header.begin(), header.end(), spec);
  if (it != header.end()) return static_cast<std::size_t>(it - header.begin());
  if (!spec.empty() && spec.size() <= 9 && spec.find_first_not_of("0123456789") == std::string::npos) {
    const std::size_t index = std::stoull(spec);
    if (index < columns) return index;
    return Status::InvalidArgument(path + ": " + what + " " + spec + " is outside the " + std::to_string(columns) +
                                   " columns (indices count from 0)");
  }
  return Status::InvalidArgument(path + ": no column named '" + spec + "' in the header (" + what + ")");
}

// The label's column; none only with o.skip_labels.
Result<std::optional<std::size_t>> LabelColumn(const std::string& path, const std::vector<std::string>& header,
                                               std::size_t columns, const CsvOptions& o) {
  if (!o.label_name.empty()) {
    if (header.empty()) return Status::InvalidArgument(path + ": a label column by name needs a header line");
    const auto it = std::find(header.begin(), header.end(), o.label_name);
    if (it == header.end())
      return Status::InvalidArgument(path + ": no column named '" + o.label_name + "' in the header");
    return std::optional<std::size_t>(it - header.begin());
  }
  if (o.label_column) {
    if (*o.label_column >= columns)
      return Status::InvalidArgument(path + ": label column " + std::to_string(*o.label_column) + " is outside the " +
                                     std::to_string(columns) + " columns");
    return o.label_column;
  }
  for (std::size_t c = 0; c < header.size(); ++c) {
    for (const char* name : kDefaultLabelNames)
      if (Lower(header[c]) == name) return std::optional<std::size_t>(c);
  }
  if (o.skip_labels) return std::optional<std::size_t>();
  if (o.mode == CsvMode::kPixels) return std::optional<std::size_t>(0);  // Dist-Keras' image CSV: the label first
  return Status::InvalidArgument(path +
                                 ": no column is named label, class, target or y: name the label's column "
                                 "(--label-column NAME or INDEX)");
}

// The distinct labels sorted: by value when every one is a number, else as text.
std::vector<std::string> SortedLabels(std::vector<std::string> labels) {
  std::vector<double> values(labels.size());
  bool numeric = true;
  for (std::size_t i = 0; i < labels.size() && numeric; ++i) numeric = ParseNumber(labels[i], &values[i]);
  if (!numeric) {
    std::sort(labels.begin(), labels.end());
    return labels;
  }
  std::vector<std::size_t> order(labels.size());
  std::iota(order.begin(), order.end(), 0);
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return values[a] < values[b]; });
  std::vector<std::string> sorted;
  for (std::size_t i : order) sorted.push_back(labels[i]);
  return sorted;
}

std::string JoinLabels(const std::vector<std::string>& labels) {
  std::string s;
  for (std::size_t i = 0; i < labels.size() && i < 10; ++i) s += (i ? ", " : "") + labels[i];
  if (labels.size() > 10) s += ", ...";
  return s;
}

Result<Dataset> ReadPixels(const std::string& path, std::ifstream& f, const CsvOptions& o,
                           std::optional<std::size_t> label_column, std::size_t line_no) {
  const std::size_t pixels = o.height * o.width * o.channels;
  const std::size_t columns = pixels + (label_column ? 1 : 0);
  if (label_column && *label_column >= columns) {
    return Status::InvalidArgument(path + ": label column " + std::to_string(*label_column) + " is outside the " +
                                   std::to_string(columns) + " columns");
  }
  const std::string layout =
      label_column ? "label + " + std::to_string(pixels) + " pixels" : std::to_string(pixels) + " pixels";
  std::vector<std::uint8_t> data;
  std::vector<std::uint8_t> labels;
  std::size_t rows = 0;
  std::string line;
  while (std::getline(f, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    std::size_t col = 0;
    const char* p = line.data();
    const char* end = p + line.size();
    ++rows;
    while (true) {
      while (p < end && *p == ' ') ++p;
      if (o.skip_labels && col == label_column) {  // not read: any token
        while (p < end && *p != ',') ++p;
        ++col;
        if (p == end) break;
        ++p;
        continue;
      }
      double v = 0;
      auto [q, ec] = std::from_chars(p, end, v);
      if (ec != std::errc()) {
        return Status::InvalidArgument(where + "column " + std::to_string(col + 1) + " is not a number");
      }
      if (col >= columns) {
        return Status::InvalidArgument(where + "more than " + std::to_string(columns) + " columns (" + layout + ")");
      }
      if (col == label_column) {
        // Written so that NaN fails too (every comparison with NaN is false).
        if (!(v >= 0 && v < static_cast<double>(o.num_classes)) || v != std::floor(v)) {
          return Status::InvalidArgument(where + "label " + std::string(p, q) + " is not an integer in [0, " +
                                         std::to_string(o.num_classes) + ")");
        }
        labels.push_back(static_cast<std::uint8_t>(v));
      } else {
        if (!(v >= 0 && v <= 255)) {  // NaN and infinities fail too
          return Status::InvalidArgument(where + "pixel " + std::string(p, q) + " in column " +
                                         std::to_string(col + 1) + " is not a number in [0, 255]");
        }
        data.push_back(static_cast<std::uint8_t>(v + 0.5));
      }
      ++col;
      p = q;
      while (p < end && *p == ' ') ++p;
      if (p == end) break;
      if (*p != ',') return Status::InvalidArgument(where + "expected ',' after column " + std::to_string(col));
      ++p;
    }
    if (col != columns) {
      return Status::InvalidArgument(where + std::to_string(col) + " columns, expected " + std::to_string(columns) +
                                     " (" + layout + ")");
    }
  }
  if (rows == 0) return Status::InvalidArgument(path + ": no samples after the header");
  if (o.skip_labels) labels.assign(rows, 0);
  Result<Dataset> d = MakeDataset(o.height, o.width, o.channels, o.num_classes, data, std::move(labels), o.divisor);
  if (!d.ok()) return Status::InvalidArgument(path + ": " + d.status().message());
  if (o.skip_labels) {
    d.value().labels.clear();
    d.value().unlabelled = true;
  }
  return d;
}

Result<Dataset> ReadTabular(const std::string& path, std::ifstream& f, const CsvOptions& o,
                            const std::vector<std::string>& header, std::size_t columns,
                            std::optional<std::size_t> label_column, std::vector<std::string>* id_cells,
                            std::size_t line_no) {
  std::optional<std::size_t> id_column;
  if (!o.id_column.empty()) {
    Result<std::size_t> c = FindColumn(path, header, columns, o.id_column, "id column");
    if (!c.ok()) return c.status();
    if (c.value() == label_column)
      return Status::InvalidArgument(path + ": id column '" + o.id_column + "' is the label column");
    id_column = c.value();
  }
  // The feature columns, in order.
  std::vector<std::size_t> features;
  if (o.feature_columns.empty()) {
    features.resize(columns);
    std::iota(features.begin(), features.end(), 0);
  } else {
    for (const std::string& spec : o.feature_columns) {
      Result<std::size_t> c = FindColumn(path, header, columns, spec, "feature column");
      if (!c.ok()) return c.status();
      if (c.value() == label_column || c.value() == id_column)
        return Status::InvalidArgument(path + ": feature column '" + spec + "' is the " +
                                       (c.value() == id_column ? "id" : "label") + " column");
      features.push_back(c.value());
    }
  }
  std::vector<bool> dropped(columns, false);
  if (label_column) dropped[*label_column] = true;
  if (id_column) dropped[*id_column] = true;
  for (const std::string& spec : o.drop_columns) {
    Result<std::size_t> c = FindColumn(path, header, columns, spec, "dropped column");
    if (!c.ok()) return c.status();
    dropped[c.value()] = true;
  }
  std::erase_if(features, [&](std::size_t c) { return dropped[c]; });
  if (features.empty())
    return Status::InvalidArgument(path + ": no feature columns left beside the label" +
                                   (id_column ? std::string(" and the id") : ""));
  if (o.expected_features != 0 && features.size() != o.expected_features) {
    return Status::InvalidArgument(path + ": " + std::to_string(features.size()) + " feature columns, but " +
                                   std::to_string(o.expected_features) + " expected (--input-shape)");
  }

  // Labels: each row's id among the distinct labels, in first-seen order.
  const bool training = o.label_map.empty();
  std::unordered_map<std::string, std::size_t> ids;
  std::vector<std::string> seen;
  if (!training)
    for (std::size_t i = 0; i < o.label_map.size(); ++i) ids.emplace(o.label_map[i], i);
  std::vector<std::size_t> row_ids;
  std::vector<float> data, targets;
  std::size_t rows = 0;
  std::string line;
  while (std::getline(f, line)) {
    ++line_no;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (line.empty()) continue;
    const std::string where = path + ":" + std::to_string(line_no) + ": ";
    const std::vector<std::string> cells = Cells(line);
    if (cells.size() != columns) {
      return Status::InvalidArgument(where + std::to_string(cells.size()) + " columns, expected " +
                                     std::to_string(columns) + " (as the header)");
    }
    for (std::size_t c : features) {
      double v = 0;
      if (!ParseNumber(cells[c], &v))
        return Status::InvalidArgument(where + ColumnName(header, c) + ": '" + cells[c] + "' is not a number");
      if (!std::isfinite(v) || std::fabs(v) > std::numeric_limits<float>::max())
        return Status::InvalidArgument(where + ColumnName(header, c) + ": " + cells[c] + " is not a finite number");
      data.push_back(static_cast<float>(v));
    }
    ++rows;
    if (id_column) id_cells->push_back(cells[*id_column]);
    if (o.skip_labels) continue;
    const std::string& label = cells[*label_column];
    if (o.regression) {
      double v = 0;
      if (!ParseNumber(label, &v) || !std::isfinite(v) || std::fabs(v) > std::numeric_limits<float>::max()) {
        return Status::InvalidArgument(where + ColumnName(header, *label_column) + ": target '" + label +
                                       "' is not a finite number (a regression loss needs real targets)");
      }
      targets.push_back(static_cast<float>(v));
      continue;
    }
    if (label.empty()) return Status::InvalidArgument(where + ColumnName(header, *label_column) + ": empty label");
    auto it = ids.find(label);
    if (it == ids.end()) {
      if (!training) {
        return Status::InvalidArgument(where + ColumnName(header, *label_column) + ": label '" + label +
                                       "' is not among the training file's labels (" + JoinLabels(o.label_map) + ")");
      }
      it = ids.emplace(label, seen.size()).first;
      seen.push_back(label);
    }
    row_ids.push_back(it->second);
  }
  if (rows == 0) return Status::InvalidArgument(path + ": no samples after the header");

  Dataset d;
  d.height = d.width = 1;
  d.channels = features.size();
  d.images = std::move(data);
  if (o.skip_labels) {
    d.unlabelled = true;
    d.label_map = o.label_map;
    d.num_classes = o.label_map.size();
    return d;
  }
  if (o.regression) {
    d.num_classes = 1;  // one output per sample
    d.targets = std::move(targets);
    return d;
  }
  d.label_map = o.label_map;
  if (training) {
    const std::string column = ColumnName(header, *label_column);
    if (seen.size() < 2) {
      return Status::InvalidArgument(path + ": every row's label (" + column + ") is '" + seen.front() +
                                     "': a classifier needs at least two classes; check the label column");
    }
    if (seen.size() > kMaxClasses) {
      return Status::InvalidArgument(path + ": the label " + column + " has " + std::to_string(seen.size()) +
                                     " distinct values (" + JoinLabels(seen) + "); at most " +
                                     std::to_string(kMaxClasses) + " classes: is it the label's column?");
    }
    d.label_map = SortedLabels(seen);
    std::vector<std::size_t> index_of_id(seen.size());
    for (std::size_t k = 0; k < d.label_map.size(); ++k) index_of_id[ids.at(d.label_map[k])] = k;
    for (std::size_t& id : row_ids) id = index_of_id[id];
  }
  d.num_classes = d.label_map.size();
  d.labels.reserve(row_ids.size());
  for (std::size_t id : row_ids) d.labels.push_back(static_cast<std::uint8_t>(id));
  return d;
}

}  // namespace

Result<Dataset> ReadCsv(const std::string& path, const CsvOptions& o, std::vector<std::string>* ids) {
  std::ifstream f(path);
  if (!f) return Status::IOError(path + ": cannot open (missing or unreadable); check the path");
  std::string line;
  std::size_t line_no = 0;
  std::vector<std::string> header;
  if (o.has_header) {
    ++line_no;
    if (!std::getline(f, line)) return Status::InvalidArgument(path + ": empty file, expected a header line");
    header = Cells(line);
  }
  std::size_t columns = header.size();
  if (!o.has_header) {
    const auto here = f.tellg();
    if (std::getline(f, line)) columns = Cells(line).size();
    f.seekg(here);
  }
  Result<std::optional<std::size_t>> label_column = LabelColumn(path, header, columns, o);
  if (!label_column.ok()) return label_column.status();
  if (o.mode == CsvMode::kPixels) {
    if (!o.id_column.empty())
      return Status::InvalidArgument(path +
                                     ": an id column is for tabular CSV; pixel CSV reads every column but the "
                                     "label as pixels");
    return ReadPixels(path, f, o, label_column.value(), line_no);
  }
  if (o.label_map.size() > kMaxClasses)
    return Status::InvalidArgument(path + ": a label map of more than " + std::to_string(kMaxClasses) + " classes");
  if (!o.id_column.empty()) ids->clear();
  return ReadTabular(path, f, o, header, columns, label_column.value(), ids, line_no);
}

}  // namespace asyncps::models
